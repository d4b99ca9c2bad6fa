package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/conntrack"
)

// ErrServerClosed is returned by Serve after Shutdown, as net/http does.
var ErrServerClosed = errors.New("echo: server closed")

// drainQuiet is how long a connection may stay silent once the server is
// draining before it counts as finished: long enough for a client that is
// still streaming to keep going, short enough that idle clients do not hold
// up the shutdown.
const drainQuiet = 250 * time.Millisecond

// ANCHOR: server-type
// Server is an RFC 862 echo server: every byte a client sends comes back
// unchanged and in order, until the client closes. The zero value is ready to
// use (no connection limit, no idle timeout, logs to stderr).
type Server struct {
	MaxConns    int           // connections served at once; 0 means no limit
	IdleTimeout time.Duration // close a peer that neither sends nor reads this long; 0 means never
	Log         *slog.Logger  // one line per connection opened and closed

	// spliceCopy makes each connection echo with io.Copy(conn, conn), which on
	// Linux moves the bytes with splice(2) and never into user space. The
	// benchmarks compare it with the buffered loop; see echoSplice.
	spliceCopy bool

	initOnce sync.Once
	slots    chan struct{} // a token per connection being served (MaxConns > 0)
	done     chan struct{} // closed when Shutdown starts
	draining atomic.Bool   // set when Shutdown starts, read on every echo

	mu    sync.Mutex // guards ln
	ln    net.Listener
	conns conntrack.Set // the connections being served, for Shutdown

	stats counters
}

// ANCHOR_END: server-type

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.MaxConns > 0 {
			s.slots = make(chan struct{}, s.MaxConns)
		}
		s.done = make(chan struct{})
		if s.Log == nil {
			s.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
	})
}

// ANCHOR: accept-loop
// Serve accepts connections on ln and echoes each in its own goroutine. It
// returns ErrServerClosed after Shutdown, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.conns.Closed() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()

	backoff := time.Duration(0)
	for {
		// With a limit, take a slot before accepting: when all slots are
		// taken, new clients wait in the kernel's accept queue (their
		// handshake is complete, but nobody reads from them yet) until a
		// connection ends. This is what golang.org/x/net/netutil's
		// LimitListener does; doing it here keeps conn a *net.TCPConn, so
		// CloseWrite and splice stay available.
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			case <-s.done:
				return ErrServerClosed
			}
		}
		c, err := ln.Accept()
		if err != nil {
			s.release()
			select {
			case <-s.done:
				return ErrServerClosed
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Anything else (too many open files, a connection aborted
			// before we accepted it) is transient: back off and retry,
			// as net/http does, rather than kill the server.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.Log.Warn("accept failed, retrying", "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		if !s.conns.Add(c) { // registered before its goroutine starts, for Shutdown
			c.Close()
			s.release()
			return ErrServerClosed
		}
		// Logged here rather than in handle: formatting a log line needs a
		// deep stack, and a goroutine's stack, once grown, stays grown
		// while the connection waits. handle keeps to a small one.
		s.Log.Info("open", "peer", c.RemoteAddr().String())
		// The first idle deadline is set here too: updating a runtime timer
		// takes more stack than a connection's goroutine needs to wait.
		var deadline time.Time
		s.refreshDeadline(c, &deadline)
		go s.handle(c, deadline)
	}
}

// ANCHOR_END: accept-loop

func (s *Server) release() {
	if s.slots != nil {
		<-s.slots
	}
}

// ANCHOR: handle
// handle serves one connection and logs one line when it closes, with the
// peer, how long it lasted and how many bytes it echoed.
func (s *Server) handle(c net.Conn, deadline time.Time) {
	defer s.conns.Remove(c) // last: Shutdown's wait ends here
	defer s.release()
	defer c.Close()

	start := time.Now()
	peer := c.RemoteAddr().String()
	s.stats.open.Add(1)
	s.stats.total.Add(1)
	defer s.stats.open.Add(-1)

	var n byteCount
	var err error
	if s.spliceCopy {
		err = s.echoSplice(c, &n)
	} else {
		err = s.echo(c, &n, deadline)
	}
	s.logClose(peer, start, n, err)
}

// logClose writes the connection's close line and counts errors. It is a
// function of its own, not part of handle, for memory's sake: handle's stack
// frame is reserved for the connection's whole life, and the log call's
// temporaries would make it almost twice as large.
func (s *Server) logClose(peer string, start time.Time, n byteCount, err error) {
	// ANCHOR: exercise-conn-log
	reason := closeReason(err, s.draining.Load())
	attrs := []any{"peer", peer, "duration", time.Since(start).Round(time.Microsecond),
		"bytes_in", n.in, "bytes_out", n.out, "reason", reason}
	if reason == "error" {
		s.stats.errors.Add(1)
		s.Log.Warn("close", append(attrs, "err", err)...)
	} else {
		s.Log.Info("close", attrs...)
	}
	// ANCHOR_END: exercise-conn-log
}

// ANCHOR_END: handle

// closeReason names why a connection ended, for the close log line.
func closeReason(err error, draining bool) string {
	var ne net.Error
	switch {
	case err == nil:
		return "eof" // the client closed (or half-closed) and got everything back
	case errors.As(err, &ne) && ne.Timeout() && draining:
		return "drained"
	case errors.As(err, &ne) && ne.Timeout():
		return "idle"
	case errors.Is(err, net.ErrClosed):
		return "shutdown" // closed by Shutdown when the drain timeout ran out
	default:
		return "error"
	}
}

// byteCount counts one connection's traffic.
type byteCount struct{ in, out int64 }

// Buffer sizes. Every connection owns a small buffer, enough for a typed line
// or a small message and cheap to keep while the connection is idle. When a
// read fills it, data is streaming, so the connection borrows a large buffer
// from a pool, and gives it back as soon as a read comes back short (the
// socket is drained), so that an idle connection never pins 64 KiB.
const (
	smallBufSize = 512
	largeBufSize = 64 << 10
)

var largeBufs = sync.Pool{New: func() any { b := make([]byte, largeBufSize); return &b }}

// ANCHOR: echo-loop
// echo copies everything c sends back to c. It returns nil when the client
// has closed its side (a half-close included: what was sent before it is
// echoed in full, then handle closes the connection). deadline is the one
// the accept loop set on c.
func (s *Server) echo(c net.Conn, n *byteCount, deadline time.Time) error {
	small := make([]byte, smallBufSize)
	buf := small
	var large *[]byte // borrowed from largeBufs while data streams in
	defer func() {
		if large != nil {
			largeBufs.Put(large)
			s.stats.largeBufs.Add(-1)
		}
	}()
	for {
		s.refreshDeadline(c, &deadline)
		r, rerr := c.Read(buf)
		if r > 0 {
			n.in += int64(r)
			s.stats.in.Add(int64(r))
			// Write returns only when all r bytes are in the kernel's send
			// buffer. A client that never reads fills it and Write blocks:
			// we stop reading, the client's own writes block in turn, and
			// nothing piles up in this process (back-pressure).
			w, werr := c.Write(buf[:r])
			n.out += int64(w)
			s.stats.out.Add(int64(w))
			if werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		// ANCHOR: exercise-pool
		switch {
		case r == len(buf) && large == nil: // the small buffer filled up: bulk data
			large = largeBufs.Get().(*[]byte)
			buf = *large
			s.stats.largeBufs.Add(1)
			s.stats.borrows.Add(1)
		case r < len(buf) && large != nil: // the socket is drained: give the large one back
			largeBufs.Put(large)
			large, buf = nil, small
			s.stats.largeBufs.Add(-1)
		}
		// ANCHOR_END: exercise-pool
	}
}

// ANCHOR_END: echo-loop

// ANCHOR: deadline
// refreshDeadline keeps the connection's deadline about IdleTimeout ahead, so
// that only a peer silent for that long times out, not a long busy one; while
// the server drains, the read deadline is much shorter. deadline is the one
// last set on c.
func (s *Server) refreshDeadline(c net.Conn, deadline *time.Time) {
	// ANCHOR: exercise-idle-deadline
	if s.IdleTimeout > 0 {
		// Setting a deadline updates a runtime timer, which costs about as
		// much as echoing a small message. So a busy connection moves it
		// only once an eighth of the window has passed: a silent peer is
		// closed after between 7/8 and all of IdleTimeout.
		now := time.Now()
		if deadline.Sub(now) < s.IdleTimeout-s.IdleTimeout/8 {
			*deadline = now.Add(s.IdleTimeout)
			_ = c.SetDeadline(*deadline)
		}
	}
	// ANCHOR_END: exercise-idle-deadline
	// Checked after setting the idle deadline: if Shutdown started in
	// between, its shorter deadline must win, and this line restores it.
	if s.draining.Load() {
		_ = c.SetReadDeadline(time.Now().Add(drainQuiet))
	}
}

// ANCHOR_END: deadline

// ANCHOR: shutdown
// Shutdown stops accepting, then drains: each connection finishes echoing
// what it has read and is closed once its client has been silent for
// drainQuiet (or has closed). Connections still open when ctx ends are closed
// at once, and Shutdown returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	first := s.conns.Close() // no new connections from now on
	ln := s.ln
	s.mu.Unlock()
	if first {
		s.draining.Store(true) // before the deadlines below: see refreshDeadline
		close(s.done)
		if ln != nil {
			ln.Close()
		}
	}
	// Wake connections blocked in Read so they notice the drain.
	s.conns.Each(func(c net.Conn) { _ = c.SetReadDeadline(time.Now().Add(drainQuiet)) })
	return s.conns.Wait(ctx) // closes what is still open when ctx ends
}

// ANCHOR_END: shutdown

// Stats are the server's counters, published by expvar under "echo".
type Stats struct {
	ConnsOpen  int64 `json:"conns_open"`
	ConnsTotal int64 `json:"conns_total"`
	BytesIn    int64 `json:"bytes_in"`
	BytesOut   int64 `json:"bytes_out"`
	Errors     int64 `json:"errors"`
	LargeBufs  int64 `json:"large_bufs"`    // 64 KiB buffers lent to streaming connections now
	Borrows    int64 `json:"large_borrows"` // ...and in all
}

type counters struct{ open, total, in, out, errors, largeBufs, borrows atomic.Int64 }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		ConnsOpen:  s.stats.open.Load(),
		ConnsTotal: s.stats.total.Load(),
		BytesIn:    s.stats.in.Load(),
		BytesOut:   s.stats.out.Load(),
		Errors:     s.stats.errors.Load(),
		LargeBufs:  s.stats.largeBufs.Load(),
		Borrows:    s.stats.borrows.Load(),
	}
}
