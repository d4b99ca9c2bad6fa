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
// The server answers every line and declares a client that has sent
// nothing for Misses intervals dead, so that silent clients do not hold its
// resources forever. The client applies the same rule to the server's
// answers, and counts only a PONG that answers one of its PINGs (client.go).

import (
	"bufio"
	"cmp"
	"context"
	"errors"
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
	// maxLine bounds a protocol line, its "\n" included: a peer must not
	// make us buffer forever.
	maxLine = 1024
)

// ANCHOR: reply
// reply returns the answer to one protocol line, and whether the line was
// valid. "PING" and "PING <token>" are answered with "PONG" and the same
// token, so that a client can match each answer to its request.
func reply(line string) (string, bool) {
	cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r"), " ")
	switch {
	case cmd == "PING" && arg == "":
		return "PONG", true
	case cmd == "PING":
		return "PONG " + arg, true
	default:
		return "ERR unknown command", false
	}
}

// ANCHOR_END: reply

// Server is the heartbeat server. Build it with NewServer.
type Server struct {
	cfg     Config
	silence time.Duration // Misses intervals: a client silent this long is dead
	core    *serve.Core   // the accept loop and the Serve/Shutdown contract
}

// Config is what a Server is built with: the serve command's flags.
type Config struct {
	Interval time.Duration // the heartbeat interval expected from clients
	Misses   int           // intervals of silence before a client is dead
	Log      *slog.Logger  // the accept loop's and each connection's lines; nil: slog.Default()
}

// NewServer returns a server built once and for all by cfg. A zero Interval
// or Misses never declares a client dead.
func NewServer(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg, silence: time.Duration(cfg.Misses) * cfg.Interval,
		core: serve.New(serve.Config{Log: cfg.Log})}
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
	sc.Buffer(make([]byte, 0, 64), maxLine) // longer: an error, not a bigger buffer
	w := bufio.NewWriter(c)
	for {
		_ = c.SetReadDeadline(s.deadline())
		if !sc.Scan() {
			return s.ended(sc.Err())
		}
		answer, ok := reply(sc.Text())
		_ = c.SetWriteDeadline(s.deadline())
		_, _ = w.WriteString(answer + "\n") // an error sticks in w: Flush reports it
		if err := w.Flush(); err != nil {
			return s.ended(err)
		}
		if !ok {
			s.cfg.Log.Warn("bad line", "peer", c.RemoteAddr().String(),
				"line", strings.TrimSpace(sc.Text()))
		}
	}
}

// ANCHOR_END: handle

// deadline is Misses intervals from now (the zero time, none, when
// Interval or Misses is 0).
func (s *Server) deadline() time.Time {
	if s.silence == 0 {
		return time.Time{}
	}
	return time.Now().Add(s.silence)
}

// ANCHOR: log-end
// ended says why a connection ended, from the error that ended it (nil
// when Scan met a clean end of stream). The Core writes it in the
// connection's closed line: reason=dead for a client silent for Misses
// intervals, too_long for a line over maxLine, eof when the client closed.
func (s *Server) ended(err error) serve.End {
	switch kind := Classify(cmp.Or(err, io.EOF)); {
	case kind == KindEOF:
		return serve.End{} // reason=eof
	case kind == KindTimeout:
		return serve.End{Reason: "dead", Attrs: []any{"silent_for", s.silence}}
	case errors.Is(err, bufio.ErrTooLong):
		return serve.End{Err: err, Reason: "too_long"}
	case kind == KindClosed:
		return serve.End{Err: err} // Shutdown closed it: the Core says shutdown
	default:
		return serve.End{Err: err, Reason: string(kind)} // reset, broken-pipe...
	}
}

// ANCHOR_END: log-end

func runServe(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" serve", os.Stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on (:PORT for all interfaces)")
	interval := fs.Duration("interval", DefaultInterval, "time between PINGs; what the server expects of each client, 0: never drop a silent client")
	misses := fs.Int("misses", DefaultMisses, "missed intervals before the peer is declared dead; 0: never")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *interval < 0 || *misses < 0 {
		return cli.Usagef("-interval and -misses must not be negative")
	}
	srv := NewServer(Config{Interval: *interval, Misses: *misses, Log: slog.Default()})
	return cli.ListenAndServe(ctx, srv.cfg.Log, *addr, srv, *drain, "interval", interval.String(), "misses", *misses)
}
