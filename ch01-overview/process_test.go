package main

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// These tests run the built program, as a student does: exit codes, signals
// and the transcript shown in the book.

// ANCHOR: test-transcript
// TestTranscript runs the server and two clients and compares what they
// print with the transcripts the book shows (testdata/*.txt; regenerate
// with -update). The server listens on port 0, and its real address is
// written as the default 127.0.0.1:9000 so the book reads as a student's
// terminal would; timestamps and client ports are normalised.
func TestTranscript(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	srv := testutil.StartProcess(t, exec.Command(bin, "-addr", "127.0.0.1:0"))

	var client strings.Builder
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"client", "-msg", "hello"}},
		{"one\ntwo\n", []string{"client"}},
	} {
		cmd := exec.Command(bin, append(c.args, "-addr", srv.Addr)...)
		stdout, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, cmd, c.stdin)
		require.NoError(t, err, stderr)
		prompt := "$ go run ./ch01-overview " + strings.Join(c.args, " ")
		if c.stdin != "" {
			prompt = "$ printf 'one\\ntwo\\n' | go run ./ch01-overview " + strings.Join(c.args, " ")
		}
		client.WriteString(prompt + "\n" + stderr + stdout)
	}
	srv.WaitOutput(t, "Received: two", 10*time.Second)
	require.NoError(t, srv.Signal(syscall.SIGINT, 10*time.Second), "Ctrl-C is a clean exit")

	fix := func(s string) string {
		return testutil.Normalize(strings.ReplaceAll(s, srv.Addr, "127.0.0.1:9000"), "9000")
	}
	// The terminal echoes ^C where the user pressed Ctrl-C.
	out := srv.Output()
	j := strings.Index(out, `msg=draining`)
	require.Positive(t, j, "the server logs its shutdown")
	i := strings.LastIndex(out[:j], "\n") + 1
	server := "$ go run ./ch01-overview\n" + out[:i] + "^C\n" + out[i:]
	testutil.Golden(t, "testdata/server-transcript.txt", fix(server))
	testutil.Golden(t, "testdata/client-transcript.txt", fix(client.String()))
}

// ANCHOR_END: test-transcript

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	srv := testutil.StartProcess(t, exec.Command(bin, "-addr", "127.0.0.1:0"))
	c := testutil.Dial(t, srv.Addr)
	_, err := c.Write([]byte("in flight\n"))
	require.NoError(t, err)
	srv.WaitOutput(t, "Received: in flight", 10*time.Second)

	// SIGTERM while a client is connected: the server stops accepting and
	// waits; the client finishes, and the server exits 0 without waiting
	// for the whole drain timeout.
	exited := make(chan error, 1)
	go func() { exited <- srv.Signal(syscall.SIGTERM, 20*time.Second) }()
	srv.WaitOutput(t, `msg=draining`, 10*time.Second)
	_, err = c.Write([]byte("last\n"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, <-exited)
	out := srv.Output()
	assert.Contains(t, out, "Received: last\n")
	assert.Contains(t, out, "msg=stopped")
	assert.NotContains(t, out, "drain timeout")
}

func TestExitCodes(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	srv := testutil.StartProcess(t, exec.Command(bin, "-addr", "127.0.0.1:0"))

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-addr", srv.Addr}, 1, "ch01-overview: listen " + srv.Addr + ": address already in use (another server running? try -addr 127.0.0.1:0)\n"},
		{[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"frobnicate"}, 2, `ch01-overview: unknown command "frobnicate"`},
		{[]string{"-max-line", "0"}, 2, "-max-line must be at least 1"},
		{[]string{"-h"}, 0, "commands:"},
		{[]string{"serve", "-h"}, 0, "-idle-timeout duration"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, exec.Command(bin, tc.args...), "")
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.code, code, stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}
