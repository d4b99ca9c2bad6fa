package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// result is the part of ch07-bench's -json output the report uses.
type result struct {
	Mode       string            `json:"mode"`
	TLS        bool              `json:"tls"`
	Conns      int               `json:"conns"`
	Size       int               `json:"size"`
	Requests   int64             `json:"requests"`
	ReqPerSec  float64           `json:"req_per_s"`
	MBPerSec   float64           `json:"mb_per_s"`
	TargetRate float64           `json:"target_rate"`
	Latency    latency           `json:"latency"`
	SendLag    *latency          `json:"send_lag"`
	ErrorTotal int64             `json:"error_total"`
	ErrorText  map[string]string `json:"error_examples"`
	Held       int               `json:"held_conns"`
	ClientMem  float64           `json:"client_bytes_per_conn"`
	Server     *serverStats      `json:"server"`
}

type latency struct {
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p99_9_us"`
	Max  float64 `json:"max_us"`
}

type serverStats struct {
	CPUPercent   float64 `json:"cpu_percent"`
	RSSStart     int64   `json:"rss_start_bytes"`
	RSSPeak      int64   `json:"rss_peak_bytes"`
	FDsPeak      int64   `json:"fds_peak"`
	BytesPerConn float64 `json:"rss_bytes_per_conn"`
	FDsPerConn   float64 `json:"fds_per_conn"`
}

// runSpec is one load run: mode, connections, message size and how long.
type runSpec struct {
	mode         string
	conns, size  int
	rate         float64 // open-loop
	duration     time.Duration
	warmup       time.Duration
	addr, caFile string
	pid          int // the server's process, sampled from /proc (0: none)
}

// args is the ch07-bench command line for the run.
func (s runSpec) args() []string {
	a := []string{"run", "-json", "-addr", s.addr, "-mode", s.mode,
		"-conns", strconv.Itoa(s.conns), "-size", strconv.Itoa(s.size),
		"-duration", s.duration.String(), "-warmup", s.warmup.String(), "-timeout", "5s"}
	if s.rate > 0 {
		a = append(a, "-rate", strconv.FormatFloat(s.rate, 'f', -1, 64))
	}
	if s.caFile != "" {
		a = append(a, "-tls", "-ca", s.caFile)
	}
	if s.pid != 0 {
		a = append(a, "-pid", strconv.Itoa(s.pid))
	}
	return a
}

// runBench runs the generator binary with args and decodes its JSON.
func runBench(ctx context.Context, bin string, args []string, out any) error {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ch07-bench %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("ch07-bench %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// fmtUS prints microseconds with a unit a human reads at a glance, to four
// significant digits (the histogram keeps three; more would be noise).
func fmtUS(us float64) string {
	d := time.Duration(us * 1e3)
	unit := time.Duration(1)
	for v := d; v >= 10000; v /= 10 {
		unit *= 10
	}
	return d.Round(unit).String()
}
