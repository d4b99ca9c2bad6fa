package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/telemetry"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestMetrics: echo traffic shows up as the metrics the operations chapter
// documents (deploy/'s tests lint the format itself).
func TestMetrics(t *testing.T) {
	srv := newServer(Config{MaxConns: 100, IdleTimeout: time.Minute, Metrics: true})
	m := srv.Metrics()
	addr := testutil.StartServer(t, srv.Serve, srv.Shutdown)
	hs := &http.Server{Handler: telemetry.Handler(m, srv.core.Ready), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	url := "http://" + ln.Addr().String()

	for range 2 {
		c := testutil.Dial(t, addr)
		_, err := c.Write([]byte("hello"))
		require.NoError(t, err)
		_, err = io.ReadFull(c, make([]byte, 5))
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		_, _ = io.Copy(io.Discard, c) // EOF: the server has finished with it
		c.Close()
	}
	want := []string{
		"tcp_server_connections_accepted_total 2",
		`tcp_server_connections_closed_total{reason="eof"} 2`,
		"tcp_server_received_bytes_total 10",
		"tcp_server_sent_bytes_total 10",
		"tcp_server_connections_max 100",
		"echo_round_trip_seconds_count 2",
	}
	var body string
	require.True(t, testutil.Eventually(5*time.Second, func() bool {
		_, body = testutil.Get(t, url+"/metrics")
		for _, w := range want {
			if !strings.Contains(body, w+"\n") {
				return false
			}
		}
		return true
	}), "want %q in:\n%s", want, body)
}

// TestReadyzDuringDrain runs the real program: on SIGTERM, /readyz turns
// 503 while a client is still being served (the drain), /healthz stays 200,
// and the process exits 0 once the client leaves.
func TestReadyzDuringDrain(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	bin := testutil.BuildGo(t, ".")
	p := testutil.StartProcess(t, exec.Command(bin, "serve", "-addr", "127.0.0.1:0",
		"-metrics-addr", "127.0.0.1:0", "-drain-timeout", "30s"))
	out := p.WaitOutput(t, "msg=listening", 30*time.Second)
	echoAddr := p.Addr
	metricsAddr := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`).FindStringSubmatch(out)[1]
	url := "http://" + metricsAddr

	// "listening" is logged as Serve starts; /readyz turns 200 once Serve
	// holds the listener, a moment later (a probe polls, and so do we).
	require.True(t, testutil.Eventually(10*time.Second, func() bool {
		code, _ := testutil.Get(t, url+"/readyz")
		return code == http.StatusOK
	}), "/readyz must turn ready once the server serves")
	c := testutil.Dial(t, echoAddr)
	_, err := c.Write([]byte("x\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "x\n", line)

	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	require.True(t, testutil.Eventually(10*time.Second, func() bool {
		code, _ := testutil.Get(t, url+"/readyz")
		return code == http.StatusServiceUnavailable
	}), "/readyz must fail once the drain begins")
	code, _ := testutil.Get(t, url+"/healthz")
	assert.Equal(t, http.StatusOK, code, "alive while draining")
	_, err = net.DialTimeout("tcp", echoAddr, time.Second)
	assert.Error(t, err, "the listener is closed during the drain")
	c.Close() // the last client leaves: the drain ends
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not exit after the drain")
	}
	assert.Equal(t, 0, p.Cmd.ProcessState.ExitCode())
	assert.Contains(t, p.Output(), "msg=stopped")
}
