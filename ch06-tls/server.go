package main

// The TLS echo server: the echo server of chapter 4 with a TLS layer between
// the TCP connection and the echo loop. tls.Server wraps a net.Conn and
// returns a *tls.Conn, which is a net.Conn too: the echo code does not change.

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/telemetry"
)

// Server is a TLS echo server. Set the fields before calling Serve.
type Server struct {
	TLSConfig        *tls.Config
	HandshakeTimeout time.Duration // a client must finish the handshake within it (default 10 s)
	IdleTimeout      time.Duration // a connection silent this long is closed (default 5 min)
	Log              *slog.Logger
	// Metrics, if set, counts connections, bytes and handshakes
	// (-metrics-addr); nil means metrics off.
	Metrics *telemetry.Metrics

	setup sync.Once   // builds core and tlsm from the fields, once
	core  *serve.Core // the accept loop and the connections (chapter 3)
	tlsm  *tlsMetrics
}

// init builds the Core from the fields, once, whichever of Serve and
// Shutdown runs first: both may run at any time (a signal can come first).
func (s *Server) init() {
	s.setup.Do(func() {
		s.core = serve.New(serve.Config{Log: s.logger(), Observer: s.Metrics.Observer()})
		s.tlsm = newTLSMetrics(s.Metrics)
	})
}

// Stats is what -debug-addr publishes (expvar "tls").
func (s *Server) Stats() map[string]int { return map[string]int{"conns_open": s.OpenConns()} }

// OpenConns is the number of connections being served.
func (s *Server) OpenConns() int { s.init(); return s.core.OpenConns() }

// Ready reports whether the server accepts new clients: false from the
// moment a drain begins (/readyz).
func (s *Server) Ready() bool { s.init(); return s.core.Ready() }

func (s *Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ANCHOR: serve
// Serve accepts connections on ln with the course's one accept loop
// (serve.Core, chapter 3) and runs handle for each, until Shutdown: then it
// returns serve.ErrServerClosed. Shutdown stops accepting and lets the
// echoes finish until its context ends, then closes the rest.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	return s.core.Serve(ln, s.handle)
}

func (s *Server) Shutdown(ctx context.Context) error { s.init(); return s.core.Shutdown(ctx) }

// ANCHOR_END: serve

// ANCHOR: handle
// handle runs one connection: the TLS handshake under a deadline, one log
// line describing what was negotiated, the echo loop, then the close line.
// raw is wrapped in a byte counter first, so the metrics count what crossed
// the network, TLS records and handshakes included; the close line counts
// the plaintext echoed, as the Python twin does.
func (s *Server) handle(accepted net.Conn) serve.End {
	log := s.logger().With("peer", accepted.RemoteAddr().String())
	raw := &telemetry.Conn{Conn: accepted}
	defer s.count(raw)

	conn := tls.Server(raw, s.TLSConfig)
	if err := s.handshake(conn); err != nil {
		s.tlsm.failed(err)
		log.Warn("handshake failed", "err", err)
		s.handshakeFailed(raw, err)
		return serve.End{Err: err, Reason: "error"} // the why: tls_handshake_failures_total
	}
	s.tlsm.handshake(conn.ConnectionState())
	log.Info("handshake", stateAttrs(conn.ConnectionState())...)

	n, err := echo(conn, orDefault(s.IdleTimeout, 5*time.Minute))
	if err == nil {
		// Send close_notify so the client knows the echo is complete and
		// was not cut short by an attacker closing the TCP connection.
		_ = conn.Close()
	}
	return serve.End{Err: err, Attrs: []any{"bytes_in", n.in, "bytes_out", n.out}}
}

// ANCHOR_END: handle

// ANCHOR: handshake
// handshake runs the TLS handshake under HandshakeTimeout. Without a bound,
// a client that connects and never sends its ClientHello would hold a
// goroutine and a file descriptor forever (and a few thousand such clients
// would exhaust the server). When the context expires, crypto/tls closes the
// connection and the handshake returns an error.
func (s *Server) handshake(conn *tls.Conn) error {
	// ANCHOR: exercise-handshake-timeout
	ctx, cancel := context.WithTimeout(context.Background(), orDefault(s.HandshakeTimeout, 10*time.Second))
	defer cancel()
	return conn.HandshakeContext(ctx)
	// ANCHOR_END: exercise-handshake-timeout
}

// ANCHOR_END: handshake

// ANCHOR: handshake-failed
// handshakeFailed logs why a handshake failed. When the first bytes were not
// TLS at all (someone typed into nc, or sent plain HTTP), crypto/tls hands
// back the raw connection in a RecordHeaderError, and the server answers in
// plain text, as net/http does, so the client learns what went wrong.
func (s *Server) handshakeFailed(raw net.Conn, err error) {
	// ANCHOR: exercise-plaintext-hint
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && rhe.Conn != nil {
		_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(raw, "this port speaks TLS; plaintext is refused\n")
	}
	// ANCHOR_END: exercise-plaintext-hint
	lingerClose(raw)
}

// lingerClose closes gently after a failed handshake. The TLS alert (or the
// plaintext hint) has been written, but the client may still be sending:
// closing a socket with unread data makes the kernel send a reset (RST),
// and a reset can overtake the alert, so the client would see "connection
// reset" instead of the reason. Instead: send FIN, discard what arrives for
// a short while, then close (net/http does the same).
func lingerClose(raw net.Conn) {
	if hc, ok := raw.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	_ = raw.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.Copy(io.Discard, io.LimitReader(raw, 64<<10))
}

// ANCHOR_END: handshake-failed

// ANCHOR: state
// stateAttrs turns a negotiated connection into log attributes: the version
// and cipher suite agreed on, the key exchange group (X25519, or the hybrid
// post-quantum X25519MLKEM768 that Go prefers), the ALPN protocol, whether
// the session was resumed from a ticket (no certificate exchange), and who
// the client is when it presented a certificate.
func stateAttrs(st tls.ConnectionState) []any {
	client := "-"
	if len(st.PeerCertificates) > 0 {
		client = st.PeerCertificates[0].Subject.String()
	}
	alpn := st.NegotiatedProtocol
	if alpn == "" {
		alpn = "-"
	}
	return []any{
		"version", tls.VersionName(st.Version),
		"suite", tls.CipherSuiteName(st.CipherSuite),
		"group", st.CurveID.String(),
		"alpn", alpn,
		"resumed", st.DidResume,
		"client", client,
	}
}

// ANCHOR_END: state

// count adds a connection's bytes to the metrics when it ends.
func (s *Server) count(c *telemetry.Conn) {
	s.Metrics.Transferred(c.Counts())
}

// plainCount is the plaintext a connection read and wrote.
type plainCount struct{ in, out int64 }

// echo copies everything the client sends back to it until the client is
// done (close_notify, read as io.EOF). Each read waits at most idle.
func echo(conn *tls.Conn, idle time.Duration) (plainCount, error) {
	buf := make([]byte, 32*1024)
	var c plainCount
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		n, err := conn.Read(buf)
		c.in += int64(n)
		if n > 0 {
			_ = conn.SetWriteDeadline(time.Now().Add(idle))
			w, werr := conn.Write(buf[:n])
			c.out += int64(w)
			if werr != nil {
				return c, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return c, err
		}
	}
}
