package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/nettest"

	"github.com/tcp-in-go/course/tests/testutil"
)

// testPoolConfig is the default configuration with no idle floor, so tests
// control exactly which connections exist.
func testPoolConfig(addr string) PoolConfig {
	cfg := DefaultPoolConfig(addr)
	cfg.MinIdle = 0
	return cfg
}

func newTestPool(t *testing.T, cfg PoolConfig) *Pool {
	t.Helper()
	p, err := NewPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func get(t *testing.T, p *Pool) *PooledConn {
	t.Helper()
	c, err := p.Get(context.Background())
	require.NoError(t, err)
	return c
}

// roundTrip sends one line over a pooled connection and checks the reply.
func roundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	replies, err := exchange(c, []string{line})
	require.NoError(t, err)
	require.Equal(t, []string{"echo: " + line}, replies)
}

func TestPoolDefaultsAreTheSourceText(t *testing.T) {
	cfg := DefaultPoolConfig("x:1")
	assert.Equal(t, 100, cfg.MaxConns)
	assert.Equal(t, 10, cfg.MinIdle)
	assert.Equal(t, 3*time.Second, cfg.AcquireTimeout)
	assert.Equal(t, 30*time.Second, cfg.IdleTimeout)
	bad := cfg
	bad.MinIdle = 101
	_, err := NewPool(bad)
	assert.Error(t, err)
}

func TestPoolReusesConnections(t *testing.T) {
	addr, _ := startServer(t)
	p := newTestPool(t, testPoolConfig(addr))
	for i := range 5 {
		c := get(t, p)
		roundTrip(t, c, "request")
		require.NoError(t, c.Close())
		assert.ErrorIs(t, c.Close(), net.ErrClosed, "closing twice is an error")
		_, err := c.Write([]byte("x"))
		assert.ErrorIs(t, err, net.ErrClosed, "a returned connection is not usable (round %d)", i)
	}
	s := p.Stats()
	assert.Equal(t, int64(1), s.Created, "one connection served five requests")
	assert.Equal(t, 1, s.Idle)
	assert.Equal(t, 0, s.InUse)
}

func TestPoolWarmOpensMinIdle(t *testing.T) {
	addr, _ := startServer(t)
	cfg := DefaultPoolConfig(addr)
	p := newTestPool(t, cfg)
	require.NoError(t, p.Warm(context.Background()))
	s := p.Stats()
	assert.Equal(t, 10, s.Idle)
	assert.Equal(t, int64(10), s.Created)
}

func TestPoolExhaustionTimesOut(t *testing.T) {
	addr, _ := startServer(t)
	cfg := testPoolConfig(addr)
	cfg.MaxConns = 2
	cfg.AcquireTimeout = 50 * time.Millisecond
	p := newTestPool(t, cfg)
	a, b := get(t, p), get(t, p)

	_, err := p.Get(context.Background())
	require.ErrorIs(t, err, ErrPoolExhausted)
	assert.Contains(t, err.Error(), "2 of 2 in use")
	s := p.Stats()
	assert.Equal(t, int64(1), s.Timeouts)
	assert.Equal(t, 0, s.Waiting, "the timed-out Get left the queue")
	assert.Equal(t, int64(2), s.Created)

	require.NoError(t, a.Close())
	c := get(t, p) // the returned one is reused
	roundTrip(t, c, "after")
	assert.Equal(t, int64(2), p.Stats().Created)
	c.Close()
	b.Close()
}

func TestPoolWaiterGetsReturnedConnection(t *testing.T) {
	addr, _ := startServer(t)
	cfg := testPoolConfig(addr)
	cfg.MaxConns = 1
	cfg.AcquireTimeout = time.Minute // bounded by the test's own context below
	p := newTestPool(t, cfg)
	held := get(t, p)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan *PooledConn, 1)
	go func() {
		c, err := p.Get(ctx)
		assert.NoError(t, err)
		got <- c
	}()
	require.Eventually(t, func() bool { return p.Stats().Waiting == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, held.Close())
	c := <-got
	require.NotNil(t, c)
	roundTrip(t, c, "handed over")
	assert.Equal(t, int64(1), p.Stats().Created)
	c.Close()
}

func TestPoolWaiterDialsWhenABrokenConnectionFreesASlot(t *testing.T) {
	addr, _ := startServer(t)
	cfg := testPoolConfig(addr)
	cfg.MaxConns = 1
	cfg.AcquireTimeout = time.Minute
	p := newTestPool(t, cfg)
	held := get(t, p)

	got := make(chan *PooledConn, 1)
	go func() {
		c, err := p.Get(context.Background())
		assert.NoError(t, err)
		got <- c
	}()
	require.Eventually(t, func() bool { return p.Stats().Waiting == 1 }, 10*time.Second, time.Millisecond)
	held.MarkBroken()
	require.NoError(t, held.Close())
	c := <-got
	require.NotNil(t, c)
	roundTrip(t, c, "fresh")
	s := p.Stats()
	assert.Equal(t, int64(2), s.Created)
	assert.Equal(t, int64(1), s.Broken)
	c.Close()
}

func TestPoolReapsIdleConnections(t *testing.T) {
	addr, _ := startServer(t)
	cfg := testPoolConfig(addr)
	cfg.MinIdle = 1
	cfg.IdleTimeout = 200 * time.Millisecond
	p := newTestPool(t, cfg)
	conns := []*PooledConn{get(t, p), get(t, p), get(t, p)}
	for _, c := range conns {
		roundTrip(t, c, "x")
	}
	firstIdle := time.Now()
	for _, c := range conns {
		c.Close()
	}
	// Nothing is reaped before it has been idle for IdleTimeout.
	if window := cfg.IdleTimeout/2 - time.Since(firstIdle); window > 10*time.Millisecond {
		assert.Never(t, func() bool { return p.Stats().Closed > 0 }, window, time.Millisecond,
			"a connection idle for less than IdleTimeout is kept")
	}
	require.Eventually(t, func() bool {
		s := p.Stats()
		return s.Idle == 1 && s.Closed == 2
	}, 10*time.Second, time.Millisecond, "two of three idle connections reaped, MinIdle kept")
	assert.Never(t, func() bool { return p.Stats().Closed > 2 }, 3*cfg.IdleTimeout, time.Millisecond,
		"the last MinIdle connections are kept however long they stay idle")
	roundTrip(t, get(t, p), "the kept one works")
	assert.Equal(t, int64(3), p.Stats().Created)
}

// lineServer accepts connections, answers lines, and hands each server-side
// connection to the test so it can misbehave on purpose.
func lineServer(t *testing.T) (addr string, conns <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan net.Conn, 100)
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			all = append(all, c)
			mu.Unlock()
			ch <- c
			wg.Go(func() { _, _ = handleLines(c, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range all {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), ch
}

func TestPoolNeverHandsOutAConnectionTheServerClosed(t *testing.T) {
	addr, serverConns := lineServer(t)
	p := newTestPool(t, testPoolConfig(addr))
	c := get(t, p)
	roundTrip(t, c, "first")
	c.Close() // idle in the pool now

	sc := <-serverConns
	sc.Close() // the server drops it (its idle timeout, a restart...)

	// Wait until the server's FIN has reached our side, as it would have
	// long before a real program's next request.
	p.mu.Lock()
	idle := p.idle[0].Conn
	p.mu.Unlock()
	require.Eventually(t, func() bool { return checkConn(idle) != nil }, 10*time.Second, time.Millisecond)

	c = get(t, p)
	roundTrip(t, c, "second") // works: a fresh connection, not the dead one
	s := p.Stats()
	assert.Equal(t, int64(2), s.Created)
	assert.Equal(t, int64(1), s.Broken)
	c.Close()
}

func TestPoolDiscardsAConnectionWithUnreadData(t *testing.T) {
	addr, serverConns := lineServer(t)
	p := newTestPool(t, testPoolConfig(addr))
	c := get(t, p)
	roundTrip(t, c, "first")
	c.Close()
	sc := <-serverConns
	_, err := io.WriteString(sc, "unsolicited\n") // a reply nobody asked for

	require.NoError(t, err)
	p.mu.Lock()
	idle := p.idle[0].Conn
	p.mu.Unlock()
	require.Eventually(t, func() bool { return errors.Is(checkConn(idle), errUnexpectedData) }, 10*time.Second, time.Millisecond)
	c = get(t, p)
	roundTrip(t, c, "second") // would read "unsolicited" on the old connection
	assert.Equal(t, int64(1), p.Stats().Broken)
	c.Close()
}

func TestPoolCloseWhileReadingDiscards(t *testing.T) {
	addr, _ := lineServer(t)
	p := newTestPool(t, testPoolConfig(addr))
	c := get(t, p)
	readDone := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1)) // blocks: the server says nothing
		readDone <- err
	}()
	require.Eventually(t, func() bool { return c.ops.Load() == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, c.Close())
	s := p.Stats()
	assert.Equal(t, 0, s.Idle, "a connection closed mid-read is not reused")
	assert.Equal(t, int64(1), s.Closed)
	select {
	case err := <-readDone:
		assert.Error(t, err, "Close unblocked the pending Read")
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock the pending Read")
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestBreaker(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	b := &Breaker{Threshold: 3, Cooldown: 5 * time.Second, Now: clock.Now}
	for range 2 {
		require.True(t, b.Allow())
		b.Failure()
	}
	assert.Equal(t, BreakerClosed, b.State(), "two failures are not enough")
	require.True(t, b.Allow())
	b.Failure()
	assert.Equal(t, BreakerOpen, b.State())
	assert.False(t, b.Allow(), "open: turned away")

	clock.Advance(5 * time.Second)
	assert.Equal(t, BreakerHalfOpen, b.State())
	assert.True(t, b.Allow(), "after the cooldown, one trial")
	assert.False(t, b.Allow(), "only one trial at a time")
	b.Failure()
	assert.Equal(t, BreakerOpen, b.State(), "a failed trial opens it again")
	assert.False(t, b.Allow())

	clock.Advance(5 * time.Second)
	require.True(t, b.Allow())
	b.Success()
	assert.Equal(t, BreakerClosed, b.State())
	assert.True(t, b.Allow())
	assert.True(t, b.Allow(), "closed: everyone goes through")
}

// TestBreakerCountsFailuresInARow: "Threshold failures in a row" means a
// success in between starts the count again.
func TestBreakerCountsFailuresInARow(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	b := &Breaker{Threshold: 3, Cooldown: 5 * time.Second, Now: clock.Now}
	for round := range 3 { // two failures, then a success: never three in a row
		for range 2 {
			require.True(t, b.Allow())
			b.Failure()
		}
		require.True(t, b.Allow())
		b.Success()
		assert.Equal(t, BreakerClosed, b.State(), "round %d: a success resets the count", round)
	}
	for range 3 {
		require.True(t, b.Allow())
		b.Failure()
	}
	assert.Equal(t, BreakerOpen, b.State(), "three in a row open it")
}

func TestPoolBreakerOpensAndRecovers(t *testing.T) {
	addr, _ := startServer(t)
	clock := &fakeClock{now: time.Unix(1000, 0)}
	var down atomic.Bool
	var dials atomic.Int64
	cfg := testPoolConfig(addr)
	cfg.BreakerThreshold = 3
	cfg.Now = clock.Now
	cfg.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		if down.Load() {
			return nil, errors.New("connection refused (simulated)")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, a)
	}
	p := newTestPool(t, cfg)

	down.Store(true)
	for range 3 {
		_, err := p.Get(context.Background())
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrCircuitOpen)
	}
	_, err := p.Get(context.Background())
	require.ErrorIs(t, err, ErrCircuitOpen, "three failures opened the breaker")
	assert.Equal(t, int64(3), dials.Load(), "an open breaker does not dial")
	assert.Equal(t, "open", p.Stats().Breaker)
	assert.Equal(t, int64(1), p.Stats().Rejected)

	down.Store(false) // the server is back, but the breaker waits for its cooldown
	_, err = p.Get(context.Background())
	require.ErrorIs(t, err, ErrCircuitOpen)
	clock.Advance(cfg.BreakerCooldown)
	c := get(t, p) // the half-open trial succeeds
	roundTrip(t, c, "recovered")
	assert.Equal(t, "closed", p.Stats().Breaker)
	c.Close()
}

// countingListener counts the server's open connections and their peak.
type countingListener struct {
	net.Listener
	open, peak atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

func TestPoolThousandGoroutinesNeverExceedTen(t *testing.T) {
	srv := NewServer(quietLog())
	var cl *countingListener
	addr := testutil.StartServer(t, func(ln net.Listener) error {
		cl = &countingListener{Listener: ln}
		return srv.Serve(cl)
	}, srv.Shutdown)
	cfg := testPoolConfig(addr)
	cfg.MaxConns = 10
	cfg.AcquireTimeout = 30 * time.Second // generous: correctness, not speed, is tested
	p := newTestPool(t, cfg)

	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 1000 {
		wg.Go(func() {
			c, err := p.Get(context.Background())
			if err != nil {
				failed.Add(1)
				return
			}
			line := string(rune('a' + i%26))
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			replies, err := exchange(c, []string{line})
			if err != nil || replies[0] != "echo: "+line {
				failed.Add(1)
			}
			c.Close()
		})
	}
	wg.Wait()
	s := p.Stats()
	assert.Zero(t, failed.Load())
	assert.LessOrEqual(t, s.Peak, 10, "the pool never had more than 10 open")
	assert.LessOrEqual(t, s.Created, int64(10))
	assert.LessOrEqual(t, cl.peak.Load(), int64(10), "the server never saw more than 10 at once")
	assert.Equal(t, 0, s.InUse)
	assert.Equal(t, 0, s.Waiting)
	t.Logf("1000 requests: %s", s)
}

func TestPoolClose(t *testing.T) {
	addr, _ := startServer(t)
	p, err := NewPool(testPoolConfig(addr))
	require.NoError(t, err)
	inUse, idle := get(t, p), get(t, p)
	idle.Close()
	require.NoError(t, p.Close())
	_, err = p.Get(context.Background())
	assert.ErrorIs(t, err, ErrPoolClosed)
	roundTrip(t, inUse, "still mine") // a connection in use keeps working
	inUse.Close()                     // and is closed when given back
	s := p.Stats()
	assert.Equal(t, int64(2), s.Closed)
	assert.Equal(t, 0, s.InUse+s.Idle)
}

// TestPooledConnConformance runs x/net/nettest's net.Conn conformance suite
// on a PooledConn. The pool is closed once the connection is lent, so that
// the suite's Close really closes it (the peer must see EOF); everything
// else (deadlines, concurrent calls, Close unblocking Read and Write) goes
// through PooledConn's own code.
func TestPooledConnConformance(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}()
		p, err := NewPool(testPoolConfig(ln.Addr().String()))
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		pc, err := p.Get(context.Background())
		p.Close()
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		sc, ok := <-accepted
		ln.Close()
		if !ok {
			pc.Close()
			return nil, nil, nil, errors.New("accept failed")
		}
		return pc, sc, func() { pc.Close(); sc.Close() }, nil
	})
}

func TestPoolDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := poolDemoOptions{clients: 10, requests: 30, every: 5 * time.Millisecond, cfg: DefaultPoolConfig("")}
	o.cfg.MaxConns, o.cfg.MinIdle = 5, 2
	// Generous: during the load phase a Get must never time out, even on a
	// busy machine; the exhaustion phase then waits this long once.
	o.cfg.AcquireTimeout = time.Second
	o.cfg.BreakerThreshold, o.cfg.BreakerCooldown = 2, 20*time.Millisecond
	var out strings.Builder
	require.NoError(t, poolDemo(ctx, &out, o), out.String())
	for _, want := range []string{
		"idle=2 waiting=0 peak=2 created=2",        // warm-up
		"done: 300 requests, 0 failed",             // load
		"connection pool exhausted: no connection", // exhaustion
		"Get 3 after",           // breaker: threshold+1 tries
		"circuit breaker open",  //
		"the trial dial worked", // half-open, then closed
		"breaker=closed",
	} {
		assert.Contains(t, out.String(), want)
	}
}

// stopOnTick is the demo's output; at the first live stats line of the load
// phase it stops the server, once, so the server dies in the middle of the run.
type stopOnTick struct {
	strings.Builder
	stop func()
	once sync.Once
}

func (w *stopOnTick) Write(b []byte) (int, error) {
	if strings.Contains(w.String(), "2. load") && strings.Contains(string(b), "s in_use=") {
		w.once.Do(w.stop)
	}
	return w.Builder.Write(b)
}

// The server dies while 20 clients are sending: requests then fail with
// errors of several types (EOF, reset, refused dial, open breaker). The demo
// must report the first one and return an error, not panic (it once stored
// them in an atomic.Value, which panics on a second concrete type).
func TestPoolDemoServerDiesMidRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var srv demoServer
	require.NoError(t, srv.start(ctx, "127.0.0.1:0"))
	addr, stop := srv.addr, srv.stop
	t.Cleanup(stop)
	o := poolDemoOptions{addr: addr, clients: 20, requests: 5000, every: time.Millisecond, cfg: DefaultPoolConfig(addr)}
	o.cfg.AcquireTimeout = time.Second
	o.cfg.BreakerThreshold, o.cfg.BreakerCooldown = 2, 10*time.Millisecond
	out := &stopOnTick{stop: stop}
	err := poolDemo(ctx, out, o)
	require.Error(t, err, out.String())
	assert.Regexp(t, `^\d+ requests failed, the first: `, err.Error())
	assert.NotContains(t, out.String(), "3. exhaustion")
}

// TestLoadPoolFirstErrorOfAnyType: the load phase keeps the first failure,
// whatever its concrete type. Against a port nobody listens on, the first
// Gets fail to dial (a wrapped error), then the open breaker rejects the
// rest (ErrCircuitOpen, another type).
func TestLoadPoolFirstErrorOfAnyType(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := testPoolConfig(ln.Addr().String())
	ln.Close() // refused from now on
	cfg.BreakerThreshold = 1
	p := newTestPool(t, cfg)
	o := poolDemoOptions{clients: 4, requests: 5, every: time.Second, cfg: cfg}
	err = loadPool(ctx, io.Discard, p, o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "20 requests failed, the first:")
}

// TestPoolFailedDialFreesItsSlot: a Get whose dial fails gives its slot
// back: with MaxConns 1, a refused dial does not leave the pool full.
func TestPoolFailedDialFreesItsSlot(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nobody listens there now: dials are refused
	cfg := testPoolConfig(addr)
	cfg.MaxConns = 1
	cfg.AcquireTimeout = 50 * time.Millisecond
	p := newTestPool(t, cfg)
	_, err = p.Get(context.Background())
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrPoolExhausted)
	assert.Equal(t, 0, p.Stats().InUse, "the failed dial's slot is free again")
	_, err = p.Get(context.Background())
	assert.NotErrorIs(t, err, ErrPoolExhausted, "the next Get dials again instead of waiting for a slot")
}

// TestPoolZeroMeansNoLimit: as for every flag of the course, zero is "no
// limit" or "never": -max 0 dials whenever no idle connection is free,
// -idle-timeout 0 never closes an idle one, -threshold 0 never opens the
// breaker, -timeout 0 waits for as long as the caller's context allows.
func TestPoolZeroMeansNoLimit(t *testing.T) {
	t.Run("max", func(t *testing.T) {
		addr, _ := startServer(t)
		cfg := testPoolConfig(addr)
		cfg.MaxConns = 0
		p := newTestPool(t, cfg)
		var held []*PooledConn
		for range 150 { // more than the default's 100
			held = append(held, get(t, p))
		}
		assert.Equal(t, 150, p.Stats().InUse)
		for _, c := range held {
			c.Close()
		}
	})
	t.Run("idle-timeout", func(t *testing.T) {
		addr, _ := startServer(t)
		cfg := testPoolConfig(addr)
		cfg.IdleTimeout = 0
		p := newTestPool(t, cfg)
		get(t, p).Close()
		require.Never(t, func() bool { return p.Stats().Idle == 0 }, 50*time.Millisecond, time.Millisecond,
			"an idle connection was reaped with -idle-timeout 0")
	})
	t.Run("threshold", func(t *testing.T) {
		cfg := testPoolConfig("127.0.0.1:1")
		cfg.BreakerThreshold = 0
		cfg.Dial = func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("connection refused (simulated)")
		}
		p := newTestPool(t, cfg)
		for range 20 {
			_, err := p.Get(context.Background())
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrCircuitOpen)
		}
		assert.Equal(t, "closed", p.Stats().Breaker)
	})
	t.Run("timeout", func(t *testing.T) {
		addr, _ := startServer(t)
		cfg := testPoolConfig(addr)
		cfg.MaxConns, cfg.AcquireTimeout = 1, 0
		p := newTestPool(t, cfg)
		held := get(t, p)
		got := make(chan error, 1)
		go func() {
			c, err := p.Get(context.Background()) // no timeout: waits for held
			if err == nil {
				c.Close()
			}
			got <- err
		}()
		require.Eventually(t, func() bool { return p.Stats().Waiting == 1 }, 10*time.Second, time.Millisecond)
		require.Never(t, func() bool { return len(got) > 0 }, 50*time.Millisecond, time.Millisecond,
			"Get gave up with -timeout 0")
		held.Close()
		select {
		case err := <-got:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the waiting Get never got the connection given back")
		}
	})
}
