package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ANCHOR: progress
// startProgress prints one status line per second to cfg.Progress (set only
// when stderr is a terminal), rewriting it in place with '\r'. The returned
// function stops it and ends the line.
func startProgress(ctx context.Context, cfg *Config, rec *recorder) func() {
	if cfg.Progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		var lastReq, lastBytes int64
		for {
			select {
			case <-ctx.Done():
				fmt.Fprintln(cfg.Progress)
				return
			case now := <-t.C:
				req, b := rec.requests.Load(), rec.bytes.Load()
				fmt.Fprintf(cfg.Progress, "\r%5.0fs  %9d req/s  %8.2f MB/s  conns %6d  errors %d   ",
					now.Sub(start).Seconds(), req-lastReq, float64(b-lastBytes)/1e6,
					rec.conns.Load(), rec.errorCount())
				lastReq, lastBytes = req, b
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// ANCHOR_END: progress
