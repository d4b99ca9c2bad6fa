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

	"github.com/tcp-in-go/course/internal/serve"
)

// Server prints "Received: <line>" for every line its clients send.
// The zero value is not ready: set MaxLine and Out (IdleTimeout 0 = none).
type Server struct {
	MaxLine     int           // longest line accepted, without its newline
	IdleTimeout time.Duration // a client silent this long is disconnected
	Out         io.Writer     // where "Received:" lines go (stdout)
	Log         *slog.Logger  // events, one line each (stderr)

	outMu sync.Mutex // one printed line at a time, whole
	core  serve.Core // the accept loop and the Serve/Shutdown contract
}

// ANCHOR: serve
// Serve accepts connections on ln until Shutdown, handling each in its own
// goroutine: a slow or silent client never holds up the others. The loop
// itself is the course's one accept loop, internal/serve, whose contract
// chapter 3 explains: it returns serve.ErrServerClosed after Shutdown, and
// waits out errors such as "too many open files" instead of dying.
func (s *Server) Serve(ln net.Listener) error {
	s.core.Log = s.Log
	return s.core.Serve(ln, s.handle)
}

// Shutdown stops accepting, then waits for open connections to finish. If ctx
// ends first, it closes them and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.core.Shutdown(ctx) }

// OpenConns is the number of connections being served (cli.Serve logs it).
func (s *Server) OpenConns() int { return s.core.OpenConns() }

// ANCHOR_END: serve

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
