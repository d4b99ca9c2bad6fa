// Command ch07-bench is the course's load generator: it drives any TCP echo
// server (ch04's, the Python counterparts, ch06's TLS echo) and reports
// latency percentiles from an HDR histogram, throughput, errors by kind and,
// when told where the server is, the server's CPU and memory during the run.
//
//	go run ./ch07-bench -addr 127.0.0.1:65432 -mode pingpong -conns 50 -duration 10s
//	go run ./ch07-bench -addr 127.0.0.1:65432 -mode open-loop -rate 20000
//	go run ./ch07-bench -addr 127.0.0.1:65432 -mode idle -conns 10000 -duration 30s
//	go run ./ch07-bench compare            # the matrix whose tables the book shows
//	go run ./ch07-bench echo               # a minimal reference echo server
//
// It is a client, so it has no default port: -addr is required.
package main

import (
	"context"
	"os"

	"github.com/tcp-in-go/course/internal/cli"
)

const prog = "ch07-bench"

func main() { cli.Main(prog, run) }

func run(ctx context.Context, args []string) error {
	return cli.Dispatch(ctx, prog, args, os.Stderr, commands()...)
}

func commands() []cli.Command {
	return []cli.Command{
		{Name: "run", Summary: "generate load against an echo server (-addr, -mode ...)", Run: runLoad},
		{Name: "compare", Summary: "run the benchmark matrix and write docs/src/ch07-bench/", Run: runCompare},
		{Name: "echo", Summary: "a minimal reference echo server (-debug-addr for pprof and expvar)", Run: runEcho},
	}
}
