package main

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
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
		if err := tc.SetWriteBuffer(16 << 10); err != nil {
			return err
		}
		rcv, snd, err := sockBuf(tc)
		assert.Equal(t, 2*min(16<<10, rmemMax), rcv)
		assert.Positive(t, snd, "SO_SNDBUF is read too")
		return err
	})
	require.NoError(t, err)
}

// TestGoSetsNoDelay: Go turns Nagle's algorithm off (TCP_NODELAY = 1) on
// every TCP connection; the nodelay lesson turns it back on.
func TestGoSetsNoDelay(t *testing.T) {
	nodelay := func(c *net.TCPConn) int {
		raw, err := c.SyscallConn()
		require.NoError(t, err)
		v := -1
		require.NoError(t, raw.Control(func(fd uintptr) {
			v, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		}))
		require.NoError(t, err)
		return v
	}
	err := withPair(func(client, server net.Conn) error {
		assert.Equal(t, 1, nodelay(client.(*net.TCPConn)), "dialed connection")
		assert.Equal(t, 1, nodelay(server.(*net.TCPConn)), "accepted connection")
		require.NoError(t, client.(*net.TCPConn).SetNoDelay(false))
		assert.Equal(t, 0, nodelay(client.(*net.TCPConn)), "after SetNoDelay(false)")
		return nil
	})
	require.NoError(t, err)
}
