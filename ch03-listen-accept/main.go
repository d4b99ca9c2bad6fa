// Command ch03-listen-accept is chapter 3 of the course: what listen and
// accept really do (the backlog, an accept loop that survives running out of
// file descriptors), how bytes are buffered between your program, the kernel
// and the disk, and how to notice that a peer has died (heartbeats,
// reconnection with backoff, errors classified).
//
//	go run ./ch03-listen-accept            # heartbeat server on 127.0.0.1:9003
//	go run ./ch03-listen-accept client     # heartbeat client that reconnects
//	go run ./ch03-listen-accept backlog    # the accept queue, observed (Linux)
//	go run ./ch03-listen-accept -h         # every lesson
package main

import (
	"context"
	"os"

	"github.com/tcp-in-go/course/internal/cli"
)

const (
	name        = "ch03-listen-accept"
	defaultAddr = "127.0.0.1:9003"
)

func main() { cli.Main(name, run) }

func run(ctx context.Context, args []string) error {
	return cli.Dispatch(ctx, name, args, os.Stderr,
		cli.Command{Name: "serve", Summary: "heartbeat server: answers PING with PONG, drops silent peers", Run: runServe},
		cli.Command{Name: "client", Summary: "heartbeat client: PING every interval, reconnect with backoff", Run: runClient},
		cli.Command{Name: "backlog", Summary: "listen with backlog 5 and watch the kernel's accept queue (Linux)", Run: runBacklog},
		cli.Command{Name: "errors", Summary: "provoke each network error on purpose and classify it", Run: runErrors},
		cli.Command{Name: "writes", Summary: "count write system calls: small writes vs bufio.Writer", Run: runWrites},
		cli.Command{Name: "nodelay", Summary: "Nagle's algorithm vs TCP_NODELAY: small request/response latency", Run: runNodelay},
		cli.Command{Name: "framing", Summary: "split a byte stream into messages: delimiters and length prefixes", Run: runFraming},
		cli.Command{Name: "fsync", Summary: "write a file with and without fsync; the durable path", Run: runFsync},
		cli.Command{Name: "sockbuf", Summary: "show the socket buffer sizes (SO_RCVBUF/SO_SNDBUF) of this machine", Run: runSockbuf},
	)
}
