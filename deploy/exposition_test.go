package deploy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// internal/telemetry writes the Prometheus text format itself, so that the
// student's module needs no client library. These tests hold what it
// writes to Prometheus's own parser (github.com/prometheus/common/expfmt,
// the one Prometheus scrapes with) and linter (promlint, the rules of
// `promtool check metrics`), on real servers after real traffic.

// TestExpositionParsesAndLints scrapes the echo server (ch04), the file
// receiver (ch05) and the TLS server (ch06), each run as a process with
// -metrics-addr after some traffic, and requires each /metrics to parse
// with the legacy (strict) name rules and to pass promlint with no
// problem at all.
func TestExpositionParsesAndLints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   func(t *testing.T) (metricsAddr string)
		samples []string // families that must be there, with a value
	}{
		{"ch04-echo", startEcho, []string{"tcp_server_connections_accepted_total", "tcp_server_received_bytes_total", "echo_round_trip_seconds"}},
		{"ch05-filexfer", startFilexfer, []string{"tcp_server_connections_accepted_total", "filexfer_transfers_total", "filexfer_transfer_size_bytes", "filexfer_transfer_duration_seconds"}},
		{"ch06-tls", startTLSWithTraffic, []string{"tcp_server_connections_accepted_total", "tcp_server_sent_bytes_total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := scrapeRaw(t, tc.start(t))

			p := expfmt.NewTextParser(model.LegacyValidation)
			families, err := p.TextToMetricFamilies(bytes.NewReader(body))
			require.NoError(t, err, "expfmt cannot parse /metrics:\n%s", body)
			for _, name := range tc.samples {
				mf, ok := families[name]
				require.True(t, ok, "no %s in /metrics:\n%s", name, body)
				require.NotEmpty(t, mf.Metric, name)
				assert.Positive(t, value(mf), "%s: the traffic should show", name)
			}

			problems, err := promlint.New(bytes.NewReader(body)).Lint()
			require.NoError(t, err)
			var lines []string
			for _, pr := range problems {
				lines = append(lines, pr.Metric+": "+pr.Text)
			}
			sort.Strings(lines)
			assert.Empty(t, lines, "promlint problems in %s's /metrics", tc.name)
		})
	}
}

// value is a family's first sample: a counter's or gauge's value, a
// histogram's count.
func value(mf *dto.MetricFamily) float64 {
	m := mf.Metric[0]
	switch {
	case m.Counter != nil:
		var sum float64
		for _, m := range mf.Metric {
			sum += m.Counter.GetValue()
		}
		return sum
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func scrapeRaw(t *testing.T, addr string) []byte {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4"),
		"Content-Type %q: the text format's", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return body
}

var metricsListening = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

func metricsAddrOf(t *testing.T, p *testutil.Process) string {
	t.Helper()
	m := metricsListening.FindStringSubmatch(p.WaitOutput(t, "metrics listening", 10*time.Second))
	require.NotNil(t, m, p.Output())
	return m[1]
}

// startEcho runs the echo server and echoes a few lines through it, each
// connection closed, so that every family has samples.
func startEcho(t *testing.T) string {
	bin := testutil.BuildGo(t, "../ch04-echo")
	p := testutil.StartProcess(t, exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0"))
	for range 3 {
		c, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Write([]byte("hello\n"))
		require.NoError(t, err)
		buf := make([]byte, 6)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	addr := metricsAddrOf(t, p)
	require.Eventually(t, func() bool {
		return bytes.Contains(scrapeRaw(t, addr), []byte(`tcp_server_connections_closed_total{reason="eof"} 3`))
	}, 10*time.Second, 10*time.Millisecond, "the three connections should be counted closed")
	return addr
}

// startFilexfer runs the receiver and sends it a file, then the same file
// again (refused: EXISTS), so that the transfer counters have two results.
func startFilexfer(t *testing.T) string {
	bin := testutil.BuildGo(t, "../ch05-filexfer")
	p := testutil.StartProcess(t, exec.Command(bin, "serve", "-dir", t.TempDir(), "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0"))
	file := filepath.Join(t.TempDir(), "a.bin")
	require.NoError(t, os.WriteFile(file, bytes.Repeat([]byte("x"), 50_000), 0o644))
	_, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, exec.Command(bin, "send", "-addr", p.Addr, file), "")
	require.NoError(t, err, stderr)
	_, _, err = testutil.RunWithTimeout(t, 30*time.Second, exec.Command(bin, "send", "-addr", p.Addr, file), "")
	require.Error(t, err, "the second send is refused: EXISTS")
	return metricsAddrOf(t, p)
}

// startTLSWithTraffic runs the TLS server and puts one short load through
// it (the scrape test's sessions).
func startTLSWithTraffic(t *testing.T) string {
	addr, metricsAddr, caFile := startTLSServer(t)
	pem, err := os.ReadFile(caFile)
	require.NoError(t, err)
	var ld load
	cfg := tlsClientConfig(t, pem)
	for range 3 {
		require.NoError(t, ld.session(cfg, addr))
	}
	return metricsAddr
}
