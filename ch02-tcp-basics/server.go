package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/serve"
)

// The protocol every server of this chapter speaks (the Go servers and
// python/ch02_tcp_server.py alike): the client sends lines ending in "\n"; the
// server answers each line with "echo: " + line + "\n". A trailing "\r" is
// dropped, so telnet and Windows clients work too, and a last line without
// "\n" is answered when the client closes. A line may be MaxLineBytes long
// (64 KiB, not counting its "\n"); a longer one gets "error: line too
// long\n" and the connection is closed: the peer controls line length, so
// the server must bound it.
const (
	ReplyPrefix  = "echo: "
	MaxLineBytes = 64 * 1024
	tooLongReply = "error: line too long\n"
)

// errLineTooLong ends a connection whose line is over the limit; its closed
// line says reason=too_long.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

// endReason is the closed line's reason for err when the protocol names it
// (too_long), or "" to let serve.Reason name it (eof, drained, error...).
func endReason(err error) string {
	if errors.Is(err, errLineTooLong) {
		return "too_long"
	}
	return ""
}

// ANCHOR: handle-lines
// handleLines is step 5 of the six steps (read/write). It reads lines from r
// and writes one reply per line to w, until EOF or an error. It works on any
// byte stream: a net.Conn, or the raw file descriptor of rawserver_linux.go.
//
// One Read is not one line: a line may arrive split over many reads, or many
// lines in one read. bufio.Scanner puts the bytes back together.
func handleLines(r io.Reader, w io.Writer) (lines int, err error) {
	sc := bufio.NewScanner(r)
	// The buffer holds a line and its "\n": one byte more than the longest.
	sc.Buffer(make([]byte, 4096), MaxLineBytes+1)
	for sc.Scan() {
		if _, err := w.Write(lineReply(sc.Bytes())); err != nil {
			return lines, err
		}
		lines++
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		_, _ = io.WriteString(w, tooLongReply)
		return lines, errLineTooLong
	}
	return lines, sc.Err() // nil at EOF: the client closed its side
}

// lineReply is the protocol's answer to one line (given without its "\n").
func lineReply(line []byte) []byte {
	line = trimCR(line)
	reply := make([]byte, 0, len(ReplyPrefix)+len(line)+1)
	return append(append(append(reply, ReplyPrefix...), line...), '\n')
}

// trimCR drops one trailing "\r" of a "\r\n" (telnet, Windows). The scanner
// already drops it from lines; a datagram (servePackets) still ends with it.
func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

// ANCHOR_END: handle-lines

// Server is the chapter's line server built on the net package. Like
// net/http.Server it has Serve(ln) and Shutdown(ctx), so tests run it on a
// listener of their own.
type Server struct {
	log  *slog.Logger
	core *serve.Core // the accept loop and the Serve/Shutdown contract
}

// NewServer returns a server that logs to log, built once: Serve and
// Shutdown read only what is set here, so they may run in any order. The
// Core writes each connection's accepted line (step 4) and its closed line.
func NewServer(log *slog.Logger) *Server {
	core := serve.New(serve.Config{Log: log, AcceptedAttrs: []any{"step", "4 accept"}})
	return &Server{log: log, core: core}
}

// ANCHOR: listen
// listenSteps performs steps 1 to 3. With the net package they are a single
// call: net.Listen creates the socket (1, socket()), sets SO_REUSEADDR, binds
// it to the address (2, bind()) and makes it a listening socket (3, listen()
// with the kernel's somaxconn as the backlog). rawserver_linux.go spells out
// the same calls one by one.
// (cli.Listen is net.ListenConfig.Listen plus a clearer "address already in
// use" message.)
func listenSteps(ctx context.Context, addr string) (net.Listener, error) {
	return cli.Listen(ctx, addr)
}

// ANCHOR_END: listen

// ANCHOR: serve
// Serve runs step 4 (accept) in a loop and starts one goroutine per
// connection: a slow client blocks only itself. The loop is the course's
// own (internal/serve, explained in chapter 3): it waits out temporary
// errors such as EMFILE and returns serve.ErrServerClosed after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.core.Serve(ln, s.handle)
}

// handle serves one connection: step 5 (read/write). The Core has logged
// step 4 (accepted) and writes the closed line when handle returns; step 6,
// close, sends our FIN (the kernel finishes the close).
func (s *Server) handle(conn net.Conn) serve.End {
	s.log.Info("serving", "step", "5 read/write", "peer", conn.RemoteAddr().String())
	lines, err := handleLines(conn, conn)
	conn.Close() // step 6
	attrs := []any{"step", "6 close", "lines", lines}
	return serve.End{Err: err, Reason: endReason(err), Attrs: attrs}
}

// ANCHOR_END: serve

// ANCHOR: shutdown
// Shutdown stops the server gracefully: it closes the listener (no new
// connections), then wakes every handler blocked in Read by setting a read
// deadline in the past, so each finishes the lines it already has, answers
// them and closes. If ctx ends first, the remaining connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.core.BeginShutdown()
	s.core.Each(func(c net.Conn) { _ = c.SetReadDeadline(time.Now()) })
	return s.core.Wait(ctx)
}

// ANCHOR_END: shutdown

// OpenConns is the number of connections being served (cli.Serve logs it).
func (s *Server) OpenConns() int { return s.core.OpenConns() }

// quietLog returns a logger that discards everything (for in-process servers
// in tests and demos).
func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
