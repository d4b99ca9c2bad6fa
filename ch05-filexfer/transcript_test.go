package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/tests/testutil"
)

var rateRE = regexp.MustCompile(`rate=\S+`)

// The commands the page shows, run as they are (the tests add only
// -addr 127.0.0.1:0 to the receiver and its port to the sender).
const (
	pageServeCmd = "go run ./ch05-filexfer serve -dir received"
	pageSendCmd  = "go run ./ch05-filexfer send report.pdf empty.txt photos"
)

// TestTranscript records what the book shows, by running the commands as
// processes: a receiver, and a sender with two files, a directory, and a
// file the receiver already has. The receiver is then stopped with Ctrl-C
// (SIGINT). Both outputs are kept whole; normalised are only the log's
// timestamps, durations and rates, the receiver's port (shown as the
// default, 9005) and the sender's ports (PORT1, ...). Rewrite with:
// go test ./ch05-filexfer -run Transcript -update
func TestTranscript(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT for a child process on Windows")
	}
	bin := testutil.BuildGo(t, ".")
	recvRoot, src := t.TempDir(), t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(recvRoot, "received"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(recvRoot, "received", "empty.txt"), nil, 0o644))
	randomFile(t, src, "report.pdf", 700_000, 1)
	randomFile(t, src, "empty.txt", 0, 2)
	randomFile(t, src, "photos/2024/beach.jpg", 1_500_000, 3)
	randomFile(t, src, "photos/cat.jpg", 300_000, 4)

	srv := exec.Command(bin, append(strings.Fields(pageServeCmd)[3:], "-addr", "127.0.0.1:0")...)
	srv.Dir = recvRoot
	p := testutil.StartProcess(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	send := exec.CommandContext(ctx, bin, append([]string{"send", "-addr", p.Addr}, strings.Fields(pageSendCmd)[4:]...)...)
	send.Dir = src
	var out bytes.Buffer
	send.Stdout, send.Stderr = &out, &out // one stream, as a terminal shows it
	err := send.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out.String())
	assert.Equal(t, 1, ee.ExitCode(), "one file failed: exit status 1")

	p.WaitOutput(t, "msg=closed", 10*time.Second) // the sender's connection ended
	require.NoError(t, p.Signal(os.Interrupt, 10*time.Second))

	show := func(s string) string {
		s = strings.ReplaceAll(s, p.Addr, "127.0.0.1:9005")
		return testutil.Normalize(rateRE.ReplaceAllString(s, "rate=<rate>"), "9005")
	}
	testutil.Golden(t, "testdata/send.golden", show(out.String()))
	testutil.Golden(t, "testdata/serve.golden", show(p.Output()))
	page, err := os.ReadFile(filepath.Join("..", "docs", "src", "ch05-filexfer.md"))
	require.NoError(t, err)
	for _, cmd := range []string{pageServeCmd, pageSendCmd} {
		assert.True(t, strings.Contains(string(page), "$ "+cmd+"\n{{#include"), "the page must show the command that made its transcript: %q", cmd)
	}
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
	// -debug-addr publishes the receiver's counters. The sender is done once
	// it reads OK; the receiver's handler sees its close a moment later.
	require.Eventually(t, func() bool {
		var got map[string]int
		_ = json.Unmarshal(testutil.DebugVars(t, p)["filexfer"], &got)
		return reflect.DeepEqual(got, map[string]int{"conns_open": 0, "conns_idle": 0, "receiving": 0})
	}, 10*time.Second, 5*time.Millisecond, "the receiver's counters never all went back to 0")
	require.NoError(t, p.Signal(syscall.SIGTERM, 10*time.Second))
	assert.Contains(t, p.Output(), "msg=draining open=0 drain_timeout=10s")
	assert.Contains(t, p.Output(), "msg=stopped")
	got, err := os.ReadFile(filepath.Join(dir, "hello.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
}
