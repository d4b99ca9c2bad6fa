package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
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
func TestFullAcceptQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var fq fullQueue
	for attempt := 1; ; attempt++ {
		if fq = fillQueue(t, ctx); fq.ok {
			break
		}
		// X's ACK is held by the client's delayed-ACK timer (up to 200 ms);
		// on a very busy machine it can fire before the queue is full.
		// That run proves nothing either way: start again.
		require.Less(t, attempt, 5, "could not hold X's final ACK until the queue was full")
		t.Logf("attempt %d: X's ACK went out before the queue was full; again", attempt)
	}
	ln, port, x, xPort := fq.ln, fq.port, fq.x, fq.xPort

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
	_, err := x.Write([]byte("x"))
	require.NoError(t, err, "X believes it is connected")
	require.Eventually(t, func() bool {
		now, err := readListenCounters()
		return err == nil && now["ListenOverflows"] > before["ListenOverflows"]
	}, 10*time.Second, time.Millisecond,
		"the ACK that meets a full queue is counted as an overflow")
	assert.Equal(t, "SYN_RECV", serverState(t, port, xPort), "the server ignored X's final ACK")
	queued, _, err := tcpSockets(port)
	require.NoError(t, err)
	assert.Equal(t, 2, queued, "X did not enter the full queue")

	// Moment 3: accept makes room; X (retransmitting its data) and the late
	// client (retransmitting its SYN) get in.
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(20*time.Second)))
	var fromX string
	for range 4 {
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

// fullQueue is a listener with backlog 1 whose accept queue is full (two
// connections), and client X, whose handshake began while there was room
// and whose final ACK the client still holds back.
type fullQueue struct {
	ok          bool
	ln          net.Listener
	port, xPort int
	x           net.Conn
}

// fillQueue builds a fullQueue: one client, then X (its SYN finds room, its
// ACK is delayed), then one more client right away. Everything it opens is
// closed at the end of the test. ok is false when X's ACK was sent before
// the last client got in, so X, not that client, took the last place.
func fillQueue(t *testing.T, ctx context.Context) fullQueue {
	t.Helper()
	ln, err := listenBacklog(1) // room for backlog+1 = 2 connections
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	q := fullQueue{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	dial := func(d *net.Dialer) (net.Conn, error) {
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	_, err = dial(&net.Dialer{})
	require.NoError(t, err)
	deferACK := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	q.x, err = dial(deferACK)
	require.NoError(t, err, "X's handshake began while the queue had room")
	q.xPort = q.x.LocalAddr().(*net.TCPAddr).Port
	if _, err := dial(&net.Dialer{Timeout: 2 * time.Second}); err != nil {
		return q // X got the last place: its SYN-ACK was answered too soon
	}
	n, err := waitQueue(ctx, q.port, 2)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	q.ok = serverState(t, q.port, q.xPort) == "SYN_RECV"
	return q
}

// serverState returns the state of the server's end of the connection from
// clientPort to the listener's port, as /proc/net/tcp shows it.
func serverState(t *testing.T, port, clientPort int) string {
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
func listenCounters(t *testing.T) map[string]int64 {
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
