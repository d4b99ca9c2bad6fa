// Package telemetry gives the course's servers what an operator watches:
// Prometheus metrics (the official client library), and the health checks
// an orchestrator probes. It is wired into the accept loop as a
// serve.Observer, so every server counts connections the same way; each
// chapter adds the metrics its protocol means (echo round trips, transfer
// sizes, TLS handshakes).
//
// Names follow Prometheus' conventions: a unit in the name (_bytes,
// _seconds), _total for counters, base units only.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tcp-in-go/course/internal/serve"
)

// ANCHOR: metrics
// Metrics are the metrics every TCP server of the course exports. Each
// server has its own registry, so tests can run many in one process.
type Metrics struct {
	Registry *prometheus.Registry

	open          prometheus.Gauge       // tcp_server_connections_open
	max           prometheus.Gauge       // tcp_server_connections_max
	accepted      prometheus.Counter     // tcp_server_connections_accepted_total
	closed        *prometheus.CounterVec // tcp_server_connections_closed_total{reason}
	acceptErrors  *prometheus.CounterVec // tcp_server_accept_errors_total{kind}
	limitReached  prometheus.Counter     // tcp_server_connection_limit_reached_total
	received      prometheus.Counter     // tcp_server_received_bytes_total
	sent          prometheus.Counter     // tcp_server_sent_bytes_total
	draining      prometheus.Gauge       // tcp_server_draining
	drainTimeouts prometheus.Counter     // tcp_server_drain_timeouts_total
}

// ANCHOR_END: metrics

// New registers the standard metrics, with the Go runtime's and the
// process's own (goroutines, memory, open file descriptors). maxConns is
// the server's -max-conns (0: no limit).
func New(maxConns int) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{r}
	m := &Metrics{
		Registry:      r,
		open:          f.gauge("tcp_server_connections_open", "Connections being served now."),
		max:           f.gauge("tcp_server_connections_max", "The -max-conns limit; 0 means no limit."),
		accepted:      f.counter("tcp_server_connections_accepted_total", "Connections accepted."),
		closed:        f.counterVec("tcp_server_connections_closed_total", "Connections that ended, by why they ended (eof, idle, drained, shutdown, error, refused).", "reason"),
		acceptErrors:  f.counterVec("tcp_server_accept_errors_total", "Errors from Accept: temporary ones are retried after a wait, a permanent one stops the server.", "kind"),
		limitReached:  f.counter("tcp_server_connection_limit_reached_total", "Times the server reached -max-conns and new clients had to wait in the accept queue."),
		received:      f.counter("tcp_server_received_bytes_total", "Bytes read from clients."),
		sent:          f.counter("tcp_server_sent_bytes_total", "Bytes written to clients."),
		draining:      f.gauge("tcp_server_draining", "1 once a graceful shutdown has begun."),
		drainTimeouts: f.counter("tcp_server_drain_timeouts_total", "Drains that ran out of -drain-timeout and closed the connections left."),
	}
	m.max.Set(float64(maxConns))
	for _, k := range []string{"temporary", "permanent"} {
		m.acceptErrors.WithLabelValues(k) // exported as 0 before the first error
	}
	return m
}

// The serve.Observer methods: the accept loop calls them.

func (m *Metrics) Accepted()      { m.accepted.Inc(); m.open.Inc() }
func (m *Metrics) Done()          { m.open.Dec() }
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

// Observer returns m as the accept loop's observer (serve.Core.Observer),
// or nil when m is nil: metrics off.
func (m *Metrics) Observer() serve.Observer {
	if m == nil {
		return nil // not a nil *Metrics in a non-nil interface
	}
	return m
}

// ANCHOR: closed
// Closed counts a connection that ended, with the reason its close log line
// gives: a small fixed set (eof, idle, drained, shutdown, error, refused),
// never free text, since every label value is a time series of its own.
// Like every method below, it does nothing on a nil *Metrics (metrics off).
func (m *Metrics) Closed(reason string) {
	if m == nil {
		return
	}
	m.closed.WithLabelValues(reason).Inc()
}

// ANCHOR_END: closed

// CloseReason names why a connection ended after err, for its closed log
// line and Closed: the client closed and got everything (eof, err nil); a
// deadline ran out while the server drained (drained) or otherwise (idle);
// Shutdown closed it when the drain timeout ran out (shutdown); anything
// else (error).
func CloseReason(err error, draining bool) string {
	var ne net.Error
	switch {
	case err == nil:
		return "eof"
	case errors.As(err, &ne) && ne.Timeout() && draining:
		return "drained"
	case errors.As(err, &ne) && ne.Timeout():
		return "idle"
	case errors.Is(err, net.ErrClosed):
		return "shutdown"
	default:
		return "error"
	}
}

// BytesFrom exports the byte counters from counts the server keeps anyway
// (atomic counters it updates on every read and write), so that metrics add
// nothing to its hot path. Call it once, before the first scrape.
func (m *Metrics) BytesFrom(in, out func() int64) {
	m.Registry.Unregister(m.received)
	m.Registry.Unregister(m.sent)
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tcp_server_received_bytes_total", Help: "Bytes read from clients."},
			func() float64 { return float64(in()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tcp_server_sent_bytes_total", Help: "Bytes written to clients."},
			func() float64 { return float64(out()) }))
}

// Transferred adds bytes read from and written to clients. Handlers call it
// when a connection ends (with Conn's counts): counting per read would touch
// shared counters on the hot path.
func (m *Metrics) Transferred(in, out int64) {
	if m == nil {
		return
	}
	m.received.Add(float64(in))
	m.sent.Add(float64(out))
}

// Echo registers echo_round_trip_seconds for an echo server: the time from
// a read returning to its echo written back. Its _count is the number of
// echoes. On a nil *Metrics it returns nil, and a nil *Echo ignores
// Observe.
func (m *Metrics) Echo() *Echo {
	if m == nil {
		return nil
	}
	return &Echo{f: m.Factory().Histogram("echo_round_trip_seconds",
		"Time from a read returning to its echo written back, per read.",
		prometheus.ExponentialBuckets(1e-6, 4, 12))} // 1 µs .. 4 s
}

// Echo times the echo of one read.
type Echo struct{ f prometheus.Histogram }

// Observe records the echo of a read that returned at start.
func (e *Echo) Observe(start time.Time) {
	if e != nil {
		e.f.Observe(time.Since(start).Seconds())
	}
}

// Factory returns a helper for a chapter's own metrics on the same registry.
func (m *Metrics) Factory() Factory { return factory{m.Registry} }

// Factory makes and registers metrics.
type Factory interface {
	Counter(name, help string) prometheus.Counter
	CounterVec(name, help string, labels ...string) *prometheus.CounterVec
	Histogram(name, help string, buckets []float64) prometheus.Histogram
}

type factory struct{ r *prometheus.Registry }

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.r.MustRegister(g)
	return g
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.r.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) Counter(name, help string) prometheus.Counter { return f.counter(name, help) }
func (f factory) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return f.counterVec(name, help, labels...)
}

func (f factory) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.r.MustRegister(h)
	return h
}

// ANCHOR: handler
// Handler serves /metrics, /healthz and /readyz. /healthz answers 200 while
// the process can answer at all (a liveness probe restarts it otherwise).
// /readyz answers 200 only while ready() is true, and 503 from the moment a
// drain begins, so a load balancer stops sending new clients before the
// listener closes.
func Handler(m *Metrics, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
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
func Start(ctx context.Context, addr string, m *Metrics, ready func() bool, log *slog.Logger) (bound string, stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	hs := &http.Server{Handler: Handler(m, ready), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
	}, nil
}
