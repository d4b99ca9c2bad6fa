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
	"os"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/telemetry"
)

// ANCHOR: server-type
// Server is a TLS echo server. Build it with NewServer.
type Server struct {
	cfg       Config
	core      *serve.Core           // the accept loop, the connection limit, Shutdown
	serve     serve.Handler         // handle (metrics.go wraps it when metrics are on)
	handshake func(*tls.Conn) error // timedHandshake (likewise)
	metrics   *telemetry.Metrics    // nil unless Config.Metrics
}

// Config is what a Server is built with: the serve command's flags. A zero
// duration means "never", a zero MaxConns "no limit".
type Config struct {
	TLS              *tls.Config   // certificates and policy (ServerConfig)
	HandshakeTimeout time.Duration // the whole handshake must end within it
	IdleTimeout      time.Duration // close a client silent this long
	MaxConns         int           // connections at once, handshakes included
	Log              *slog.Logger  // nil: stderr
	Metrics          bool          // count connections, bytes, handshakes
}

// NewServer returns a server built once and for all by cfg: everything
// Serve and Shutdown read is set here, so they may run in any order.
func NewServer(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s := &Server{cfg: cfg}
	s.serve, s.handshake = s.handle, s.timedHandshake
	var obs serve.Observer
	if cfg.Metrics {
		obs = s.observe() // metrics.go: wraps s.serve and s.handshake
	}
	s.core = serve.New(serve.Config{Log: cfg.Log, MaxConns: cfg.MaxConns, Observer: obs})
	return s
}

// ANCHOR_END: server-type

// ANCHOR: serve
// Serve accepts connections on ln with the course's one accept loop
// (serve.Core, chapter 3), which also writes each connection's accepted and
// closed lines, until Shutdown: then it returns serve.ErrServerClosed.
// Shutdown stops accepting and lets the echoes finish until its context
// ends, then closes the rest.
func (s *Server) Serve(ln net.Listener) error { return s.core.Serve(ln, s.serve) }

func (s *Server) Shutdown(ctx context.Context) error { return s.core.Shutdown(ctx) }

// ANCHOR_END: serve

// OpenConns is the number of connections being served (cli logs it when
// the drain begins).
func (s *Server) OpenConns() int { return s.core.OpenConns() }

// Ready reports whether the server accepts new clients: false from the
// moment a drain begins (/readyz).
func (s *Server) Ready() bool { return s.core.Ready() }

// Stats is what -debug-addr publishes (expvar "tls").
func (s *Server) Stats() map[string]int { return map[string]int{"conns_open": s.OpenConns()} }

// ANCHOR: handle
// handle serves one connection: the TLS handshake, one line saying what
// was negotiated, then the echo of the decrypted bytes. A failed handshake
// ends the connection with the reason "handshake": its closed line carries
// the error, the one line that says why.
func (s *Server) handle(raw net.Conn) serve.End {
	conn := tls.Server(raw, s.cfg.TLS)
	if err := s.handshake(conn); err != nil {
		refuse(raw, err)
		return serve.End{Err: err, Reason: "handshake", Attrs: []any{"bytes_in", 0, "bytes_out", 0}}
	}
	st := conn.ConnectionState()
	s.cfg.Log.Info("handshake", append([]any{"peer", raw.RemoteAddr().String()}, stateAttrs(st)...)...)

	n, err := echo(conn, s.cfg.IdleTimeout)
	if err == nil {
		// Send close_notify so the client knows the echo is complete and
		// was not cut short by an attacker closing the TCP connection.
		_ = conn.Close()
	}
	return serve.End{Err: err, Attrs: []any{"bytes_in", n.in, "bytes_out", n.out}}
}

// ANCHOR_END: handle

// ANCHOR: handshake
// timedHandshake runs the TLS handshake under HandshakeTimeout, one
// deadline for all of it. Without a bound, a client that connects and never
// sends its ClientHello would hold a goroutine, a descriptor and a slot of
// MaxConns forever; a bound per read would not do either, since a client
// trickling its ClientHello one byte at a time never lets a read wait long.
// When the context expires, crypto/tls closes the connection.
func (s *Server) timedHandshake(conn *tls.Conn) error {
	ctx, cancel := within(s.cfg.HandshakeTimeout)
	defer cancel()
	return conn.HandshakeContext(ctx)
}

// within returns a context that ends after d, or only when cancelled if d
// is 0 (no timeout).
func within(d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(context.Background(), d)
	}
	return context.WithCancel(context.Background())
}

// ANCHOR_END: handshake

// ANCHOR: refuse
// refuse ends a failed handshake. When the first bytes were not TLS at all
// (someone typed into nc, or sent plain HTTP), crypto/tls hands back the
// raw connection in a RecordHeaderError, and the server answers in plain
// text, as net/http does, so that the person at the other end learns what
// went wrong. Then it closes gently (lingerClose).
func refuse(raw net.Conn, err error) {
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && rhe.Conn != nil {
		_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(raw, "this port speaks TLS; plaintext is refused\n")
	}
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

// ANCHOR_END: refuse

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

// plainCount is the plaintext a connection read and wrote.
type plainCount struct{ in, out int64 }

// ANCHOR: echo
// echo copies everything the client sends back to it until the client is
// done (its close_notify, which Read returns as io.EOF). With idle > 0,
// every read and write must make progress within idle.
func echo(conn *tls.Conn, idle time.Duration) (plainCount, error) {
	buf := make([]byte, 32*1024)
	var c plainCount
	for {
		if idle > 0 {
			_ = conn.SetDeadline(time.Now().Add(idle))
		}
		n, err := conn.Read(buf)
		c.in += int64(n)
		if n > 0 {
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

// ANCHOR_END: echo
