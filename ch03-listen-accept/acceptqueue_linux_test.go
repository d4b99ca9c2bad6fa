package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFullAcceptQueue checks what Linux does at each moment a handshake can
// meet a full accept queue (handshake.md and this chapter describe it):
//
//  1. A SYN that arrives while the queue is full is dropped: the client
//     stays in SYN_SENT, and the kernel counts ListenOverflows and
//     ListenDrops (`nstat -az TcpExtListenOverflows TcpExtListenDrops`).
//  2. The final ACK of a handshake that began while there was room, but
//     arrives once the queue is full, is dropped too: the client believes
//     it is connected (ESTABLISHED, its Dial returned), the server's end
//     stays in SYN_RECV, and ListenOverflows counts it.
//  3. Once accept makes room, both get in.
//
// To hold a handshake open between its SYN and its final ACK, client X sets
// TCP_DEFER_ACCEPT on its own socket: Linux then delays the client's ACK of
// the SYN-ACK until the client sends data.
//
// What the kernel does is certain; when it does it, under load, is not: a
// delayed ACK can be sent after all, a retransmitted SYN can land late. So
// the scenario runs on a fresh listener up to three times, and the test
// fails only if no attempt shows every moment. A kernel that did otherwise
// would fail all three.
func TestFullAcceptQueue(t *testing.T) {
	var last *attempt
	for i := range 3 {
		last = &attempt{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); fullAcceptQueue(last) }()
		<-done
		if !last.failed {
			return
		}
		t.Logf("attempt %d: %s", i+1, strings.Join(last.msgs, "; "))
	}
	t.Errorf("no attempt showed a full accept queue as described; the last one:\n%s", strings.Join(last.msgs, "\n"))
}

// attempt records the failures of one run of the scenario instead of
// failing the test; FailNow ends the run (its deferred cleanups still run).
type attempt struct {
	testing.TB
	failed bool
	msgs   []string
}

func (a *attempt) Errorf(format string, args ...any) {
	a.failed = true
	a.msgs = append(a.msgs, fmt.Sprintf(format, args...))
}

func (a *attempt) Fatalf(format string, args ...any) { a.Errorf(format, args...); a.FailNow() }
func (a *attempt) FailNow()                          { a.failed = true; runtime.Goexit() }

func fullAcceptQueue(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Room for backlog+1 = 3 connections. (With a backlog of 1, X's pending
	// handshake alone would fill the SYN queue too, and every other client
	// would need a SYN cookie: the test would measure that instead.)
	const room = 3
	ln, err := listenBacklog(room - 1)
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	deferACK := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	x, err := deferACK.DialContext(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err, "X's handshake began while the queue had room")
	defer x.Close()
	xPort := x.LocalAddr().(*net.TCPAddr).Port
	require.Equal(t, "SYN_RECV", serverState(t, port, xPort), "X's final ACK is held back")

	// Fill the queue.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range room {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	q, err := waitQueue(ctx, port, room)
	require.NoError(t, err)
	require.Equal(t, room, q)

	// Moment 1: a SYN meets the full queue.
	before := listenCounters(t)
	late := make(chan dialed, 1)
	go func() {
		var d net.Dialer
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		late <- dialed{c, err, time.Since(start)}
	}()
	require.Eventually(t, func() bool { _, syn, err := tcpSockets(port); return err == nil && syn == 1 }, 10*time.Second, time.Millisecond,
		"the SYN is dropped: the client waits in SYN_SENT")
	after := listenCounters(t)
	assert.Greater(t, after["ListenOverflows"], before["ListenOverflows"])
	assert.Greater(t, after["ListenDrops"], before["ListenDrops"])

	// Moment 2: X's final ACK (carried by its first data) meets the full queue.
	before = after
	_, err = x.Write([]byte("x"))
	require.NoError(t, err, "X believes it is connected")
	require.Eventually(t, func() bool {
		now, err := readListenCounters()
		return err == nil && now["ListenOverflows"] > before["ListenOverflows"]
	}, 10*time.Second, time.Millisecond,
		"the ACK that meets a full queue is counted as an overflow")
	assert.Equal(t, "SYN_RECV", serverState(t, port, xPort), "the server ignored X's final ACK")
	q, _, err = tcpSockets(port)
	require.NoError(t, err)
	assert.Equal(t, room, q, "X did not enter the full queue")

	// Moment 3: accept makes room; X (retransmitting its data) and the late
	// client (retransmitting its SYN) get in.
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(20*time.Second)))
	var fromX string
	for range room + 2 { // the queue, X and the late client
		c, err := ln.Accept()
		require.NoError(t, err)
		if c.RemoteAddr().(*net.TCPAddr).Port == xPort {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			b := make([]byte, 1)
			_, err := io.ReadFull(c, b)
			require.NoError(t, err)
			fromX = string(b)
		}
		c.Close()
	}
	assert.Equal(t, "x", fromX, "X got in, and its data with it")
	r := <-late
	require.NoError(t, r.err)
	r.c.Close()
}

// serverState returns the state of the server's end of the connection from
// clientPort to the listener's port, as /proc/net/tcp shows it.
func serverState(t testing.TB, port, clientPort int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	require.NoError(t, err)
	local, remote := fmt.Sprintf(":%04X", port), fmt.Sprintf(":%04X", clientPort)
	names := map[string]string{"01": "ESTABLISHED", "03": "SYN_RECV", "08": "CLOSE_WAIT"}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], local) && strings.HasSuffix(f[2], remote) {
			if n, ok := names[f[3]]; ok {
				return n
			}
			return f[3]
		}
	}
	return "none"
}

// listenCounters reads the TcpExt ListenOverflows and ListenDrops counters
// (system-wide: other programs can only make them grow).
func listenCounters(t testing.TB) map[string]int64 {
	t.Helper()
	got, err := readListenCounters()
	require.NoError(t, err)
	return got
}

func readListenCounters() (map[string]int64, error) {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	got := map[string]int64{}
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j, n := range names {
			if n == "ListenOverflows" || n == "ListenDrops" {
				if got[n], err = strconv.ParseInt(values[j], 10, 64); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(got) != 2 {
		return nil, fmt.Errorf("no TcpExt ListenOverflows/ListenDrops in /proc/net/netstat")
	}
	return got, nil
}
