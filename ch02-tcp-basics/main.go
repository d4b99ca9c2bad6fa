// Command ch02-tcp-basics is chapter 2 of the course: TCP's handshake and
// state machine observed live, the net package's interfaces, the six steps of
// a server with a goroutine per connection, and a client connection pool.
//
//	go run ./ch02-tcp-basics              # line server on 127.0.0.1:8888
//	go run ./ch02-tcp-basics -raw         # the same, written with raw syscalls (Linux)
//	go run ./ch02-tcp-basics client       # send stdin's lines, print the replies
//	go run ./ch02-tcp-basics states       # watch one connection's TCP states (Linux)
//	go run ./ch02-tcp-basics interfaces   # one handler over TCP, Unix socket and UDP
//	go run ./ch02-tcp-basics pool         # a connection pool against the server
package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

const (
	name        = "ch02-tcp-basics"
	defaultAddr = "127.0.0.1:8888"
)

func main() { cli.Main(name, run) }

func run(ctx context.Context, args []string) error {
	return cli.Dispatch(ctx, name, args, os.Stderr,
		cli.Command{Name: "serve", Summary: "line server: the six steps, a goroutine per connection", Run: runServe},
		cli.Command{Name: "client", Summary: "send each line of stdin, print each reply", Run: runClient},
		cli.Command{Name: "states", Summary: "walk one connection through its TCP states, read from the kernel", Run: runStates},
		cli.Command{Name: "interfaces", Summary: "one handler over net.Conn (TCP, Unix) and net.PacketConn (UDP)", Run: runInterfaces},
		cli.Command{Name: "pool", Summary: "a client connection pool with a circuit breaker, live stats", Run: runPool},
	)
}

func runServe(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" serve", os.Stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on (:PORT for all interfaces)")
	raw := fs.Bool("raw", false, "use the raw-syscall server (Linux): socket, setsockopt, bind, listen, accept by hand")
	backlog := fs.Int("backlog", 128, "length of the accept queue (the listen backlog); for -raw, 0 asks for the kernel's limit (net.core.somaxconn)")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *backlog < 0 {
		return cli.Usagef("-backlog must not be negative (0: the kernel's limit)")
	}
	log := slog.Default()
	if *raw {
		return serveRaw(ctx, log, *addr, *backlog, *drain)
	}
	ln, err := listenSteps(ctx, *addr) // steps 1-3
	if err != nil {
		return err
	}
	return cli.Serve(ctx, log, ln, NewServer(log), *drain, "steps", "1 socket, 2 bind, 3 listen (net.Listen)")
}

func runClient(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" client", os.Stderr)
	addr := fs.String("addr", defaultAddr, "server address (HOST:PORT)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long; bounds the dial and each reply")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	d := net.Dialer{Timeout: *timeout}
	conn, err := d.DialContext(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		_ = conn.SetDeadline(time.Now().Add(*timeout))
		replies, err := exchange(conn, []string{sc.Text()})
		if err != nil {
			return err
		}
		fmt.Println(replies[0])
	}
	return sc.Err()
}
