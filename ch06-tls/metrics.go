package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/telemetry"
)

// ANCHOR: observe
// observe turns metrics on, once, from NewServer. The accept loop reports
// to them (connections open, accepted, closed by reason, the limit, the
// drain); each connection's bytes are counted on the wire, TLS records and
// handshakes included; each handshake is counted by version, or by why it
// failed. It wraps the handler and the handshake, so the lesson's code is
// the same with metrics on or off, and costs nothing when they are off.
func (s *Server) observe() serve.Observer {
	s.metrics = telemetry.New(s.cfg.MaxConns, nil)
	tlsm := newTLSMetrics(s.metrics)
	handle, handshake := s.serve, s.handshake
	s.serve = func(c net.Conn) serve.End {
		wire := &telemetry.Conn{Conn: c}
		defer func() { s.metrics.Transferred(wire.Counts()) }()
		return handle(wire)
	}
	s.handshake = func(conn *tls.Conn) error {
		err := handshake(conn)
		tlsm.count(conn, err)
		return err
	}
	return s.metrics
}

// Metrics returns the server's metrics for -metrics-addr, or nil when
// Config.Metrics was off.
func (s *Server) Metrics() *telemetry.Metrics { return s.metrics }

// ANCHOR_END: observe

// ANCHOR: metrics
// tlsMetrics count handshakes, beside the tcp_server_* metrics every server
// of the course exports (internal/telemetry).
type tlsMetrics struct {
	handshakes *telemetry.CounterVec // tls_handshakes_total{version}
	failures   *telemetry.CounterVec // tls_handshake_failures_total{reason}
}

// failureReasons are the only values of the reason label: every distinct
// value is a time series of its own, so an error's text never becomes one.
var failureReasons = []string{"timeout", "bad_certificate", "unknown_ca", "no_client_cert", "protocol_version", "eof", "other"}

func newTLSMetrics(m *telemetry.Metrics) *tlsMetrics {
	return &tlsMetrics{
		handshakes: m.Registry.CounterVec("tls_handshakes_total",
			"TLS handshakes completed, by protocol version (1.2, 1.3).", "version"),
		// Every reason is exported as 0 before the first failure, so rate() works.
		failures: m.Registry.CounterVec("tls_handshake_failures_total",
			"TLS handshakes that failed, by reason: "+strings.Join(failureReasons, ", ")+".",
			"reason", failureReasons...),
	}
}

// count records one handshake: its version, or why it failed.
func (t *tlsMetrics) count(conn *tls.Conn, err error) {
	if err != nil {
		t.failures.WithLabelValues(handshakeFailure(err)).Inc()
		return
	}
	v := strings.TrimPrefix(tls.VersionName(conn.ConnectionState().Version), "TLS ")
	t.handshakes.WithLabelValues(v).Inc()
}

// ANCHOR_END: metrics

// ANCHOR: failure-reason
// handshakeFailure sorts a failed handshake into one of failureReasons.
// The server finds some failures itself (a client certificate from an
// unknown CA, or none at all); others the client reports in an alert, which
// crypto/tls returns as "remote error: tls: <alert description>".
func handshakeFailure(err error) string {
	var ne net.Error
	var unknownCA x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &unknownCA) || strings.Contains(msg, "unknown certificate authority"):
		return "unknown_ca"
	case strings.Contains(msg, "didn't provide a certificate") || strings.Contains(msg, "certificate required"):
		return "no_client_cert"
	case errors.As(err, &invalid) || strings.Contains(msg, "bad certificate") ||
		strings.Contains(msg, "expired certificate") || strings.Contains(msg, "unsupported certificate"):
		return "bad_certificate"
	case strings.Contains(msg, "unsupported versions") || strings.Contains(msg, "protocol version not supported"):
		return "protocol_version"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "other" // not TLS at all (plaintext), a reset, a cipher mismatch...
}

// ANCHOR_END: failure-reason
