package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// compareOpts is the matrix the compare command runs.
type compareOpts struct {
	out      string
	conns    []int
	sizes    []int
	duration time.Duration
	warmup   time.Duration
	idle     int // connections for the C10K run (0: skip)
	discover bool
	extra    []*target
}

// cell is one measured run of the matrix.
type cell struct {
	target string
	res    *Result
}

type compareResults struct {
	opts      compareOpts
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

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad list %q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func runCompare(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(prog+" compare", os.Stderr)
	var o compareOpts
	fs.StringVar(&o.out, "out", "", "directory for results.md and the SVG charts (default: docs/src/ch07-bench in the repository)")
	conns := fs.String("conns", "1,10,50", "connection counts to try")
	sizes := fs.String("sizes", "64,4096", "message sizes to try")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "warm-up before each run")
	fs.IntVar(&o.idle, "idle", 10000, "connections to hold in the C10K run against the Go servers (0: skip)")
	fs.BoolVar(&o.discover, "discover", true, "find and build the course's echo servers (ch07 reference, ch04 Go and Python, ch06 TLS)")
	var targets listFlag
	fs.Var(&targets, "target", "extra target NAME=COMMAND (must log msg=listening addr=...) or NAME=@HOST:PORT; repeatable")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	var err error
	if o.conns, err = intList(*conns); err != nil {
		return cli.Usagef("-conns: %v", err)
	}
	if o.sizes, err = intList(*sizes); err != nil {
		return cli.Usagef("-sizes: %v", err)
	}
	for _, t := range targets {
		name, spec, ok := strings.Cut(t, "=")
		if !ok || name == "" || spec == "" {
			return cli.Usagef("-target %q: want NAME=COMMAND or NAME=@HOST:PORT", t)
		}
		if addr, isAddr := strings.CutPrefix(spec, "@"); isAddr {
			o.extra = append(o.extra, &target{Name: name, Addr: addr})
		} else {
			o.extra = append(o.extra, &target{Name: name, Argv: strings.Fields(spec)})
		}
	}
	if o.out == "" {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		o.out = filepath.Join(root, "docs", "src", "ch07-bench")
	}
	res, err := compare(ctx, o, os.Stderr)
	if err != nil {
		return err
	}
	return res.write(o.out)
}

// compare runs the matrix and returns what it measured. Progress goes to log.
func compare(ctx context.Context, o compareOpts, log io.Writer) (*compareResults, error) {
	tmp, err := os.MkdirTemp("", "ch07-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cr := &compareResults{opts: o, generated: time.Now().UTC()}
	var targets []*target
	if o.discover {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		targets, cr.skipped = discoverTargets(ctx, root, tmp, self, o.idle)
	}
	targets = append(targets, o.extra...)
	for _, s := range cr.skipped {
		fmt.Fprintf(log, "compare: skipping %s\n", s)
	}
	for _, t := range targets {
		if err := cr.measure(ctx, t, log); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			msg := fmt.Sprintf("%s: %v", t.Name, err)
			fmt.Fprintf(log, "compare: skipping %s\n", msg)
			cr.skipped = append(cr.skipped, msg)
		}
	}
	return cr, nil
}

// ANCHOR: measure
// measure runs one target through the matrix, each run against a freshly
// started server process whose CPU and memory are sampled from /proc.
func (cr *compareResults) measure(ctx context.Context, t *target, log io.Writer) error {
	o := cr.opts
	base := Config{Mode: ModePingPong, Duration: o.duration, Warmup: o.warmup, Timeout: 5 * time.Second}
	one := func(cfg Config) (*Result, error) {
		srv, err := t.start(ctx)
		if err != nil {
			return nil, err
		}
		defer srv.stop()
		cfg.Addr, cfg.ServerPID = srv.addr, srv.pid
		if runtime.GOOS != "linux" {
			cfg.ServerPID = 0
		}
		if t.CAFile != "" {
			if cfg.TLS, err = tlsConfig(t.CAFile, srv.addr, ""); err != nil {
				return nil, err
			}
		}
		res, err := Run(ctx, cfg)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "compare: %-22s %-9s conns=%-5d size=%-5d %10.0f req/s %8.2f MB/s p99=%s errors=%d\n",
			t.Name, cfg.Mode, cfg.Conns, cfg.Size, res.ReqPerSec, res.MBPerSec, fmtUS(res.Latency.P99), res.ErrorTotal)
		return res, nil
	}
	for _, size := range o.sizes {
		for _, conns := range o.conns {
			cfg := base
			cfg.Conns, cfg.Size = conns, size
			res, err := one(cfg)
			if err != nil {
				return err
			}
			if res.Requests == 0 {
				return fmt.Errorf("no echo completed during the run (is it an echo server? %d errors %v)", res.ErrorTotal, res.ErrorText)
			}
			cr.pingpong = append(cr.pingpong, cell{t.Name, res})
		}
	}
	// Open loop at half the best closed-loop rate seen for small messages:
	// a load the server can sustain, measured without coordinated omission.
	best := 0.0
	for _, c := range cr.pingpong {
		if c.target == t.Name && c.res.Size == slices.Min(o.sizes) {
			best = max(best, c.res.ReqPerSec)
		}
	}
	if rate := math.Round(best/2/1000) * 1000; rate >= 1000 {
		cfg := base
		cfg.Mode, cfg.Conns, cfg.Size, cfg.Rate = ModeOpenLoop, o.conns[len(o.conns)/2], slices.Min(o.sizes), rate
		res, err := one(cfg)
		if err != nil {
			return err
		}
		cr.openLoop = append(cr.openLoop, cell{t.Name, res})
	}

	cfg := base
	cfg.Mode, cfg.Conns, cfg.Size = ModeStream, 1, 64<<10
	res, err := one(cfg)
	if err != nil {
		return err
	}
	cr.stream = append(cr.stream, cell{t.Name, res})

	// The generator against the minimal client: same server process, same
	// load, in adjacent pairs of short runs with alternating order. The
	// ratio is the median of the pairs' ratios, which a burst of other work
	// on the machine during one run cannot move much.
	if t.CAFile == "" {
		const pairs = 6
		conns := o.conns[len(o.conns)-1]
		srv, err := t.start(ctx)
		if err != nil {
			return err
		}
		defer srv.stop() // stop is idempotent: it only waits if the process still runs
		row := ratioRow{target: t.Name, conns: conns}
		d := max(o.duration/4, 100*time.Millisecond)
		gen := func(warmup time.Duration) (float64, error) {
			g, err := Run(ctx, Config{Addr: srv.addr, Mode: ModePingPong, Conns: conns, Size: 64,
				Duration: d, Warmup: warmup, Timeout: 5 * time.Second})
			if err != nil {
				return 0, err
			}
			return g.ReqPerSec, nil
		}
		plain := func() (float64, error) { return minimalPingPong(ctx, srv.addr, conns, 64, d) }
		if _, err := gen(o.warmup); err != nil { // warm the server up
			return err
		}
		var ratios []float64
		for i := range pairs {
			var g, m float64
			var gerr, merr error
			if i%2 == 0 {
				g, gerr = gen(0)
				m, merr = plain()
			} else {
				m, merr = plain()
				g, gerr = gen(0)
			}
			if err := errors.Join(gerr, merr); err != nil {
				return err
			}
			row.generator += g / pairs
			row.plain += m / pairs
			ratios = append(ratios, g/m)
		}
		slices.Sort(ratios)
		row.ratio = (ratios[pairs/2-1] + ratios[pairs/2]) / 2
		srv.stop()
		cr.ratios = append(cr.ratios, row)
		fmt.Fprintf(log, "compare: %-22s generator %.0f req/s, minimal client %.0f req/s, median ratio %.2f\n",
			t.Name, row.generator, row.plain, row.ratio)
	}

	if t.Idle > 0 {
		cfg := base
		cfg.Mode, cfg.Conns, cfg.Size, cfg.Duration, cfg.Warmup = ModeIdle, t.Idle, 64, 2*time.Second, 0
		res, err := one(cfg)
		if err != nil {
			return err
		}
		cr.idle = append(cr.idle, cell{t.Name, res})
	}
	return nil
}

// ANCHOR_END: measure

// repoRoot is the directory holding go.mod, above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s: run compare from the repository", dir)
		}
		dir = parent
	}
}
