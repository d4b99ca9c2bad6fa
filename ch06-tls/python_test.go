package main

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// The Python counterpart (python/ch06_tls.py, the ssl module over OpenSSL)
// and the Go programs interoperate both ways, with mutual TLS and resumption.

func TestGoClientPythonServer(t *testing.T) {
	p := newPKI(t)
	py := testutil.StartPython(t, "ch06_tls.py", "serve",
		"--cert", p.path(ServerCertFile), "--key", p.path(ServerKeyFile), "--client-ca", p.path(CAFile))

	var out, info bytes.Buffer
	c := &Client{Addr: py.Addr, Config: p.clientConfig(t, true), Timeout: 5 * time.Second, Resume: true}
	require.NoError(t, c.Run(t.Context(), strings.NewReader("hello from Go\n"), &out, &info))
	assert.Equal(t, "hello from Go\n", out.String())
	assert.Contains(t, info.String(), "version:      TLS 1.3")
	assert.Contains(t, info.String(), "ALPN:         echo")
	assert.Contains(t, info.String(), "resumed:      true", "OpenSSL's tickets resume a Go client's session")

	// The Python server refuses TLS 1.1 as the Go server does, and a client
	// without a certificate under mutual TLS.
	cfg := p.clientConfig(t, true)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
	_, err := echoOnce(t, py.Addr, cfg, "old")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "protocol version")
	_, err = echoOnce(t, py.Addr, p.clientConfig(t, false), "anonymous")
	require.Error(t, err)                                                 // the alert, or a reset when the Python server closed first
	py.WaitOutput(t, "PEER_DID_NOT_RETURN_A_CERTIFICATE", 10*time.Second) // the Python server logs why it refused
}

func TestPythonClientGoServer(t *testing.T) {
	p := newPKI(t)
	addr, logs := startServer(t, p.serverConfig(t, true))

	args := []string{"client", "--addr", addr, "--ca", p.path(CAFile),
		"--cert", p.path(ClientCertFile), "--key", p.path(ClientKeyFile), "--resume"}
	stdout, stderr, err := testutil.RunWithTimeout(t, 30*time.Second,
		testutil.PythonCmd(t, "ch06_tls.py", args...), "hello from Python\n")
	require.NoError(t, err, stderr)
	assert.Equal(t, "hello from Python\n", stdout)
	assert.Contains(t, stderr, "version:      TLS 1.3")
	assert.Contains(t, stderr, "resumed:      true", "Go's tickets resume a Python client's session")
	logs.WaitFor(t, `resumed=true client="CN=course-client,O=tcp-in-go course"`, 10*time.Second)

	// Without a client certificate the Go server refuses the Python client.
	_, stderr, err = testutil.RunWithTimeout(t, 30*time.Second,
		testutil.PythonCmd(t, "ch06_tls.py", args[:5]...), "anonymous\n")
	require.Error(t, err)
	assert.Contains(t, stderr, "ch06_tls.py: TLS with")
	logs.WaitFor(t, "client didn't provide a certificate", 10*time.Second)

	// A Python client that trusts another CA refuses the Go server.
	other := t.TempDir() + "/other-ca.pem"
	ca, err := NewCA("someone else's CA", ValidFor(time.Hour))
	require.NoError(t, err)
	require.NoError(t, writeNewFile(other, ca.CertPEM()))
	_, stderr, err = testutil.RunWithTimeout(t, 30*time.Second,
		testutil.PythonCmd(t, "ch06_tls.py", "client", "--addr", addr, "--ca", other), "x")
	require.Error(t, err)
	assert.Contains(t, stderr, "CERTIFICATE_VERIFY_FAILED")
}

func writeNewFile(path string, data []byte) error { return writeNew(path, data, 0o644) }
