// Command ch05-filexfer sends files over TCP with a protocol that knows each
// file's name and size, checks every chunk (CRC-32C) and the whole file
// (SHA-256), never writes outside the receiver's directory, never shows a
// partial file under its final name, and resumes a cut-off transfer.
//
//	go run ./ch05-filexfer serve -dir received        # receiver on 127.0.0.1:9005
//	go run ./ch05-filexfer send photo.jpg docs/       # sender
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/debugserver"
	"github.com/tcp-in-go/course/internal/telemetry"
	"golang.org/x/term"
)

const defaultAddr = "127.0.0.1:9005"

func main() { cli.Main("ch05-filexfer", run) }

func run(ctx context.Context, args []string) error {
	return cli.Dispatch(ctx, "ch05-filexfer", args, os.Stderr,
		cli.Command{Name: "serve", Summary: "receive files into a directory", Run: serveCmd},
		cli.Command{Name: "send", Summary: "send files and directories to a receiver", Run: sendCmd},
	)
}

func serveCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("serve", os.Stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on (:PORT for all interfaces)")
	s := &Server{}
	fs.StringVar(&s.Dir, "dir", "received", "directory to write files into; where received files land")
	fs.IntVar(&s.MaxConns, "max-conns", DefaultMaxConns, "connections served at once (0: no limit); more are told BUSY")
	fs.DurationVar(&s.IdleTimeout, "idle-timeout", DefaultIdleTimeout, "close a client silent this long (0: never)")
	fs.Int64Var(&s.MaxSize, "max-size", DefaultMaxSize, "largest file accepted, in bytes; 0: no limit")
	fs.DurationVar(&s.PartialTTL, "partial-ttl", DefaultPartialTTL, "remove unfinished partial files after this long; 0: never")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	debugAddr := fs.String("debug-addr", "", "serve pprof and expvar here, e.g. 127.0.0.1:6060 (loopback only)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics here (may listen on any address); also /healthz and /readyz, e.g. :9465")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	s.Log = slog.Default()
	tracer, stopTracing, err := startTracing(s.Log)
	if err != nil {
		return err
	}
	defer stopTracing()
	s.Tracer = tracer
	if *metricsAddr != "" {
		s.Metrics = telemetry.New(s.MaxConns, nil)
		_, stop, err := telemetry.Start(ctx, *metricsAddr, s.Metrics, s.Ready, s.Log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *debugAddr != "" {
		_, stop, err := debugserver.Start(ctx, *debugAddr, "filexfer", func() any { return s.Stats() }, s.Log)
		if err != nil {
			return err
		}
		defer stop()
	}
	return cli.ListenAndServe(ctx, s.Log, *addr, s, *drain, "dir", s.Dir)
}

func sendCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("send", os.Stderr)
	s := &Sender{Out: os.Stdout}
	fs.StringVar(&s.Addr, "addr", defaultAddr, "server address (HOST:PORT)")
	fs.IntVar(&s.ChunkSize, "chunk", DefaultChunk, "chunk size in bytes (at most 4 MiB)")
	fs.BoolVar(&s.Overwrite, "overwrite", false, "replace files that exist on the receiver")
	fs.BoolVar(&s.Resume, "resume", false, "continue cut-off transfers from what the receiver has")
	fs.IntVar(&s.Retries, "retries", 3, "retry a cut-off or damaged transfer this often, resuming each time")
	fs.DurationVar(&s.Timeout, "timeout", 30*time.Second, "give up after this long; bounds the dial and each wait for the receiver, 0: never")
	if err := cli.Parse(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return cli.Usagef("send: name at least one FILE or DIR")
	}
	if s.ChunkSize < 1 || s.ChunkSize > MaxChunkSize {
		return cli.Usagef("send: -chunk %d not in 1..%d", s.ChunkSize, MaxChunkSize)
	}
	tracer, stopTracing, err := startTracing(slog.Default())
	if err != nil {
		return err
	}
	defer stopTracing()
	s.Tracer = tracer
	// A progress bar only for a human watching: not in a pipe, a log, a test.
	if term.IsTerminal(int(os.Stderr.Fd())) {
		s.Progress = os.Stderr
	}
	_, err = s.Send(ctx, fs.Args())
	return err
}
