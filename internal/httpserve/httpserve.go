// Package httpserve runs the small HTTP servers beside a chapter's TCP
// server (-metrics-addr, -debug-addr) with the same bounds the TCP servers
// keep: a deadline on every read and write, an idle timeout for keep-alive
// connections, and a cap on connections open at once. They share the
// process, and its file descriptor limit, with the server they watch: a
// flood of slow or idle HTTP clients must not use up the descriptors the
// server needs to accept its own clients.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound one HTTP server.
type Limits struct {
	// MaxConns is the number of connections served at once; more wait in
	// the kernel's accept queue, holding no descriptor of this process.
	MaxConns int
	// ReadTimeout bounds reading a whole request, headers and body: a
	// client that sends half a request is cut off.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (a CPU profile takes 30 s).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request.
	IdleTimeout time.Duration
}

// Defaults suit /metrics and health probes: Prometheus and Kubernetes keep
// one or two connections each, and a scrape takes milliseconds.
var Defaults = Limits{MaxConns: 32, ReadTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}

// Start serves h on addr under lim until stop is called. what names the
// server in errors and logs ("metrics", "debug").
func Start(ctx context.Context, what, addr string, h http.Handler, lim Limits, log *slog.Logger) (bound string, stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-%s-addr: %w", what, err)
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(netutil.LimitListener(ln, lim.MaxConns)); !errors.Is(err, http.ErrServerClosed) {
			log.Error(what+" server", "err", err)
		}
	}()
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if hs.Shutdown(sctx) != nil {
			hs.Close()
		}
		<-done
	}, nil
}
