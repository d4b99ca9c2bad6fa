package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ANCHOR: pool-config
// PoolConfig configures a Pool. DefaultPoolConfig gives the values of the
// source text (section 2.5): max_connections 100, min_connections 10,
// timeout 3s, idle_timeout 30s. Zero means "no limit" or "never" for each
// count and duration.
type PoolConfig struct {
	Addr     string // server to dial, HOST:PORT
	MaxConns int    // open connections at most, in use or idle (0: no limit)
	MinIdle  int    // the reaper keeps at least this many idle; Warm opens them

	AcquireTimeout time.Duration // how long Get waits (0: as long as its ctx)
	IdleTimeout    time.Duration // close idle connections older than this (0: never)

	BreakerThreshold int           // failures in a row that open it (0: never)
	BreakerCooldown  time.Duration // how long it stays open before a trial dial

	// Dial opens a connection; nil means a net.Dialer. Tests replace it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock of the breaker; nil means time.Now. Tests replace it.
	Now func() time.Time
}

// DefaultPoolConfig returns the source text's configuration for addr.
func DefaultPoolConfig(addr string) PoolConfig {
	return PoolConfig{
		Addr:             addr,
		MaxConns:         100,
		MinIdle:          10,
		AcquireTimeout:   3 * time.Second,
		IdleTimeout:      30 * time.Second,
		BreakerThreshold: 5,
		BreakerCooldown:  5 * time.Second,
	}
}

// ANCHOR_END: pool-config

func (cfg PoolConfig) validate() error {
	switch {
	case cfg.MaxConns < 0 || cfg.MinIdle < 0 || cfg.BreakerThreshold < 0:
		return errors.New("pool: counts must not be negative (0 means no limit)")
	case cfg.MaxConns > 0 && cfg.MinIdle > cfg.MaxConns:
		return fmt.Errorf("pool: min idle must be at most max (%d), not %d", cfg.MaxConns, cfg.MinIdle)
	case cfg.AcquireTimeout < 0 || cfg.IdleTimeout < 0 || cfg.BreakerCooldown < 0:
		return errors.New("pool: durations must not be negative (0 means never)")
	}
	return nil
}

// Errors Get returns; test them with errors.Is.
var (
	ErrPoolExhausted  = errors.New("connection pool exhausted")
	ErrCircuitOpen    = errors.New("circuit breaker open: the server has been failing, not dialing")
	ErrPoolClosed     = errors.New("connection pool closed")
	errPeerClosed     = errors.New("the server closed the connection")
	errUnexpectedData = errors.New("unexpected data on an idle connection")
)

// PoolStats is a snapshot of a pool's counters.
type PoolStats struct {
	InUse, Idle, Waiting int    // now
	Peak                 int    // most connections ever open at once
	Created, Closed      int64  // connections dialed, and closed (reaped, broken or at pool close)
	Broken               int64  // of those closed: found dead at Get, or broken in use
	Timeouts             int64  // Gets that gave up waiting (ErrPoolExhausted)
	Rejected             int64  // Gets turned away by the open breaker (ErrCircuitOpen)
	Breaker              string // closed, open or half-open
}

func (s PoolStats) String() string {
	return fmt.Sprintf("in_use=%d idle=%d waiting=%d peak=%d created=%d closed=%d broken=%d timeouts=%d rejected=%d breaker=%s",
		s.InUse, s.Idle, s.Waiting, s.Peak, s.Created, s.Closed, s.Broken, s.Timeouts, s.Rejected, s.Breaker)
}

// idleConn is a connection resting in the pool.
type idleConn struct {
	net.Conn
	since time.Time
}

// Pool is a client-side pool of TCP connections to one server. Opening a
// connection costs a handshake (one round trip) before the first byte, and
// each one costs the server a socket and a goroutine; a pool reuses a few
// connections for many requests and puts a ceiling on how many exist.
type Pool struct {
	cfg     PoolConfig
	breaker *Breaker

	mu      sync.Mutex
	idle    []*idleConn      // a stack: the most recently used on top
	open    int              // idle + in use + being dialed
	waiters []chan *idleConn // Gets waiting for a connection, first come first served
	closed  bool
	stats   PoolStats     // counters; the gauges are computed in Stats
	stop    chan struct{} // closed by Close: stops the reaper
	reaped  chan struct{} // closed when the reaper has stopped
	dialer  func(context.Context, string, string) (net.Conn, error)
}

// NewPool returns a pool for cfg and starts its idle reaper. It opens no
// connection yet (see Warm). Close it when done.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, stop: make(chan struct{}), reaped: make(chan struct{})}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	p.breaker = &Breaker{Threshold: cfg.BreakerThreshold, Cooldown: cfg.BreakerCooldown, Now: now}
	p.dialer = cfg.Dial
	if p.dialer == nil {
		p.dialer = (&net.Dialer{}).DialContext
	}
	go p.reaper()
	return p, nil
}

// ANCHOR: get
// Get lends a connection: a healthy idle one, else a new one below MaxConns,
// else the first one given back within AcquireTimeout (or ErrPoolExhausted;
// ErrCircuitOpen at once while the breaker is open). Close it to give it back.
func (p *Pool) Get(ctx context.Context) (*PooledConn, error) {
	ctx, cancel := p.acquireContext(ctx) // bounded by AcquireTimeout
	defer cancel()
	for {
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			return nil, ErrPoolClosed
		case len(p.idle) > 0: // 1. reuse the most recently used idle connection
			ic := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			p.mu.Unlock()
			if c := p.healthy(ic); c != nil {
				return c, nil
			} // dead: go round
		case p.belowLimit(): // 2. below the ceiling: dial, if the breaker allows
			if !p.breaker.Allow() {
				p.stats.Rejected++
				p.mu.Unlock()
				return nil, ErrCircuitOpen
			}
			p.open++
			p.stats.Peak = max(p.stats.Peak, p.open)
			p.mu.Unlock()
			return p.dial(ctx)
		default: // 3. at the ceiling: queue up, first come first served
			ch := make(chan *idleConn, 1)
			p.waiters = append(p.waiters, ch)
			p.mu.Unlock()
			if c, err := p.await(ctx, ch); c != nil || err != nil {
				return c, err
			} // a slot was freed, or the connection was dead: go round
		}
	}
}

// ANCHOR_END: get

// acquireContext bounds a Get by AcquireTimeout (0: by ctx alone).
func (p *Pool) acquireContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.cfg.AcquireTimeout == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.cfg.AcquireTimeout)
}

// belowLimit reports whether the pool may open another connection (called
// with p.mu held).
func (p *Pool) belowLimit() bool {
	return p.cfg.MaxConns == 0 || p.open < p.cfg.MaxConns
}

// ANCHOR: await
// await waits, up to the timeout, for a connection given back to this Get
// (or for a free slot, when a broken one is thrown away: then it returns
// nil, nil and Get goes round to dial).
func (p *Pool) await(ctx context.Context, ch chan *idleConn) (*PooledConn, error) {
	select {
	case ic := <-ch:
		if ic == nil {
			return nil, nil
		}
		return p.healthy(ic), nil
	case <-ctx.Done():
		return nil, p.giveUp(ch, ctx)
	}
}

// healthy wraps ic for the caller if it is still healthy; a dead connection
// is discarded (never handed out) and healthy returns nil.
func (p *Pool) healthy(ic *idleConn) *PooledConn {
	if err := checkConn(ic.Conn); err != nil {
		p.discard(ic.Conn, true)
		return nil
	}
	return p.wrap(ic.Conn)
}

// ANCHOR_END: await

// dial opens a new connection for a slot Get has reserved.
func (p *Pool) dial(ctx context.Context) (*PooledConn, error) {
	c, err := p.dialer(ctx, "tcp", p.cfg.Addr)
	if err != nil {
		p.breaker.Failure()
		p.mu.Lock()
		p.open--
		p.wakeOne()
		p.mu.Unlock()
		return nil, fmt.Errorf("pool: dial %s: %w", p.cfg.Addr, err)
	}
	p.breaker.Success()
	p.mu.Lock()
	p.stats.Created++
	p.mu.Unlock()
	return p.wrap(c), nil
}

// giveUp takes a waiting Get out of the queue when its time is up. If a
// connection was handed to it in the meantime, it is passed on.
func (p *Pool) giveUp(ch chan *idleConn, ctx context.Context) error {
	p.mu.Lock()
	if i := slices.Index(p.waiters, ch); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
	} else if ic := <-ch; ic != nil { // put or wakeOne got to us first
		p.giveLocked(ic.Conn)
	} else {
		p.wakeOne()
	}
	timedOut := p.cfg.AcquireTimeout > 0 && ctx.Err() == context.DeadlineExceeded
	if timedOut {
		p.stats.Timeouts++
	}
	inUse, waiting := p.open-len(p.idle), len(p.waiters)
	p.mu.Unlock()
	if timedOut {
		return fmt.Errorf("%w: no connection free within %v (%d of %d in use, %d others waiting)",
			ErrPoolExhausted, p.cfg.AcquireTimeout, inUse, p.cfg.MaxConns, waiting)
	}
	return ctx.Err()
}

// ANCHOR: put
// put takes back a connection the caller is done with: straight to the
// first waiting Get if there is one, else onto the idle stack.
func (p *Pool) put(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.giveLocked(c)
}

func (p *Pool) giveLocked(c net.Conn) {
	if p.closed {
		p.open--
		p.stats.Closed++
		c.Close()
		return
	}
	ic := &idleConn{Conn: c, since: time.Now()}
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- ic // buffered: never blocks
		return
	}
	p.idle = append(p.idle, ic)
}

// ANCHOR_END: put

// ANCHOR: discard
// discard closes a connection that must not be reused and frees its slot.
func (p *Pool) discard(c net.Conn, broken bool) {
	c.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open--
	p.stats.Closed++
	if broken {
		p.stats.Broken++
	}
	p.wakeOne()
}

// wakeOne tells the first waiting Get that a slot is free, so it can dial.
func (p *Pool) wakeOne() {
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- nil
	}
}

// ANCHOR_END: discard

// ANCHOR: reaper
// reaper closes connections that have been idle longer than IdleTimeout,
// oldest first, keeping at least MinIdle. Servers close idle connections
// too, so an old one is likely dead, and each one holds a server's socket.
func (p *Pool) reaper() {
	defer close(p.reaped)
	if p.cfg.IdleTimeout == 0 { // never: nothing to do until Close
		<-p.stop
		return
	}
	t := time.NewTicker(max(p.cfg.IdleTimeout/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			var old []*idleConn
			for len(p.idle) > p.cfg.MinIdle { // the bottom of the stack is the oldest
				if now.Sub(p.idle[0].since) <= p.cfg.IdleTimeout {
					break
				}
				old = append(old, p.idle[0])
				p.idle = p.idle[1:]
			}
			p.open -= len(old)
			p.stats.Closed += int64(len(old))
			for range old {
				p.wakeOne()
			}
			p.mu.Unlock()
			for _, ic := range old {
				ic.Close()
			}
		}
	}
}

// ANCHOR_END: reaper

// Warm opens connections until MinIdle are idle, so the first requests do
// not pay for handshakes.
func (p *Pool) Warm(ctx context.Context) error {
	var conns []*PooledConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		p.mu.Lock()
		need := p.cfg.MinIdle - len(p.idle) - len(conns)
		p.mu.Unlock()
		if need <= 0 {
			return nil
		}
		c, err := p.Get(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Idle = len(p.idle)
	s.InUse = p.open - len(p.idle)
	s.Waiting = len(p.waiters)
	s.Breaker = p.breaker.State().String()
	return s
}

// Close closes the idle connections and stops the reaper. Connections in
// use are closed when they are given back. Waiting Gets fail with
// ErrPoolClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	p.stats.Closed += int64(len(idle))
	for len(p.waiters) > 0 {
		p.wakeOne() // they go round, see closed, and return ErrPoolClosed
	}
	p.mu.Unlock()
	for _, ic := range idle {
		ic.Close()
	}
	close(p.stop)
	<-p.reaped
	return nil
}

func (p *Pool) wrap(c net.Conn) *PooledConn { return &PooledConn{Conn: c, pool: p} }

// ANCHOR: pooled-conn
// PooledConn is a connection lent by a Pool. It is a net.Conn; Close gives
// it back to the pool instead of closing it, unless it is broken: an I/O
// error, MarkBroken, or a Close while another goroutine is still in Read or
// Write (then the connection is really closed, which unblocks that call).
type PooledConn struct {
	net.Conn
	pool   *Pool
	ops    atomic.Int64 // Reads and Writes under way
	closed atomic.Bool
	broken atomic.Bool
}

// Read and Write pass through to the connection; an error marks it broken
// (EOF, reset or timeout: the stream is no longer in step).
func (c *PooledConn) Read(b []byte) (int, error) {
	return c.use(func() (int, error) { return c.Conn.Read(b) })
}

func (c *PooledConn) Write(b []byte) (int, error) {
	return c.use(func() (int, error) { return c.Conn.Write(b) })
}

// use runs one Read or Write: counted first, then checked against Close
// (Close does the reverse), so Close sees every call under way.
func (c *PooledConn) use(op func() (int, error)) (int, error) {
	c.ops.Add(1)
	defer c.ops.Add(-1)
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	n, err := op()
	if err != nil {
		c.broken.Store(true)
	}
	return n, err
}

// ANCHOR_END: pooled-conn

// ANCHOR: pooled-close
// MarkBroken tells the pool not to reuse this connection (for example after
// a reply that did not parse).
func (c *PooledConn) MarkBroken() { c.broken.Store(true) }

// Close gives the connection back to the pool, or closes it if broken.
// Using c after Close returns net.ErrClosed.
func (c *PooledConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	if c.broken.Load() || c.ops.Load() > 0 {
		c.pool.discard(c.Conn, c.broken.Load())
		return nil
	}
	// The next user starts without deadlines.
	if err := c.Conn.SetDeadline(time.Time{}); err != nil {
		c.pool.discard(c.Conn, true)
		return nil
	}
	c.pool.put(c.Conn)
	return nil
}

// ANCHOR_END: pooled-close

// SetDeadline and friends refuse to touch a connection already given back.
func (c *PooledConn) SetDeadline(t time.Time) error { return c.setDeadline(c.Conn.SetDeadline, t) }

func (c *PooledConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(c.Conn.SetReadDeadline, t)
}

func (c *PooledConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(c.Conn.SetWriteDeadline, t)
}

func (c *PooledConn) setDeadline(set func(time.Time) error, t time.Time) error {
	c.ops.Add(1)
	defer c.ops.Add(-1)
	if c.closed.Load() {
		return net.ErrClosed
	}
	return set(t)
}
