package main

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/tcp-in-go/course/internal/telemetry"
)

// ANCHOR: metrics
// xferMetrics are the receiver's own metrics, beside the tcp_server_* ones
// every server of the course exports (internal/telemetry). A nil
// *xferMetrics (metrics off) records nothing.
type xferMetrics struct {
	duration *telemetry.Histogram  // filexfer_transfer_duration_seconds
	size     *telemetry.Histogram  // filexfer_transfer_size_bytes
	results  *telemetry.CounterVec // filexfer_transfers_total{result}
}

func newXferMetrics(m *telemetry.Metrics) *xferMetrics {
	if m == nil {
		return nil
	}
	f := m.Registry
	return &xferMetrics{
		duration: f.Histogram("filexfer_transfer_duration_seconds",
			"Time from a file's header to its verified commit, for files received whole.",
			telemetry.ExponentialBuckets(0.001, 4, 12)), // 1 ms .. 70 min
		size: f.Histogram("filexfer_transfer_size_bytes",
			"Size of each file received whole.",
			telemetry.ExponentialBuckets(1024, 4, 14)), // 1 KiB .. 64 GiB
		results: f.CounterVec("filexfer_transfers_total",
			"Files offered, by outcome: ok, a refusal's status (exists, bad_name, crc_mismatch...), cut_off, lost.",
			"result", "ok"), // ok exported as 0 before the first file
	}
}

// done records one file's outcome.
func (x *xferMetrics) done(size uint64, elapsed time.Duration, err error) {
	if x == nil {
		return
	}
	r := result(err)
	x.results.WithLabelValues(r).Inc()
	if r == "ok" {
		x.duration.Observe(elapsed.Seconds())
		x.size.Observe(float64(size))
	}
}

// ANCHOR_END: metrics

// result names a transfer's outcome with a value from a small fixed set:
// every distinct label value is a time series of its own, so an error's
// text (with names and numbers in it) must never become one.
func result(err error) string {
	var pe *ProtoError
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &pe):
		return strings.ToLower(pe.Status.String())
	case errors.Is(err, ErrCutOff):
		return "cut_off"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "lost" // the connection failed: reset, closed by a drain that ran out
}
