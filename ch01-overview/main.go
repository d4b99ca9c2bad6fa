// Command ch01-overview is the course's first TCP server: it accepts many
// clients at once, one goroutine each, and prints every line they send.
//
//	go run ./ch01-overview                        # serve on 127.0.0.1:9000
//	go run ./ch01-overview client -msg "hello"    # send one line
//	nc 127.0.0.1 9000                             # or type lines by hand
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
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on (host:port; :9000 for all interfaces)")
	maxLine := fs.Int("max-line", 4096, "longest line accepted, in bytes; a longer one closes the connection")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "close a connection silent for this long")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *maxLine < 1 {
		return cli.Usagef("-max-line must be at least 1")
	}
	srv := &Server{MaxLine: *maxLine, IdleTimeout: *idle, Out: os.Stdout, Log: slog.Default()}
	return cli.ListenAndServe(ctx, srv.Log, *addr, srv, *drain)
}

func runClient(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("client", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "server address")
	msg := fs.String("msg", "", "send this line; without it, send stdin")
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
