package main

import (
	"context"
	"errors"
	"expvar"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/conntrack"
)

// The reference echo server exists to calibrate the generator: the simplest
// correct RFC 862 echo (io.Copy per connection), so that "how fast can this
// machine echo" has an answer even before ch04's server is built, and so the
// pprof walkthrough and expvar sampling have something to look at.

var (
	expvarOnce sync.Once
	connsOpen  = new(expvar.Int)
	connsTotal = new(expvar.Int)
)

func publishExpvars() {
	expvarOnce.Do(func() {
		expvar.Publish("conns_open", connsOpen)
		expvar.Publish("conns_total", connsTotal)
		expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
	})
}

// EchoServer is the reference echo server.
type EchoServer struct {
	Log *slog.Logger
	// Splice echoes with io.Copy, which on Linux moves bytes between two TCP
	// sockets with splice(2) through a pipe: no copy into user space, but
	// each connection waiting for data holds a pipe (two more descriptors).
	// Without it, a plain read/write loop with a 16 KiB buffer.
	Splice bool

	mu    sync.Mutex // guards ln
	ln    net.Listener
	conns conntrack.Set // the connections being served, for Shutdown
}

// Serve accepts connections on ln until Shutdown.
func (s *EchoServer) Serve(ln net.Listener) error {
	publishExpvars()
	s.mu.Lock()
	if s.conns.Closed() {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if isTooManyFiles(err) { // out of fds: back off instead of spinning
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		if !s.conns.Add(c) { // raced with Shutdown: refuse the connection
			c.Close()
			return nil
		}
		connsOpen.Add(1)
		connsTotal.Add(1)
		go s.handle(c)
	}
}

// ANCHOR: echo
func (s *EchoServer) handle(c net.Conn) {
	defer s.conns.Remove(c)
	defer connsOpen.Add(-1)
	defer c.Close()
	if s.Splice {
		_, _ = io.Copy(c, c) // every byte back, until the client closes
		return
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF: the client closed; anything else: broken
		}
	}
}

// ANCHOR_END: echo

// Shutdown stops accepting and closes every connection (an echo server has
// no work in progress worth waiting for), then waits for the handlers.
func (s *EchoServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.conns.Close() // no new connections from now on
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	s.conns.Each(func(c net.Conn) { c.Close() })
	return s.conns.Wait(ctx)
}

func runEcho(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(prog+" echo", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0: any free port, logged)")
	debugAddr := fs.String("debug-addr", "", "serve pprof and expvar here, e.g. 127.0.0.1:6060")
	splice := fs.Bool("splice", false, "echo with io.Copy (splice(2) on Linux) instead of a read/write loop")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	log := slog.Default()
	ln, err := cli.Listen(ctx, *addr)
	if err != nil {
		return err
	}
	if *debugAddr != "" {
		dln, err := cli.Listen(ctx, *debugAddr)
		if err != nil {
			ln.Close()
			return err
		}
		log.Info("debug endpoints", "addr", dln.Addr().String(), "pprof", "/debug/pprof/", "expvar", "/debug/vars")
		dsrv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = dsrv.Serve(dln) }()
		defer dsrv.Close()
	}
	srv := &EchoServer{Log: log, Splice: *splice}
	cli.LogListening(log, ln)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-errc
	log.Info("stopped")
	return err
}
