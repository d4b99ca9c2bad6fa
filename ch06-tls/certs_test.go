package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/testutil"

	"github.com/tcp-in-go/course/internal/exercise"
)

func TestGenerateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, GenerateFiles(dir, []string{"localhost", "127.0.0.1", "::1"}))

	if runtime.GOOS != "windows" { // Windows has no Unix permission bits
		for _, f := range []string{CAKeyFile, ServerKeyFile, ClientKeyFile} {
			st, err := os.Stat(filepath.Join(dir, f))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "%s must be readable by its owner only", f)
		}
	}

	ca := loadIdentity(t, filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	server := loadIdentity(t, filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile))
	client := loadIdentity(t, filepath.Join(dir, ClientCertFile), filepath.Join(dir, ClientKeyFile))
	assert.True(t, ca.Cert.IsCA)
	assert.Equal(t, "P-256", ca.Key.Curve.Params().Name)

	// The server certificate verifies for each of its names, from our CA
	// alone, and only for server authentication.
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		_, err := server.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: certPool(ca)})
		assert.NoError(t, err, name)
	}
	_, err := server.Cert.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: certPool(ca)})
	assert.Error(t, err)
	_, err = server.Cert.Verify(x509.VerifyOptions{Roots: certPool(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.Error(t, err, "a server certificate must not work as a client certificate")
	_, err = client.Cert.Verify(x509.VerifyOptions{Roots: certPool(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
}

func TestGenerateFilesRefusesToOverwriteKeys(t *testing.T) {
	exercise.Graded(t, "exercise-refuse-overwrite")
	dir := t.TempDir()
	require.NoError(t, GenerateFiles(dir, []string{"localhost"}))
	before := readFile(t, filepath.Join(dir, CAKeyFile))

	err := GenerateFiles(dir, []string{"localhost"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing to overwrite a private key")
	assert.Equal(t, before, readFile(t, filepath.Join(dir, CAKeyFile)), "the CA key must be unchanged")

	// Even one leftover key is enough to refuse.
	dir2 := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir2, ClientKeyFile), []byte("old"), 0o600))
	require.Error(t, GenerateFiles(dir2, []string{"localhost"}))
	_, err = os.Stat(filepath.Join(dir2, CAKeyFile))
	assert.True(t, os.IsNotExist(err), "nothing is written when refusing")
}

func TestSplitHosts(t *testing.T) {
	assert.Equal(t, []string{"localhost", "127.0.0.1", "::1"}, splitHosts(" localhost, 127.0.0.1,,::1 "))
	assert.Empty(t, splitHosts(" , "))
}

// TestTranscript writes the transcripts shown in the book: gencert's output,
// a client session with resumption against a mutual-TLS server, and the
// server's log of it. Rerun with -update after an intended change.
func TestTranscript(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	require.NoError(t, GenerateFiles(certs, []string{"localhost", "127.0.0.1", "::1"}))
	var gen bytes.Buffer
	gen.WriteString("$ go run ./ch06-tls gencert\n")
	require.NoError(t, listFiles(&gen, certs))
	if runtime.GOOS != "windows" {
		testutil.Golden(t, "testdata/gencert.txt", strings.ReplaceAll(gen.String(), dir+string(os.PathSeparator), ""))
	}

	p := &pki{dir: certs}
	logs := &testutil.LogBuffer{}
	srv := &Server{TLSConfig: p.serverConfig(t, true), Log: slogTo(logs)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	srv.Log.Info("listening", "addr", addr, "mtls", true)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	cfg, err := ClientConfig(p.path(CAFile), "127.0.0.1", p.path(ClientCertFile), p.path(ClientKeyFile))
	require.NoError(t, err)
	var out bytes.Buffer
	out.WriteString("$ printf 'hello\\nworld\\n' | go run ./ch06-tls client -cert certs/client.pem -key certs/client-key.pem -resume\n")
	c := &Client{Addr: addr, Config: cfg, Timeout: 5 * time.Second, Resume: true}
	require.NoError(t, c.Run(t.Context(), strings.NewReader("hello\nworld\n"), &out, &out))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	require.ErrorIs(t, <-done, serve.ErrServerClosed)

	show := func(s string) string { return strings.ReplaceAll(s, addr, "127.0.0.1:8443") }
	testutil.Golden(t, "testdata/client.txt", show(out.String()))
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=listening") || strings.Contains(l, "msg=handshake") {
			lines = append(lines, l)
		}
	}
	testutil.Golden(t, "testdata/server-log.txt",
		testutil.Normalize(show("$ go run ./ch06-tls serve -client-ca certs/ca.pem\n"+strings.Join(lines, "\n")+"\n"), "8443"))
}
