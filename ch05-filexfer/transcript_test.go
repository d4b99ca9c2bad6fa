package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/testutil"
)

var rateRE = regexp.MustCompile(`rate=\S+`)

// TestTranscript records what the book shows: the sender's summary lines
// and the receiver's log for a small session (two files, a directory, and
// a file that exists). Rewrite with: go test ./ch05-filexfer -run Transcript -update
func TestTranscript(t *testing.T) {
	lg := &testutil.LogBuffer{}
	dir := t.TempDir()
	s := &Server{Dir: dir, Log: slog.New(slog.NewTextHandler(lg, nil))}
	addr := testutil.StartServer(t, s.Serve, s.Shutdown)

	src := t.TempDir()
	a, _ := randomFile(t, src, "report.pdf", 700_000, 1)
	b, _ := randomFile(t, src, "empty.txt", 0, 2)
	randomFile(t, src, "photos/2024/beach.jpg", 1_500_000, 3)
	randomFile(t, src, "photos/cat.jpg", 300_000, 4)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o644))

	var out bytes.Buffer
	_, err := sender(addr, &out).Send(context.Background(), []string{a, b, filepath.Join(src, "photos")})
	require.EqualError(t, err, "1 of 4 files failed")

	var logLines []string
	for _, l := range lines(lg.String()) {
		if strings.Contains(l, "msg=received") || strings.Contains(l, "msg=refused") {
			logLines = append(logLines, l)
		}
	}
	got := "$ ch05-filexfer send report.pdf empty.txt photos\n" +
		rateRE.ReplaceAllString(out.String(), "rate=<rate>") +
		"\n# the receiver's log\n" + strings.Join(logLines, "\n") + "\n"
	testutil.Golden(t, "testdata/send.golden", testutil.Normalize(got))
}

// TestUsage: command-line mistakes are usage errors (exit 2), with a clear
// sentence.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"send"}, {"send", "-chunk", "0", "x"}, {"serve", "stray"}, {"nope"}} {
		err := run(context.Background(), args)
		var ue cli.UsageError
		assert.True(t, errors.As(err, &ue), "%v: got %v", args, err)
		assert.Equal(t, 2, cli.ExitCode(err))
	}
}

// TestSignalShutdown builds the program, starts the receiver, sends a file
// with the built sender, and stops the receiver with SIGTERM: it must exit 0.
func TestSignalShutdown(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	bin := testutil.BuildGo(t, ".")
	dir := t.TempDir()
	p := testutil.StartProcess(t, exec.Command(bin, "serve", "-dir", dir, "-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0"))
	file := writeTemp(t, "hello.txt", "hello")
	stdout, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, exec.Command(bin, "send", "-addr", p.Addr, file), "")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "sent name=hello.txt size=5 ")
	assert.Empty(t, stderr, "no progress bar when stderr is not a terminal")
	// -debug-addr publishes the receiver's counters.
	assert.JSONEq(t, `{"conns_open":0,"conns_idle":0,"receiving":0}`, string(testutil.DebugVars(t, p)["filexfer"]))
	require.NoError(t, p.Signal(syscall.SIGTERM, 10*time.Second))
	assert.Contains(t, p.Output(), "msg=draining open=0 drain_timeout=10s")
	assert.Contains(t, p.Output(), "msg=stopped")
	got, err := os.ReadFile(filepath.Join(dir, "hello.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
}
