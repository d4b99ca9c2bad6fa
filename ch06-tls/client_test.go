package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientRun runs the client command's code in-process (TestTranscript
// runs the built program): what it prints about each handshake, the echo,
// and the resumed second connection.
func TestClientRun(t *testing.T) {
	p := newPKI(t)
	addr, _ := startServer(t, p.serverConfig(t, true))
	cfg, err := ClientConfig(p.path(CAFile), "127.0.0.1", p.path(ClientCertFile), p.path(ClientKeyFile))
	require.NoError(t, err)
	var out, info bytes.Buffer
	c := &Client{Addr: addr, Config: cfg, Timeout: 5 * time.Second, Resume: true}
	require.NoError(t, c.Run(t.Context(), strings.NewReader("hello\nworld\n"), &out, &info))
	assert.Equal(t, "hello\nworld\n", out.String(), "the echo, whole")
	got := info.String()
	assert.Equal(t, 2, strings.Count(got, "connected to "+addr+"\n"))
	assert.Equal(t, 2, strings.Count(got, "  ALPN:         echo\n"))
	assert.Equal(t, 2, strings.Count(got, "  chain:        localhost <- tcp-in-go course CA\n"))
	assert.Contains(t, got, "  resumed:      false\n")
	assert.Contains(t, got, "reconnected:\n")
	assert.Contains(t, got, "  resumed:      true\n")
}

// TestPrintStateWithoutALPN: a server that negotiated no protocol shows
// "(none)", and no chain line appears without a verified chain.
func TestPrintStateWithoutALPN(t *testing.T) {
	var w bytes.Buffer
	printState(&w, "127.0.0.1:1", "localhost", tls.ConnectionState{Version: tls.VersionTLS13})
	assert.Contains(t, w.String(), "  ALPN:         (none)\n")
	assert.NotContains(t, w.String(), "chain:")
}

// TestCertificateValidity: gencert's certificates start five minutes in the
// past (clock skew between machines) and last 10 years for the CA, 397 days
// (the most browsers accept) for the server and client certificates.
func TestCertificateValidity(t *testing.T) {
	start := time.Now()
	p := newPKI(t)
	for file, life := range map[string]time.Duration{
		CAFile:         10 * 365 * 24 * time.Hour,
		ServerCertFile: 397 * 24 * time.Hour,
		ClientCertFile: 397 * 24 * time.Hour,
	} {
		block, _ := pem.Decode(readFile(t, p.path(file)))
		require.NotNil(t, block, file)
		cert, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		// Certificate times have a resolution of one second.
		assert.WithinDuration(t, start.Add(-5*time.Minute), cert.NotBefore, 2*time.Minute, file)
		assert.WithinDuration(t, start.Add(life), cert.NotAfter, 2*time.Minute, file)
	}
}
