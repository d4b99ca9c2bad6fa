package main

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"time"
)

// ANCHOR: idle
// idle opens cfg.Conns connections, proves each one works with one echo,
// holds them all open for cfg.Duration, then checks every one still echoes.
// It is the C10K experiment: what does a held, silent connection cost the
// client and the server? The client holds no goroutine per idle connection,
// only the socket, so its cost is the runtime's netFD plus the kernel's.
func (r *runner) idle(ctx context.Context) (*Result, error) {
	cfg := &r.cfg
	size := max(cfg.Size, 1)
	before := heapAndStacks()
	baseline := sampleOnce(cfg) // the server's memory before we connect

	conns := make([]net.Conn, cfg.Conns)
	start := time.Now()
	r.measureStart = start
	r.measuring.Store(true)
	stopProgress := startProgress(ctx, cfg, r.rec)
	r.parallel(ctx, cfg.Conns, func(i int) {
		t := time.Now()
		c, err := dial(ctx, cfg)
		if err != nil {
			r.fail(ctx, err)
			return
		}
		if err := echoOnce(c, i, size, cfg.Timeout); err != nil {
			c.Close()
			r.fail(ctx, err)
			return
		}
		r.rec.record(i, time.Since(t), size) // connect + first echo
		r.rec.conns.Add(1)
		conns[i] = c
	})
	held := int(r.rec.conns.Load())
	after := heapAndStacks()
	peak := sampleOnce(cfg) // the server's memory with every connection held
	sampler := startSampler(ctx, cfg)

	sleepCtx(ctx, cfg.Duration) // hold them: nothing is sent, nothing is read
	stopProgress()

	// Still alive? A server that silently dropped idle connections fails
	// here. This runs even after Ctrl-C (each echo is bounded by the
	// timeout), so that every connection is checked and closed.
	check := context.WithoutCancel(ctx)
	r.parallel(check, cfg.Conns, func(i int) {
		if c := conns[i]; c != nil {
			if err := echoOnce(c, i, size, cfg.Timeout); err != nil {
				r.fail(check, err)
			}
			c.Close()
			r.rec.conns.Add(-1)
		}
	})
	res := r.rec.result(*cfg, time.Since(start))
	res.Held = held
	if held > 0 {
		res.ClientMem = float64(after-before) / float64(held)
	}
	res.Server = sampler()
	if res.Server != nil && baseline != nil && peak != nil && held > 0 {
		res.Server.RSSStart = baseline.RSSStart
		res.Server.BytesPerConn = float64(peak.RSSPeak-baseline.RSSStart) / float64(held)
	}
	return res, ctx.Err()
}

// ANCHOR_END: idle

// parallel runs f(0..n-1) on at most 64 goroutines: opening 10,000
// connections one by one is slow, all at once overflows the listen backlog.
func (r *runner) parallel(ctx context.Context, n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, 64) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

func echoOnce(c net.Conn, id, size int, timeout time.Duration) error {
	p := newPayload(id, size)
	p.stamp(uint64(id))
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(p.msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, p.got); err != nil {
		return err
	}
	_ = c.SetDeadline(time.Time{})
	return p.check()
}

// heapAndStacks is the client's own memory in use, after a collection.
func heapAndStacks() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}
