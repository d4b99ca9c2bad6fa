package main

import (
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcp-in-go/course/internal/telemetry"
)

// ANCHOR: metrics
// observe turns metrics on: the accept loop reports to m (connections open,
// accepted, the limit, the drain), the byte counters are read from the
// server's own atomic counts, and each echo's turnaround is timed. Call it
// before Serve: Shutdown reads the observer too.
func (s *Server) observe(m *telemetry.Metrics) {
	s.metrics = m
	s.core.Observer = m
	m.BytesFrom(s.stats.in.Load, s.stats.out.Load)
	s.turnaround = m.Factory().Histogram("echo_turnaround_seconds",
		"Time from a read returning bytes until all of them are written back; "+
			"a client that reads slowly makes it long (back-pressure).",
		prometheus.ExponentialBuckets(10e-6, 4, 10)) // 10 µs to 2.6 s
}

// countClose counts a connection that ended, by the reason its log line gives.
func (s *Server) countClose(err error) {
	if s.metrics != nil {
		s.metrics.Closed(closeReason(err, s.core.Draining()))
	}
}

// writeBack is c.Write, timed when metrics are on.
func (s *Server) writeBack(c net.Conn, b []byte) (int, error) {
	if s.turnaround == nil {
		return c.Write(b)
	}
	start := time.Now()
	n, err := c.Write(b)
	s.turnaround.Observe(time.Since(start).Seconds())
	return n, err
}

// ANCHOR_END: metrics
