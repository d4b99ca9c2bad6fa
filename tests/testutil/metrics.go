package testutil

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scrape reads base+"/metrics" (a -metrics-addr server) and returns each
// sample by its name and labels as exposed, e.g.
// `tcp_server_connections_closed_total{reason="eof"}`. It checks the text
// only as far as it reads it; deploy/'s tests check the format itself with
// Prometheus's own parser and linter.
func Scrape(t testing.TB, base string) map[string]float64 {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %v %s", base, err, resp.Status)
	}
	samples := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// Get GETs url and returns its HTTP status and body.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Status returns the HTTP status of a GET of url (a health check).
func Status(t testing.TB, url string) int {
	t.Helper()
	code, _ := Get(t, url)
	return code
}

// CheckReadyBeforeRefused checks the order a load balancer needs when a
// server drains: stop() begins the drain (cancels cli.Serve's context);
// then /readyz (readyURL) must answer 503 no later than the listener at
// addr refuses new connections. It dials and probes in turn until the
// listener refuses: a refused dial followed by a ready /readyz fails the
// test (the listener closed while the server still called itself ready).
func CheckReadyBeforeRefused(t testing.TB, readyURL, addr string, stop func()) {
	t.Helper()
	if code := Status(t, readyURL); code != http.StatusOK {
		t.Fatalf("/readyz answered %d before the drain, want 200", code)
	}
	stop()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close() // still accepting: the server serves it or drains it
			continue
		}
		if code := Status(t, readyURL); code != http.StatusServiceUnavailable {
			t.Fatalf("the listener refused (%v) while /readyz still answered %d", err, code)
		}
		return
	}
	t.Fatal("the listener still accepted 10 s after the drain began")
}
