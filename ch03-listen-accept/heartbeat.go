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
	"cmp"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/serve"
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

	core *serve.Core // the accept loop and the Serve/Shutdown contract
}

// NewServer returns a server with the given interval and misses.
func NewServer(interval time.Duration, misses int, log *slog.Logger) *Server {
	return &Server{Interval: interval, Misses: misses, Log: log, core: serve.New(serve.Config{Log: log})}
}

// ANCHOR: server
// Serve accepts connections on ln until Shutdown, through the course's one
// accept loop (internal/serve, whose contract this chapter teaches): it
// returns serve.ErrServerClosed after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.core.Serve(ln, s.handle)
}

// Shutdown stops accepting and closes every connection: a heartbeat
// connection never ends by itself, so there is nothing to wait for. Then it
// waits for their goroutines, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.core.BeginShutdown()
	s.core.Each(func(c net.Conn) { c.Close() })
	return s.core.Wait(ctx)
}

// ANCHOR_END: server

// OpenConns is the number of connections being served (cli.Serve logs it).
func (s *Server) OpenConns() int { return s.core.OpenConns() }

// ANCHOR: handle
// handle serves one connection: every line read is answered; a read deadline
// of Misses intervals, pushed forward after each line, declares a silent
// client dead. The Core logs the connection's accepted and closed lines.
func (s *Server) handle(c net.Conn) serve.End {
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
		_, _ = w.WriteString(answer + "\n") // an error sticks in w: Flush reports it
		if err := w.Flush(); err != nil {
			return serve.End{Err: err, Reason: string(Classify(err))}
		}
		if !ok {
			s.Log.Warn("bad line", "peer", c.RemoteAddr().String(), "line", strings.TrimSpace(sc.Text()))
		}
	}
	return s.ended(sc.Err(), silence)
}

// ANCHOR_END: handle

// ANCHOR: log-end
// ended says why a connection ended, from Scan's error (nil at a clean end
// of stream): a peer silent for Misses intervals is dead.
func (s *Server) ended(err error, silence time.Duration) serve.End {
	switch Classify(cmp.Or(err, io.EOF)) {
	case KindTimeout:
		return serve.End{Reason: "dead", Attrs: []any{"silent_for", silence}}
	case KindEOF:
		return serve.End{}
	default:
		return serve.End{Err: err, Reason: string(Classify(err))}
	}
}

// ANCHOR_END: log-end

func runServe(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" serve", os.Stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on (:PORT for all interfaces)")
	interval := fs.Duration("interval", DefaultInterval, "time between PINGs; what the server expects of each client")
	misses := fs.Int("misses", DefaultMisses, "missed intervals before the peer is declared dead")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *interval <= 0 || *misses < 1 {
		return cli.Usagef("-interval must be positive and -misses at least 1")
	}
	srv := NewServer(*interval, *misses, slog.Default())
	return cli.ListenAndServe(ctx, srv.Log, *addr, srv, *drain, "interval", interval.String(), "misses", *misses)
}
