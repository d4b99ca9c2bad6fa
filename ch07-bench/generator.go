package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/clock"
)

// runner is one load run in progress: the configuration, what has been
// measured so far, and the clock of the phases (warm-up, measured, done).
type runner struct {
	cfg Config
	rec *recorder

	runStart     time.Time    // workers started (warm-up begins)
	measureStart time.Time    // recording begins (runStart + Warmup)
	measuring    atomic.Bool  // set at measureStart
	budget       atomic.Int64 // requests left to measure (-requests)
	pattern      []byte       // stream mode
}

// Run performs one load run and returns its result. It returns an error only
// for a run that could not start; failures of the server under test are
// counted in Result.Errors instead.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.SampleRate <= 0 {
		cfg.SampleRate = 200 * time.Millisecond
	}
	if cfg.Mode == ModeStream && cfg.Requests > 0 {
		return nil, fmt.Errorf("stream mode runs for -duration; -requests counts echoes, which a stream does not have")
	}
	if cfg.Mode == ModeOpenLoop && cfg.Requests > 0 {
		// An open loop is a schedule: N requests at R per second take N/R seconds.
		cfg.Duration = time.Duration(float64(cfg.Requests) / cfg.Rate * float64(time.Second))
	}
	r := &runner{cfg: cfg, rec: newRecorder(4 * runtime.GOMAXPROCS(0))}
	r.budget.Store(cfg.Requests)
	if cfg.Mode == ModeStream {
		r.pattern = streamPattern(cfg.Size)
	}
	if cfg.Mode == ModeIdle {
		return r.idle(ctx)
	}

	// ANCHOR: phases
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.runStart = time.Now()
	r.measureStart = r.runStart.Add(cfg.Warmup)

	var wg sync.WaitGroup
	for id := range cfg.Conns {
		wg.Go(func() { r.worker(runCtx, id) })
	}

	// Warm-up: the workers run, connections and caches and the server's
	// goroutines warm up, and nothing is recorded.
	if !clock.Sleep(runCtx, time.Until(r.measureStart)) {
		cancel()
		wg.Wait()
		return nil, ctx.Err()
	}
	r.measuring.Store(true)
	sampler := startSampler(runCtx, &cfg)
	progress := startProgress(runCtx, &cfg, r.rec)

	var watch sync.WaitGroup
	if cfg.Requests > 0 && cfg.Mode != ModeOpenLoop {
		watch.Go(func() { r.watchdog(runCtx, cancel) })
	}
	end := r.measureStart.Add(cfg.Duration)
	if cfg.Requests == 0 && cfg.Mode != ModeOpenLoop {
		// Closed loops stop when the time is up; an open loop stops sending
		// by itself at the end of its schedule and drains the echoes in flight.
		clock.Sleep(runCtx, time.Until(end))
		cancel()
	}
	wg.Wait()
	if cfg.Requests > 0 && cfg.Mode != ModeOpenLoop {
		end = time.Now() // a request budget ends when its last echo is back
	}
	// ANCHOR_END: phases
	cancel()
	watch.Wait()
	progress()
	res := r.rec.result(cfg, end.Sub(r.measureStart))
	if cfg.Mode == ModeStream && cfg.Size > 0 {
		res.Requests = res.Bytes / int64(cfg.Size)
		res.ReqPerSec = float64(res.Requests) / res.Elapsed
	}
	res.Server = sampler()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// worker runs one connection's share of the load, redialling after errors.
func (r *runner) worker(ctx context.Context, id int) {
	switch r.cfg.Mode {
	case ModeOpenLoop:
		r.openLoop(ctx, id)
		return
	case ModeConnect:
		r.connectLoop(ctx, id)
		return
	}
	if r.cfg.Mode == ModeStream && r.pattern == nil {
		panic("stream pattern not prepared")
	}
	for ctx.Err() == nil {
		c, err := dial(ctx, &r.cfg)
		if err != nil {
			r.fail(ctx, err)
			clock.Sleep(ctx, 10*time.Millisecond) // do not spin against a dead server
			continue
		}
		r.rec.conns.Add(1)
		release := unblockOnDone(ctx, c)
		if r.cfg.Mode == ModeStream {
			err = r.streamConn(ctx, id, c)
		} else {
			err = r.pingpongConn(ctx, id, c)
		}
		release()
		c.Close()
		r.rec.conns.Add(-1)
		if errors.Is(err, errBudgetSpent) {
			return
		}
		if err != nil {
			r.fail(ctx, err)
		}
	}
}

var (
	errBudgetSpent = errors.New("request budget spent")
	errStalled     = errors.New("no echo completed for a whole -timeout: giving up")
)

// watchdog ends a -requests run that makes no progress (a dead or silent
// server would otherwise keep it redialling forever): if no request
// completes during a whole cfg.Timeout, it counts a "stalled" error and stops.
func (r *runner) watchdog(ctx context.Context, stop context.CancelFunc) {
	t := time.NewTicker(r.cfg.Timeout)
	defer t.Stop()
	last := r.rec.requests.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n := r.rec.requests.Load()
			if n == last {
				r.rec.fail(errStalled)
				stop()
				return
			}
			last = n
		}
	}
}

// claim is asked before each request. It says whether the request counts
// (warm-up requests do not) and ends the run when -requests is spent.
func (r *runner) claim() (measured bool, err error) {
	if !r.measuring.Load() {
		return false, nil
	}
	if r.cfg.Requests == 0 {
		return true, nil
	}
	if r.budget.Add(-1) < 0 {
		return false, errBudgetSpent
	}
	return true, nil
}

// fail counts an error unless the run is over: operations cut short by the
// end of the run are not the server's fault.
func (r *runner) fail(ctx context.Context, err error) {
	if ctx.Err() == nil {
		r.rec.fail(err)
	}
}
