package main

// Cross-checks with real tools: nginx terminating TLS with the configuration
// in nginx/, and openssl s_client against the Go server.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

const streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// startPlainEcho runs a plain TCP echo server (chapter 4's protocol: bytes
// in, same bytes out, close after the client's FIN) on the course's accept
// loop (internal/serve). It stands in for ch04-echo behind nginx, and is
// the baseline of the benchmarks.
func startPlainEcho(t testing.TB) string {
	t.Helper()
	core := serve.New(serve.Config{Log: slog.New(slog.DiscardHandler)})
	echo := func(c net.Conn) serve.End { _, err := io.Copy(c, c); return serve.End{Err: err} }
	return testutil.StartServer(t, func(ln net.Listener) error { return core.Serve(ln, echo) },
		func(ctx context.Context) error {
			core.BeginShutdown()
			core.Each(func(c net.Conn) { c.Close() }) // wake echoes blocked in Read
			return core.Wait(ctx)
		})
}

// freePort returns a loopback address that was free a moment ago (the
// kernel picked it for a listener we closed). nginx must bind it itself.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// replaceOnce replaces old with new in s and fails the test unless old
// occurs exactly once: if nginx.conf changes, this test must notice.
func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(s, old), "nginx.conf should contain %q exactly once", old)
	return strings.Replace(s, old, new, 1)
}

// startNginx runs nginx with ch06-tls/nginx/nginx.conf, its listen port,
// upstream and certificates rewritten for this test, as a child process
// (daemon off) with everything in a temporary directory. It returns the
// TLS address once nginx accepts connections there.
func startNginx(t *testing.T, p *pki, upstream string) (addr string, logs *testutil.LogBuffer) {
	t.Helper()
	nginx := testutil.RequireTool(t, "nginx")
	if _, err := os.Stat(streamModule); err != nil {
		if testutil.InCI() {
			t.Fatalf("%s missing: install libnginx-mod-stream (scripts/install-tools.sh)", streamModule)
		}
		t.Skipf("skipping: %s missing (install libnginx-mod-stream)", streamModule)
	}
	conf := string(readFile(t, filepath.Join("nginx", "nginx.conf")))
	dir := t.TempDir()
	addr = freePort(t)
	conf = replaceOnce(t, conf, "listen 127.0.0.1:8443 ssl;", "listen "+addr+" ssl;")
	conf = replaceOnce(t, conf, "server 127.0.0.1:65432;", "server "+upstream+";")
	conf = strings.ReplaceAll(conf, "../../certs/", p.dir+string(os.PathSeparator))
	confFile := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(confFile, []byte(conf), 0o644))

	logs = &testutil.LogBuffer{}
	cmd := exec.Command(nginx, "-p", dir, "-e", "stderr", "-c", confFile, "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // fast shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("nginx log:\n%s", logs)
		}
	})

	// nginx prints no "listening" line: poll the port, bounded.
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, logs
		}
		select {
		case err := <-exited:
			t.Fatalf("nginx exited: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 15s\n%s", addr, logs)
		}
	}
}

func TestNginxTerminatesTLS(t *testing.T) {
	p := newPKI(t)
	addr, logs := startNginx(t, p, startPlainEcho(t))

	// The Go client through nginx to the plain echo server, with resumption.
	var out, info bytes.Buffer
	c := &Client{Addr: addr, Config: p.clientConfig(t, false), Timeout: 5 * time.Second, Resume: true}
	require.NoError(t, c.Run(t.Context(), strings.NewReader("through nginx\n"), &out, &info))
	assert.Equal(t, "through nginx\n", out.String())
	assert.Contains(t, info.String(), "version:      TLS 1.3")
	assert.Contains(t, info.String(), "ALPN:         echo")
	assert.Contains(t, info.String(), "resumed:      true")

	// TLS 1.2 gets an ECDHE AEAD suite; TLS 1.1 is refused, as by the Go server.
	cfg := p.clientConfig(t, false)
	cfg.MaxVersion = tls.VersionTLS12
	st, err := echoOnce(t, addr, cfg, "tls 1.2")
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS12), st.Version)
	assert.Contains(t, tls12Suites, st.CipherSuite, tls.CipherSuiteName(st.CipherSuite))

	cfg = p.clientConfig(t, false)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
	_, err = echoOnce(t, addr, cfg, "tls 1.1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "protocol version")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "unsupported protocol") },
		10*time.Second, 10*time.Millisecond, "nginx should log the refused TLS 1.1 handshake")
}

// TestOpenSSLSClient: OpenSSL's own client completes a TLS 1.3 handshake
// with the Go server, verifying our CA and negotiating ALPN, and its TLS 1.1
// handshake is refused with a protocol_version alert.
func TestOpenSSLSClient(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	p := newPKI(t)
	addr, logs := startServer(t, p.serverConfig(t, false))
	base := []string{"s_client", "-connect", addr, "-servername", "localhost", "-CAfile", p.path(CAFile)}

	out, _, err := testutil.RunWithTimeout(t, 20*time.Second,
		exec.Command(openssl, append(base, "-tls1_3", "-verify_return_error", "-alpn", ALPN)...), "hello\n")
	require.NoError(t, err, out)
	assert.Contains(t, out, "New, TLSv1.3, Cipher is TLS_")
	assert.Contains(t, out, "Verify return code: 0 (ok)")
	assert.Contains(t, out, "ALPN protocol: echo")
	logs.WaitFor(t, `version="TLS 1.3"`, 10*time.Second)

	// SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all; the refusal we see
	// then comes from the server, not from the client's own policy.
	out, stderr, err := testutil.RunWithTimeout(t, 20*time.Second,
		exec.Command(openssl, append(base, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")...), "hello\n")
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "openssl -tls1_1 must fail: %v\n%s", err, out)
	assert.Contains(t, stderr+out, "alert protocol version")
	logs.WaitFor(t, "client offered only unsupported versions", 10*time.Second)
}

// TestNginxWithCh04Echo is the setup of the docs: nginx in front of the
// real chapter 4 echo server (built from ../ch04-echo, started with
// -addr 127.0.0.1:0). It skips while that chapter does not exist.
func TestNginxWithCh04Echo(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "ch04-echo", "main.go")); err != nil {
		t.Skip("skipping: ../ch04-echo not found")
	}
	p := newPKI(t)
	echo := testutil.StartProcess(t, exec.Command(testutil.BuildGo(t, "../ch04-echo"), "-addr", "127.0.0.1:0"))
	addr, _ := startNginx(t, p, echo.Addr)

	var out bytes.Buffer
	c := &Client{Addr: addr, Config: p.clientConfig(t, false), Timeout: 5 * time.Second}
	require.NoError(t, c.Run(t.Context(), strings.NewReader("hello ch04\nthrough nginx\n"), &out, io.Discard))
	assert.Equal(t, "hello ch04\nthrough nginx\n", out.String())
}
