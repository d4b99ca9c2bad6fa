package telemetry

import (
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The text a scrape returns: HELP and TYPE before each metric's samples,
// label values quoted and escaped, histogram buckets cumulative and ending
// at +Inf, then _sum and _count.
func ExampleRegistry_WriteText() {
	r := NewRegistry()
	r.Counter("demo_requests_total", "Requests served.").Add(3)
	closed := r.CounterVec("demo_closed_total", "Connections closed, by reason.", "reason", "eof")
	closed.WithLabelValues(`say "hi"`).Inc()
	r.Gauge("demo_open", "Open now.\nSecond line.").Set(2)
	h := r.Histogram("demo_seconds", "Durations.", []float64{0.1, 1})
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(4)
	_ = r.WriteText(os.Stdout)
	// Output:
	// # HELP demo_requests_total Requests served.
	// # TYPE demo_requests_total counter
	// demo_requests_total 3
	// # HELP demo_closed_total Connections closed, by reason.
	// # TYPE demo_closed_total counter
	// demo_closed_total{reason="eof"} 0
	// demo_closed_total{reason="say \"hi\""} 1
	// # HELP demo_open Open now.\nSecond line.
	// # TYPE demo_open gauge
	// demo_open 2
	// # HELP demo_seconds Durations.
	// # TYPE demo_seconds histogram
	// demo_seconds_bucket{le="0.1"} 1
	// demo_seconds_bucket{le="1"} 2
	// demo_seconds_bucket{le="+Inf"} 3
	// demo_seconds_sum 4.55
	// demo_seconds_count 3
}

// TestHistogramBoundsAreInclusive: a value equal to a bound falls in that
// bucket (le means "less than or equal").
func TestHistogramBoundsAreInclusive(t *testing.T) {
	h := NewRegistry().Histogram("x_seconds", "x", []float64{1, 2})
	h.Observe(1)
	h.Observe(2)
	h.Observe(2.5)
	assert.Equal(t, []uint64{1, 1, 1}, []uint64{h.counts[0].Load(), h.counts[1].Load(), h.counts[2].Load()})
}

// TestConcurrentUpdates: counters and histograms lose nothing under
// concurrent use (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "c")
	h := r.Histogram("h_seconds", "h", []float64{1})
	v := r.CounterVec("v_total", "v", "k")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Inc()
				h.Observe(0.5)
				v.WithLabelValues("a").Inc()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(8000), c.Value())
	assert.Equal(t, uint64(8000), v.WithLabelValues("a").Value())
	assert.Equal(t, uint64(8000), h.counts[0].Load())
}

func TestRegisteringANameTwicePanics(t *testing.T) {
	r := NewRegistry()
	r.Counter("a_total", "a")
	require.Panics(t, func() { r.Gauge("a_total", "again") })
}
