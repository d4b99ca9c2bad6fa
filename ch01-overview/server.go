package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Server prints "Received: <line>" for every line its clients send.
// The zero value is not ready: set MaxLine and Out (IdleTimeout 0 = none).
type Server struct {
	MaxLine     int           // longest line accepted, without its newline
	IdleTimeout time.Duration // a client silent this long is disconnected
	Out         io.Writer     // where "Received:" lines go (stdout)
	Log         *slog.Logger  // events, one line each (stderr)

	outMu sync.Mutex // one printed line at a time, whole

	mu       sync.Mutex            // guards the three fields below
	ln       net.Listener          // closed by Shutdown
	conns    map[net.Conn]struct{} // the connections being served
	shutting bool                  // Shutdown has begun
	wg       sync.WaitGroup        // one count per connection being served
}

// ErrServerClosed is what Serve returns after Shutdown, as net/http's
// Server does: the loop ended because it was asked to. It wraps
// net.ErrClosed, the error of the closed listener that ended it.
var ErrServerClosed = fmt.Errorf("server closed: %w", net.ErrClosed)

// ANCHOR: serve
// Serve is the accept loop: it waits for the next client, hands it to a
// goroutine of its own, and goes back to waiting, so a slow or silent
// client never holds up the others. It runs until Shutdown closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if !s.setListener(ln) {
		return ErrServerClosed // Shutdown came first
	}
	wait := time.Duration(0) // after a failed Accept, how long to wait
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return ErrServerClosed // Shutdown closed the listener
		}
		if err != nil {
			// Out of file descriptors, or a client that gave up while it
			// waited in the queue: not the end of the server. Wait a little
			// (longer each time in a row, at most a second) and try again,
			// rather than spin or die.
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			s.Log.Warn("accept failed; backing off", "err", err, "retry_in", wait)
			time.Sleep(wait)
			continue
		}
		wait = 0
		if !s.track(conn) {
			conn.Close() // accepted just as Shutdown began
			return ErrServerClosed
		}
		go s.serveConn(conn)
	}
}

// ANCHOR_END: serve

// ANCHOR: track
// track records a new connection so that Shutdown can wait for it, unless
// Shutdown has begun. Both check and record under s.mu: either Shutdown
// sees the connection, or the connection sees the shutdown.
func (s *Server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	return true
}

// serveConn is a connection's goroutine: the handler, then forget it.
func (s *Server) serveConn(conn net.Conn) {
	defer s.wg.Done()
	s.handle(conn)
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
}

// ANCHOR_END: track

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

// ANCHOR: shutdown
// Shutdown stops accepting (closing the listener makes Accept fail, which
// ends Serve), then waits for the connections being served to finish. If
// ctx ends first, it closes them, waits for their goroutines to return,
// and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for conn := range s.conns {
		conn.Close() // a handler blocked in Read returns at once
	}
	s.mu.Unlock()
	<-done
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
// handle reads lines until the client closes. bufio.Scanner collects bytes
// across as many reads as it takes, so a line that arrives in several TCP
// segments is still printed once, whole.
func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	peer := conn.RemoteAddr().String()
	start := time.Now()
	s.Log.Info("accepted", "peer", peer)

	sc := bufio.NewScanner(conn)
	// ANCHOR: exercise-line-limit
	// A peer controls how long a line is; cap it (+1 for the newline) so one
	// client cannot make the server buffer without bound.
	sc.Buffer(make([]byte, 0, min(4096, s.MaxLine+1)), s.MaxLine+1)
	// ANCHOR_END: exercise-line-limit
	lines := 0
	for {
		// ANCHOR: exercise-idle-timeout
		// A deadline is a point in time, not a duration, so push it forward
		// before every line: a client that sends no complete line for
		// IdleTimeout is cut off, however long its session has been.
		if s.IdleTimeout > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		// ANCHOR_END: exercise-idle-timeout
		if !sc.Scan() {
			break
		}
		// sc.Text() is the line without its "\n", and without the "\r" that
		// nc -C, telnet and Windows clients send before it.
		s.printf("Received: %s\n", sc.Text())
		lines++
	}
	s.logEnd(conn, sc.Err(), peer, start, lines)
}

// ANCHOR_END: handle

// logEnd writes the connection's last line, with why it ended as reason,
// and tells the client too when it was the client's fault.
func (s *Server) logEnd(conn net.Conn, err error, peer string, start time.Time, lines int) {
	var ne net.Error
	reason := "error"
	switch {
	case err == nil:
		reason = "eof" // the client closed
	case errors.Is(err, bufio.ErrTooLong):
		fmt.Fprintf(conn, "error: line longer than %d bytes; closing\n", s.MaxLine)
		lingeringClose(conn)
		reason = "too_long"
	case errors.As(err, &ne) && ne.Timeout():
		reason = "idle"
	case errors.Is(err, net.ErrClosed):
		reason = "shutdown" // closed by Shutdown when the drain timeout ran out
	}
	attrs := []any{"peer", peer, "duration", time.Since(start).Round(time.Microsecond),
		"lines", lines, "reason", reason}
	if reason == "too_long" || reason == "error" {
		s.Log.Warn("closed", append(attrs, "err", err)...)
		return
	}
	s.Log.Info("closed", attrs...)
}

// ANCHOR: lingering-close
// lingeringClose makes sure the client can read our last words. Closing a
// socket whose receive buffer still holds unread bytes makes the kernel send
// a reset (RST) instead of a normal FIN, and a reset can destroy data the
// client has not read yet, our error message included. So: send FIN first
// (CloseWrite), then read and discard what the client still sends, bounded
// in bytes and time, and only then close.
func lingeringClose(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, 1<<20))
}

// ANCHOR_END: lingering-close

// printf writes one whole line to Out: goroutines never interleave bytes.
func (s *Server) printf(format string, a ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.Out, format, a...)
}
