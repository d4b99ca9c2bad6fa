// Command ch01-overview is the course's first TCP server: it accepts many
// clients at once, one goroutine each, and prints every line they send.
//
//	go run ./ch01-overview                        # serve on 127.0.0.1:9000
//	go run ./ch01-overview client -msg "hello"    # send one line
//	nc -N 127.0.0.1 9000                          # or type lines (Ctrl-D ends)
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

const name = "ch01-overview"

func main() { cli.Main(name, run) }

func run(ctx context.Context, args []string) error {
	return cli.Dispatch(ctx, name, args, os.Stderr,
		cli.Command{Name: "serve", Summary: "print every line clients send", Run: runServe},
		cli.Command{Name: "client", Summary: "send -msg, or stdin, to the server", Run: runClient},
	)
}

func runServe(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("serve", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on (:PORT for all interfaces)")
	maxLine := fs.Int("max-line", 4096, "longest line accepted, in bytes before the newline; a longer one is refused")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "close a client silent this long (0: never)")
	maxConns := fs.Int("max-conns", 0, "connections served at once (0: no limit); more wait in the accept queue")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *maxLine < 1 {
		return cli.Usagef("-max-line must be at least 1")
	}
	if *maxConns < 0 {
		return cli.Usagef("-max-conns must be 0 (no limit) or more")
	}
	srv := NewServer(Config{MaxLine: *maxLine, IdleTimeout: *idle, Out: os.Stdout, Log: slog.Default()})
	ln, err := cli.Listen(ctx, *addr)
	if err != nil {
		return err
	}
	return cli.Serve(ctx, slog.Default(), LimitListener(ln, *maxConns), srv, *drain)
}

func runClient(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("client", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "server address (HOST:PORT)")
	msg := fs.String("msg", "", "send this line instead of stdin")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if *msg != "" {
		in = nil
	}
	err := RunClient(ctx, *addr, *msg, in, os.Stdout)
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C: the user stopped us, not an error
	}
	return err
}
