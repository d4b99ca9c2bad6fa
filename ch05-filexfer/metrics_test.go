package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/telemetry"
	"github.com/tcp-in-go/course/internal/tracing"
	"github.com/tcp-in-go/course/tests/testutil"
)

// startMetrics serves s's metrics on 127.0.0.1:0, as -metrics-addr does,
// and returns the base URL.
func startMetrics(t testing.TB, s *Server) string {
	t.Helper()
	bound, stop, err := telemetry.Start(context.Background(), "127.0.0.1:0", s.Metrics, s.Ready, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(stop)
	return "http://" + bound
}

// wireBytes is what a sender writes for a file sent whole in chunks of at
// most chunk bytes: header, chunks, End frame.
func wireBytes(name string, size, chunk int) float64 {
	chunks := (size + chunk - 1) / chunk
	return float64(HeaderFixedLen + len(name) + 4 + chunks*ChunkHeadLen + size + ChunkHeadLen + 32)
}

// TestMetrics: two files received, one refused (EXISTS). The scrape is
// promlint-clean, and counts exactly the connections, the bytes each way,
// the transfers by result, and the sizes of the files received whole.
func TestMetrics(t *testing.T) {
	addr, _, s := startServer(t, func(s *Server) { s.Metrics = telemetry.New(8, nil) })
	base := startMetrics(t, s)
	src := t.TempDir()
	small := writeFile(t, src, "a.txt", "hello")
	big, _ := randomFile(t, src, "b.bin", 100<<10, 1)

	snd := sender(addr, &bytes.Buffer{})
	snd.ChunkSize = 64 << 10
	_, err := snd.Send(t.Context(), []string{small, big})
	require.NoError(t, err)
	_, err = snd.Send(t.Context(), []string{small}) // EXISTS, on a second connection
	require.Error(t, err)

	var m map[string]float64
	require.Eventually(t, func() bool { // the handlers record when their connections end
		m = testutil.Scrape(t, base)
		return m[`tcp_server_connections_closed_total{reason="eof"}`] == 2 &&
			m["tcp_server_connections_open"] == 0 // Done comes after the handler's Closed
	}, 10*time.Second, 10*time.Millisecond)
	exists, _ := Reply{Status: StatusExists, Msg: `"a.txt" exists (send with -overwrite to replace it)`}.MarshalBinary()
	for name, want := range map[string]float64{
		"tcp_server_connections_accepted_total":            2,
		"tcp_server_connections_open":                      0,
		"tcp_server_connections_max":                       8,
		"tcp_server_received_bytes_total":                  wireBytes("a.txt", 5, 64<<10) + wireBytes("b.bin", 100<<10, 64<<10) + float64(HeaderFixedLen+len("a.txt")+4),
		"tcp_server_sent_bytes_total":                      4*ReplyFixedLen + float64(len(exists)),
		`filexfer_transfers_total{result="ok"}`:            2,
		`filexfer_transfers_total{result="exists"}`:        1,
		"filexfer_transfer_size_bytes_count":               2,
		"filexfer_transfer_size_bytes_sum":                 5 + 100<<10,
		"filexfer_transfer_duration_seconds_count":         2,
		`filexfer_transfer_size_bytes_bucket{le="1024"}`:   1,
		`filexfer_transfer_size_bytes_bucket{le="+Inf"}`:   2,
		`tcp_server_accept_errors_total{kind="temporary"}`: 0,
	} {
		assert.Equal(t, want, m[name], name)
	}
}

// TestReadyzBeforeRefusing runs the receiver as main.go does (cli.Serve):
// when the drain begins, /readyz turns 503 before the listener refuses new
// senders, while a transfer in progress keeps the drain going.
func TestReadyzBeforeRefusing(t *testing.T) {
	lg := &testutil.LogBuffer{}
	s := &Server{Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(lg, nil)), Metrics: telemetry.New(0, nil)}
	base := startMetrics(t, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- cli.Serve(ctx, s.Log, ln, s, 10*time.Second) }()

	held := dialRaw(t, ln.Addr().String()) // a transfer in progress
	held.write(header("held.bin", 10, 1024, 0))
	require.Equal(t, StatusReady, held.reply().Status)

	testutil.CheckReadyBeforeRefused(t, base+"/readyz", ln.Addr().String(), cancel)
	assert.Equal(t, 200, testutil.Status(t, base+"/healthz"), "alive while draining")
	assert.Equal(t, float64(1), testutil.Scrape(t, base)["tcp_server_draining"])
	held.c.Close()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("cli.Serve did not return")
	}
	assert.Regexp(t, `msg=closed peer=`+regexp.QuoteMeta(held.c.LocalAddr().String())+` .* reason=error`, lg.String(), "cut off in the middle of a file")
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// BenchmarkTransferMetrics is BenchmarkTransfer (16 MiB) with the metrics
// off and on, and with tracing on too (spans to a no-op exporter): the
// receiver records once per file and once per connection, so the figures
// should agree within noise.
func BenchmarkTransferMetrics(b *testing.B) {
	src := tmpfsDir(b)
	path, _ := randomFile(b, src, "bench.bin", 16<<20, 1)
	for _, mode := range []string{"off", "metrics", "metrics+tracing"} {
		b.Run(mode, func(b *testing.B) {
			addr, _, srv := startServer(b, func(s *Server) {
				s.Dir = tmpfsDir(b)
				if mode != "off" {
					s.Metrics = telemetry.New(0, nil)
				}
			})
			s := sender(addr, &bytes.Buffer{})
			s.Overwrite = true
			if mode == "metrics+tracing" {
				tr := tracing.New(discardSpans{})
				srv.Tracer, s.Tracer = tr, tr
			}
			b.SetBytes(16 << 20)
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Send(context.Background(), []string{path}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
