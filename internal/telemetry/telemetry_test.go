package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// startEcho runs an echo server built on serve.Core with the metrics as its
// observer, and the metrics endpoint beside it.
func startEcho(t *testing.T, maxConns int) (echoAddr, metricsURL string, core *serve.Core, served <-chan error) {
	t.Helper()
	m := New(maxConns, nil)
	core = serve.New(serve.Config{MaxConns: maxConns, Observer: m, Log: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- core.Serve(ln, func(c net.Conn) serve.End {
			n, err := io.Copy(c, c)
			m.Transferred(n, n)
			return serve.End{Err: err}
		})
	}()
	bound, stop, err := Start(context.Background(), "127.0.0.1:0", m, core.Ready, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(stop)
	return ln.Addr().String(), "http://" + bound, core, done
}

func TestMetricsCountConnectionsAndBytes(t *testing.T) {
	addr, url, core, served := startEcho(t, 100)
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		_, err = c.Write([]byte("hello"))
		require.NoError(t, err)
		_, err = io.ReadFull(c, make([]byte, 5))
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		_, _ = io.Copy(io.Discard, c) // EOF: the handler has returned
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, core.Shutdown(ctx))
	require.ErrorIs(t, <-served, serve.ErrServerClosed)

	code, body := get(t, url+"/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		"tcp_server_connections_accepted_total 3",
		"tcp_server_connections_open 0",
		"tcp_server_connections_max 100",
		`tcp_server_connections_closed_total{reason="eof"} 3`,
		"tcp_server_received_bytes_total 15",
		"tcp_server_sent_bytes_total 15",
		"tcp_server_draining 1",
		`tcp_server_accept_errors_total{kind="temporary"} 0`,
		"go_goroutines",
	} {
		assert.Contains(t, body, want+"")
	}
}

// TestReadyzFailsBeforeTheListenerCloses: a load balancer must see "not
// ready" first, and only then do new clients find the port closed.
func TestReadyzFailsBeforeTheListenerCloses(t *testing.T) {
	addr, url, core, served := startEcho(t, 0)
	code, _ := get(t, url+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Eventually(t, func() bool { c, _ := get(t, url+"/readyz"); return c == http.StatusOK },
		5*time.Second, 10*time.Millisecond, "ready once Serve has its listener")

	// Hold a connection so the drain lasts; observe the order of events.
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err)

	// Begin the drain; /readyz must answer 503 before (or when) the
	// listener starts refusing new clients, never after.
	testutil.CheckReadyBeforeRefused(t, url+"/readyz", addr, func() { go core.BeginShutdown() })
	code, _ = get(t, url+"/healthz")
	assert.Equal(t, http.StatusOK, code, "alive while draining: the pod must not be restarted")
	c.Close()
	require.NoError(t, core.Wait(context.Background()))
	require.ErrorIs(t, <-served, serve.ErrServerClosed)
}

// TestEchoAndNilMetrics: the echo histogram counts each observed echo, and
// every helper a handler calls is a no-op on nil metrics (a server run
// without -metrics-addr), so handlers need no "if metrics on" branches.
func TestEchoAndNilMetrics(t *testing.T) {
	m := New(0, nil)
	e := m.Echo()
	e.Observe(time.Now())
	e.Observe(time.Now().Add(-time.Second))
	var b strings.Builder
	require.NoError(t, m.Registry.WriteText(&b))
	assert.Contains(t, b.String(), "echo_round_trip_seconds_count 2\n")
	assert.Contains(t, b.String(), `echo_round_trip_seconds_bucket{le="+Inf"} 2`+"\n")

	var off *Metrics
	assert.Nil(t, off.Observer(), "a nil interface, not a nil *Metrics in one")
	assert.Nil(t, off.Echo())
	assert.NotPanics(t, func() {
		off.Transferred(1, 1)
		off.Echo().Observe(time.Now())
	})
}

// TestBytesFromTheServersOwnCounts: with New(n, bytes) the byte counters are
// read from the server's counts at each scrape, not counted again.
func TestBytesFromTheServersOwnCounts(t *testing.T) {
	in, out := int64(7), int64(9)
	m := New(0, func() (int64, int64) { return in, out })
	m.Transferred(100, 100) // ignored: the server's own counts rule
	var b strings.Builder
	require.NoError(t, m.Registry.WriteText(&b))
	assert.Contains(t, b.String(), "\ntcp_server_received_bytes_total 7\n")
	assert.Contains(t, b.String(), "\ntcp_server_sent_bytes_total 9\n")
}
