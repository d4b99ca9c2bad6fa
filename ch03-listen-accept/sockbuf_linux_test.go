package main

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSetReadBufferIsDoubled: Linux doubles the SO_RCVBUF you ask for (half
// of it is for its own bookkeeping) and caps the request at net.core.rmem_max.
func TestSetReadBufferIsDoubled(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	require.NoError(t, err)
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	err = withPair(func(client, _ net.Conn) error {
		tc := client.(*net.TCPConn)
		if err := tc.SetReadBuffer(16 << 10); err != nil {
			return err
		}
		rcv, _, err := sockBuf(tc)
		assert.Equal(t, 2*min(16<<10, rmemMax), rcv)
		return err
	})
	require.NoError(t, err)
}
