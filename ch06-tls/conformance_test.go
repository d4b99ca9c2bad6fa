package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/testutil"
)

// checkConformance is what any implementation of this chapter's server must
// do, checked from the outside through its address: the Go server, the
// Python counterpart, nginx in front of an echo server, or a student's
// server (see TestConformance). cfg returns a fresh client configuration
// that trusts the server's CA, failing the (sub)test it is given if it
// cannot. Each check is a subtest; for an external server they run in
// parallel, each bounded by 5 s (times GRADE_TIMEOUT_SCALE), so a broken
// server fails the suite in seconds.
func checkConformance(t *testing.T, addr string, cfg func(testing.TB) *tls.Config, external bool) {
	bound := 20 * time.Second // the course's own servers, under the whole suite's load
	if external {
		bound = testutil.GradeTimeout(5 * time.Second)
	}
	check := func(name string, f func(t *testing.T, ctx context.Context)) {
		t.Run(name, func(t *testing.T) {
			if external {
				t.Parallel()
			}
			ctx, cancel := context.WithTimeout(t.Context(), bound)
			defer cancel()
			f(t, ctx)
			if ctx.Err() != nil {
				t.Errorf("not done within %s (GRADE_TIMEOUT_SCALE=3 allows three times as long)", bound)
			}
		})
	}
	check("TLS 1.3 echo with ALPN", func(t *testing.T, ctx context.Context) {
		st, err := echoWithin(ctx, t, addr, cfg(t), "hello\n")
		require.NoError(t, err)
		assert.Equal(t, "TLS 1.3", tls.VersionName(st.Version))
		assert.Equal(t, ALPN, st.NegotiatedProtocol)
	})
	check("TLS 1.2 with an ECDHE AEAD suite", func(t *testing.T, ctx context.Context) {
		c := cfg(t)
		c.MaxVersion = tls.VersionTLS12
		st, err := echoWithin(ctx, t, addr, c, "hello\n")
		require.NoError(t, err)
		assert.Equal(t, "TLS 1.2", tls.VersionName(st.Version))
		assert.Contains(t, tls12Suites, st.CipherSuite, tls.CipherSuiteName(st.CipherSuite))
	})
	check("TLS 1.1 refused", func(t *testing.T, ctx context.Context) {
		c := cfg(t)
		c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
		_, err := echoWithin(ctx, t, addr, c, "hello\n")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "protocol version")
	})
	check("many small writes, one megabyte, all echoed in order", func(t *testing.T, ctx context.Context) {
		msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		var out bytes.Buffer
		c := &Client{Addr: addr, Config: cfg(t), Timeout: bound}
		// iotest-style reader: at most 1000 bytes per Read, so many TLS records.
		in := &smallReader{r: bytes.NewReader(msg), n: 1000}
		require.NoError(t, c.Run(ctx, in, &out, io.Discard))
		assert.True(t, bytes.Equal(msg, out.Bytes()), "echo differs: got %d bytes, want %d", out.Len(), len(msg))
	})
	check("second connection resumes", func(t *testing.T, ctx context.Context) {
		var info bytes.Buffer
		c := &Client{Addr: addr, Config: cfg(t), Timeout: bound, Resume: true}
		require.NoError(t, c.Run(ctx, strings.NewReader("again\n"), io.Discard, &info))
		assert.Contains(t, info.String(), "resumed:      true")
	})
}

// echoWithin sends msg over a new TLS connection and reads it back, all
// within ctx, and returns the connection's TLS state.
func echoWithin(ctx context.Context, t testing.TB, addr string, cfg *tls.Config, msg string) (tls.ConnectionState, error) {
	c := &Client{Addr: addr, Config: cfg, Timeout: time.Until(deadlineOf(ctx))}
	conn, err := c.Dial(ctx)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadlineOf(ctx))
	if _, err := io.WriteString(conn, msg); err != nil {
		return conn.ConnectionState(), err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return conn.ConnectionState(), err
	}
	if string(buf) != msg {
		t.Errorf("echo: got %q, want %q", buf, msg)
	}
	return conn.ConnectionState(), nil
}

// deadlineOf is ctx's deadline (every check has one).
func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// smallReader returns at most n bytes per Read.
type smallReader struct {
	r io.Reader
	n int
}

func (s *smallReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

// TestConformance runs checkConformance against the Go server, the Python
// counterpart, nginx, and, when CH06_ADDR and CH06_CA are set, any server
// at that address (a student's), trusting the CA in CH06_CA (a path from
// the repository root, or absolute):
//
//	CH06_ADDR=127.0.0.1:8443 CH06_CA=certs/ca.pem go test ./ch06-tls -run Conformance/external
func TestConformance(t *testing.T) {
	if addr := testutil.ExternalAddr(t, "CH06_ADDR"); addr != "" {
		t.Run("external", func(t *testing.T) {
			ca := os.Getenv("CH06_CA")
			if ca == "" {
				t.Fatal("CH06_ADDR is set but CH06_CA is not: set it to the CA certificate the server's certificate is signed with")
			}
			ca = testutil.RepoPath(t, "CH06_CA", ca)
			name := cmp.Or(os.Getenv("CH06_SERVER_NAME"), "localhost")
			checkConformance(t, addr, func(t testing.TB) *tls.Config {
				c, err := ClientConfig(ca, name, "", "")
				require.NoError(t, err, "CH06_CA=%s", ca)
				return c
			}, true)
		})
		return // grading that server only
	}
	p := newPKI(t)
	cfg := func(t testing.TB) *tls.Config { return p.clientConfig(t, false) }
	t.Run("go", func(t *testing.T) {
		addr, _ := startServer(t, p.serverConfig(t, false))
		checkConformance(t, addr, cfg, false)
	})
	t.Run("python", func(t *testing.T) {
		py := testutil.StartPython(t, "ch06_tls.py", "serve", "--cert", p.path(ServerCertFile), "--key", p.path(ServerKeyFile))
		checkConformance(t, py.Addr, cfg, false)
	})
	t.Run("nginx", func(t *testing.T) {
		addr, _ := startNginx(t, p, startPlainEcho(t))
		checkConformance(t, addr, cfg, false)
	})
}
