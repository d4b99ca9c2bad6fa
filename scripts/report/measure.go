package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"time"
)

// options is the matrix the report runs.
type options struct {
	out, root string
	bench     string // the ch07-bench binary
	conns     []int
	sizes     []int
	duration  time.Duration
	warmup    time.Duration
	idleConns int // connections for the C10K run (0: skip)
	discover  bool
	extra     []*target
}

// cell is one measured run of the matrix.
type cell struct {
	target string
	res    *result
}

type results struct {
	opts      options
	command   string // the command line that made them, printed above the tables
	pingpong  []cell
	openLoop  []cell
	stream    []cell
	idle      []cell
	ratios    []ratioRow
	skipped   []string
	generated time.Time
}

type ratioRow struct {
	target           string
	conns            int
	generator, plain float64 // mean echoes per second
	ratio            float64 // median of the pairs' generator/minimal ratios
}

// compare runs the matrix and returns what it measured. Progress goes to
// log. tmp holds the servers it builds.
func compare(ctx context.Context, o options, tmp string, log io.Writer) (*results, error) {
	rs := &results{opts: o, generated: time.Now().UTC()}
	var targets []*target
	if o.discover {
		targets, rs.skipped = discoverTargets(ctx, o.root, tmp, o.bench, o.idleConns)
	}
	targets = append(targets, o.extra...)
	for _, s := range rs.skipped {
		fmt.Fprintf(log, "%s: skipping %s\n", prog, s)
	}
	for _, t := range targets {
		m := &measurer{results: rs, t: t, log: log}
		if err := m.measure(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			msg := fmt.Sprintf("%s: %v", t.Name, err)
			fmt.Fprintf(log, "%s: skipping %s\n", prog, msg)
			rs.skipped = append(rs.skipped, msg)
		}
	}
	return rs, nil
}

// measurer runs one target through the matrix.
type measurer struct {
	*results
	t   *target
	log io.Writer
}

// ANCHOR: measure
// measure runs one target through the five phases of the matrix, each run
// against a freshly started server process whose CPU and memory the
// generator samples from /proc.
func (m *measurer) measure(ctx context.Context) error {
	if err := m.pingpongPhase(ctx); err != nil {
		return err
	}
	if err := m.openLoopPhase(ctx); err != nil {
		return err
	}
	if err := m.streamPhase(ctx); err != nil {
		return err
	}
	if m.t.CAFile == "" { // the minimal client speaks plain TCP only
		if err := m.ratioPhase(ctx); err != nil {
			return err
		}
	}
	if m.t.Idle > 0 {
		return m.idlePhase(ctx)
	}
	return nil
}

// ANCHOR_END: measure

// one starts the target, runs the generator against it once, stops it.
func (m *measurer) one(ctx context.Context, spec runSpec) (*result, error) {
	srv, err := m.t.start(ctx)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	spec.addr, spec.caFile = srv.addr, m.t.CAFile
	if runtime.GOOS == "linux" {
		spec.pid = srv.pid
	}
	var res result
	if err := runBench(ctx, m.opts.bench, spec.args(), &res); err != nil {
		return nil, err
	}
	fmt.Fprintf(m.log, "%s: %-22s %-9s conns=%-5d size=%-5d %10.0f req/s %8.2f MB/s p99=%s errors=%d\n", prog,
		m.t.Name, spec.mode, spec.conns, spec.size, res.ReqPerSec, res.MBPerSec, fmtUS(res.Latency.P99), res.ErrorTotal)
	return &res, nil
}

// pingpongPhase: every message size at every connection count.
func (m *measurer) pingpongPhase(ctx context.Context) error {
	for _, size := range m.opts.sizes {
		for _, conns := range m.opts.conns {
			res, err := m.one(ctx, runSpec{mode: "pingpong", conns: conns, size: size,
				duration: m.opts.duration, warmup: m.opts.warmup})
			if err != nil {
				return err
			}
			if res.Requests == 0 {
				return fmt.Errorf("no echo completed during the run (is it an echo server? %d errors %v)", res.ErrorTotal, res.ErrorText)
			}
			m.pingpong = append(m.pingpong, cell{m.t.Name, res})
		}
	}
	return nil
}

// openLoopPhase: an open loop at half the best closed-loop rate seen for
// small messages, a load the server can sustain, measured without
// coordinated omission.
func (m *measurer) openLoopPhase(ctx context.Context) error {
	small, best := slices.Min(m.opts.sizes), 0.0
	for _, c := range m.pingpong {
		if c.target == m.t.Name && c.res.Size == small {
			best = max(best, c.res.ReqPerSec)
		}
	}
	rate := math.Round(best/2/1000) * 1000
	if rate < 1000 {
		return nil
	}
	res, err := m.one(ctx, runSpec{mode: "open-loop", conns: m.opts.conns[len(m.opts.conns)/2], size: small,
		rate: rate, duration: m.opts.duration, warmup: m.opts.warmup})
	if err != nil {
		return err
	}
	m.openLoop = append(m.openLoop, cell{m.t.Name, res})
	return nil
}

// streamPhase: one connection writing 64 KiB chunks, for throughput.
func (m *measurer) streamPhase(ctx context.Context) error {
	res, err := m.one(ctx, runSpec{mode: "stream", conns: 1, size: 64 << 10,
		duration: m.opts.duration, warmup: m.opts.warmup})
	if err != nil {
		return err
	}
	m.stream = append(m.stream, cell{m.t.Name, res})
	return nil
}

// idlePhase: the C10K run, holding t.Idle connections for 2 s.
func (m *measurer) idlePhase(ctx context.Context) error {
	res, err := m.one(ctx, runSpec{mode: "idle", conns: m.t.Idle, size: 64, duration: 2 * time.Second})
	if err != nil {
		return err
	}
	m.idle = append(m.idle, cell{m.t.Name, res})
	return nil
}

// ANCHOR: ratio
// ratioPhase measures the generator against the minimal client: same
// server process, same load, in adjacent pairs of short runs with
// alternating order. The ratio is the median of the pairs' ratios, which a
// burst of other work on the machine during one run cannot move much.
func (m *measurer) ratioPhase(ctx context.Context) error {
	const pairs = 6
	srv, err := m.t.start(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	row := ratioRow{target: m.t.Name, conns: m.opts.conns[len(m.opts.conns)-1]}
	d := max(m.opts.duration/4, 100*time.Millisecond)
	gen := pingpongRate(ctx, m.opts.bench, srv.addr, row.conns, d)
	plain := minimalRate(ctx, m.opts.bench, srv.addr, row.conns, d)
	if _, err := gen(m.opts.warmup); err != nil { // warm the server up
		return err
	}
	var ratios []float64
	for i := range pairs {
		var g, p float64
		var gerr, perr error
		if i%2 == 0 {
			g, gerr = gen(0)
			p, perr = plain()
		} else {
			p, perr = plain()
			g, gerr = gen(0)
		}
		if err := errors.Join(gerr, perr); err != nil {
			return err
		}
		row.generator += g / pairs
		row.plain += p / pairs
		ratios = append(ratios, g/p)
	}
	slices.Sort(ratios)
	row.ratio = (ratios[pairs/2-1] + ratios[pairs/2]) / 2
	m.ratios = append(m.ratios, row)
	fmt.Fprintf(m.log, "%s: %-22s generator %.0f req/s, minimal client %.0f req/s, median ratio %.2f\n",
		prog, m.t.Name, row.generator, row.plain, row.ratio)
	return nil
}

// ANCHOR_END: ratio

// pingpongRate returns a function that runs the generator (64-byte
// ping-pong after warmup) and returns its echoes per second.
func pingpongRate(ctx context.Context, bin, addr string, conns int, d time.Duration) func(warmup time.Duration) (float64, error) {
	return func(warmup time.Duration) (float64, error) {
		var res result
		spec := runSpec{mode: "pingpong", addr: addr, conns: conns, size: 64, duration: d, warmup: warmup}
		err := runBench(ctx, bin, spec.args(), &res)
		return res.ReqPerSec, err
	}
}

// minimalRate is pingpongRate for ch07-bench's minimal client.
func minimalRate(ctx context.Context, bin, addr string, conns int, d time.Duration) func() (float64, error) {
	return func() (float64, error) {
		var res struct {
			ReqPerSec float64 `json:"req_per_s"`
		}
		args := []string{"minimal", "-json", "-addr", addr, "-conns", fmt.Sprint(conns), "-size", "64", "-duration", d.String()}
		err := runBench(ctx, bin, args, &res)
		return res.ReqPerSec, err
	}
}
