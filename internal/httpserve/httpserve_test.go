package httpserve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start serves a handler that answers "ok" under lim.
func start(t *testing.T, lim Limits) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	addr, stop, err := Start(context.Background(), "metrics", "127.0.0.1:0", h, lim, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(stop)
	return addr
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads from c until the server closes it, and returns how
// long that took; it fails the test if c is still open after limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	require.NoError(t, c.SetReadDeadline(begin.Add(limit)))
	_, err := io.Copy(io.Discard, c)
	took := time.Since(begin)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open past %v", limit)
	}
	return took
}

// TestHalfSentRequestIsCutOff: a client that sends half a request line and
// stops is disconnected once ReadTimeout has passed.
func TestHalfSentRequestIsCutOff(t *testing.T) {
	addr := start(t, Limits{MaxConns: 4, ReadTimeout: 300 * time.Millisecond, WriteTimeout: time.Second, IdleTimeout: 10 * time.Second})
	c := dial(t, addr)
	_, err := io.WriteString(c, "GET /metrics HT")
	require.NoError(t, err)
	took := closedWithin(t, c, 5*time.Second)
	assert.GreaterOrEqual(t, took, 250*time.Millisecond, "cut before the timeout")
}

// TestIdleKeepAliveIsClosed: after one answered request, a keep-alive
// connection that sends nothing more is closed after IdleTimeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	addr := start(t, Limits{MaxConns: 4, ReadTimeout: 10 * time.Second, WriteTimeout: time.Second, IdleTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	_, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := closedWithin(t, c, 5*time.Second)
	assert.GreaterOrEqual(t, took, 250*time.Millisecond, "closed before the idle timeout")
}

// TestConnectionCap: with MaxConns held by silent clients, the next client
// waits (its connection sits in the kernel's accept queue) and is served as
// soon as one of them is cut off.
func TestConnectionCap(t *testing.T) {
	addr := start(t, Limits{MaxConns: 2, ReadTimeout: 500 * time.Millisecond, WriteTimeout: time.Second, IdleTimeout: 10 * time.Second})
	for range 2 {
		dial(t, addr) // silent: holds a slot until ReadTimeout
	}
	c := http.Client{Timeout: 5 * time.Second}
	begin := time.Now()
	resp, err := c.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.GreaterOrEqual(t, time.Since(begin), 400*time.Millisecond, "served while both slots were held")
}
