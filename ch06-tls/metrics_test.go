package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/telemetry"
	"github.com/tcp-in-go/course/tests/testutil"
)

// startMetrics serves srv's metrics on 127.0.0.1:0, as -metrics-addr does,
// and returns the base URL.
func startMetrics(t testing.TB, srv *Server) string {
	t.Helper()
	bound, stop, err := telemetry.Start(context.Background(), "127.0.0.1:0", srv.Metrics(), srv.Ready, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(stop)
	return "http://" + bound
}

// TestMetrics drives one handshake of each kind at a mutual-TLS server and
// checks that each is counted under its version or failure reason.
func TestMetrics(t *testing.T) {
	p := newPKI(t)
	srv, addr, _ := startServerFor(t, p.serverConfig(t, true), func(c *Config) {
		c.Metrics = true
		c.HandshakeTimeout = 200 * time.Millisecond
	})
	base := startMetrics(t, srv)

	_, err := echoOnce(t, addr, p.clientConfig(t, true), "ping") // TLS 1.3
	require.NoError(t, err)
	tls12 := p.clientConfig(t, true)
	tls12.MaxVersion = tls.VersionTLS12
	_, err = echoOnce(t, addr, tls12, "ping")
	require.NoError(t, err)
	_, err = echoOnce(t, addr, p.clientConfig(t, false), "ping")
	require.Error(t, err, "no client certificate")
	tls11 := p.clientConfig(t, true)
	tls11.MinVersion, tls11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	_, err = echoOnce(t, addr, tls11, "ping")
	require.Error(t, err, "TLS 1.1 only")
	stranger := p.clientConfig(t, false)
	other, err := NewCA("someone else's CA", ValidFor(time.Hour))
	require.NoError(t, err)
	id, err := other.IssueClient("stranger", ValidFor(time.Hour))
	require.NoError(t, err)
	stranger.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := id.TLSCertificate()
		return &c, nil
	}
	_, err = echoOnce(t, addr, stranger, "ping")
	require.Error(t, err, "a client certificate from an unknown CA")
	plain := testutil.Dial(t, addr)
	_, err = io.WriteString(plain, "hello\n")
	require.NoError(t, err)
	_, _ = io.ReadAll(plain)                  // the plaintext hint, then EOF
	testutil.Dial(t, addr).Close()            // gone before its ClientHello: eof
	_, _ = io.ReadAll(testutil.Dial(t, addr)) // silent: timeout, then closed

	var m map[string]float64
	require.Eventually(t, func() bool {
		m = testutil.Scrape(t, base)
		return m[`tcp_server_connections_closed_total{reason="eof"}`]+m[`tcp_server_connections_closed_total{reason="handshake"}`] == 8 &&
			m["tcp_server_connections_open"] == 0 // Done comes after the handler's Closed
	}, 10*time.Second, 10*time.Millisecond)
	for name, want := range map[string]float64{
		`tls_handshakes_total{version="1.3"}`:                     1,
		`tls_handshakes_total{version="1.2"}`:                     1,
		`tls_handshake_failures_total{reason="no_client_cert"}`:   1,
		`tls_handshake_failures_total{reason="protocol_version"}`: 1,
		`tls_handshake_failures_total{reason="unknown_ca"}`:       1,
		`tls_handshake_failures_total{reason="other"}`:            1,
		`tls_handshake_failures_total{reason="eof"}`:              1,
		`tls_handshake_failures_total{reason="timeout"}`:          1,
		`tls_handshake_failures_total{reason="bad_certificate"}`:  0,
		`tcp_server_connections_closed_total{reason="eof"}`:       2,
		`tcp_server_connections_closed_total{reason="handshake"}`: 6,
		"tcp_server_connections_accepted_total":                   8,
		"tcp_server_connections_open":                             0,
	} {
		assert.Equal(t, want, m[name], name)
	}
	// Bytes are counted on the wire: certificates and records included.
	assert.Greater(t, m["tcp_server_received_bytes_total"], float64(1000))
	assert.Greater(t, m["tcp_server_sent_bytes_total"], float64(1000))
}

// TestReadyzBeforeRefusing runs the server as main.go does (cli.Serve): when
// the drain begins, /readyz turns 503 before the listener refuses new
// clients, while an open connection keeps the drain going.
func TestReadyzBeforeRefusing(t *testing.T) {
	p := newPKI(t)
	srv := NewServer(Config{TLS: p.serverConfig(t, false), Log: slog.New(slog.NewTextHandler(&testutil.LogBuffer{}, nil)), Metrics: true})
	base := startMetrics(t, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- cli.Serve(ctx, srv.cfg.Log, ln, srv, 10*time.Second) }()

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	held, err := (&Client{Addr: ln.Addr().String(), Config: p.clientConfig(t, false), Timeout: 5 * time.Second}).Dial(dctx)
	require.NoError(t, err)
	_, err = io.WriteString(held, "x")
	require.NoError(t, err)
	_, err = io.ReadFull(held, make([]byte, 1)) // served: the drain must wait for it
	require.NoError(t, err)

	testutil.CheckReadyBeforeRefused(t, base+"/readyz", ln.Addr().String(), cancel)
	assert.Equal(t, 200, testutil.Status(t, base+"/healthz"), "alive while draining")
	held.Close()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("cli.Serve did not return")
	}
}
