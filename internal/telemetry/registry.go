package telemetry

// The metrics themselves, and the Prometheus text format they are scraped
// in (https://prometheus.io/docs/instrumenting/exposition_formats/). The
// course needs four kinds, each a few atomic words, so they are written
// here rather than pulled in with a client library and its dependencies:
// the format is plain text, and deploy/'s tests check what this writes
// with Prometheus's own parser and linter, and scrape it with a real
// Prometheus.

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds a server's metrics, in the order they were registered.
// Each server has its own, so tests can run many servers in one process.
type Registry struct {
	mu       sync.Mutex
	families []family
	names    map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

// family is one metric name with its HELP and TYPE, and how to write its
// samples.
type family struct {
	name, help, kind string
	write            func(w *bufio.Writer, name string)
}

func (r *Registry) add(name, help, kind string, write func(*bufio.Writer, string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic("telemetry: metric " + name + " registered twice")
	}
	r.names[name] = true
	r.families = append(r.families, family{name, help, kind, write})
}

// Counter counts up: events, bytes. Safe for concurrent use.
type Counter struct{ n atomic.Uint64 }

func (c *Counter) Inc()         { c.n.Add(1) }
func (c *Counter) Add(n uint64) { c.n.Add(n) }
func (c *Counter) Value() uint64 {
	return c.n.Load()
}

// Gauge goes up and down: connections open now.
type Gauge struct{ n atomic.Int64 }

func (g *Gauge) Inc()         { g.n.Add(1) }
func (g *Gauge) Dec()         { g.n.Add(-1) }
func (g *Gauge) Set(n int64)  { g.n.Store(n) }
func (g *Gauge) Value() int64 { return g.n.Load() }

// Counter registers a counter. A counter's name ends in _total.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{}
	r.add(name, help, "counter", func(w *bufio.Writer, name string) { sample(w, name, "", float64(c.Value())) })
	return c
}

// CounterFunc registers a counter whose value f reads from counts the
// program keeps anyway (so the metric adds nothing to its hot path).
func (r *Registry) CounterFunc(name, help string, f func() float64) {
	r.add(name, help, "counter", func(w *bufio.Writer, name string) { sample(w, name, "", f()) })
}

// Gauge registers a gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	g := &Gauge{}
	r.add(name, help, "gauge", func(w *bufio.Writer, name string) { sample(w, name, "", float64(g.Value())) })
	return g
}

// GaugeFunc registers a gauge read from f at each scrape.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.add(name, help, "gauge", func(w *bufio.Writer, name string) { sample(w, name, "", f()) })
}

// CounterVec is a counter per value of one label, from a small fixed set:
// every label value is a time series of its own.
type CounterVec struct {
	label string
	mu    sync.Mutex
	m     map[string]*Counter
	order []string
}

// CounterVec registers a counter with one label. The values given are
// exported as 0 from the start, so that rate() works before the first
// event.
func (r *Registry) CounterVec(name, help, label string, values ...string) *CounterVec {
	v := &CounterVec{label: label, m: map[string]*Counter{}}
	for _, val := range values {
		v.WithLabelValues(val)
	}
	r.add(name, help, "counter", func(w *bufio.Writer, name string) {
		v.mu.Lock()
		order := slices.Clone(v.order)
		v.mu.Unlock()
		for _, val := range order {
			sample(w, name, labels(v.label, val), float64(v.WithLabelValues(val).Value()))
		}
	})
	return v
}

// WithLabelValues returns the counter for one value of the label.
func (v *CounterVec) WithLabelValues(value string) *Counter {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.m[value]
	if !ok {
		c = &Counter{}
		v.m[value] = c
		v.order = append(v.order, value)
	}
	return c
}

// Histogram counts observations into buckets by upper bound, as
// Prometheus's histogram_quantile() expects: each bucket's count includes
// every smaller one (cumulative), and +Inf holds them all.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64   // float64 bits
}

// Histogram registers a histogram with the given upper bounds (ascending).
func (r *Registry) Histogram(name, help string, bounds []float64) *Histogram {
	if !slices.IsSorted(bounds) {
		panic("telemetry: histogram " + name + ": bounds not ascending")
	}
	h := &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
	r.add(name, help, "histogram", h.write)
	return h
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // the first bound >= v
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (h *Histogram) write(w *bufio.Writer, name string) {
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
		le := "+Inf"
		if i < len(h.bounds) {
			le = formatFloat(h.bounds[i])
		}
		sample(w, name+"_bucket", labels("le", le), float64(total))
	}
	sample(w, name+"_sum", "", math.Float64frombits(h.sum.Load()))
	sample(w, name+"_count", "", float64(total))
}

// ExponentialBuckets returns n upper bounds: start, start*factor, ...
func ExponentialBuckets(start, factor float64, n int) []float64 {
	b := make([]float64, n)
	for i := range b {
		b[i] = start * math.Pow(factor, float64(i))
	}
	return b
}

// ContentType is the media type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every metric in the Prometheus text format: for each,
// a HELP line, a TYPE line, then its samples.
func (r *Registry) WriteText(out io.Writer) error {
	r.mu.Lock()
	families := slices.Clone(r.families)
	r.mu.Unlock()
	w := bufio.NewWriter(out)
	for _, f := range families {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, helpEscaper.Replace(f.help), f.name, f.kind)
		f.write(w, f.name)
	}
	return w.Flush()
}

// In HELP text a backslash and a newline are escaped; in a label value, a
// double quote too.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func labels(name, value string) string {
	return "{" + name + `="` + labelEscaper.Replace(value) + `"}`
}

func sample(w *bufio.Writer, name, labels string, v float64) {
	w.WriteString(name)
	w.WriteString(labels)
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
