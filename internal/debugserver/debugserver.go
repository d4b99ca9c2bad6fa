// Package debugserver serves a running server's insides on a loopback
// address, for the chapters' -debug-addr flag: the runtime's profiles
// (net/http/pprof) and the server's own counters (expvar).
package debugserver

import (
	"context"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcp-in-go/course/internal/httpserve"
)

// expvar names are global to the process and can be published only once, but
// tests start many servers: each name is published once and then points at
// the newest server's counters.
var (
	mu        sync.Mutex
	published = map[string]*atomic.Pointer[func() any]{}
)

func publish(name string, vars func() any) {
	mu.Lock()
	defer mu.Unlock()
	p, ok := published[name]
	if !ok {
		p = new(atomic.Pointer[func() any])
		published[name] = p
		expvar.Publish(name, expvar.Func(func() any { return (*p.Load())() }))
	}
	p.Store(&vars)
}

// ANCHOR: debug
// ANCHOR: debug-start
// Start serves the runtime's profiles and, under /debug/vars, the value
// vars() returns, published as name, for example:
//
//	curl -s 127.0.0.1:6060/debug/vars | jq .echo
//	go tool pprof 127.0.0.1:6060/debug/pprof/heap
//
// Profiles reveal a lot about a process, so it refuses non-loopback
// addresses. stop shuts the debug server down.
func Start(ctx context.Context, addr, name string, vars func() any, log *slog.Logger) (bound string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("-debug-addr %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("-debug-addr %s: use a loopback address such as 127.0.0.1:6060", addr)
	}
	publish(name, vars)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, allocs...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	// ANCHOR_END: debug-start

	// ANCHOR: debug-serve

	// Bounded like every listener of the course (internal/httpserve): a
	// CPU profile streams for 30 s, so writes get two minutes.
	lim := httpserve.Limits{MaxConns: 8, ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute, IdleTimeout: 30 * time.Second}
	bound, stop, err = httpserve.Start(ctx, "debug", addr, mux, lim, log)
	if err != nil {
		return "", nil, err
	}
	log.Info("debug listening", "addr", bound, "vars", "/debug/vars", "pprof", "/debug/pprof/")
	return bound, stop, nil
	// ANCHOR_END: debug-serve
}

// ANCHOR_END: debug
