package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// ANCHOR: stream
// streamConn measures throughput: one goroutine writes chunks as fast as the
// connection takes them while this one reads the echo and checks it against
// the same deterministic byte stream. Nothing waits for a round trip, so the
// limit is the server's (and the kernel's) copying speed, not latency.
func (r *runner) streamConn(ctx context.Context, id int, c net.Conn) error {
	size := r.cfg.Size
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		var off int
		var refreshAt time.Time
		for {
			if now := time.Now(); now.After(refreshAt) {
				_ = c.SetWriteDeadline(now.Add(r.cfg.Timeout))
				refreshAt = now.Add(r.cfg.Timeout / 4)
			}
			if ctx.Err() != nil {
				return
			}
			o := (off + id) % streamPeriod
			if _, err := c.Write(r.pattern[o : o+size]); err != nil {
				return // the reader sees the broken connection and reports it
			}
			off += size
		}
	})
	buf := make([]byte, size)
	var off int
	var refreshAt time.Time
	for {
		if now := time.Now(); now.After(refreshAt) {
			_ = c.SetReadDeadline(now.Add(r.cfg.Timeout))
			refreshAt = now.Add(r.cfg.Timeout / 4)
		}
		if ctx.Err() != nil {
			return nil
		}
		n, err := c.Read(buf)
		if n > 0 {
			o := (off + id) % streamPeriod
			if !bytes.Equal(buf[:n], r.pattern[o:o+n]) {
				_ = c.SetDeadline(time.Unix(1, 0)) // stop the writer too
				return &mismatchError{offset: off, want: r.pattern[o], got: buf[0]}
			}
			off += n
			if r.measuring.Load() {
				r.rec.bytes.Add(int64(n))
			}
		}
		if err != nil {
			_ = c.SetDeadline(time.Unix(1, 0))
			return fmt.Errorf("after %d bytes: %w", off, err)
		}
	}
}

// ANCHOR_END: stream
