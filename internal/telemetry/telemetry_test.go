package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tcp-in-go/course/internal/serve"
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
	m := New(maxConns)
	core = &serve.Core{MaxConns: maxConns, Observer: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- core.Serve(ln, func(c net.Conn) {
			n, _ := io.Copy(c, c)
			m.Transferred(n, n)
			m.Closed("eof")
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

// TestMetricNamesFollowConventions runs promtool's lint rules (the library's
// promlint) on a real scrape: units in names, _total on counters, help text.
func TestMetricNamesFollowConventions(t *testing.T) {
	_, url, core, served := startEcho(t, 0)
	_, body := get(t, url+"/metrics")
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
	require.NoError(t, core.Shutdown(context.Background()))
	require.ErrorIs(t, <-served, serve.ErrServerClosed)
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

	var readyWhenClosed atomic.Bool
	readyWhenClosed.Store(true)
	go func() {
		core.BeginShutdown()
	}()
	require.Eventually(t, func() bool { code, _ := get(t, url+"/readyz"); return code == http.StatusServiceUnavailable },
		5*time.Second, 5*time.Millisecond)
	// The listener closes as part of BeginShutdown, after Draining: by now
	// new clients are refused too.
	require.Eventually(t, func() bool {
		d, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			d.Close()
		}
		return err != nil
	}, 5*time.Second, 5*time.Millisecond)
	code, _ = get(t, url+"/healthz")
	assert.Equal(t, http.StatusOK, code, "alive while draining: the pod must not be restarted")
	c.Close()
	require.NoError(t, core.Wait(context.Background()))
	require.ErrorIs(t, <-served, serve.ErrServerClosed)
}

// TestEchoAndNilMetrics: the echo histogram counts each observed echo, and
// every helper is a no-op on nil metrics (a server run without
// -metrics-addr), so handlers need no "if metrics on" branches.
func TestEchoAndNilMetrics(t *testing.T) {
	m := New(0)
	e := m.Echo()
	e.Observe(time.Now())
	e.Observe(time.Now().Add(-time.Second))
	require.NoError(t, gatherCount(m, "echo_round_trip_seconds", 2))

	var off *Metrics
	assert.Nil(t, off.Observer(), "a nil interface, not a nil *Metrics in one")
	assert.Nil(t, off.Echo())
	assert.NotPanics(t, func() {
		off.Closed("eof")
		off.Transferred(1, 1)
		off.Echo().Observe(time.Now())
	})
}

func gatherCount(m *Metrics, name string, want uint64) error {
	mfs, err := m.Registry.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if got := mf.GetMetric()[0].GetHistogram().GetSampleCount(); got != want {
				return fmt.Errorf("%s count %d, want %d", name, got, want)
			}
			return nil
		}
	}
	return fmt.Errorf("%s not registered", name)
}

// timeoutErr is what a connection's read returns when its deadline passes.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestCloseReason(t *testing.T) {
	deadline := fmt.Errorf("read: %w", timeoutErr{})
	closed := fmt.Errorf("read: %w", net.ErrClosed)
	for _, tc := range []struct {
		err      error
		draining bool
		want     string
	}{
		{nil, false, "eof"},
		{nil, true, "eof"},
		{deadline, false, "idle"},
		{deadline, true, "drained"},
		{closed, false, "shutdown"},
		{closed, true, "shutdown"},
		{io.ErrUnexpectedEOF, false, "error"},
	} {
		assert.Equal(t, tc.want, CloseReason(tc.err, tc.draining), "%v, draining=%v", tc.err, tc.draining)
	}
}
