package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// poolDemoOptions are the pool command's flags.
type poolDemoOptions struct {
	addr     string // server to use; "" starts one in-process
	clients  int
	requests int
	every    time.Duration // how often to print live stats
	cfg      PoolConfig
}

func runPool(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" pool", os.Stderr)
	o := poolDemoOptions{cfg: DefaultPoolConfig("")}
	poolFlags(fs, &o)
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if o.clients < 1 || o.requests < 1 || o.every < 0 {
		return cli.Usagef("-clients and -requests must be at least 1, -every not negative")
	}
	if err := o.cfg.validate(); err != nil {
		return cli.UsageError{Err: err}
	}
	return poolDemo(ctx, os.Stdout, o)
}

func poolFlags(fs *flag.FlagSet, o *poolDemoOptions) {
	fs.StringVar(&o.addr, "addr", "", "server address (HOST:PORT); empty starts a server in-process (then the demo can also stop it)")
	fs.IntVar(&o.clients, "clients", 200, "concurrent clients (goroutines) sharing the pool")
	fs.IntVar(&o.requests, "requests", 50, "requests (lines) per client")
	fs.DurationVar(&o.every, "every", 250*time.Millisecond, "interval of the live stats lines (0: none)")
	fs.IntVar(&o.cfg.MaxConns, "max", o.cfg.MaxConns, "max_connections: open connections at most (0: no limit)")
	fs.IntVar(&o.cfg.MinIdle, "min-idle", o.cfg.MinIdle, "min_connections: idle connections the pool keeps (and Warm opens)")
	fs.DurationVar(&o.cfg.AcquireTimeout, "timeout", o.cfg.AcquireTimeout, "give up after this long; bounds Get's wait for a free connection, 0: no limit")
	fs.DurationVar(&o.cfg.IdleTimeout, "idle-timeout", o.cfg.IdleTimeout, "close a pooled connection unused this long; 0: never (the source text's idle_timeout)")
	fs.IntVar(&o.cfg.BreakerThreshold, "threshold", o.cfg.BreakerThreshold, "dial failures in a row that open the breaker (0: never)")
	fs.DurationVar(&o.cfg.BreakerCooldown, "cooldown", o.cfg.BreakerCooldown, "how long the breaker stays open before a trial dial")
}

// ANCHOR: pool-demo
// poolDemo shows the pool at work, in four steps: warm-up, load (many
// clients share few connections), exhaustion, and, with its own server,
// the circuit breaker.
func poolDemo(ctx context.Context, w io.Writer, o poolDemoOptions) error {
	srv := &demoServer{addr: o.addr}
	if srv.addr == "" { // no -addr: run our own, so that step 4 can stop it
		if err := srv.start(ctx, "127.0.0.1:0"); err != nil {
			return err
		}
		defer func() { srv.stop() }() // the server running at the end
	}
	o.cfg.Addr = srv.addr
	p, err := NewPool(o.cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Fprintf(w, "pool for %s: max=%d min_idle=%d timeout=%v idle_timeout=%v\n",
		srv.addr, o.cfg.MaxConns, o.cfg.MinIdle, o.cfg.AcquireTimeout,
		o.cfg.IdleTimeout)

	fmt.Fprintf(w, "\n1. warm up: open min_idle connections first\n")
	if err := p.Warm(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "   %s\n", p.Stats())
	fmt.Fprintf(w, "\n2. load: %d clients x %d requests share at most %d "+
		"connections\n", o.clients, o.requests, o.cfg.MaxConns)
	if err := loadPool(ctx, w, p, o); err != nil {
		return err
	}
	if err := exhaustPool(ctx, w, p, o.cfg); err != nil {
		return err
	}
	return breakerDemo(ctx, w, p, srv, o.cfg)
}

// ANCHOR_END: pool-demo

// ANCHOR: exhaust-pool
// exhaustPool (step 3) holds every connection the pool may open, then asks
// for one more: Get waits AcquireTimeout and fails with ErrPoolExhausted.
func exhaustPool(ctx context.Context, w io.Writer, p *Pool, cfg PoolConfig) error {
	if cfg.MaxConns == 0 || cfg.AcquireTimeout == 0 {
		fmt.Fprintf(w, "\n(-max 0 or -timeout 0: no limit, never exhausted)\n")
		return nil
	}
	fmt.Fprintf(w, "\n3. exhaustion: hold all %d connections, "+
		"then ask for one more\n", cfg.MaxConns)
	held := make([]*PooledConn, 0, cfg.MaxConns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range cfg.MaxConns {
		c, err := p.Get(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
	}
	start := time.Now()
	_, err := p.Get(ctx)
	fmt.Fprintf(w, "   Get waited %v and failed: %v\n",
		time.Since(start).Round(10*time.Millisecond), err)
	if !errors.Is(err, ErrPoolExhausted) {
		return fmt.Errorf("expected ErrPoolExhausted, got %v", err)
	}
	return nil
}

// ANCHOR_END: exhaust-pool

// ANCHOR: breaker-open
// breakerDemo (step 4) stops the server and calls Get until the breaker
// opens, then restarts the server on the same port and, after the
// cooldown, lets the breaker's trial dial close it again.
func breakerDemo(ctx context.Context, w io.Writer, p *Pool, srv *demoServer,
	cfg PoolConfig) error {
	switch {
	case srv.stop == nil:
		fmt.Fprintf(w, "\n(the breaker demo stops the server: run without -addr)\n")
		return nil
	case cfg.BreakerThreshold == 0:
		fmt.Fprintf(w, "\n(-threshold 0: the breaker never opens)\n")
		return nil
	}
	fmt.Fprintf(w, "\n4. circuit breaker: the server goes down\n")
	srv.stop()
	// The idle connections died with the server: Get finds that out with
	// its health check and dials instead, which fails, until the breaker opens.
	for i := 1; i <= cfg.BreakerThreshold+cfg.MaxConns+1; i++ {
		start := time.Now()
		c, err := p.Get(ctx)
		if err == nil { // the server's FIN had not arrived yet: found dead on use
			c.MarkBroken()
			c.Close()
		}
		took := time.Since(start).Round(10 * time.Microsecond)
		fmt.Fprintf(w, "   Get %d after %v: %v\n", i, took, err)
		if errors.Is(err, ErrCircuitOpen) {
			break
		}
	}
	fmt.Fprintf(w, "   %s\n", p.Stats())
	// ANCHOR_END: breaker-open
	// ANCHOR: breaker-close
	if err := srv.start(ctx, srv.addr); err != nil { // back, on the same port
		return err
	}
	fmt.Fprintf(w, "   the server is back; waiting out the %v cooldown\n",
		cfg.BreakerCooldown)
	select {
	case <-time.After(cfg.BreakerCooldown):
	case <-ctx.Done():
		return ctx.Err()
	}
	c, err := p.Get(ctx) // the half-open trial
	if err != nil {
		return err
	}
	_, err = exchange(c, []string{"trial"})
	c.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   the trial dial worked: %s\n", p.Stats())
	return nil
}

// ANCHOR_END: breaker-close

// loadPool runs the clients and prints the pool's stats while they run.
func loadPool(ctx context.Context, w io.Writer, p *Pool, o poolDemoOptions) error {
	var failed atomic.Int64
	var firstErr atomic.Pointer[error] // a pointer: errors of any concrete type
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.clients {
		wg.Go(func() {
			for j := range o.requests {
				if err := poolRequest(ctx, p, fmt.Sprintf("client %d request %d", i, j)); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var ticks <-chan time.Time // nil (no stats lines) when -every is 0
	if o.every > 0 {
		tick := time.NewTicker(o.every)
		defer tick.Stop()
		ticks = tick.C
	}
	for running := true; running; {
		select {
		case <-ticks:
			fmt.Fprintf(w, "   %5.2fs %s\n", time.Since(start).Seconds(), p.Stats())
		case <-done:
			running = false
		}
	}
	fmt.Fprintf(w, "   done: %d requests, %d failed, in %v\n   %s\n",
		o.clients*o.requests, failed.Load(), time.Since(start).Round(time.Millisecond), p.Stats())
	if err := firstErr.Load(); err != nil {
		return fmt.Errorf("%d requests failed, the first: %w", failed.Load(), *err)
	}
	return nil
}

// poolRequest is what application code does with a pool: get, use, give back.
func poolRequest(ctx context.Context, p *Pool, line string) error {
	c, err := p.Get(ctx)
	if err != nil {
		return err
	}
	defer c.Close() // gives it back, or discards it if it broke
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	replies, err := exchange(c, []string{line})
	if err != nil {
		return err
	}
	if replies[0] != ReplyPrefix+line {
		c.MarkBroken() // out of step with the server: do not reuse
		return fmt.Errorf("reply %q to %q", replies[0], line)
	}
	return nil
}

// demoServer is the chapter's server run in-process, quietly, so that the
// demo can stop it and start it again on the same address.
type demoServer struct {
	addr string
	stop func() // stops the running server; a no-op once stopped
}

func (d *demoServer) start(ctx context.Context, addr string) error {
	ln, err := cli.Listen(ctx, addr)
	if err != nil {
		return err
	}
	srv := NewServer(quietLog())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	var once sync.Once
	d.addr = ln.Addr().String()
	d.stop = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			<-done
		})
	}
	return nil
}
