package main

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"
)

var (
	published sync.Once
	current   atomic.Pointer[Server] // the server whose counters /debug/vars shows
)

// ANCHOR: debug
// startDebug serves the runtime's profiles (net/http/pprof) and the server's
// counters (expvar, under "echo") on a loopback address, for example:
//
//	curl -s 127.0.0.1:6060/debug/vars | jq .echo
//	go tool pprof 127.0.0.1:6060/debug/pprof/heap
//
// Profiles reveal a lot about a process, so it refuses non-loopback addresses.
func startDebug(ctx context.Context, addr string, srv *Server, log *slog.Logger) (bound string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("-debug-addr %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("-debug-addr %s: use a loopback address such as 127.0.0.1:6060", addr)
	}
	current.Store(srv)
	published.Do(func() {
		expvar.Publish("echo", expvar.Func(func() any { return current.Load().Stats() }))
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, allocs...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-debug-addr: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("debug server", "err", err)
		}
	}()
	log.Info("debug listening", "addr", ln.Addr().String(), "vars", "/debug/vars", "pprof", "/debug/pprof/")
	return ln.Addr().String(), func() {
		hs.Close()
		<-done
	}, nil
}

// ANCHOR_END: debug
