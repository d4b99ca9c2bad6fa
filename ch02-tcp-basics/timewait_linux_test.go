package main

import (
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTimeWaitLasts60Seconds: the end that closes first enters TIME-WAIT,
// and the kernel's timer for it starts at 60 s (TCP_TIMEWAIT_LEN, fixed at
// compile time). /proc/net/tcp shows the timer: "tr:when" is 03 (the
// TIME-WAIT timer) and the time left in clock ticks (USER_HZ, 100 a second).
// Waiting the whole 60 s is not needed: a timer that starts at 60 s and is
// read at once has between 55 and 60 s left.
func TestTimeWaitLasts60Seconds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	s, err := ln.Accept()
	require.NoError(t, err)
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	remote := netip.MustParseAddrPort(c.RemoteAddr().String())

	require.NoError(t, c.Close()) // the client closes first: the active closer
	require.NoError(t, s.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = s.Read(make([]byte, 1)) // the server sees EOF...
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, s.Close()) // ...and closes: the client's end enters TIME-WAIT

	var timer, left string
	require.Eventually(t, func() bool {
		var st string
		st, timer, left = procTimer(local, remote)
		return st == "06"
	}, 10*time.Second, time.Millisecond, "the active closer's end enters TIME-WAIT")
	assert.Equal(t, "03", timer, "the TIME-WAIT timer runs")
	ticks, err := strconv.ParseUint(left, 16, 64)
	require.NoError(t, err)
	d := time.Duration(ticks) * time.Second / 100
	t.Logf("TIME-WAIT: %v left", d)
	assert.LessOrEqual(t, d, 60*time.Second)
	assert.Greater(t, d, 55*time.Second, "TIME-WAIT lasts a fixed 60 s")
}

// procTimer returns the state, timer kind and time left (hex clock ticks) of
// the socket local→remote in /proc/net/tcp ("" when it is not there).
func procTimer(local, remote netip.AddrPort) (state, timer, left string) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return "", "", ""
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if _, match, _ := procLineState(line, local, remote); !match {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 {
			return "", "", ""
		}
		timer, left, _ = strings.Cut(f[5], ":")
		return f[3], timer, left
	}
	return "", "", ""
}
