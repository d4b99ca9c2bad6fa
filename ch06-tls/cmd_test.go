package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// TestCommands runs the built program as a student would: gencert, serve,
// client, the refusals and the exit codes.
func TestCommands(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	dir := t.TempDir()
	run := func(stdin string, args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		stdout, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, cmd, stdin)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout, stderr, ee.ExitCode()
		}
		require.NoError(t, err)
		return stdout, stderr, 0
	}

	_, stderr, code := run("", "serve", "-addr", "127.0.0.1:0")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "run 'ch06-tls gencert' first?")

	_, _, code = run("", "gencert")
	require.Equal(t, 0, code)
	_, stderr, code = run("", "gencert")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "refusing to overwrite a private key")

	_, _, code = run("", "client", "-bogus")
	assert.Equal(t, 2, code, "a usage error exits 2")
	for _, flag := range []string{"-max-conns", "-handshake-timeout", "-idle-timeout"} {
		_, stderr, code = run("", "serve", "-addr", "127.0.0.1:0", flag, "-1")
		assert.Equal(t, 2, code, "%s -1: %s", flag, stderr)
	}

	srv := exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-client-ca", filepath.Join("certs", CAFile),
		"-debug-addr", "127.0.0.1:0", "-max-conns", "3")
	srv.Dir = dir
	p := testutil.StartProcess(t, srv)
	stdout, stderr, code := run("hi\n", "client", "-addr", p.Addr,
		"-cert", filepath.Join("certs", ClientCertFile), "-key", filepath.Join("certs", ClientKeyFile), "-resume")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "hi\n", stdout)
	assert.Contains(t, stderr, "resumed:      true")

	_, stderr, code = run("hi\n", "client", "-addr", p.Addr, "-server-name", "example.com")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "ch06-tls: TLS handshake with")
	assert.Contains(t, stderr, "not example.com")

	_, stderr, code = run("", "client", "-addr", p.Addr, "-keylog", "keys.log",
		"-cert", filepath.Join("certs", ClientCertFile), "-key", filepath.Join("certs", ClientKeyFile))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "anyone who has this file can decrypt the traffic")

	assert.Contains(t, p.Output(), "mtls=true max_conns=3", "the listening line shows the limit in force")

	// -debug-addr publishes the server's counters (expvar "tls").
	assert.Contains(t, string(testutil.DebugVars(t, p)["tls"]), `"conns_open":`)

	require.NoError(t, p.Signal(syscall.SIGTERM, 10*time.Second), "SIGTERM is a graceful exit 0")
	assert.Contains(t, p.Output(), "msg=draining open=0 drain_timeout=10s")
	assert.Contains(t, p.Output(), "msg=stopped")
}
