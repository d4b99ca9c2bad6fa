package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/conntrack"
)

// ErrServerClosed is returned by Serve after Shutdown, like http.ErrServerClosed.
var ErrServerClosed = errors.New("server closed")

// Server prints "Received: <line>" for every line its clients send.
// The zero value is not ready: set MaxLine and Out (IdleTimeout 0 = none).
type Server struct {
	MaxLine     int           // longest line accepted, without its newline
	IdleTimeout time.Duration // a client silent this long is disconnected
	Out         io.Writer     // where "Received:" lines go (stdout)
	Log         *slog.Logger  // events, one line each (stderr)

	outMu sync.Mutex // one printed line at a time, whole
	mu    sync.Mutex // guards ln
	ln    net.Listener
	conns conntrack.Set // the connections being served, for Shutdown
}

// ANCHOR: accept
// Serve accepts connections on ln until Shutdown, handling each in its own
// goroutine: a slow or silent client never holds up the others.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock() // check and set under Shutdown's lock: it either sees ln or stops us
	if s.conns.Closed() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.conns.Closed() {
				return ErrServerClosed
			}
			// Running out of file descriptors (EMFILE) is temporary: wait
			// and retry, as net/http does, instead of spinning or dying.
			if isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.Log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		// Register the connection before its goroutine starts, so that
		// Shutdown waits for it (internal/conntrack).
		if !s.conns.Add(conn) {
			conn.Close() // accepted just as Shutdown began
			return ErrServerClosed
		}
		go func() {
			defer s.conns.Remove(conn)
			s.handle(conn)
		}()
	}
}

// ANCHOR_END: accept

// ANCHOR: handle
// handle reads lines until the client closes. bufio.Scanner collects bytes
// across as many reads as it takes, so a line that arrives in several TCP
// segments is still printed once, whole.
func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	peer := conn.RemoteAddr().String()
	start := time.Now()
	s.Log.Info("connection opened", "peer", peer)

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
	s.logEnd(conn, sc.Err(), "peer", peer, "lines", lines, "duration", time.Since(start).Round(time.Microsecond))
}

// ANCHOR_END: handle

// logEnd logs why a connection ended, telling the client too when it was
// the client's fault.
func (s *Server) logEnd(conn net.Conn, err error, attrs ...any) {
	var ne net.Error
	switch {
	case err == nil:
		s.Log.Info("connection closed", attrs...)
	case errors.Is(err, bufio.ErrTooLong):
		fmt.Fprintf(conn, "error: line longer than %d bytes; closing\n", s.MaxLine)
		lingeringClose(conn)
		s.Log.Warn("line too long; connection closed", append(attrs, "max", s.MaxLine)...)
	case errors.As(err, &ne) && ne.Timeout():
		s.Log.Info("idle timeout; connection closed", append(attrs, "idle", s.IdleTimeout)...)
	case errors.Is(err, net.ErrClosed):
		s.Log.Info("connection closed by shutdown", attrs...)
	default:
		s.Log.Warn("connection failed", append(attrs, "err", err)...)
	}
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

// ANCHOR: shutdown
// Shutdown stops accepting, then waits for open connections to finish. If ctx
// ends first, it closes them and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.conns.Close() // from now on, Add refuses connections
	if s.ln != nil {
		s.ln.Close() // Accept fails, and Serve returns ErrServerClosed
	}
	s.mu.Unlock()
	return s.conns.Wait(ctx)
}

// ANCHOR_END: shutdown

// ANCHOR: serve-until-done
// ServeUntilDone runs srv on ln until ctx is cancelled (Ctrl-C), then shuts
// down gracefully, giving open connections up to drain to finish.
func ServeUntilDone(ctx context.Context, srv *Server, ln net.Listener, drain time.Duration) error {
	cli.LogListening(srv.Log, ln)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err // the listener failed for good
	case <-ctx.Done():
	}
	srv.Log.Info("shutting down", "drain", drain)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Log.Warn("drain timeout: closed remaining connections")
	}
	<-errc
	srv.Log.Info("stopped")
	return nil
}

// ANCHOR_END: serve-until-done

// isTemporary reports accept errors worth retrying: the process or system is
// out of file descriptors or memory, or a client gave up mid-handshake.
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.Is(err, os.ErrDeadlineExceeded)
}
