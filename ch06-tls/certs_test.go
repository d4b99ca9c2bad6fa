package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
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

// The commands the page shows, run as they are: the tests add only
// -addr 127.0.0.1:0 to the server, and the server's port to the client.
const (
	pageGencertCmd = "go run ./ch06-tls gencert"
	pageServeCmd   = "go run ./ch06-tls serve -client-ca certs/ca.pem"
	pageClientCmd  = "go run ./ch06-tls client -cert certs/client.pem -key certs/client-key.pem -resume"
	pageClientIn   = `hello\nworld\n` // what printf pipes into the client, as the page writes it
)

// TestTranscript writes the transcripts shown in the book by running the
// page's commands as processes: gencert, a mutual-TLS server, and a client
// session with resumption; then Ctrl-C (SIGINT) stops the server. Outputs
// are kept whole; normalised are only the log's timestamps and durations,
// the server's port (shown as the default, 8443) and the client's ports
// (PORT1, ...). Rerun with -update after an intended change.
func TestTranscript(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT for a child process, and no Unix permissions, on Windows")
	}
	bin := testutil.BuildGo(t, ".")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(cmdline, stdin string, extra ...string) string {
		cmd := exec.CommandContext(ctx, bin, append(strings.Fields(cmdline)[3:], extra...)...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out // one stream, as a terminal shows it
		require.NoError(t, cmd.Run(), out.String())
		return out.String()
	}
	testutil.Golden(t, "testdata/gencert.txt", run(pageGencertCmd, ""))

	srv := exec.Command(bin, append(strings.Fields(pageServeCmd)[3:], "-addr", "127.0.0.1:0")...)
	srv.Dir = dir
	p := testutil.StartProcess(t, srv)
	client := run(pageClientCmd, strings.ReplaceAll(pageClientIn, `\n`, "\n"), "-addr", p.Addr)
	require.Eventually(t, func() bool { return strings.Count(p.Output(), "msg=closed") == 2 }, 10*time.Second, time.Millisecond,
		"the server logs the end of both connections")
	require.NoError(t, p.Signal(os.Interrupt, 10*time.Second))

	show := func(s string) string {
		return testutil.Normalize(strings.ReplaceAll(s, p.Addr, "127.0.0.1:8443"), "8443")
	}
	testutil.Golden(t, "testdata/client.txt", show(client))
	testutil.Golden(t, "testdata/server-log.txt", show(p.Output()))

	page, err := os.ReadFile(filepath.Join("..", "docs", "src", "ch06-tls.md"))
	require.NoError(t, err)
	for _, cmd := range []string{pageGencertCmd, pageServeCmd, "printf '" + pageClientIn + "' | " + pageClientCmd} {
		assert.True(t, strings.Contains(string(page), "$ "+cmd+"\n{{#include"), "the page must show the command that made its transcript: %q", cmd)
	}
}
