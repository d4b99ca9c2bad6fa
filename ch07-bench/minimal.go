package main

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
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
			c, err := net.Dial("tcp", addr)
			if err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
			defer stop()
			msg, got := make([]byte, size), make([]byte, size)
			n := int64(0)
			for ctx.Err() == nil {
				if _, err := c.Write(msg); err != nil {
					break
				}
				if _, err := io.ReadFull(c, got); err != nil {
					break
				}
				n++
			}
			total.Add(n)
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds(), firstErr
}

// ANCHOR_END: minimal
