package main

import (
	"net"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/telemetry"
)

// ANCHOR: metrics
// observe turns metrics on, once, from NewServer: the accept loop reports
// to them (connections open, accepted, closed by reason, the limit, the
// drain), the byte counters are read from the server's own atomic counts,
// and each echo is timed, from a read returning bytes until all of them are
// written back (echo_round_trip_seconds): a client that reads slowly makes
// it long, which is back-pressure made visible. The timing wraps the
// connection, so the echo loop itself is the same with metrics on or off.
func (s *Server) observe() serve.Observer {
	s.metrics = telemetry.New(s.cfg.MaxConns, func() (int64, int64) {
		return s.stats.in.Load(), s.stats.out.Load()
	})
	s.roundTrip = s.metrics.Echo()
	handle := s.serve
	s.serve = func(c net.Conn) serve.End {
		return handle(&timedConn{Conn: c, echo: s.roundTrip})
	}
	return s.metrics
}

// Metrics returns the server's metrics for -metrics-addr, or nil when
// Config.Metrics was off.
func (s *Server) Metrics() *telemetry.Metrics { return s.metrics }

// ANCHOR_END: metrics

// ANCHOR: timed-conn
// timedConn times each echo: from a Read that returned bytes to the Write
// that follows it.
type timedConn struct {
	net.Conn
	echo *telemetry.Echo
	read time.Time // when the last Read returned bytes
}

func (c *timedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.read = time.Now()
	}
	return n, err
}

func (c *timedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if !c.read.IsZero() {
		c.echo.Observe(c.read)
		c.read = time.Time{}
	}
	return n, err
}

// NetConn returns the connection underneath (as tls.Conn's does).
func (c *timedConn) NetConn() net.Conn { return c.Conn }

// ANCHOR_END: timed-conn
