package main

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/serve"
)

// TestEchoServeContract: the reference server keeps the course's contract
// (internal/serve): Serve returns ErrServerClosed after Shutdown.
func TestEchoServeContract(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &EchoServer{}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, srv.Shutdown(ctxT(t)))
	select {
	case err := <-served:
		require.ErrorIs(t, err, serve.ErrServerClosed)
	case <-ctxT(t).Done():
		t.Fatal("Serve did not return after Shutdown")
	}
}

// timeoutListener fails every Accept with a timeout until it is closed, as
// a listener with a deadline in the past would.
type timeoutListener struct {
	net.Listener
	accepts atomic.Int64
	closed  chan struct{}
}

func (l *timeoutListener) Accept() (net.Conn, error) {
	l.accepts.Add(1)
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
		return nil, os.ErrDeadlineExceeded
	}
}

func (l *timeoutListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return l.Listener.Close()
}

// TestEchoBacksOffOnTimeouts: an accept timeout is retried after a growing
// wait, not at once in a loop that burns a core.
func TestEchoBacksOffOnTimeouts(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &timeoutListener{Listener: inner, closed: make(chan struct{})}
	srv := &EchoServer{}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	timer := time.NewTimer(200 * time.Millisecond)
	<-timer.C // the span over which Accept calls are counted
	require.NoError(t, srv.Shutdown(ctxT(t)))
	<-served
	// 5, 10, 20, 40, 80 ms: about six attempts in 200 ms; a tight loop makes
	// hundreds of thousands.
	assert.LessOrEqual(t, ln.accepts.Load(), int64(20), "accept retried without backing off")
}

// TestEchoDebugAddrLoopbackOnly: profiles are served on loopback only
// (internal/debugserver), so -debug-addr 0.0.0.0:PORT is refused.
func TestEchoDebugAddrLoopbackOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := runEcho(ctx, []string{"-addr", "127.0.0.1:0", "-debug-addr", "0.0.0.0:0"})
	require.ErrorContains(t, err, "loopback")
}
