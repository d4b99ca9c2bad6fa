package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

func TestEchoOverTLS13(t *testing.T) {
	p := newPKI(t)
	addr, logs := startServer(t, p.serverConfig(t, false))

	st, err := echoOnce(t, addr, p.clientConfig(t, false), "hello, TLS\n")
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS13), st.Version, "TLS 1.3 is preferred when both sides offer it")
	assert.Equal(t, ALPN, st.NegotiatedProtocol)
	assert.False(t, st.DidResume)
	require.NotEmpty(t, st.VerifiedChains)
	assert.Equal(t, "tcp-in-go course CA", st.VerifiedChains[0][len(st.VerifiedChains[0])-1].Subject.CommonName)
	logs.WaitFor(t, `msg=handshake`, 10*time.Second)
	// The suite is AES-GCM with AES hardware, ChaCha20-Poly1305 without.
	assert.Regexp(t, `version="TLS 1.3" suite=TLS_(AES_128_GCM_SHA256|CHACHA20_POLY1305_SHA256) group=X25519MLKEM768 alpn=echo resumed=false client=-`, logs.String())
}

func TestTLS12OnlyECDHEAEAD(t *testing.T) {
	p := newPKI(t)
	addr, _ := startServer(t, p.serverConfig(t, false))

	cfg := p.clientConfig(t, false)
	cfg.MaxVersion = tls.VersionTLS12
	st, err := echoOnce(t, addr, cfg, "ping")
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS12), st.Version)
	assert.Contains(t, tls12Suites, st.CipherSuite, "negotiated %s", tls.CipherSuiteName(st.CipherSuite))

	// A TLS 1.2 client offering only CBC suites (no AEAD) finds nothing in common.
	cfg = p.clientConfig(t, false)
	cfg.MaxVersion = tls.VersionTLS12
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
	_, err = echoOnce(t, addr, cfg, "ping")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "handshake failure")
}

func TestOldVersionsRefused(t *testing.T) {
	p := newPKI(t)
	addr, logs := startServer(t, p.serverConfig(t, false))
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			cfg := p.clientConfig(t, false)
			cfg.MinVersion, cfg.MaxVersion = v, v
			_, err := echoOnce(t, addr, cfg, "ping")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "protocol version not supported")
		})
	}
	logs.WaitFor(t, "client offered only unsupported versions", 10*time.Second)
}

// TestServerVerificationFails: every way a server certificate can be wrong
// makes the client's handshake fail with an error that names the problem.
func TestServerVerificationFails(t *testing.T) {
	p := newPKI(t)
	other, err := NewCA("someone else's CA", ValidFor(time.Hour))
	require.NoError(t, err)
	hosts := []string{"localhost", "127.0.0.1"}
	expired, err := p.ca.IssueServer(hosts, Validity{time.Now().Add(-48 * time.Hour), time.Now().Add(-24 * time.Hour)})
	require.NoError(t, err)
	future, err := p.ca.IssueServer(hosts, Validity{time.Now().Add(24 * time.Hour), time.Now().Add(48 * time.Hour)})
	require.NoError(t, err)

	withCert := func(id *Identity) *tls.Config {
		cfg := p.serverConfig(t, false)
		cfg.Certificates = []tls.Certificate{id.TLSCertificate()}
		return cfg
	}
	tests := []struct {
		name       string
		server     *tls.Config
		client     func(*tls.Config)
		wantErr    string
		wantReason func(error) bool
	}{
		{"untrusted CA", p.serverConfig(t, false), func(c *tls.Config) { c.RootCAs = certPool(other) },
			"certificate signed by unknown authority", isErr[x509.UnknownAuthorityError]},
		{"wrong name", p.serverConfig(t, false), func(c *tls.Config) { c.ServerName = "example.com" },
			"certificate is valid for localhost, not example.com", isErr[x509.HostnameError]},
		{"expired", withCert(expired), func(*tls.Config) {},
			"certificate has expired or is not yet valid: current time", isInvalid(x509.Expired)},
		{"not yet valid", withCert(future), func(*tls.Config) {},
			"certificate has expired or is not yet valid: current time", isInvalid(x509.Expired)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, logs := startServer(t, tt.server)
			cfg := p.clientConfig(t, false)
			tt.client(cfg)
			_, err := echoOnce(t, addr, cfg, "ping")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, tt.wantReason(err), "unexpected error type: %#v", err)
			// The client tells the server why it hung up (a TLS alert): the
			// connection's one closed line names the handshake and the error.
			logs.WaitFor(t, `reason=handshake err="remote error: tls: `, 10*time.Second)
		})
	}
}

func isErr[E error](err error) bool {
	var e E
	return errors.As(err, &e)
}

func isInvalid(r x509.InvalidReason) func(error) bool {
	return func(err error) bool {
		var e x509.CertificateInvalidError
		return errors.As(err, &e) && e.Reason == r
	}
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	addr, logs := startServer(t, p.serverConfig(t, true))

	t.Run("client certificate from the CA", func(t *testing.T) {
		_, err := echoOnce(t, addr, p.clientConfig(t, true), "ping")
		require.NoError(t, err)
		logs.WaitFor(t, `client="CN=course-client,O=tcp-in-go course"`, 10*time.Second)
	})
	t.Run("no client certificate", func(t *testing.T) {
		// In TLS 1.3 the client's side of the handshake is done before the
		// server has checked it: Dial succeeds, the first read fails.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := &Client{Addr: addr, Config: p.clientConfig(t, false), Timeout: 5 * time.Second}
		conn, err := c.Dial(ctx)
		require.NoError(t, err, "the refusal is not seen when dialling")
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		assert.Equal(t, uint16(tls.VersionTLS13), conn.ConnectionState().Version)
		_, _ = io.WriteString(conn, "ping") // may succeed: the alert is not read yet
		_, err = conn.Read(make([]byte, 4))
		require.Error(t, err, "the first read sees the refusal")
		assert.Contains(t, err.Error(), "remote error: tls: certificate required")
		logs.WaitFor(t, "client didn't provide a certificate", 10*time.Second)
	})
	t.Run("client certificate from another CA", func(t *testing.T) {
		other, err := NewCA("someone else's CA", ValidFor(time.Hour))
		require.NoError(t, err)
		stranger, err := other.IssueClient("stranger", ValidFor(time.Hour))
		require.NoError(t, err)
		cfg := p.clientConfig(t, false)
		// Send it even though the server's list of acceptable CAs does not
		// name its issuer (by default Go would then send no certificate).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := stranger.TLSCertificate()
			return &c, nil
		}
		_, err = echoOnce(t, addr, cfg, "ping")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "remote error: tls: ")
		logs.WaitFor(t, "certificate signed by unknown authority", 10*time.Second)
	})
}

// TestPlaintextClientRefused: a client that speaks plain TCP gets a one-line
// explanation and the connection is closed; the server goes on serving.
func TestPlaintextClientRefused(t *testing.T) {
	p := newPKI(t)
	addr, logs := startServer(t, p.serverConfig(t, false))

	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, "hello\n")
	require.NoError(t, err)
	got, err := io.ReadAll(c)
	require.NoError(t, err, "the server should answer and close")
	assert.Equal(t, "this port speaks TLS; plaintext is refused\n", string(got))
	logs.WaitFor(t, "first record does not look like a TLS handshake", 10*time.Second)

	_, err = echoOnce(t, addr, p.clientConfig(t, false), "still serving")
	require.NoError(t, err)
}

// TestHandshakeTimeout: a client that connects and sends nothing is closed
// once the handshake timeout expires.
func TestHandshakeTimeout(t *testing.T) {
	p := newPKI(t)
	const timeout = 200 * time.Millisecond
	addr, logs := startServer(t, p.serverConfig(t, false), func(c *Config) { c.HandshakeTimeout = timeout })

	start := time.Now()
	c := testutil.Dial(t, addr) // deadline 30 s: a server that never closes fails the test
	n, err := c.Read(make([]byte, 1))
	assert.Zero(t, n)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server never closed the silent connection")
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	logs.WaitFor(t, "context deadline exceeded", 10*time.Second)
}

func TestResumption(t *testing.T) {
	p := newPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			addr, logs := startServer(t, p.serverConfig(t, true))
			cfg := p.clientConfig(t, true)
			cfg.MaxVersion = v
			st, err := echoOnce(t, addr, cfg, "first")
			require.NoError(t, err)
			assert.False(t, st.DidResume)
			st, err = echoOnce(t, addr, cfg, "second")
			require.NoError(t, err)
			assert.True(t, st.DidResume, "the second connection should resume from the ticket")
			require.NotEmpty(t, st.PeerCertificates, "a resumed session still knows the server's certificate")
			logs.WaitFor(t, "resumed=true", 10*time.Second)
		})
	}
}

func TestShutdownClosesOpenConnections(t *testing.T) {
	p := newPKI(t)
	srv := NewServer(Config{TLS: p.serverConfig(t, false), Log: slogTo(io.Discard)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	c := &Client{Addr: ln.Addr().String(), Config: p.clientConfig(t, false), Timeout: 5 * time.Second}
	conn, err := c.Dial(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "x")
	require.NoError(t, err)
	_, err = io.ReadFull(conn, make([]byte, 1))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = srv.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the open connection outlived the drain timeout")
	assert.ErrorIs(t, <-done, serve.ErrServerClosed)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	require.Error(t, err, "the connection was closed by Shutdown")
}

func TestKeyLog(t *testing.T) {
	p := newPKI(t)
	addr, _ := startServer(t, p.serverConfig(t, false))
	cfg := p.clientConfig(t, false)
	file := p.path("keys.log")
	logs := &testutil.LogBuffer{}
	f, err := openKeyLog(cfg, file, slogTo(logs))
	require.NoError(t, err)
	_, err = echoOnce(t, addr, cfg, "secret")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Contains(t, logs.String(), "level=WARN")
	if runtime.GOOS != "windows" { // the secrets decrypt the traffic: owner only
		fi, err := os.Stat(file)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the key log is readable by its owner only")
	}
	data := string(readFile(t, file))
	// TLS 1.3 logs one secret per direction and stage, each tagged with the
	// ClientHello's random, which is how Wireshark matches them to a capture.
	for _, label := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
		assert.Contains(t, data, label+" ")
	}
	assert.True(t, slices.ContainsFunc(strings.Split(data, "\n"), func(l string) bool { return len(strings.Fields(l)) == 3 }))
}

// TestHandshakeTimeoutBoundsTheWhole: a client that trickles its
// ClientHello one byte at a time, each byte well within the timeout, is
// still closed when the handshake as a whole takes too long. (A per-read
// deadline would let it hold the connection forever.)
func TestHandshakeTimeoutBoundsTheWhole(t *testing.T) {
	p := newPKI(t)
	const timeout = 300 * time.Millisecond
	addr, logs := startServer(t, p.serverConfig(t, false), func(c *Config) { c.HandshakeTimeout = timeout })

	start := time.Now() // before Dial: the server's clock starts at accept, after this
	c := testutil.Dial(t, addr)
	// A handshake record header announcing 512 bytes, then the body slowly.
	_, err := c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00})
	require.NoError(t, err)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		if _, err := c.Write([]byte{0x01}); err != nil {
			break // the server closed the connection
		}
		require.Less(t, time.Since(start), 10*time.Second, "the trickling client was never closed")
	}
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	logs.WaitFor(t, "context deadline exceeded", 10*time.Second)
}

// TestPlaintextHintSurvivesAClientStillSending: a plaintext client that
// sends more than the server reads (a whole HTTP request, say) and reads
// the answer late still gets the hint. Closing at once with its bytes
// unread would make the kernel send a reset, and on Linux a reset discards
// the hint waiting in the client's receive buffer; lingerClose sends FIN
// and drains first.
func TestPlaintextHintSurvivesAClientStillSending(t *testing.T) {
	p := newPKI(t)
	addr, _ := startServer(t, p.serverConfig(t, false))
	c := testutil.Dial(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	req := "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 16<<10) + "\r\n\r\n"
	_, err := io.WriteString(c, req)
	require.NoError(t, err)
	<-time.After(100 * time.Millisecond) // the scenario: a client that reads late
	got, err := io.ReadAll(c)
	require.NoError(t, err, "the server ends with FIN, not a reset")
	assert.Equal(t, "this port speaks TLS; plaintext is refused\n", string(got))
}
