package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

// startEventLoop runs an event-loop server in-process on 127.0.0.1:0 until
// the test ends.
func startEventLoop(t *testing.T, cfg EventLoopConfig) (*EventLoop, string) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = quietLog()
	}
	srv := NewEventLoop(cfg)
	return srv, testutil.StartServer(t, srv.Serve, srv.Shutdown)
}

// TestConformanceEventLoop grades the event loop with the rubric every echo
// server of the course passes: one loop and two (connections spread over
// loops).
func TestConformanceEventLoop(t *testing.T) {
	if os.Getenv("ECHO_ADDR") != "" {
		t.Skip("ECHO_ADDR is set: grading that server only")
	}
	for name, loops := range map[string]int{"one-loop": 1, "two-loops": 2} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, addr := startEventLoop(t, EventLoopConfig{IdleTimeout: time.Minute, Loops: loops})
			runConformance(t, addr, false)
		})
	}
}

// TestEventLoopIdleTimeout: a silent client is closed after the idle
// timeout, a talking one never; and the closed lines say why.
func TestEventLoopIdleTimeout(t *testing.T) {
	const idle = time.Second
	var logs testutil.LogBuffer
	srv, addr := startEventLoop(t, EventLoopConfig{IdleTimeout: idle, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	start := time.Now()
	silent := testutil.Dial(t, addr)
	n, err := silent.Read(make([]byte, 1))
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF, "the server should close a silent client")
	assert.GreaterOrEqual(t, time.Since(start), idle)
	logs.WaitFor(t, "reason=idle", 5*time.Second)
	assert.Contains(t, logs.String(), "msg=accepted peer="+silent.LocalAddr().String())

	busy := testutil.Dial(t, addr)
	tick := time.NewTicker(idle / 5)
	defer tick.Stop()
	for range 10 { // two idle timeouts in all
		<-tick.C
		echoOnce(t, busy, "ping")
	}
	require.Eventually(t, func() bool { return srv.OpenConns() == 1 }, 10*time.Second, 5*time.Millisecond,
		"only the busy client is open")
}

// TestEventLoopIdleHoldsNoBuffer: the back-pressure buffer is lent only while
// output is pending: a client that stops reading gets one, and once it has
// read everything (and while it idles) no buffer is held.
func TestEventLoopIdleHoldsNoBuffer(t *testing.T) {
	srv, addr := startEventLoop(t, EventLoopConfig{IdleTimeout: time.Minute})
	c := testutil.Dial(t, addr)
	data := random(16 << 20)
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(data); wrote <- err }() // not read yet: the server's writes fill up
	require.Eventually(t, func() bool { return srv.pends.Load() == 1 }, 10*time.Second, time.Millisecond,
		"a connection whose echo is pending borrows a buffer")
	got := make([]byte, len(data))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.NoError(t, <-wrote)
	require.NoError(t, diff(data, got))
	echoOnce(t, c, "idle now")
	assert.Zero(t, srv.pends.Load(), "an idle connection holds no buffer")
}

// TestEventLoopMaxConns: beyond -max-conns, clients wait in the accept queue.
func TestEventLoopMaxConns(t *testing.T) {
	srv, addr := startEventLoop(t, EventLoopConfig{MaxConns: 2})
	c1, c2 := testutil.Dial(t, addr), testutil.Dial(t, addr)
	echoOnce(t, c1, "one")
	echoOnce(t, c2, "two")
	c3 := testutil.Dial(t, addr)
	_, err := c3.Write([]byte("three"))
	require.NoError(t, err)
	require.NoError(t, c3.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = c3.Read(make([]byte, 5))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "third client served beyond -max-conns: %v", err)
	assert.EqualValues(t, 2, srv.OpenConns())

	require.NoError(t, c1.Close())
	require.NoError(t, c3.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, 5)
	_, err = io.ReadFull(c3, got)
	require.NoError(t, err)
	assert.Equal(t, "three", string(got))
	echoOnce(t, c2, "still here")
}

// TestEventLoopShutdownClosesStragglers: a client that never reads keeps
// output pending; when the drain window ends, Shutdown closes it.
func TestEventLoopShutdownClosesStragglers(t *testing.T) {
	srv := NewEventLoop(EventLoopConfig{Log: quietLog()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	idle := testutil.Dial(t, ln.Addr().String())
	echoOnce(t, idle, "hello")
	c := testutil.Dial(t, ln.Addr().String())
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Write(random(8 << 20))
	var ne net.Error
	require.True(t, err == nil || errors.As(err, &ne) && ne.Timeout(), "%v", err)

	dctx, dcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer dcancel()
	assert.ErrorIs(t, srv.Shutdown(dctx), context.DeadlineExceeded)
	assert.ErrorIs(t, <-served, serve.ErrServerClosed)
	assert.Zero(t, srv.OpenConns())
	_, err = idle.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the idle client was closed by the drain")
}

// TestEventLoopSIGTERMDrains runs the command: after SIGTERM it finishes
// the echo in flight, closes idle clients, and exits 0.
func TestEventLoopSIGTERMDrains(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	p := testutil.StartProcess(t, exec.Command(bin, "eventloop", "-addr", "127.0.0.1:0", "-drain-timeout", "30s"))
	idle := testutil.Dial(t, p.Addr)
	echoOnce(t, idle, "hello")
	busy := testutil.Dial(t, p.Addr)
	data := random(8 << 20)
	wrote := make(chan error, 1)
	go func() { _, err := busy.Write(data); wrote <- err }()

	exited := make(chan error, 1)
	go func() { exited <- p.Signal(syscall.SIGTERM, 30*time.Second) }()
	p.WaitOutput(t, "msg=draining", 10*time.Second)
	got := make([]byte, len(data))
	_, err := io.ReadFull(busy, got)
	require.NoError(t, err, "the echo in flight must not be cut short")
	require.NoError(t, <-wrote)
	require.NoError(t, diff(data, got))
	_, err = busy.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	_, err = idle.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	require.NoError(t, <-exited, "exit status after SIGTERM")
	assert.Contains(t, p.Output(), "msg=stopped")
}
