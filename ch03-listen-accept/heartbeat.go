package main

// The heartbeat protocol and its server.
//
// The source text sends "PING" every 5 seconds so that a connection whose peer
// has vanished (power cut, cable pulled, a NAT that forgot the mapping) does
// not sit there forever: TCP itself says nothing while no data flows. The
// protocol is one line per message:
//
//	client: PING <seq>\n      server: PONG <seq>\n
//
// A peer that has not sent a line for Misses intervals is declared dead. Both
// sides apply the rule: the client to the server's PONGs, the server to the
// client's PINGs (so silent clients do not hold a server's resources forever).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/conntrack"
)

const (
	// DefaultInterval is the source text's heartbeat period.
	DefaultInterval = 5 * time.Second
	// DefaultMisses is how many intervals of silence make a peer dead.
	DefaultMisses = 3
	// maxLine bounds a protocol line: a peer must not make us buffer forever.
	maxLine = 1024
)

// ANCHOR: reply
// reply returns the answer to one protocol line, and whether the line was
// valid. "PING" and "PING <token>" are answered with "PONG" and the same
// token, so that a client can match each answer to its request.
func reply(line string) (string, bool) {
	// ANCHOR: exercise-reply
	cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r"), " ")
	switch {
	case cmd == "PING" && arg == "":
		return "PONG", true
	case cmd == "PING":
		return "PONG " + arg, true
	default:
		return "ERR unknown command", false
	}
	// ANCHOR_END: exercise-reply
}

// ANCHOR_END: reply

// Server is the heartbeat server. The zero value is not usable: set Interval
// and Misses (NewServer does).
type Server struct {
	Interval time.Duration
	Misses   int
	Log      *slog.Logger
	// OnAcceptRetry, if set, is called for each temporary accept error.
	OnAcceptRetry func(err error, delay time.Duration)

	mu       sync.Mutex // guards ln
	ln       net.Listener
	shutdown chan struct{} // closed by Shutdown
	conns    conntrack.Set // the connections being served, for Shutdown
}

// NewServer returns a server with the given interval and misses.
func NewServer(interval time.Duration, misses int, log *slog.Logger) *Server {
	return &Server{Interval: interval, Misses: misses, Log: log, shutdown: make(chan struct{})}
}

// Serve accepts connections on ln until Shutdown closes it. Temporary accept
// errors (too many open files...) are retried with a backoff, see accept.go.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	select {
	case <-s.shutdown: // Shutdown came first
		s.mu.Unlock()
		ln.Close()
		return nil
	default:
	}
	s.ln = ln
	s.mu.Unlock()
	err := acceptLoop(ln, s.shutdown, s.Log, s.OnAcceptRetry, func(c net.Conn) {
		if !s.conns.Add(c) { // raced with Shutdown: refuse the connection
			c.Close()
			return
		}
		go func() {
			defer s.conns.Remove(c)
			s.handle(c)
		}()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil // closed by Shutdown: a clean end
	}
	return err
}

// Shutdown stops accepting, closes every connection (a heartbeat connection
// never ends by itself, so there is nothing to drain) and waits for their
// goroutines, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	select {
	case <-s.shutdown:
	default:
		close(s.shutdown)
	}
	s.conns.Close() // no new connections from now on
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	s.conns.Each(func(c net.Conn) { c.Close() })
	return s.conns.Wait(ctx)
}

// ANCHOR: handle
// handle serves one connection: every line read is answered; a read deadline
// of Misses intervals, pushed forward after each line, declares a silent
// client dead.
func (s *Server) handle(c net.Conn) {
	defer c.Close()
	log := s.Log.With("peer", c.RemoteAddr().String())
	log.Info("connected")
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 64), maxLine) // a longer line is an error, not a bigger buffer
	w := bufio.NewWriter(c)
	silence := time.Duration(s.Misses) * s.Interval
	for {
		_ = c.SetReadDeadline(time.Now().Add(silence))
		if !sc.Scan() {
			break
		}
		answer, ok := reply(sc.Text())
		_ = c.SetWriteDeadline(time.Now().Add(silence))
		if _, err := fmt.Fprintf(w, "%s\n", answer); err != nil {
			log.Info("disconnected", "reason", Classify(err), "err", err)
			return
		}
		if err := w.Flush(); err != nil {
			log.Info("disconnected", "reason", Classify(err), "err", err)
			return
		}
		if !ok {
			log.Warn("bad line", "line", strings.TrimSpace(sc.Text()))
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF // Scan reports a clean end of stream as no error
	}
	switch Classify(err) {
	case KindTimeout:
		log.Warn("peer dead", "silent_for", silence)
	case KindEOF:
		log.Info("disconnected", "reason", KindEOF)
	default:
		log.Info("disconnected", "reason", Classify(err), "err", err)
	}
}

// ANCHOR_END: handle

func runServe(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" serve", os.Stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on")
	interval := fs.Duration("interval", DefaultInterval, "heartbeat interval expected from clients")
	misses := fs.Int("misses", DefaultMisses, "missed intervals before a client is declared dead")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *interval <= 0 || *misses < 1 {
		return cli.Usagef("-interval must be positive and -misses at least 1")
	}
	ln, err := cli.Listen(ctx, *addr)
	if err != nil {
		return err
	}
	log := slog.Default()
	srv := NewServer(*interval, *misses, log)
	cli.LogListening(log, ln, "interval", interval.String(), "misses", *misses)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return <-errc
}
