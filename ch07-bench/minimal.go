package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// ANCHOR: minimal
// minimalPingPong is the yardstick for the generator's own overhead: the
// shortest correct closed-loop client one would write by hand. No histogram,
// no byte check, no progress, no redial. If the generator drives a server
// less hard than this, the generator is the bottleneck and its numbers
// describe itself rather than the server.
func minimalPingPong(ctx context.Context, addr string, conns, size int, d time.Duration) (perSec float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var total atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			n, err := minimalConn(ctx, addr, size)
			if err != nil {
				once.Do(func() { firstErr = err })
			}
			total.Add(n)
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds(), firstErr
}

// ANCHOR_END: minimal

// ANCHOR: minimal-conn
// minimalConn is one connection of the minimal client: write a message,
// read its echo back whole, count, until ctx ends. Ending the run sets a
// deadline in the past, which wakes a blocked Read or Write.
func minimalConn(ctx context.Context, addr string, size int) (echoes int64, err error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	msg, got := make([]byte, size), make([]byte, size)
	for ctx.Err() == nil {
		if _, err := c.Write(msg); err != nil {
			break
		}
		if _, err := io.ReadFull(c, got); err != nil {
			break
		}
		echoes++
	}
	return echoes, nil
}

// ANCHOR_END: minimal-conn

// runMinimal is the minimal command: the yardstick, runnable on its own so
// that the generator can be compared with it against any server.
func runMinimal(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(prog+" minimal", os.Stderr)
	addr := fs.String("addr", "", "server address (HOST:PORT); required")
	conns := fs.Int("conns", 50, "connections to open at once")
	size := fs.Int("size", 64, "message size in bytes")
	d := fs.Duration("duration", 2*time.Second, "how long the run lasts")
	jsonOut := fs.Bool("json", false, `print the result as JSON on stdout; {"req_per_s": N}`)
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *addr == "" || *conns < 1 || *size < 1 || *d <= 0 {
		return cli.Usagef("give -addr, and a positive -conns, -size and -duration")
	}
	perSec, err := minimalPingPong(ctx, *addr, *conns, *size, *d)
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]float64{"req_per_s": perSec})
	}
	fmt.Printf("%.0f echoes/s (%d conns, %d-byte messages, %s)\n", perSec, *conns, *size, *d)
	return nil
}
