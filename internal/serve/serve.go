// Package serve is the course's one accept loop and its one Serve/Shutdown
// contract, the one chapter 3 teaches and every server of the course keeps.
// It follows net/http's Server:
//
//   - Serve always returns a non-nil error. After Shutdown it returns
//     ErrServerClosed; otherwise it returns the listener's permanent error.
//   - Accept errors worth retrying (Temporary: out of file descriptors, a
//     client that gave up in the queue...) are retried after a wait that
//     doubles from MinRetryDelay to MaxRetryDelay and resets after the next
//     success, so one busy moment neither kills the server nor spins a CPU.
//   - Every accepted connection is registered before its goroutine starts,
//     so Shutdown sees all of them: it stops accepting (new clients are
//     refused by the closed listener), then waits for the connections to
//     finish, and closes the stragglers when its context ends.
//
// A chapter's server keeps a Core and hands it a handler:
//
//	func (s *Server) Serve(ln net.Listener) error          { return s.core.Serve(ln, s.handle) }
//	func (s *Server) Shutdown(ctx context.Context) error   { return s.core.Shutdown(ctx) }
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/conntrack"
)

// ErrServerClosed is what Serve returns after Shutdown (or Close), as
// http.ErrServerClosed is for net/http.
var ErrServerClosed = errors.New("server closed")

// The bounds of the wait after a temporary accept error (net/http uses the
// same: 5 ms doubling to 1 s).
const (
	MinRetryDelay = 5 * time.Millisecond
	MaxRetryDelay = time.Second
)

// Observer sees what the accept loop does. Its methods must be quick and
// safe for concurrent use.
type Observer interface {
	Accepted()                   // a connection was accepted and is being served
	Done()                       // its handler returned and it was closed
	AcceptFailed(temporary bool) // Accept returned an error
	LimitReached()               // MaxConns connections are open; Accept waits
	Draining()                   // shutdown began
	DrainTimedOut()              // Wait gave up and closed the connections left
}

// Core is the part of a server that accepts and tracks connections. The
// zero value is ready to use. Set its fields when the server is built,
// before Serve or Shutdown can run: Shutdown reads Observer, and may run
// before Serve does.
type Core struct {
	// Log receives the accept loop's warnings (retries, the connection
	// limit). nil means slog.Default().
	Log *slog.Logger
	// MaxConns bounds the connections served at once; 0 means no limit.
	// At the limit the loop stops calling Accept, so new clients wait in
	// the kernel's accept queue (their handshake done, nobody reading) until
	// a connection ends.
	MaxConns int
	// OnRetry, if set, sees each temporary accept error and the wait chosen
	// for it (tests use it).
	OnRetry func(err error, delay time.Duration)
	// Observer, if set, sees the loop's events: metrics hang here
	// (internal/telemetry). Set it before Serve.
	Observer Observer

	initOnce sync.Once
	done     chan struct{} // closed when shutdown begins
	slots    chan struct{} // a token per connection served (MaxConns > 0)
	draining atomic.Bool

	mu    sync.Mutex // guards ln against Shutdown
	ln    net.Listener
	conns conntrack.Set
}

func (c *Core) init() {
	c.initOnce.Do(func() { c.done = make(chan struct{}) })
}

func (c *Core) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// ANCHOR: serve
// Serve accepts connections on ln and runs handle(conn) in a goroutine of
// its own for each. When handle returns, the connection is closed and
// forgotten. Serve returns ErrServerClosed after Shutdown, or the first
// permanent accept error; either way it has closed ln.
func (c *Core) Serve(ln net.Listener, handle func(net.Conn)) error {
	if !c.register(ln) {
		return ErrServerClosed // Shutdown ran first
	}
	defer c.unregister(ln)

	var b backoff // the wait after temporary errors, and how many in a row
	for {
		if !c.acquire() { // a slot, with -max-conns
			return ErrServerClosed
		}
		conn, err := ln.Accept()
		if err != nil {
			c.release()
			if err = c.retry(err, &b); err != nil {
				return err
			}
			continue
		}
		c.recovered(&b)
		if !c.start(conn, handle) {
			return ErrServerClosed
		}
	}
}

// ANCHOR_END: serve

// ANCHOR: register
// register records ln so that Shutdown can close it, unless Shutdown has
// already run: checking and recording under Shutdown's lock means one of the
// two always sees the other.
func (c *Core) register(ln net.Listener) bool {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns.Closed() {
		ln.Close()
		return false
	}
	c.ln = ln
	if c.MaxConns > 0 && c.slots == nil { // read here, by Serve's goroutine only
		c.slots = make(chan struct{}, c.MaxConns)
	}
	return true
}

// start registers conn before its goroutine starts, so that Shutdown waits
// for it, and refuses it once Shutdown has begun.
func (c *Core) start(conn net.Conn, handle func(net.Conn)) bool {
	if !c.conns.Add(conn) {
		conn.Close()
		c.release()
		return false
	}
	if c.Observer != nil {
		c.Observer.Accepted()
	}
	go c.run(conn, handle)
	return true
}

// ANCHOR_END: register

// unregister: the loop has ended, so the server is not ready any more, and
// ln is closed.
func (c *Core) unregister(ln net.Listener) {
	c.mu.Lock()
	c.ln = nil
	c.mu.Unlock()
	ln.Close()
}

// ANCHOR: retry
// backoff is the accept loop's state after temporary errors.
type backoff struct {
	delay    time.Duration // the last wait; 0 while Accept succeeds
	failures int           // temporary errors in a row
	since    time.Time     // when the first of them happened
}

// retry decides what an accept error means. After Shutdown it is the closed
// listener: ErrServerClosed. A temporary error waits (Shutdown interrupts
// the wait) and returns nil; the loop then calls Accept again. Any other
// error is returned: the listener is broken and the loop must end. A run of
// failures is logged once, when it starts, not once per failure.
func (c *Core) retry(err error, b *backoff) error {
	if c.Draining() {
		return ErrServerClosed
	}
	if c.Observer != nil {
		c.Observer.AcceptFailed(Temporary(err))
	}
	if !Temporary(err) {
		return err
	}
	b.delay = min(max(2*b.delay, MinRetryDelay), MaxRetryDelay)
	if b.failures++; b.failures == 1 {
		b.since = time.Now()
		c.log().Warn("accept failed; backing off", "err", err, "retry_in", b.delay, "max_delay", MaxRetryDelay)
	}
	if c.OnRetry != nil {
		c.OnRetry(err, b.delay)
	}
	t := time.NewTimer(b.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.done:
		return ErrServerClosed
	}
}

// ANCHOR_END: retry

// recovered ends a run of failures: Accept succeeded again.
func (c *Core) recovered(b *backoff) {
	if b.failures > 0 {
		c.log().Info("accepting again", "failures", b.failures, "after", time.Since(b.since).Round(time.Millisecond))
	}
	*b = backoff{}
}

// acquire takes a slot for the next connection when MaxConns is set, and
// logs once each time the limit is reached. It reports false if Shutdown
// began while it waited.
func (c *Core) acquire() bool {
	if c.slots == nil {
		return true
	}
	select {
	case c.slots <- struct{}{}:
		return true
	default:
	}
	c.log().Warn("connection limit reached; new clients wait in the accept queue", "max_conns", c.MaxConns)
	if c.Observer != nil {
		c.Observer.LimitReached()
	}
	select {
	case c.slots <- struct{}{}:
		return true
	case <-c.done:
		return false
	}
}

func (c *Core) release() {
	if c.slots != nil {
		<-c.slots
	}
}

// run is a connection's goroutine: the handler, then the bookkeeping. One
// deferred call keeps this frame small: a goroutine starts with a 2 KiB
// stack, and ch04's tuned server keeps idle connections within it.
func (c *Core) run(conn net.Conn, handle func(net.Conn)) {
	defer c.finish(conn)
	handle(conn)
}

// finish closes conn and forgets it; Remove comes last, as Shutdown's Wait
// ends with it.
func (c *Core) finish(conn net.Conn) {
	conn.Close()
	if c.Observer != nil {
		c.Observer.Done()
	}
	c.release()
	c.conns.Remove(conn)
}

// ANCHOR: shutdown
// Shutdown stops accepting, then waits for the connections being served to
// end. If ctx ends first, it closes them and returns ctx.Err(). Servers
// that must wake their connections (a handler blocked in Read) call
// BeginShutdown, wake them with Each, then Wait.
func (c *Core) Shutdown(ctx context.Context) error {
	c.BeginShutdown()
	return c.Wait(ctx)
}

// BeginShutdown marks the server as draining (Draining turns true first, so
// that a readiness check fails before new clients are refused), then makes
// Serve return and closes the listener. It reports whether this call was
// the first; later calls do nothing.
func (c *Core) BeginShutdown() (first bool) {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.conns.Close() {
		return false
	}
	c.draining.Store(true)
	if c.Observer != nil {
		c.Observer.Draining()
	}
	close(c.done)
	if c.ln != nil {
		c.ln.Close()
	}
	return true
}

// ANCHOR_END: shutdown

// Wait blocks until every connection has ended, or ctx ends: then it closes
// the connections still open, waits for their handlers to return, and
// returns ctx.Err().
func (c *Core) Wait(ctx context.Context) error {
	err := c.conns.Wait(ctx)
	if err != nil && c.Observer != nil {
		c.Observer.DrainTimedOut()
	}
	return err
}

// Draining reports whether shutdown has begun.
func (c *Core) Draining() bool { return c.draining.Load() }

// Ready reports whether the server accepts new connections: Serve has its
// listener and shutdown has not begun. A readiness probe (/readyz) serves it.
func (c *Core) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ln != nil && !c.conns.Closed()
}

// Done is closed when shutdown begins.
func (c *Core) Done() <-chan struct{} {
	c.init()
	return c.done
}

// Each calls f for every connection being served, under the set's lock: f
// must be quick (SetReadDeadline or Close).
func (c *Core) Each(f func(net.Conn)) { c.conns.Each(f) }

// OpenConns is the number of connections being served.
func (c *Core) OpenConns() int { return c.conns.Len() }
