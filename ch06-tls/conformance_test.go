package main

import (
	"bytes"
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
// that trusts the server's CA.
func checkConformance(t *testing.T, addr string, cfg func() *tls.Config) {
	t.Run("TLS 1.3 echo with ALPN", func(t *testing.T) {
		st, err := echoOnce(t, addr, cfg(), "hello\n")
		require.NoError(t, err)
		assert.Equal(t, "TLS 1.3", tls.VersionName(st.Version))
		assert.Equal(t, ALPN, st.NegotiatedProtocol)
	})
	t.Run("TLS 1.2 with an ECDHE AEAD suite", func(t *testing.T) {
		c := cfg()
		c.MaxVersion = tls.VersionTLS12
		st, err := echoOnce(t, addr, c, "hello\n")
		require.NoError(t, err)
		assert.Equal(t, "TLS 1.2", tls.VersionName(st.Version))
		assert.Contains(t, tls12Suites, st.CipherSuite, tls.CipherSuiteName(st.CipherSuite))
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		c := cfg()
		c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
		_, err := echoOnce(t, addr, c, "hello\n")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "protocol version")
	})
	t.Run("many small writes, one megabyte, all echoed in order", func(t *testing.T) {
		msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		var out bytes.Buffer
		c := &Client{Addr: addr, Config: cfg(), Timeout: 10 * time.Second}
		// iotest-style reader: at most 1000 bytes per Read, so many TLS records.
		in := &smallReader{r: bytes.NewReader(msg), n: 1000}
		require.NoError(t, c.Run(t.Context(), in, &out, io.Discard))
		assert.True(t, bytes.Equal(msg, out.Bytes()), "echo differs: got %d bytes, want %d", out.Len(), len(msg))
	})
	t.Run("second connection resumes", func(t *testing.T) {
		var info bytes.Buffer
		c := &Client{Addr: addr, Config: cfg(), Timeout: 10 * time.Second, Resume: true}
		require.NoError(t, c.Run(t.Context(), strings.NewReader("again\n"), io.Discard, &info))
		assert.Contains(t, info.String(), "resumed:      true")
	})
}

// smallReader returns at most n bytes per Read.
type smallReader struct {
	r io.Reader
	n int
}

func (s *smallReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

// TestConformance runs checkConformance against the Go server, the Python
// counterpart, nginx, and, when CH06_ADDR and CH06_CA are set, any server
// at that address (a student's), trusting the CA in CH06_CA:
//
//	CH06_ADDR=127.0.0.1:8443 CH06_CA=certs/ca.pem go test ./ch06-tls -run Conformance/external
func TestConformance(t *testing.T) {
	p := newPKI(t)
	cfg := func() *tls.Config { return p.clientConfig(t, false) }
	t.Run("go", func(t *testing.T) {
		addr, _ := startServer(t, p.serverConfig(t, false))
		checkConformance(t, addr, cfg)
	})
	t.Run("python", func(t *testing.T) {
		py := testutil.StartPython(t, "ch06_tls.py", "serve", "--cert", p.path(ServerCertFile), "--key", p.path(ServerKeyFile))
		checkConformance(t, py.Addr, cfg)
	})
	t.Run("nginx", func(t *testing.T) {
		addr, _ := startNginx(t, p, startPlainEcho(t))
		checkConformance(t, addr, cfg)
	})
	t.Run("external", func(t *testing.T) {
		addr, ca := os.Getenv("CH06_ADDR"), os.Getenv("CH06_CA")
		if addr == "" || ca == "" {
			t.Skip("set CH06_ADDR and CH06_CA to check another server")
		}
		checkConformance(t, addr, func() *tls.Config {
			c, err := ClientConfig(ca, "localhost", "", "")
			require.NoError(t, err)
			return c
		})
	})
}
