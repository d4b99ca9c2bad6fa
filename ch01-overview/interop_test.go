package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"

	"github.com/tcp-in-go/course/internal/exercise"
)

// The Go and Python programs speak the same bytes: each client works with
// the other language's server.

func TestGoClientPythonServer(t *testing.T) {
	py := testutil.StartPython(t, "ch01_overview.py", "serve")
	var reply strings.Builder
	require.NoError(t, RunClient(t.Context(), py.Addr, "", strings.NewReader("hel"+"lo from Go\nline two\n"), &reply))
	out := py.WaitOutput(t, "Received: line two", 10*time.Second)
	assert.Contains(t, out, "Received: hello from Go\n")
	assert.Empty(t, reply.String())
}

func TestPythonClientGoServer(t *testing.T) {
	addr, out, _ := startServer(t, 100, time.Minute)
	cmd := testutil.PythonCmd(t, "ch01_overview.py", "client", "--addr", addr, "--msg", "hello from Python")
	_, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, cmd, "")
	require.NoError(t, err, stderr)
	assert.Equal(t, []string{"Received: hello from Python"}, out.waitFor(t, 1))
}

func TestPythonServerRefusesLongLineLikeGo(t *testing.T) {
	py := testutil.StartPython(t, "ch01_overview.py", "serve", "--max-line", "16")
	var reply strings.Builder
	require.NoError(t, RunClient(t.Context(), py.Addr, strings.Repeat("z", 17), nil, &reply))
	assert.Equal(t, "error: line longer than 16 bytes; closing\n", reply.String())
}

// TestPythonLingerIsBounded: the Python server's lingering close ends 2 s
// after the refusal however the client trickles (one deadline for the whole
// drain, not a timeout per recv).
func TestPythonLingerIsBounded(t *testing.T) {
	py := testutil.StartPython(t, "ch01_overview.py", "serve", "--max-line", "16")
	checkLingerBounded(t, py.Addr)
}

func TestPythonServerSaysByeLikeGo(t *testing.T) {
	exercise.Graded(t, "exercise-quit-py")
	py := testutil.StartPython(t, "ch01_overview.py", "serve")
	var reply strings.Builder
	require.NoError(t, RunClient(t.Context(), py.Addr, "", strings.NewReader("hello\nquit\n"), &reply))
	assert.Equal(t, "bye\n", reply.String())
	py.WaitOutput(t, "reason=quit", 10*time.Second)
	assert.Contains(t, py.Output(), "Received: hello\n")
}
