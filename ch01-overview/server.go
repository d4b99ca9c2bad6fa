package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// ANCHOR: server-type
// Server prints "Received: <line>" for every line its clients send. Build it
// with NewServer.
type Server struct {
	cfg   Config
	done  chan struct{} // closed when Shutdown begins: ends a backoff wait
	outMu sync.Mutex    // one printed line at a time, whole

	mu       sync.Mutex            // guards ln, conns and shutting
	ln       net.Listener          // closed by Shutdown
	conns    map[net.Conn]struct{} // the connections being served
	shutting bool                  // Shutdown has begun
	wg       sync.WaitGroup        // one count per connection being served
}

// Config is what a Server is built with: the serve command's flags.
type Config struct {
	MaxLine     int           // longest line accepted, bytes before "\n"; at least 1
	IdleTimeout time.Duration // close a client silent this long; 0 means never
	Out         io.Writer     // where "Received:" lines go (stdout)
	Log         *slog.Logger  // events, one line each (stderr); nil: slog.Default()
}

// NewServer returns a server built once and for all by cfg: everything
// Serve and Shutdown read is set here, so they may run in any order.
func NewServer(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg, done: make(chan struct{}),
		conns: map[net.Conn]struct{}{}}
}

// ANCHOR_END: server-type

// ErrServerClosed is what Serve returns after Shutdown, as net/http's
// Server does: the loop ended because it was asked to. It wraps
// net.ErrClosed, the error of the closed listener that ended it.
var ErrServerClosed = fmt.Errorf("server closed: %w", net.ErrClosed)

// ANCHOR: serve
// Serve is the accept loop: it waits for the next client, hands it to a
// goroutine of its own and goes back to waiting, so that a slow client never
// holds up the others. It returns ErrServerClosed after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if !s.setListener(ln) { // for Shutdown to close, unless it came first
		return ErrServerClosed
	}
	var wait time.Duration // after a failed Accept, how long to wait
	for {
		// Accept waits for a connection whose handshake the kernel has done.
		conn, err := ln.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed // Shutdown closed the listener
			}
			if errors.Is(err, net.ErrClosed) {
				return err // closed by someone else: nothing to accept on
			}
			// Out of file descriptors, most often: wait, longer each time
			// in a row, and try again, rather than spin or die.
			wait = backoff(wait)
			s.cfg.Log.Warn("accept failed; backing off",
				"err", err, "retry_in", wait)
			select {
			case <-time.After(wait):
				continue
			case <-s.done: // Shutdown does not wait for the wait
				return ErrServerClosed
			}
		}
		wait = 0
		// Register it before its goroutine starts, so Shutdown waits for it.
		if !s.track(conn) { // Shutdown has begun: too late
			conn.Close()
			return ErrServerClosed
		}
		go s.serveConn(conn)
	}
}

// ANCHOR_END: serve

// ANCHOR: backoff
// backoff is the wait after a failed Accept, given the last one: 5 ms
// first, then twice the last, at most a second (net/http's numbers).
func backoff(last time.Duration) time.Duration {
	return min(max(2*last, 5*time.Millisecond), time.Second)
}

// ANCHOR_END: backoff

// ANCHOR: track
// track records a new connection so that Shutdown can wait for it, unless
// Shutdown has begun. It checks and records under s.mu, the lock Shutdown
// begins under: either Shutdown sees the connection, or the connection sees
// Shutdown; none slips between the two.
func (s *Server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		return false
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	return true
}

// serveConn is a connection's goroutine: serve it, then forget it.
func (s *Server) serveConn(conn net.Conn) {
	defer s.wg.Done()
	s.handle(conn)
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
}

// ANCHOR_END: track

// setListener records ln for Shutdown, unless Shutdown has begun: then it
// closes ln and reports false.
func (s *Server) setListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		ln.Close()
		return false
	}
	s.ln = ln
	return true
}

// shuttingDown reports whether Shutdown has begun.
func (s *Server) shuttingDown() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// ANCHOR: shutdown
// Shutdown stops the server gracefully: closing the listener makes Accept
// fail, which ends Serve, and the connections being served may finish. If
// ctx ends first, Shutdown closes them, waits for their goroutines to
// return, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutting {
		s.shutting = true
		close(s.done)
	}
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()

	// Wait for the connections to end, or for ctx, whichever comes first.
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
	}
	// Out of time: close what is left; a handler blocked in Read returns.
	s.mu.Lock()
	for conn := range s.conns {
		conn.Close()
	}
	s.mu.Unlock()
	<-finished
	return ctx.Err()
}

// ANCHOR_END: shutdown

// OpenConns is the number of connections being served (cli.Serve logs it).
func (s *Server) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ANCHOR: handle
// handle serves one connection: it prints every line the client sends until
// the client closes, falls silent or breaks a rule. bufio.Scanner collects
// bytes across as many reads as it takes, so a line that arrives in several
// TCP segments is still printed once, whole.
func (s *Server) handle(conn net.Conn) {
	start := time.Now()
	s.cfg.Log.Info("accepted", "peer", conn.RemoteAddr().String())
	sc := bufio.NewScanner(conn)
	// A peer controls how long a line is: cap the buffer (+1 for the "\n"),
	// so that no client can make the server buffer without bound.
	sc.Buffer(make([]byte, 0, min(4096, s.cfg.MaxLine+1)), s.cfg.MaxLine+1)
	lines := 0
	for {
		// A deadline is a point in time, not a duration: push it forward
		// before every line, so that only silence cuts a client off.
		if s.cfg.IdleTimeout > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		if !sc.Scan() {
			break
		}
		// The line without its "\n", and without the "\r" that nc -C,
		// telnet and Windows clients send before it.
		line := sc.Text()
		if quit(conn, line) { // exercise 1
			s.closed(conn, start, "quit", nil, lines)
			return
		}
		s.printf("Received: %s\n", line)
		lines++
	}
	s.end(conn, start, sc.Err(), lines)
}

// ANCHOR_END: handle

// ANCHOR: end
// end finishes a connection that stopped sending lines. It names why, for
// the connection's last log line, and when the client broke the line limit
// it says so before it closes, with a lingering close.
func (s *Server) end(conn net.Conn, start time.Time, err error, lines int) {
	var ne net.Error
	reason := "error" // a reset, most often
	switch {
	case err == nil:
		reason = "eof" // the client closed its side
	case errors.Is(err, bufio.ErrTooLong):
		reason = "too_long"
		fmt.Fprintf(conn, "error: line longer than %d bytes; closing\n",
			s.cfg.MaxLine)
		lingeringClose(conn)
	case errors.As(err, &ne) && ne.Timeout():
		reason = "idle" // the read deadline passed
	case errors.Is(err, net.ErrClosed):
		reason = "shutdown" // closed by Shutdown: the drain timeout ran out
	}
	s.closed(conn, start, reason, err, lines)
}

// ANCHOR_END: end

// ANCHOR: lingering-close
// lingeringClose makes sure the client can read our last words. Closing a
// socket whose receive buffer still holds unread bytes makes the kernel
// send a reset (RST) instead of a normal FIN, and a reset can destroy data
// the client has not read yet, our last line included. So: send FIN first
// (CloseWrite), then read and discard what the client still sends, at most
// 1 MiB for at most 2 s, and only then close.
func lingeringClose(conn net.Conn) {
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, 1<<20))
}

// ANCHOR_END: lingering-close

// ANCHOR: quit
// quit answers a line that says QUIT, in any case: it says "bye" and closes
// with a lingering close, so that the client reads the goodbye even if it
// sent more after QUIT. It reports whether the line was QUIT; any other line
// is the handler's to print.
func quit(conn net.Conn, line string) bool {
	// ANCHOR: exercise-quit
	if !strings.EqualFold(line, "QUIT") {
		return false
	}
	_, _ = io.WriteString(conn, "bye\n")
	lingeringClose(conn)
	return true
	// ANCHOR_END: exercise-quit
}

// ANCHOR_END: quit

// closed closes conn and writes its last line: why it ended, how long it
// lasted and how many lines it printed (the keys and order every server of
// the course uses). An end that is a failure is a warning, with the error.
func (s *Server) closed(conn net.Conn, start time.Time, reason string, err error,
	lines int) {
	conn.Close()
	line := []any{"peer", conn.RemoteAddr().String(),
		"duration", time.Since(start).Round(time.Microsecond),
		"lines", lines, "reason", reason}
	if err != nil && reason != "idle" && reason != "shutdown" {
		s.cfg.Log.Warn("closed", append(line, "err", err)...)
		return
	}
	s.cfg.Log.Info("closed", line...)
}

// printf writes one whole line to Out: goroutines never interleave bytes.
func (s *Server) printf(format string, a ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.cfg.Out, format, a...)
}
