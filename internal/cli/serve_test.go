package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
)

// echoServer is the smallest server with the course's contract.
type echoServer struct{ core serve.Core }

func (s *echoServer) Serve(ln net.Listener) error {
	return s.core.Serve(ln, func(c net.Conn) serve.End {
		_, err := io.Copy(c, c)
		return serve.End{Err: err}
	})
}
func (s *echoServer) Shutdown(ctx context.Context) error { return s.core.Shutdown(ctx) }
func (s *echoServer) OpenConns() int                     { return s.core.OpenConns() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs Serve in the background and returns the address, a
// cancel that plays the signal, and the channel of Serve's result.
func startServe(t *testing.T, drain time.Duration) (string, context.CancelFunc, <-chan error, *syncBuffer) {
	t.Helper()
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, log, ln, &echoServer{}, drain, "extra", 1) }()
	return ln.Addr().String(), cancel, done, &logs
}

func TestServeDrainsAndReturnsNil(t *testing.T) {
	addr, signal, done, logs := startServe(t, 5*time.Second)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	_, err = c.Write([]byte("hi"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, make([]byte, 2))
	require.NoError(t, err)

	signal() // the first Ctrl-C: Serve waits for the open client
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a client was still connected", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.Close() // the client leaves: the drain ends
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the last client left")
	}
	out := logs.String()
	assert.Contains(t, out, "msg=listening addr="+addr+" extra=1")
	assert.Contains(t, out, "msg=draining open=1 drain_timeout=5s")
	assert.Contains(t, out, "msg=stopped")
	assert.NotContains(t, out, "drain timeout")
}

func TestServeDrainTimeoutIsNotAnError(t *testing.T) {
	addr, signal, done, logs := startServe(t, 50*time.Millisecond)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err)
	signal()
	select {
	case err := <-done:
		require.NoError(t, err, "a drain that runs out still exits 0")
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain timeout")
	}
	assert.Contains(t, logs.String(), "drain timeout; closed the remaining connections")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the straggler was closed")
}

type brokenListener struct{ net.Listener }

var errBroken = errors.New("listener broken")

func (brokenListener) Accept() (net.Conn, error) { return nil, errBroken }

func TestServeReturnsListenerFailure(t *testing.T) {
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	var logs syncBuffer
	err = Serve(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), brokenListener{ln}, &echoServer{}, time.Second)
	require.ErrorIs(t, err, errBroken)
	assert.Equal(t, 1, ExitCode(err))
	assert.False(t, strings.Contains(logs.String(), "stopped"))
}
