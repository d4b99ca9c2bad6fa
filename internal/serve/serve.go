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
// The Core also writes each connection's two log lines, accepted and closed,
// and names why the connection ended once: that one reason feeds both the
// closed line and the Observer (the metrics), so they cannot disagree.
//
// A chapter's server builds its Core once, in its constructor, with
// everything it will need (New), and hands it a handler:
//
//	s.core = serve.New(serve.Config{Log: log, MaxConns: n, Observer: obs})
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
	Closed(reason string)        // it ended (reason as in its closed line) and was closed
	AcceptFailed(temporary bool) // Accept returned an error
	LimitReached()               // MaxConns connections are open; Accept waits
	Draining()                   // shutdown began
	DrainTimedOut()              // Wait gave up and closed the connections left
}

// Config is everything a Core needs, given once to New.
type Config struct {
	// Log receives the accept loop's warnings (retries, the connection
	// limit) and each connection's accepted and closed lines. nil means
	// slog.Default().
	Log *slog.Logger
	// MaxConns bounds the connections served at once; 0 means no limit.
	// At the limit the loop stops calling Accept, so new clients wait in
	// the kernel's accept queue (their handshake done, nobody reading) until
	// a connection ends.
	MaxConns int
	// Observer, if set, sees the loop's events: metrics hang here
	// (internal/telemetry). nil costs nothing.
	Observer Observer
	// AcceptedAttrs are added to each connection's accepted line (chapter 2
	// names the step of the server's life it teaches).
	AcceptedAttrs []any
	// OnRetry, if set, sees each temporary accept error and the wait chosen
	// for it (tests use it).
	OnRetry func(err error, delay time.Duration)
}

// Handler serves one connection and reports how it ended. The Core closes
// the connection after it returns.
type Handler func(conn net.Conn) End

// End is how a connection ended, as its handler saw it.
type End struct {
	// Err is the error that ended the connection; nil means the peer
	// closed its side and got everything it asked for.
	Err error
	// Reason is the chapter's own name for the end (too_long, busy, ...);
	// "" lets Reason name it from Err.
	Reason string
	// Attrs are added to the closed line: bytes_in and bytes_out, lines...
	Attrs []any
}

// Core is the part of a server that accepts and tracks connections. Build
// it with New; the zero value works too, with Config's zero values.
type Core struct {
	cfg Config // read-only after New: Serve and Shutdown may race

	initOnce sync.Once
	done     chan struct{} // closed when shutdown begins
	slots    chan struct{} // a token per connection served (MaxConns > 0)
	draining atomic.Bool

	mu    sync.Mutex // guards ln against Shutdown
	ln    net.Listener
	conns conntrack.Set
}

// New returns a Core configured once and for all by cfg.
func New(cfg Config) *Core {
	c := &Core{cfg: cfg}
	c.init()
	return c
}

func (c *Core) init() {
	c.initOnce.Do(func() {
		c.done = make(chan struct{})
		if c.cfg.MaxConns > 0 {
			c.slots = make(chan struct{}, c.cfg.MaxConns)
		}
	})
}

func (c *Core) log() *slog.Logger {
	if c.cfg.Log != nil {
		return c.cfg.Log
	}
	return slog.Default()
}

// ANCHOR: serve
// Serve accepts connections on ln and runs handle(conn) in a goroutine of
// its own for each. When handle returns, the connection is closed and
// forgotten. Serve returns ErrServerClosed after Shutdown, or the first
// permanent accept error; either way it has closed ln.
func (c *Core) Serve(ln net.Listener, handle Handler) error {
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
	return true
}

// start registers conn before its goroutine starts, so that Shutdown waits
// for it, and refuses it once Shutdown has begun.
func (c *Core) start(conn net.Conn, handle Handler) bool {
	if !c.conns.Add(conn) {
		conn.Close()
		c.release()
		return false
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer.Accepted()
	}
	// Logged here, on the accept loop's goroutine: formatting a line grows
	// a stack past 2 KiB, and a connection's goroutine would keep the
	// bigger stack for its whole life.
	attrs := append([]any{"peer", conn.RemoteAddr().String()}, c.cfg.AcceptedAttrs...)
	c.log().Info("accepted", attrs...)
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

// retry decides what an accept error means: after Shutdown, ErrServerClosed;
// a temporary error waits (Shutdown cuts the wait short) and returns nil, so
// the loop calls Accept again; any other error is returned, the listener is
// broken. A run of failures is logged once, when it starts.
func (c *Core) retry(err error, b *backoff) error {
	if c.Draining() {
		return ErrServerClosed
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer.AcceptFailed(Temporary(err))
	}
	if !Temporary(err) {
		return err
	}
	b.delay = min(max(2*b.delay, MinRetryDelay), MaxRetryDelay)
	if b.failures++; b.failures == 1 {
		b.since = time.Now()
		c.log().Warn("accept failed; backing off",
			"err", err, "retry_in", b.delay, "max_delay", MaxRetryDelay)
	}
	if c.cfg.OnRetry != nil {
		c.cfg.OnRetry(err, b.delay)
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
	c.log().Warn("connection limit reached; new clients wait in the accept queue", "max_conns", c.cfg.MaxConns)
	if c.cfg.Observer != nil {
		c.cfg.Observer.LimitReached()
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

// run is a connection's goroutine: the handler, then the closed line and
// the bookkeeping. One deferred call keeps this frame small: a goroutine
// starts with a 2 KiB stack, and ch04's tuned server keeps idle
// connections within it.
func (c *Core) run(conn net.Conn, handle Handler) {
	defer c.finish(conn)
	start := time.Now()
	c.ended(conn, start, handle(conn))
}

// ended names why conn ended, once, and gives that one reason to both the
// closed line and the Observer.
func (c *Core) ended(conn net.Conn, start time.Time, end End) {
	reason := end.Reason
	if reason == "" {
		reason = Reason(end.Err, c.Draining())
	}
	LogClosed(c.log(), conn.RemoteAddr().String(), start, reason, end.Err, end.Attrs...)
	if c.cfg.Observer != nil {
		c.cfg.Observer.Closed(reason)
	}
}

// finish closes conn and forgets it; Remove comes last, as Shutdown's Wait
// ends with it.
func (c *Core) finish(conn net.Conn) {
	conn.Close()
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
	if c.cfg.Observer != nil {
		c.cfg.Observer.Draining()
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
	if err != nil && c.cfg.Observer != nil {
		c.cfg.Observer.DrainTimedOut()
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
