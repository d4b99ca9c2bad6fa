package main

import (
	"net"
	"time"

	"github.com/tcp-in-go/course/internal/telemetry"
)

// ANCHOR: metrics
// observe turns metrics on: the accept loop reports to m (connections open,
// accepted, the limit, the drain), the byte counters are read from the
// server's own atomic counts, and each echo is timed, from a read returning
// bytes until all of them are written back (echo_round_trip_seconds): a
// client that reads slowly makes it long, which is back-pressure made
// visible. Call it before Serve: Shutdown reads the observer too.
func (s *Server) observe(m *telemetry.Metrics) {
	s.metrics = m
	s.core.Observer = m.Observer()
	m.BytesFrom(s.stats.in.Load, s.stats.out.Load)
	s.roundTrip = m.Echo()
}

// countClose counts a connection that ended, by the reason its log line gives.
func (s *Server) countClose(err error) {
	s.metrics.Closed(telemetry.CloseReason(err, s.core.Draining())) // a nil *Metrics does nothing
}

// writeBack is c.Write, timed when metrics are on.
func (s *Server) writeBack(c net.Conn, b []byte) (int, error) {
	if s.roundTrip == nil {
		return c.Write(b)
	}
	start := time.Now()
	n, err := c.Write(b)
	s.roundTrip.Observe(start)
	return n, err
}

// ANCHOR_END: metrics
