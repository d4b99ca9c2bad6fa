package main

// Nagle's algorithm and TCP_NODELAY.
//
// Nagle's algorithm (RFC 896) holds back a small segment while an earlier
// segment is still unacknowledged, to avoid flooding the network with tiny
// packets. The receiver, meanwhile, delays its ACK (up to 40 ms on Linux)
// hoping to piggyback it on a reply. A client that sends one request in two
// small writes (header, then body) and then waits for the answer hits both:
// the body waits for the ACK of the header, the ACK waits for the timer.
// Go disables Nagle on every TCP connection (SetNoDelay(true) is the
// default); this lesson turns it back on to show why.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// ANCHOR: write-write-read
// writeWriteRead sends a 4-byte header and an 8-byte body in two writes,
// then waits for the server's 1-byte answer: the pattern that Nagle and
// delayed ACKs punish. It returns the round-trip time.
func writeWriteRead(c net.Conn) (time.Duration, error) {
	start := time.Now()
	if _, err := c.Write([]byte("LEN8")); err != nil {
		return 0, err
	}
	if _, err := c.Write([]byte("payload!")); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// ANCHOR_END: write-write-read

// measureNodelay runs n write-write-read rounds on a fresh connection with
// the client's TCP_NODELAY set to nodelay, and returns the round-trip times
// sorted.
func measureNodelay(n int, nodelay bool) ([]time.Duration, error) {
	var rtts []time.Duration
	err := withPair(func(client, server net.Conn) error {
		deadline := time.Now().Add(30 * time.Second)
		_ = client.SetDeadline(deadline)
		_ = server.SetDeadline(deadline)
		if err := client.(*net.TCPConn).SetNoDelay(nodelay); err != nil {
			return err
		}
		errc := make(chan error, 1)
		go func() { // the server: read a whole request, answer one byte
			req := make([]byte, 12)
			for range n {
				if _, err := io.ReadFull(server, req); err != nil {
					errc <- err
					return
				}
				if _, err := server.Write([]byte{'!'}); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for range n {
			rtt, err := writeWriteRead(client)
			if err != nil {
				return err
			}
			rtts = append(rtts, rtt)
		}
		return <-errc
	})
	slices.Sort(rtts)
	return rtts, err
}

func nodelayLesson(w io.Writer, n int) error {
	for _, nodelay := range []bool{true, false} {
		rtts, err := measureNodelay(n, nodelay)
		if err != nil {
			return err
		}
		label := "TCP_NODELAY on (Go's default)"
		if !nodelay {
			label = "Nagle on (SetNoDelay(false))"
		}
		fmt.Fprintf(w, "%-30s rounds=%d median=%s max=%s\n", label, n,
			rtts[len(rtts)/2].Round(time.Microsecond), rtts[len(rtts)-1].Round(time.Microsecond))
	}
	return nil
}

func runNodelay(_ context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" nodelay", os.Stderr)
	n := fs.Int("n", 20, "request/response rounds per setting")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *n < 1 {
		return cli.Usagef("-n must be positive")
	}
	return nodelayLesson(os.Stdout, *n)
}
