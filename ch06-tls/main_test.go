package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tcp-in-go/course/tests/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pki is a CA with a server and a client certificate, in memory and on disk
// (for the subprocesses: Python, nginx, openssl).
type pki struct {
	ca, server, client *Identity
	dir                string
}

func (p *pki) path(f string) string { return filepath.Join(p.dir, f) }

// newPKI makes a fresh CA and certificates, valid now, for localhost and
// 127.0.0.1, written into a temporary directory.
func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, GenerateFiles(dir, []string{"localhost", "127.0.0.1", "::1"}))
	p := &pki{dir: dir}
	p.ca = loadIdentity(t, p.path(CAFile), p.path(CAKeyFile))
	p.server = loadIdentity(t, p.path(ServerCertFile), p.path(ServerKeyFile))
	p.client = loadIdentity(t, p.path(ClientCertFile), p.path(ClientKeyFile))
	return p
}

func loadIdentity(t testing.TB, certFile, keyFile string) *Identity {
	t.Helper()
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	return &Identity{Cert: c.Leaf, Key: c.PrivateKey.(*ecdsa.PrivateKey)}
}

// serverConfig is the server configuration of the command, loaded from the
// files gencert wrote; mtls adds -client-ca.
func (p *pki) serverConfig(t testing.TB, mtls bool) *tls.Config {
	t.Helper()
	clientCA := ""
	if mtls {
		clientCA = p.path(CAFile)
	}
	cfg, err := ServerConfig(p.path(ServerCertFile), p.path(ServerKeyFile), clientCA)
	require.NoError(t, err)
	return cfg
}

// clientConfig is the client command's configuration, trusting only p's CA.
func (p *pki) clientConfig(t testing.TB, withCert bool) *tls.Config {
	t.Helper()
	cert, key := "", ""
	if withCert {
		cert, key = p.path(ClientCertFile), p.path(ClientKeyFile)
	}
	cfg, err := ClientConfig(p.path(CAFile), "localhost", cert, key)
	require.NoError(t, err)
	return cfg
}

// startServer runs a Server with cfg on 127.0.0.1:0 and returns its address
// and its log. tweak may set the rest of its Config.
func startServer(t testing.TB, cfg *tls.Config, tweak ...func(*Config)) (string, *testutil.LogBuffer) {
	t.Helper()
	_, addr, logs := startServerFor(t, cfg, tweak...)
	return addr, logs
}

// startServerFor is startServer that also returns the Server.
func startServerFor(t testing.TB, cfg *tls.Config, tweak ...func(*Config)) (*Server, string, *testutil.LogBuffer) {
	t.Helper()
	logs := &testutil.LogBuffer{}
	c := Config{TLS: cfg, Log: slog.New(slog.NewTextHandler(logs, nil))}
	for _, f := range tweak {
		f(&c)
	}
	srv := NewServer(c)
	return srv, testutil.StartServer(t, srv.Serve, srv.Shutdown), logs
}

// echoOnce dials addr with cfg, sends msg, reads it back, and returns the
// connection state and the first error. In TLS 1.3 a client's handshake ends
// before the server has checked the client's certificate, so a refusal in
// mutual TLS shows up on the first read, not in Dial.
func echoOnce(t testing.TB, addr string, cfg *tls.Config, msg string) (tls.ConnectionState, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &Client{Addr: addr, Config: cfg, Timeout: 5 * time.Second}
	conn, err := c.Dial(ctx)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
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

// certPool returns a pool holding only ca.
func certPool(ca *Identity) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}
