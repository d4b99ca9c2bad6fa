// Command ch07-report makes the tables and charts of chapter 7's results
// page (docs/src/ch07-bench/results.md, latency.svg, throughput.svg). It is
// the book's tooling, not part of the lesson: it finds the course's echo
// servers, starts each one in a process of its own, drives it with the
// ch07-bench load generator (also a process of its own, printing -json) and
// writes what it measured.
//
//	go run ./scripts/report                  # the whole matrix (a few minutes)
//	go run ./scripts/report -conns 1,10 -sizes 64 -duration 1s -idle-conns 0
//
// scripts/ch07-figures.sh runs it together with the pprof and Locust figures.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

const prog = "ch07-report"

func main() { cli.Main(prog, run) }

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

// run parses the flags, builds the generator unless -bench names one, runs
// the matrix and writes the page's files.
func run(ctx context.Context, args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ch07-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.bench == "" {
		if o.bench, err = goBuilder(ctx, o.root, tmp)("ch07-bench"); err != nil {
			return err
		}
	}
	res, err := compare(ctx, o, tmp, os.Stderr)
	if err != nil {
		return err
	}
	res.command = strings.Join(append([]string{"go run ./scripts/report"}, args...), " ")
	return res.write(o.out)
}

func parseFlags(args []string) (o options, err error) {
	fs := cli.NewFlagSet(prog, os.Stderr)
	fs.StringVar(&o.out, "out", "", "directory for results.md and the SVG charts (default: docs/src/ch07-bench in the repository)")
	fs.StringVar(&o.bench, "bench", "", "the ch07-bench binary to run (default: go build ./ch07-bench)")
	conns := fs.String("conns", "1,10,50", "connection counts to try, comma-separated")
	sizes := fs.String("sizes", "64,4096", "message sizes to try, comma-separated")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "warm-up before each run")
	fs.IntVar(&o.idleConns, "idle-conns", 10000, "connections to hold in the C10K (idle) run against the Go servers (0: skip)")
	fs.BoolVar(&o.discover, "discover", true, "find and build the course's echo servers (ch07 reference, ch04 Go and Python, ch06 TLS)")
	var targets listFlag
	fs.Var(&targets, "target", "extra target NAME=COMMAND (must log msg=listening addr=...) or NAME=@HOST:PORT; repeatable")
	if err = cli.Parse(fs, args, false); err != nil {
		return o, err
	}
	if o.conns, err = intList(*conns); err != nil {
		return o, cli.Usagef("-conns: %v", err)
	}
	if o.sizes, err = intList(*sizes); err != nil {
		return o, cli.Usagef("-sizes: %v", err)
	}
	for _, t := range targets {
		name, spec, ok := strings.Cut(t, "=")
		if !ok || name == "" || spec == "" {
			return o, cli.Usagef("-target %q: want NAME=COMMAND or NAME=@HOST:PORT", t)
		}
		if addr, isAddr := strings.CutPrefix(spec, "@"); isAddr {
			o.extra = append(o.extra, &target{Name: name, Addr: addr})
		} else {
			o.extra = append(o.extra, &target{Name: name, Argv: strings.Fields(spec)})
		}
	}
	if o.root, err = repoRoot(); err != nil {
		return o, err
	}
	if o.out == "" {
		o.out = filepath.Join(o.root, "docs", "src", "ch07-bench")
	}
	return o, nil
}

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
			return "", fmt.Errorf("go.mod not found above %s: run %s from the repository", dir, prog)
		}
		dir = parent
	}
}
