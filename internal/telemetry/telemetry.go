// Package telemetry gives the course's servers what an operator watches:
// metrics in the Prometheus text format (registry.go), and the health
// checks an orchestrator probes. It is wired into the accept loop as a
// serve.Observer, so every server counts connections the same way; each
// chapter adds the metrics its protocol means (echo round trips, transfer
// sizes, TLS handshakes).
//
// Names follow Prometheus' conventions: a unit in the name (_bytes,
// _seconds), _total for counters, base units only.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tcp-in-go/course/internal/httpserve"
	"github.com/tcp-in-go/course/internal/serve"
)

// ANCHOR: metrics
// Metrics are the metrics every TCP server of the course exports. Each
// server has its own registry, so tests can run many in one process.
type Metrics struct {
	Registry *Registry

	open          *Gauge      // tcp_server_connections_open
	accepted      *Counter    // tcp_server_connections_accepted_total
	closed        *CounterVec // tcp_server_connections_closed_total{reason}
	acceptErrors  *CounterVec // tcp_server_accept_errors_total{kind}
	limitReached  *Counter    // tcp_server_connection_limit_reached_total
	received      *Counter    // tcp_server_received_bytes_total
	sent          *Counter    // tcp_server_sent_bytes_total
	draining      *Gauge      // tcp_server_draining
	drainTimeouts *Counter    // tcp_server_drain_timeouts_total
}

// ANCHOR_END: metrics

// New registers the standard metrics, with the Go runtime's and the
// process's own (goroutines, memory, open file descriptors). maxConns is
// the server's -max-conns (0: no limit). bytes, if set, reads the byte
// counters from counts the server keeps anyway (atomic counters it
// updates on every read and write), so that metrics add nothing to its hot
// path; without it, handlers report their bytes with Transferred.
func New(maxConns int, bytes func() (in, out int64)) *Metrics {
	r := NewRegistry()
	m := &Metrics{
		Registry:      r,
		open:          r.Gauge("tcp_server_connections_open", "Connections being served now."),
		accepted:      r.Counter("tcp_server_connections_accepted_total", "Connections accepted."),
		closed:        r.CounterVec("tcp_server_connections_closed_total", "Connections that ended, by why they ended (eof, idle, drained, shutdown, error, or the server's own reasons).", "reason"),
		acceptErrors:  r.CounterVec("tcp_server_accept_errors_total", "Errors from Accept: temporary ones are retried after a wait, a permanent one stops the server.", "kind", "temporary", "permanent"),
		limitReached:  r.Counter("tcp_server_connection_limit_reached_total", "Times the server reached -max-conns and new clients had to wait in the accept queue."),
		draining:      r.Gauge("tcp_server_draining", "1 once a graceful shutdown has begun."),
		drainTimeouts: r.Counter("tcp_server_drain_timeouts_total", "Drains that ran out of -drain-timeout and closed the connections left."),
	}
	r.GaugeFunc("tcp_server_connections_max", "The -max-conns limit; 0 means no limit.", func() float64 { return float64(maxConns) })
	if bytes != nil {
		r.CounterFunc("tcp_server_received_bytes_total", "Bytes read from clients.", func() float64 { in, _ := bytes(); return float64(in) })
		r.CounterFunc("tcp_server_sent_bytes_total", "Bytes written to clients.", func() float64 { _, out := bytes(); return float64(out) })
	} else {
		m.received = r.Counter("tcp_server_received_bytes_total", "Bytes read from clients.")
		m.sent = r.Counter("tcp_server_sent_bytes_total", "Bytes written to clients.")
	}
	registerRuntime(r)
	return m
}

// The serve.Observer methods: the accept loop calls them.

func (m *Metrics) Accepted()      { m.accepted.Inc(); m.open.Inc() }
func (m *Metrics) Draining()      { m.draining.Set(1) }
func (m *Metrics) LimitReached()  { m.limitReached.Inc() }
func (m *Metrics) DrainTimedOut() { m.drainTimeouts.Inc() }
func (m *Metrics) AcceptFailed(temporary bool) {
	kind := "permanent"
	if temporary {
		kind = "temporary"
	}
	m.acceptErrors.WithLabelValues(kind).Inc()
}

// Observer returns m as the accept loop's observer (serve.Config.Observer),
// or nil when m is nil: metrics off.
func (m *Metrics) Observer() serve.Observer {
	if m == nil {
		return nil // not a nil *Metrics in a non-nil interface
	}
	return m
}

// ANCHOR: closed
// Closed counts a connection that ended, with the reason its closed log
// line gives (the Core passes both the same one): a small fixed set (eof,
// idle, drained, shutdown, error, and the server's own), never free text,
// since every label value is a time series of its own.
func (m *Metrics) Closed(reason string) {
	m.open.Dec()
	m.closed.WithLabelValues(reason).Inc()
}

// ANCHOR_END: closed

// Transferred adds bytes read from and written to clients, for a server
// that counts them per connection (with Conn) and reports them when the
// connection ends; a server made with New(n, bytes) reads its own counts
// instead. It does nothing on a nil *Metrics (metrics off).
func (m *Metrics) Transferred(in, out int64) {
	if m == nil || m.received == nil {
		return
	}
	m.received.Add(uint64(in))
	m.sent.Add(uint64(out))
}

// Echo registers echo_round_trip_seconds for an echo server: the time from
// a read returning to its echo written back. Its _count is the number of
// echoes. On a nil *Metrics it returns nil, and a nil *Echo ignores
// Observe.
func (m *Metrics) Echo() *Echo {
	if m == nil {
		return nil
	}
	return &Echo{h: m.Registry.Histogram("echo_round_trip_seconds",
		"Time from a read returning to its echo written back, per read.",
		ExponentialBuckets(1e-6, 4, 12))} // 1 µs .. 4 s
}

// Echo times the echo of one read.
type Echo struct{ h *Histogram }

// Observe records the echo of a read that returned at start.
func (e *Echo) Observe(start time.Time) {
	if e != nil {
		e.h.Observe(time.Since(start).Seconds())
	}
}

// ANCHOR: handler
// Handler serves /metrics, /healthz and /readyz. /healthz answers 200 while
// the process can answer at all (a liveness probe restarts it otherwise).
// /readyz answers 200 only while ready() is true, and 503 from the moment a
// drain begins, so a load balancer stops sending new clients before the
// listener closes.
func Handler(m *Metrics, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		_ = m.Registry.WriteText(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready: draining or not yet listening", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// ANCHOR_END: handler

// Start serves Handler on addr (-metrics-addr) until stop is called. Unlike
// -debug-addr, it may listen on any address: metrics and health reveal no
// secrets, and Prometheus and Kubernetes' probes reach a pod from outside.
// It is bounded like the TCP servers (httpserve.Defaults): slow, half-sent
// and idle clients are cut off, and at most 32 are served at once.
func Start(ctx context.Context, addr string, m *Metrics, ready func() bool, log *slog.Logger) (bound string, stop func(), err error) {
	bound, stop, err = httpserve.Start(ctx, "metrics", addr, Handler(m, ready), httpserve.Defaults, log)
	if err != nil {
		return "", nil, err
	}
	log.Info("metrics listening", "addr", bound, "paths", "/metrics /healthz /readyz")
	return bound, stop, nil
}
