package main

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/tcp-in-go/course/internal/clock"
)

// ANCHOR: idle
// idle opens cfg.Conns connections, proves each one works with one echo,
// holds them all open for cfg.Duration, then checks every one still echoes.
// It is the C10K experiment: what does a held, silent connection cost the
// client and the server? The client holds no goroutine per idle connection,
// only the socket, so its cost is the runtime's netFD plus the kernel's.
func (r *runner) idle(ctx context.Context) (*Result, error) {
	cfg := &r.cfg
	before := heapAndStacks()
	baseline := sampleOnce(cfg) // the server's memory before we connect
	start := time.Now()
	r.measureStart = start
	r.measuring.Store(true)
	stopProgress := startProgress(ctx, cfg, r.rec)

	conns := r.idleOpen(ctx)
	held := int(r.rec.conns.Load())
	after := heapAndStacks()
	peak := sampleOnce(cfg) // the server's memory with every connection held
	sampler := startSampler(ctx, cfg)
	clock.Sleep(ctx, cfg.Duration) // hold them: nothing is sent, nothing is read
	stopProgress()
	r.idleCheck(ctx, conns)

	res := r.rec.result(*cfg, time.Since(start))
	res.Held = held
	if held > 0 {
		res.ClientMem = float64(after-before) / float64(held)
	}
	res.Server = sampler()
	idleServerCost(res.Server, baseline, peak, held)
	return res, ctx.Err()
}

// ANCHOR_END: idle

// ANCHOR: idle-open
// idleOpen dials the connections, 64 at a time, and echoes once on each:
// the time of connect plus first echo is what the histogram records. A
// connection that fails is counted and left out (nil).
func (r *runner) idleOpen(ctx context.Context) []net.Conn {
	cfg := &r.cfg
	size := max(cfg.Size, 1)
	conns := make([]net.Conn, cfg.Conns)
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
		r.rec.record(i, time.Since(t), size)
		r.rec.conns.Add(1)
		conns[i] = c
	})
	return conns
}

// ANCHOR_END: idle-open

// ANCHOR: idle-check
// idleCheck asks every held connection for one more echo, then closes it. A
// server that silently dropped idle connections fails here. It runs even
// after Ctrl-C (each echo is bounded by the timeout), so that every
// connection is checked and closed.
func (r *runner) idleCheck(ctx context.Context, conns []net.Conn) {
	check := context.WithoutCancel(ctx)
	r.parallel(check, len(conns), func(i int) {
		if c := conns[i]; c != nil {
			if err := echoOnce(c, i, max(r.cfg.Size, 1), r.cfg.Timeout); err != nil {
				r.fail(check, err)
			}
			c.Close()
			r.rec.conns.Add(-1)
		}
	})
}

// ANCHOR_END: idle-check

// ANCHOR: idle-cost
// idleServerCost divides what the server grew by while holding the
// connections by their number: resident memory (from the readings before
// and after they were opened) and, for the exercise, descriptors.
func idleServerCost(s, baseline, peak *ServerStats, held int) {
	if s == nil || baseline == nil || peak == nil || held == 0 {
		return
	}
	s.RSSStart = baseline.RSSStart
	s.BytesPerConn = float64(peak.RSSPeak-baseline.RSSStart) / float64(held)
	// ANCHOR: exercise-fds-per-conn
	s.FDsPerConn = float64(s.FDsPeak) / float64(held)
	// ANCHOR_END: exercise-fds-per-conn
}

// ANCHOR_END: idle-cost

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
