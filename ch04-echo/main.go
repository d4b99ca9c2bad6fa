// Command ch04-echo is the course's headline program: an RFC 862 echo server
// (every byte a client sends comes back unchanged, in order, until it closes)
// built to production standards, with a client to try and measure it.
//
//	go run ./ch04-echo                       # serve on 127.0.0.1:65432
//	go run ./ch04-echo client -msg hello     # send a line, print its echo
//	go run ./ch04-echo client -n 1000 -size 65536   # verify 64 MiB, print throughput
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/debugserver"
	"github.com/tcp-in-go/course/internal/telemetry"
)

const defaultAddr = "127.0.0.1:65432"

func main() { cli.Main("ch04-echo", run) }

func run(ctx context.Context, args []string) error {
	return cli.Dispatch(ctx, "ch04-echo", args, os.Stderr,
		cli.Command{Name: "serve", Summary: "run the echo server on " + defaultAddr, Run: serveCmd},
		cli.Command{Name: "client", Summary: "send stdin, -msg or a generated payload; print or verify the echo", Run: clientCmd},
		cli.Command{Name: "eventloop", Summary: "the same echo as an epoll event loop, one per core (Linux only; eventloop_linux.go)", Run: eventLoopCmd},
		cli.Command{Name: "hold", Summary: "open many idle connections and hold them (memory measurement)", Run: holdCmd},
	)
}

func serveCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("serve", os.Stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on (:PORT for all interfaces)")
	maxConns := fs.Int("max-conns", 10000, "connections served at once (0: no limit); more wait in the accept queue")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "close a client silent this long (0: never); silent: neither sending nor reading")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	maxBytes := fs.Int64("max-bytes", 0, "end a connection once its client has sent this many bytes (0: no limit)")
	debugAddr := fs.String("debug-addr", "", "serve pprof and expvar here, e.g. 127.0.0.1:6060 (loopback only)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics here (may listen on any address); also /healthz and /readyz, e.g. :9464")
	tuned := fs.Bool("tuned", false, "the variant that keeps idle connections smallest (see tuned.go)")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *maxConns < 0 || *idle < 0 || *drain < 0 || *maxBytes < 0 {
		return cli.Usagef("-max-conns, -idle-timeout, -drain-timeout and -max-bytes must not be negative")
	}
	log := slog.Default()
	srv := NewServer(Config{
		MaxConns: *maxConns, IdleTimeout: *idle, MaxBytes: *maxBytes, Log: log,
		Tuned: *tuned, Metrics: *metricsAddr != "",
	})
	if *debugAddr != "" {
		_, stop, err := debugserver.Start(ctx, *debugAddr, "echo", func() any { return srv.Stats() }, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *metricsAddr != "" {
		_, stop, err := telemetry.Start(ctx, *metricsAddr, srv.Metrics(), srv.core.Ready, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	return cli.ListenAndServe(ctx, log, *addr, srv, *drain,
		"max_conns", *maxConns, "idle_timeout", *idle, "tuned", *tuned)
}

func clientCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("client", os.Stderr)
	var cfg clientConfig
	fs.StringVar(&cfg.addr, "addr", defaultAddr, "server address (HOST:PORT)")
	fs.StringVar(&cfg.msg, "msg", "", "send this line instead of stdin")
	fs.IntVar(&cfg.n, "n", 0, "send n generated messages of -size bytes and verify the echo")
	fs.IntVar(&cfg.size, "size", 1024, "message size in bytes; for -n")
	fs.DurationVar(&cfg.timeout, "timeout", time.Minute, "give up after this long; 0: never")
	fs.DurationVar(&cfg.idle, "idle-timeout", 0, "give up when the server sends nothing for this long (0: never)")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if cfg.n < 0 || cfg.size <= 0 || cfg.timeout < 0 || cfg.idle < 0 {
		return cli.Usagef("-n, -timeout and -idle-timeout must not be negative, and -size must be positive")
	}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		cfg.progress = os.Stderr // a terminal: show progress; a pipe or file: stay quiet
	}
	return runClient(ctx, cfg, os.Stdin, os.Stdout)
}

func holdCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("hold", os.Stderr)
	addr := fs.String("addr", defaultAddr, "server address (HOST:PORT)")
	conns := fs.Int("conns", 1000, "connections to open at once; each is then held, idle")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	return hold(ctx, *addr, *conns, slog.Default())
}
