package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// ANCHOR: histogram
// Latencies go into HDR histograms: fixed memory, every value kept to three
// significant digits from 1 ns to 60 s, so p99.9 and max are exact enough to
// trust. (Averaging latencies, or keeping a sorted sample, is what not to do.)
// One histogram per shard, each with its own lock, so that fifty goroutines
// recording at once do not queue behind a single mutex.
const (
	histMin    = 1                       // 1 ns
	histMax    = int64(60 * time.Second) // longer is clamped (and is an error anyway)
	histDigits = 3
)

type shard struct {
	mu  sync.Mutex
	h   *hdrhistogram.Histogram
	lag *hdrhistogram.Histogram // open loop only: how late each send was
	_   [64]byte                // keep shards on separate cache lines
}

// ANCHOR_END: histogram

// recorder collects what the workers measure. Counters are atomic so the
// progress line can read them while the run goes on.
type recorder struct {
	shards []shard

	requests atomic.Int64 // measured, verified round trips (or chunks, or connections)
	bytes    atomic.Int64 // measured, verified bytes received
	conns    atomic.Int64 // connections open right now

	errMu  sync.Mutex
	errors map[string]int64
	sample map[string]string // one example message per kind
}

func newRecorder(nshards int) *recorder {
	r := &recorder{shards: make([]shard, nshards), errors: map[string]int64{}, sample: map[string]string{}}
	for i := range r.shards {
		r.shards[i].h = hdrhistogram.New(histMin, histMax, histDigits)
		r.shards[i].lag = hdrhistogram.New(histMin, histMax, histDigits)
	}
	return r
}

// recordLag adds a send lag (open loop) to the shard's lag histogram.
func (r *recorder) recordLag(worker int, d time.Duration) {
	s := &r.shards[worker%len(r.shards)]
	s.mu.Lock()
	_ = s.lag.RecordValue(min(max(int64(d), histMin), histMax))
	s.mu.Unlock()
}

// record adds one measured operation that took d and moved n verified bytes.
// worker picks the shard.
func (r *recorder) record(worker int, d time.Duration, n int) {
	s := &r.shards[worker%len(r.shards)]
	v := int64(d)
	if v > histMax {
		v = histMax
	} else if v < histMin {
		v = histMin
	}
	s.mu.Lock()
	_ = s.h.RecordValue(v) // cannot fail: v is within range
	s.mu.Unlock()
	r.requests.Add(1)
	r.bytes.Add(int64(n))
}

// ANCHOR: errkind
// errKind sorts an error into the few kinds worth counting separately. A
// "mismatch" is an echo whose bytes differ from what was sent: the worst
// kind, because a careless generator would have counted it as a success.
func errKind(err error) string {
	var ne net.Error
	var me *mismatchError
	switch {
	case errors.As(err, &me):
		return "mismatch"
	case errors.Is(err, errStalled):
		return "stalled"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no-ephemeral-port" // the client ran out of local ports (see C10K)
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too-many-open-files"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed-early" // the server closed before echoing everything
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case isTLSError(err):
		return "tls"
	default:
		return "other"
	}
}

// ANCHOR_END: errkind

func (r *recorder) fail(err error) {
	k := errKind(err)
	r.errMu.Lock()
	r.errors[k]++
	if _, ok := r.sample[k]; !ok {
		r.sample[k] = err.Error()
	}
	r.errMu.Unlock()
}

// failN counts n errors of a kind that has no error value.
func (r *recorder) failN(kind string, n int64, example string) {
	r.errMu.Lock()
	r.errors[kind] += n
	if _, ok := r.sample[kind]; !ok {
		r.sample[kind] = example
	}
	r.errMu.Unlock()
}

func (r *recorder) errorCount() int64 {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	var n int64
	for _, c := range r.errors {
		n += c
	}
	return n
}

// merged returns all shards folded into one histogram (lag: the lag ones).
func (r *recorder) merged(lag bool) *hdrhistogram.Histogram {
	all := hdrhistogram.New(histMin, histMax, histDigits)
	for i := range r.shards {
		r.shards[i].mu.Lock()
		if lag {
			all.Merge(r.shards[i].lag)
		} else {
			all.Merge(r.shards[i].h)
		}
		r.shards[i].mu.Unlock()
	}
	return all
}

// Latency is a latency summary in microseconds (JSON-friendly floats).
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	us := func(v int64) float64 { return float64(v) / 1e3 }
	return Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1e3,
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
	}
}

// Result is what a run reports; -json prints it as is.
type Result struct {
	Mode       string            `json:"mode"`
	Addr       string            `json:"addr"`
	TLS        bool              `json:"tls"`
	Conns      int               `json:"conns"`
	Size       int               `json:"size"`
	Elapsed    float64           `json:"elapsed_s"` // measured phase
	Requests   int64             `json:"requests"`  // verified echoes (chunks in stream, connections in connect/idle)
	Bytes      int64             `json:"bytes"`     // verified bytes received
	ReqPerSec  float64           `json:"req_per_s"`
	MBPerSec   float64           `json:"mb_per_s"` // received, 10^6 bytes per second
	TargetRate float64           `json:"target_rate,omitempty"`
	Latency    Latency           `json:"latency"`
	SendLag    *Latency          `json:"send_lag,omitempty"` // open-loop: actual minus intended send time
	Errors     map[string]int64  `json:"errors"`
	ErrorTotal int64             `json:"error_total"`
	ErrorText  map[string]string `json:"error_examples,omitempty"`
	Held       int               `json:"held_conns,omitempty"`            // idle mode
	ClientMem  float64           `json:"client_bytes_per_conn,omitempty"` // idle mode
	Server     *ServerStats      `json:"server,omitempty"`
}

func (r *recorder) result(cfg Config, elapsed time.Duration) *Result {
	r.errMu.Lock()
	errs := make(map[string]int64, len(r.errors))
	texts := make(map[string]string, len(r.sample))
	var total int64
	for k, v := range r.errors {
		errs[k] = v
		texts[k] = r.sample[k]
		total += v
	}
	r.errMu.Unlock()
	res := &Result{
		Mode: cfg.Mode, Addr: cfg.Addr, TLS: cfg.TLS != nil, Conns: cfg.Conns, Size: cfg.Size,
		Elapsed:  elapsed.Seconds(),
		Requests: r.requests.Load(), Bytes: r.bytes.Load(),
		Latency: summarize(r.merged(false)),
		Errors:  errs, ErrorTotal: total, ErrorText: texts,
	}
	if cfg.Mode == ModeOpenLoop {
		res.TargetRate = cfg.Rate
		lag := summarize(r.merged(true))
		res.SendLag = &lag
	}
	if s := elapsed.Seconds(); s > 0 {
		res.ReqPerSec = float64(res.Requests) / s
		res.MBPerSec = float64(res.Bytes) / s / 1e6
	}
	return res
}

// ANCHOR: table
// WriteTable prints the human summary: throughput, the latency percentiles,
// errors by kind and, when sampled, the server's resources next to them.
func (res *Result) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s (%s, tls=%v)\n", res.Addr, res.Mode, res.TLS)
	fmt.Fprintf(tw, "load\t%d conns, %d-byte messages, %.3fs measured\n", res.Conns, res.Size, res.Elapsed)
	fmt.Fprintf(tw, "requests\t%d (%.0f/s", res.Requests, res.ReqPerSec)
	if res.TargetRate > 0 {
		fmt.Fprintf(tw, ", target %.0f/s", res.TargetRate)
	}
	fmt.Fprintf(tw, ")\nthroughput\t%.2f MB/s received and verified\n", res.MBPerSec)
	if res.Held > 0 {
		fmt.Fprintf(tw, "held\t%d connections open at once (client: %.0f bytes each)\n", res.Held, res.ClientMem)
	}
	l := res.Latency
	if l.Count > 0 {
		fmt.Fprintf(tw, "latency\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)\n",
			fmtUS(l.P50), fmtUS(l.P90), fmtUS(l.P99), fmtUS(l.P999), fmtUS(l.Max), fmtUS(l.Mean))
	}
	if s := res.SendLag; s != nil && s.Count > 0 {
		fmt.Fprintf(tw, "send lag\tp50 %s  p99 %s  max %s  (the generator's own lateness: a floor under open-loop latency)\n",
			fmtUS(s.P50), fmtUS(s.P99), fmtUS(s.Max))
	}
	if res.Requests == 0 && res.Mode != ModeIdle {
		fmt.Fprintf(tw, "warning\tno echo completed: is %s an echo server? (a silent one only fails after -timeout)\n", res.Addr)
	}
	fmt.Fprintf(tw, "errors\t%d\n", res.ErrorTotal)
	kinds := make([]string, 0, len(res.Errors))
	for k := range res.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(tw, "  %s\t%d (e.g. %s)\n", k, res.Errors[k], res.ErrorText[k])
	}
	if s := res.Server; s != nil {
		fmt.Fprintf(tw, "server\t%s\n", s.String())
	}
	tw.Flush()
}

// ANCHOR_END: table

// fmtUS prints microseconds with a unit a human reads at a glance, to four
// significant digits (the histogram keeps three; more would be noise).
func fmtUS(us float64) string {
	d := time.Duration(us * 1e3)
	unit := time.Duration(1)
	for v := d; v >= 10000; v /= 10 {
		unit *= 10
	}
	return d.Round(unit).String()
}
