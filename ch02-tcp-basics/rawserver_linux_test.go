package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

// startRawServer runs the raw-syscall server on 127.0.0.1:0.
func startRawServer(t *testing.T) (addr string, srv *RawServer) {
	t.Helper()
	return startRawServerLog(t, quietLog())
}

// startRawServerLog is startRawServer logging to log.
func startRawServerLog(t *testing.T, log *slog.Logger) (addr string, srv *RawServer) {
	t.Helper()
	ln, err := ListenRaw("127.0.0.1:0", 16)
	require.NoError(t, err)
	srv = NewRawServer(log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.ErrorIs(t, <-served, serve.ErrServerClosed)
	})
	return ln.Addr().String(), srv
}

func TestConformanceRawServer(t *testing.T) {
	addr, _ := startRawServer(t)
	testLineServer(t, addr)
}

func TestRawListenReportsPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	_, err = ListenRaw(taken.Addr().String(), 16)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "address already in use")
}

func TestRawListenRejectsBadAddress(t *testing.T) {
	_, err := ListenRaw("localhost:80", 16)
	assert.ErrorContains(t, err, "want IP:PORT")
}

func TestRawShutdownWakesBlockedAcceptAndReads(t *testing.T) {
	ln, err := ListenRaw("127.0.0.1:0", 16)
	require.NoError(t, err)
	srv := NewRawServer(quietLog())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// An idle client: its handler is blocked in read(), the loop in accept().
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	replies, err := exchange(c, []string{"ping"})
	require.NoError(t, err)
	require.Equal(t, []string{"echo: ping"}, replies)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Shutdown waits for accept() to return before it closes the listener,
	// so a Shutdown that fails to wake accept() hangs: bound the wait.
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	select {
	case err := <-shut:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown did not wake the blocked accept()")
	}
	require.ErrorIs(t, <-served, serve.ErrServerClosed)
	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the handler saw end of file and closed")
}

// TestRawListenerIsANetListener runs the net package server on a hand-made
// listener: Accept hands each descriptor to the runtime's poller, and Close
// wakes the blocked accept().
func TestRawListenerIsANetListener(t *testing.T) {
	ln, err := ListenRaw("127.0.0.1:0", 16)
	require.NoError(t, err)
	srv := NewServer(quietLog())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	replies, err := exchange(testutil.Dial(t, ln.Addr().String()), []string{"via net.FileConn"})
	require.NoError(t, err)
	assert.Equal(t, []string{"echo: via net.FileConn"}, replies)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	require.ErrorIs(t, <-served, serve.ErrServerClosed)
	assert.ErrorIs(t, ln.Close(), net.ErrClosed, "closed once")
}

func TestRawServeAfterShutdown(t *testing.T) {
	srv := NewRawServer(quietLog())
	require.NoError(t, srv.Shutdown(t.Context()))
	ln, err := ListenRaw("127.0.0.1:0", 16)
	require.NoError(t, err)
	require.ErrorIs(t, srv.Serve(ln), serve.ErrServerClosed)
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	require.Error(t, err, "Serve closed the listener")
}

func TestRawTooLongClosesWithItsReason(t *testing.T) {
	logs := &testutil.LogBuffer{}
	addr, _ := startRawServerLog(t, slog.New(slog.NewTextHandler(logs, nil)))
	checkTooLongReason(t, addr, logs)
}

// listenerQueue returns what Linux reports for a listening socket in
// TCP_INFO (as ss shows it in Recv-Q and Send-Q): the accept queue's
// length and its limit, the backlog.
func listenerQueue(t *testing.T, fd int) (queued, limit uint32) {
	t.Helper()
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	require.NoError(t, err)
	return info.Unacked, info.Sacked
}

// somaxconn is net.core.somaxconn, the kernel's cap on any backlog.
func somaxconn(t *testing.T) uint32 {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	require.NoError(t, err)
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	require.NoError(t, err)
	return uint32(n)
}

// TestListenBacklog: the raw server passes -backlog to listen() (0: the
// kernel's limit), and net.Listen passes net.core.somaxconn itself.
func TestListenBacklog(t *testing.T) {
	for _, tc := range []struct {
		backlog int
		want    uint32
	}{{8, 8}, {128, min(128, somaxconn(t))}, {0, somaxconn(t)}} {
		ln, err := ListenRaw("127.0.0.1:0", tc.backlog)
		require.NoError(t, err)
		_, limit := listenerQueue(t, ln.fd)
		assert.Equal(t, tc.want, limit, "-backlog %d", tc.backlog)
		ln.Close()
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var limit uint32
	require.NoError(t, rc.Control(func(fd uintptr) { _, limit = listenerQueue(t, int(fd)) }))
	assert.Equal(t, somaxconn(t), limit, "net.Listen's backlog")
}

// TestRawRetry: the raw accept loop decides about an error as the Core
// does: a temporary one (out of descriptors) is waited out, 5 ms doubling
// to 1 s; any other ends the loop; after Shutdown, ErrServerClosed.
func TestRawRetry(t *testing.T) {
	srv := NewRawServer(quietLog())
	delay, err := srv.retry(unix.EMFILE, 0)
	require.NoError(t, err, "EMFILE is waited out")
	assert.Equal(t, 5*time.Millisecond, delay)
	delay, err = srv.retry(unix.EMFILE, delay)
	require.NoError(t, err)
	assert.Equal(t, 10*time.Millisecond, delay, "the wait doubles")
	delay, err = srv.retry(unix.ENFILE, 800*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, time.Second, delay, "up to a second")

	_, err = srv.retry(unix.EBADF, 0)
	require.ErrorIs(t, err, unix.EBADF, "a broken listener ends the loop")
	require.NotErrorIs(t, err, serve.ErrServerClosed)

	require.NoError(t, srv.Shutdown(t.Context()))
	_, err = srv.retry(unix.EMFILE, 0)
	assert.ErrorIs(t, err, serve.ErrServerClosed, "after Shutdown, the end")
}

// TestListenersReuseTheirAddress: a restarted server binds its port while a
// connection of the previous run still sits in TIME-WAIT there (the server
// closed first), because the raw listener sets SO_REUSEADDR by hand and
// net.Listen sets it itself.
func TestListenersReuseTheirAddress(t *testing.T) {
	for _, raw := range []bool{true, false} {
		first, err := ListenRaw("127.0.0.1:0", 16)
		require.NoError(t, err)
		addr := first.Addr().String()
		c := testutil.Dial(t, addr)
		s, err := first.Accept()
		require.NoError(t, err)
		require.NoError(t, s.Close()) // the server closes first: its end goes to TIME-WAIT
		_, err = c.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF)
		require.NoError(t, c.Close())
		require.NoError(t, first.Close())
		local := addrPort(c.RemoteAddr())
		require.Eventually(t, func() bool {
			st, found, err := kernelState(local, addrPort(c.LocalAddr()))
			return err == nil && found && st == TimeWait
		}, 10*time.Second, time.Millisecond, "the old server end is in TIME-WAIT")

		var ln net.Listener
		if raw {
			ln, err = ListenRaw(addr, 16)
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		require.NoError(t, err, "raw=%v: bind while the port has a TIME-WAIT socket", raw)
		ln.Close()
	}
}
