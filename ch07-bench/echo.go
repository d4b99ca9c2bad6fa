package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/debugserver"
	"github.com/tcp-in-go/course/internal/serve"
)

// The reference echo server exists to calibrate the generator: the simplest
// correct RFC 862 echo (io.Copy per connection), so that "how fast can this
// machine echo" has an answer even before ch04's server is built, and so the
// pprof walkthrough and expvar sampling have something to look at. It keeps
// the course's server shape: the accept loop, its backoff and the
// Serve/Shutdown contract are internal/serve's, taught in chapter 3.

// EchoServer is the reference echo server.
type EchoServer struct {
	Log *slog.Logger
	// Splice echoes with io.Copy, which on Linux moves bytes between two TCP
	// sockets with splice(2) through a pipe: no copy into user space, but
	// each connection waiting for data holds a pipe (two more descriptors).
	// Without it, a plain read/write loop with a 16 KiB buffer.
	Splice bool
	// MaxConns bounds the connections served at once (0: no limit).
	MaxConns int

	core      *serve.Core
	setupOnce sync.Once
	total     atomic.Int64 // connections accepted so far
}

// setup hands the configuration to the core once, whichever of Serve and
// Shutdown runs first (a test may shut a server down before its Serve
// goroutine has started).
func (s *EchoServer) setup() {
	s.setupOnce.Do(func() { s.core = serve.New(serve.Config{Log: s.Log, MaxConns: s.MaxConns}) })
}

// Serve accepts connections on ln until Shutdown, then returns
// serve.ErrServerClosed.
func (s *EchoServer) Serve(ln net.Listener) error {
	s.setup()
	return s.core.Serve(ln, s.handle)
}

// ANCHOR: echo
func (s *EchoServer) handle(c net.Conn) serve.End {
	s.total.Add(1)
	if s.Splice {
		_, err := io.Copy(c, c) // every byte back, until the client closes
		return serve.End{Err: err}
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return serve.End{Err: werr}
			}
		}
		if err == io.EOF {
			return serve.End{} // the client closed
		}
		if err != nil {
			return serve.End{Err: err}
		}
	}
}

// ANCHOR_END: echo

// Shutdown stops accepting and closes every connection (an echo server has
// no work in progress worth waiting for), then waits for the handlers.
func (s *EchoServer) Shutdown(ctx context.Context) error {
	s.setup()
	s.core.BeginShutdown()
	s.core.Each(func(c net.Conn) { c.Close() })
	return s.core.Wait(ctx)
}

// OpenConns is the number of connections being served (cli.Serve logs it
// when draining).
func (s *EchoServer) OpenConns() int { s.setup(); return s.core.OpenConns() }

// vars is what -debug-addr publishes under /debug/vars as "echo", named so
// that the generator's -expvar sampling finds them.
func (s *EchoServer) vars() any {
	return map[string]int64{
		"conns_open":  int64(s.OpenConns()),
		"conns_total": s.total.Load(),
		"goroutines":  int64(runtime.NumGoroutine()),
	}
}

func runEcho(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(prog+" echo", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on (:PORT for all interfaces); port 0 picks a free one and logs it")
	debugAddr := fs.String("debug-addr", "", "serve pprof and expvar here, e.g. 127.0.0.1:6060 (loopback only)")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	maxConns := fs.Int("max-conns", 0, "connections served at once (0: no limit)")
	splice := fs.Bool("splice", false, "echo with io.Copy (splice(2) on Linux) instead of a read/write loop")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *maxConns < 0 || *drain < 0 {
		return cli.Usagef("-max-conns and -drain-timeout must not be negative")
	}
	log := slog.Default()
	srv := &EchoServer{Log: log, Splice: *splice, MaxConns: *maxConns}
	if *debugAddr != "" {
		_, stop, err := debugserver.Start(ctx, *debugAddr, "echo", srv.vars, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	return cli.ListenAndServe(ctx, log, *addr, srv, *drain, "max_conns", *maxConns)
}
