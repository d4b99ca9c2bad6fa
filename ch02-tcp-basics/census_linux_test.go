package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestCensusOfALiveServer counts the sockets of a listener of this test in
// the live /proc/net/tcp: three clients connect and close, and the server,
// which never closes its ends, holds three sockets in CLOSE-WAIT (the bug
// the census is for); a fourth client stays, ESTABLISHED.
func TestCensusOfALiveServer(t *testing.T) {
	exercise.Graded(t, "exercise-census")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var served []net.Conn
	defer func() {
		for _, c := range served {
			c.Close()
		}
	}()
	for i := range 4 {
		c := testutil.Dial(t, ln.Addr().String())
		s, err := ln.Accept()
		require.NoError(t, err)
		served = append(served, s)
		if i < 3 {
			require.NoError(t, c.Close()) // the client closes; the server does not
		}
	}
	port := addrPort(ln.Addr()).Port()
	var got map[State]int
	require.Eventually(t, func() bool {
		data, err := os.ReadFile("/proc/net/tcp")
		require.NoError(t, err)
		got, err = Census(bytes.NewReader(data), port)
		require.NoError(t, err)
		return got[CloseWait] == 3
	}, 10*time.Second, time.Millisecond, "three CLOSE-WAIT sockets on port %d", port)
	assert.Equal(t, map[State]int{Listen: 1, Established: 1, CloseWait: 3}, nonZero(got))
}

// TestCommandCensus: `states -census PORT` prints the census of the live
// kernel's sockets, IPv4 and IPv6 together.
func TestCommandCensus(t *testing.T) {
	exercise.Graded(t, "exercise-census")
	bin := testutil.BuildGo(t, ".")
	ln4, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln4.Close()
	port := addrPort(ln4.Addr()).Port()
	want := "LISTEN       1\n"
	if ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(int(port)))); err == nil {
		defer ln6.Close() // the same port on IPv6 too, where the machine has it
		want = "LISTEN       2\n"
	}
	out, errOut, err := testutil.RunWithTimeout(t, 30*time.Second,
		exec.Command(bin, "states", "-census", strconv.Itoa(int(port))), "")
	require.NoError(t, err, errOut)
	assert.Equal(t, fmt.Sprintf("TCP sockets with local port %d, by state:\n  %s", port, want), out)
}
