package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/telemetry"
)

// drainQuiet is how long a connection may stay silent once the server is
// draining before it counts as finished: long enough for a client that is
// still streaming to keep going, short enough that idle clients do not hold
// up the shutdown.
const drainQuiet = 250 * time.Millisecond

// ANCHOR: server-type
// Server is an RFC 862 echo server: every byte a client sends comes back
// unchanged and in order, until the client closes. Build it with NewServer.
type Server struct {
	cfg   Config
	core  *serve.Core   // the accept loop, the connection limit, Shutdown
	serve serve.Handler // handle, or a variant of it (see NewServer)
	stats counters

	metrics   *telemetry.Metrics // nil unless Config.Metrics (metrics.go)
	roundTrip *telemetry.Echo
}

// Config is what a Server is built with: the serve command's flags.
type Config struct {
	// MaxConns is the number of connections served at once; 0: no limit.
	MaxConns int
	// IdleTimeout closes a client that neither sends nor reads this long;
	// 0: never.
	IdleTimeout time.Duration
	// MaxBytes ends a connection once its client has sent this many bytes
	// (quota.go, an exercise); 0: no limit.
	MaxBytes int64
	// Log gets the accept loop's lines and each connection's; nil: stderr.
	Log *slog.Logger

	// Tuned selects the variant of tuned.go, which keeps an idle
	// connection's memory to a minimum; Splice (with Tuned) echoes with
	// splice(2). The chapter's "Going further" pages measure both.
	Tuned, Splice bool
	// Metrics turns on the metrics (-metrics-addr): Server.Metrics
	// returns them for the HTTP endpoint (metrics.go).
	Metrics bool
}

// ANCHOR_END: server-type

// ANCHOR: new-server
// NewServer returns a server built once and for all by cfg: everything
// Serve and Shutdown read is set here, so they may run in any order.
func NewServer(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s := &Server{cfg: cfg}
	s.serve = s.handle
	if cfg.Tuned {
		s.serve = s.handleTuned
	}
	if cfg.MaxBytes > 0 {
		s.serve = s.withQuota(s.serve) // quota.go
	}
	var obs serve.Observer
	if cfg.Metrics {
		obs = s.observe() // metrics.go: wraps s.serve to time each echo
	}
	s.core = serve.New(serve.Config{
		Log: cfg.Log, MaxConns: cfg.MaxConns, Observer: obs,
	})
	return s
}

// ANCHOR_END: new-server

// ANCHOR: serve
// Serve accepts connections on ln and echoes each in a goroutine of its own,
// with the accept loop of chapter 3 (internal/serve), which also writes
// each connection's accepted and closed lines. It returns
// serve.ErrServerClosed after Shutdown, or the listener's permanent error.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.Tuned {
		ln = s.tunedListener(ln)
	}
	return s.core.Serve(ln, s.serve)
}

// ANCHOR_END: serve

// ANCHOR: handle
// handle serves one connection: the echo, then what its closed line
// reports besides why it ended: how many bytes went each way.
func (s *Server) handle(c net.Conn) serve.End {
	s.stats.total.Add(1)
	var n byteCount
	err := s.echo(c, &n)
	return serve.End{Err: err, Attrs: []any{"bytes_in", n.in, "bytes_out", n.out}}
}

// ANCHOR_END: handle

// byteCount counts one connection's traffic.
type byteCount struct{ in, out int64 }

// ANCHOR: buffers
// Buffer sizes. Every connection owns a small buffer, enough for a typed line
// or a small message and cheap to keep while the connection is idle. When a
// read fills it, data is streaming, so the connection borrows a large buffer
// from a pool, and gives it back as soon as a read comes back short (the
// socket is drained), so that an idle connection never pins 64 KiB.
const (
	smallBufSize = 512
	largeBufSize = 64 << 10
)

var largeBufs = sync.Pool{New: func() any {
	b := make([]byte, largeBufSize)
	return &b
}}

// ANCHOR_END: buffers

// ANCHOR: echo-loop
// echo copies everything c sends back to c. It returns nil when the client
// has closed its side (a half-close included: what was sent before it is
// echoed in full, then the connection is closed).
func (s *Server) echo(c net.Conn, n *byteCount) error {
	small := make([]byte, smallBufSize)
	buf := small
	var large *[]byte // borrowed from largeBufs while data streams in
	defer func() { s.giveBack(large) }()
	for {
		s.refreshDeadline(c)
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
		buf, large = s.pickBuffer(buf, small, large, r)
	}
}

// ANCHOR_END: echo-loop

// ANCHOR: pick-buffer
// pickBuffer chooses the buffer for the next read, after a read of r bytes
// into buf: a read that filled the small buffer means bulk data, so borrow a
// large one; a short read into the large one means the socket is drained, so
// give it back. It returns the next buffer and the large one still borrowed.
func (s *Server) pickBuffer(buf, small []byte, large *[]byte, r int,
) ([]byte, *[]byte) {
	switch {
	case r == len(buf) && large == nil: // the small buffer filled up: bulk data
		large = largeBufs.Get().(*[]byte)
		buf = *large
		s.stats.largeBufs.Add(1)
		s.stats.borrows.Add(1)
	case r < len(buf) && large != nil: // the socket is drained: give it back
		s.giveBack(large)
		large, buf = nil, small
	}
	return buf, large
}

// giveBack returns a borrowed large buffer (if any) to the pool.
func (s *Server) giveBack(large *[]byte) {
	if large != nil {
		largeBufs.Put(large)
		s.stats.largeBufs.Add(-1)
	}
}

// ANCHOR_END: pick-buffer

// ANCHOR: deadline
// refreshDeadline runs before every read. It moves the connection's
// deadline IdleTimeout ahead, so that only a peer silent for that long times
// out, not a long busy one. While the server drains, the read deadline is
// much shorter.
func (s *Server) refreshDeadline(c net.Conn) {
	if s.cfg.IdleTimeout > 0 {
		_ = c.SetDeadline(time.Now().Add(s.cfg.IdleTimeout))
	}
	// Checked after setting the idle deadline: if Shutdown started in
	// between, its shorter deadline must win, and this line restores it.
	if s.core.Draining() {
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
	s.core.BeginShutdown() // Draining() is true from here: see refreshDeadline
	// Wake connections blocked in Read so they notice the drain.
	s.core.Each(func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(drainQuiet))
	})
	return s.core.Wait(ctx) // closes what is still open when ctx ends
}

// ANCHOR_END: shutdown

// OpenConns is the number of connections being served (cli logs it when the
// drain begins).
func (s *Server) OpenConns() int { return s.core.OpenConns() }

// Stats are the server's counters, published by expvar under "echo".
type Stats struct {
	ConnsOpen  int64 `json:"conns_open"`
	ConnsTotal int64 `json:"conns_total"`
	BytesIn    int64 `json:"bytes_in"`
	BytesOut   int64 `json:"bytes_out"`
	LargeBufs  int64 `json:"large_bufs"`    // 64 KiB buffers lent to streaming connections now
	Borrows    int64 `json:"large_borrows"` // ...and in all
}

type counters struct{ total, in, out, largeBufs, borrows atomic.Int64 }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		ConnsOpen:  int64(s.core.OpenConns()),
		ConnsTotal: s.stats.total.Load(),
		BytesIn:    s.stats.in.Load(),
		BytesOut:   s.stats.out.Load(),
		LargeBufs:  s.stats.largeBufs.Load(),
		Borrows:    s.stats.borrows.Load(),
	}
}
