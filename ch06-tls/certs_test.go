package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
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

// TestWriteNewNeverReplaces: the key writer itself refuses an existing
// file (O_EXCL), so a key created between GenerateFiles' check and its
// write is not overwritten either.
func TestWriteNewNeverReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	err := writeNew(path, []byte("new"), 0o600)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing to overwrite a private key")
	assert.Equal(t, []byte("old"), readFile(t, path), "the existing key is unchanged")
}

func TestSplitHosts(t *testing.T) {
	assert.Equal(t, []string{"localhost", "127.0.0.1", "::1"}, splitHosts(" localhost, 127.0.0.1,,::1 "))
	assert.Empty(t, splitHosts(" , "))
}

// The commands the pages show, run as they are: the tests add only
// -addr 127.0.0.1:0 to the server, and the server's port to the clients.
const (
	pageGencertCmd = "go run ./ch06-tls gencert"
	pageServeCmd   = "go run ./ch06-tls serve -client-ca certs/ca.pem"
	pagePlainCmd   = "nc -N 127.0.0.1 8443"
	pagePlainIn    = `hello\n` // what printf pipes into nc
	pageClientCmd  = "go run ./ch06-tls client -cert certs/client.pem -key certs/client-key.pem -resume"
	pageClientIn   = `hello\nworld\n` // what printf pipes into the client, as the page writes it
)

// TestTranscript writes the transcripts shown in the book by running the
// pages' commands as processes: gencert, a mutual-TLS server, nc speaking
// plain TCP to it, and a client session with resumption; then Ctrl-C
// (SIGINT) stops the server. Outputs are kept whole; normalised are only
// the log's timestamps and durations, the server's port (shown as the
// default, 8443) and the clients' ports (PORT1, ...). Without nc (and not
// under CI) the test sends nc's bytes itself: hello, then a half-close.
// Rerun with -update after an intended change.
func TestTranscript(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT for a child process, and no Unix permissions, on Windows")
	}
	bin := testutil.BuildGo(t, ".")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	unescape := func(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }
	run := func(prog string, args []string, stdin string) string {
		cmd := exec.CommandContext(ctx, prog, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out // one stream, as a terminal shows it
		require.NoError(t, cmd.Run(), out.String())
		return out.String()
	}
	goArgs := func(cmdline string, extra ...string) []string { return append(strings.Fields(cmdline)[3:], extra...) }
	testutil.Golden(t, "testdata/gencert.txt", run(bin, goArgs(pageGencertCmd), ""))

	srv := exec.Command(bin, goArgs(pageServeCmd, "-addr", "127.0.0.1:0")...)
	srv.Dir = dir
	p := testutil.StartProcess(t, srv)
	host, port, err := net.SplitHostPort(p.Addr)
	require.NoError(t, err)
	var plain string
	if nc, err := exec.LookPath("nc"); err == nil || testutil.InCI() {
		require.NoError(t, err, "nc is required under CI")
		plain = run(nc, []string{"-N", host, port}, unescape(pagePlainIn))
	} else {
		plain = ncN(t, p.Addr, unescape(pagePlainIn))
	}
	client := run(bin, goArgs(pageClientCmd, "-addr", p.Addr), unescape(pageClientIn))
	require.Eventually(t, func() bool { return strings.Count(p.Output(), "msg=closed") == 3 }, 10*time.Second, time.Millisecond,
		"the server logs the end of all three connections")
	require.NoError(t, p.Signal(os.Interrupt, 10*time.Second))

	show := func(s string) string {
		return testutil.Normalize(strings.ReplaceAll(s, p.Addr, "127.0.0.1:8443"), "8443")
	}
	testutil.Golden(t, "testdata/plaintext.txt", show(plain))
	testutil.Golden(t, "testdata/client.txt", show(client))
	testutil.Golden(t, "testdata/server-log.txt", byConnection(show(p.Output())))

	pages := pageTexts(t)
	for _, cmd := range []string{pageGencertCmd, pageServeCmd, "printf '" + pagePlainIn + "' | " + pagePlainCmd,
		"printf '" + pageClientIn + "' | " + pageClientCmd} {
		assert.Contains(t, pages, "$ "+cmd+"\n{{#include", "a page must show the command that made its transcript")
	}
}

// byConnection orders a normalised server log by connection: each peer's
// lines together, in the order the peers came. The second connection of a
// client can be accepted before the first one's closed line is written
// (the client may reconnect as soon as it has read the end of the echo),
// so without this the transcript would change from run to run.
func byConnection(log string) string {
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	peer := func(l string) int { // PORTn as n; 0 for a line of no connection
		_, after, ok := strings.Cut(l, " peer=127.0.0.1:PORT")
		if !ok {
			return 0
		}
		n, _ := strconv.Atoi(strings.Fields(after)[0])
		return n
	}
	first, last := -1, -1
	for i, l := range lines {
		if peer(l) > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		slices.SortStableFunc(lines[first:last+1], func(a, b string) int { return peer(a) - peer(b) })
	}
	return strings.Join(lines, "\n") + "\n"
}

// ncN does what nc -N does with stdin: send it, half-close, print what
// comes back until the server closes.
func ncN(t *testing.T, addr, stdin string) string {
	t.Helper()
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, stdin)
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	return string(got)
}

// pageTexts is the chapter's page and its Going further pages, joined.
func pageTexts(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "docs", "src", "ch06-tls", "*.md"))
	require.NoError(t, err)
	var all strings.Builder
	for _, f := range append([]string{filepath.Join("..", "docs", "src", "ch06-tls.md")}, files...) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		all.Write(data)
	}
	return all.String()
}
