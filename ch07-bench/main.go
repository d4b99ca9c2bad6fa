// Command ch07-bench is the course's load generator: it drives any TCP echo
// server (ch04's, the Python counterparts, ch06's TLS echo) and reports
// latency percentiles from an HDR histogram, throughput, errors by kind and,
// when told where the server is, the server's CPU and memory during the run.
//
//	go run ./ch07-bench -addr 127.0.0.1:65432 -mode pingpong -conns 50 -duration 10s
//	go run ./ch07-bench -addr 127.0.0.1:65432 -mode open-loop -rate 20000
//	go run ./ch07-bench -addr 127.0.0.1:65432 -mode idle -conns 10000 -duration 30s
//	go run ./ch07-bench echo               # a minimal reference echo server
//	go run ./ch07-bench minimal -addr ...  # the hand-written client the generator is measured against
//
// The tables and charts of the book's results page are made by
// scripts/report, which runs this program against every echo server of
// the course.
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
		{Name: "echo", Summary: "a minimal reference echo server (-debug-addr for pprof and expvar)", Run: runEcho},
		{Name: "minimal", Summary: "the shortest hand-written ping-pong client: the generator's yardstick", Run: runMinimal},
	}
}
