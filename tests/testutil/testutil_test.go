package testutil

import (
	"bufio"
	"context"
	"io"
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
)

func TestNormalize(t *testing.T) {
	in := "time=2026-11-24T17:00:00Z level=INFO msg=accepted peer=127.0.0.1:53122 duration=1.5ms\n" +
		"level=INFO msg=close peer=127.0.0.1:53122 server=127.0.0.1:9000\n" +
		"dial 127.0.0.1:41000\n"
	want := "level=INFO msg=accepted peer=127.0.0.1:PORT1 duration=<dur>\n" +
		"level=INFO msg=close peer=127.0.0.1:PORT1 server=127.0.0.1:9000\n" +
		"dial 127.0.0.1:PORT2\n"
	assert.Equal(t, want, Normalize(in, "9000"))
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	require.NoError(t, os.WriteFile(path, []byte("a\nb\n"), 0o644))
	Golden(t, path, "a\nb\n") // equal: passes

	f := &fakeTB{TB: t}
	Golden(f, path, "a\nc\n")
	assert.True(t, f.failed, "a changed transcript must fail the test")
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fakeTB) Helper()               {}

func TestStartServerShutsDown(t *testing.T) {
	lnCh := make(chan net.Listener, 1)
	addr := StartServer(t, func(l net.Listener) error {
		lnCh <- l
		for {
			c, err := l.Accept()
			if err != nil {
				return err
			}
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}, func(context.Context) error { return (<-lnCh).Close() })
	c := Dial(t, addr)
	_, err := c.Write([]byte("hi"))
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(buf))
}

func TestLogBufferWaitFor(t *testing.T) {
	var b LogBuffer
	go func() {
		_, _ = b.Write([]byte("level=INFO msg=one\n"))
		_, _ = b.Write([]byte("level=INFO msg=two\n"))
	}()
	b.WaitFor(t, "msg=two", 10*time.Second)
	assert.Equal(t, "level=INFO msg=one\nlevel=INFO msg=two\n", b.String())

	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf must stop the waiting goroutine, as in a real test
		defer close(done)
		defer func() { _ = recover() }()
		b.WaitFor(f, "never", 10*time.Millisecond)
	}()
	<-done
	assert.True(t, f.failed, "a line that never comes fails the test")
}

// TestProcessOutputCompleteAtExit: once Signal (or Done) reports the exit,
// Output holds everything the process wrote, its last line included.
func TestProcessOutputCompleteAtExit(t *testing.T) {
	sh := RequireTool(t, "sh")
	for range 20 {
		// The trap is set before the listening line, so SIGTERM always finds it.
		script := `trap 'i=0; while [ $i -lt 200 ]; do echo "line $i" >&2; i=$((i+1)); done; echo "msg=bye" >&2; exit 0' TERM; ` +
			`echo "level=INFO msg=listening addr=127.0.0.1:1" >&2; while :; do sleep 0.01; done`
		p := StartProcess(t, exec.Command(sh, "-c", script))
		require.NoError(t, p.Signal(syscall.SIGTERM, 10*time.Second))
		assert.Contains(t, p.Output(), "msg=bye\n")
	}
}

func TestGradeTimeout(t *testing.T) {
	t.Setenv("GRADE_TIMEOUT_SCALE", "")
	assert.Equal(t, 5*time.Second, GradeTimeout(5*time.Second))
	t.Setenv("GRADE_TIMEOUT_SCALE", "3")
	assert.Equal(t, 15*time.Second, GradeTimeout(5*time.Second))
	t.Setenv("GRADE_TIMEOUT_SCALE", "nonsense")
	assert.Equal(t, 5*time.Second, GradeTimeout(5*time.Second))
}

func TestRepoPath(t *testing.T) {
	assert.Equal(t, filepath.Join(RepoRoot(t), "go.mod"), RepoPath(t, "X", "go.mod"), "relative to the repository root")
	abs := filepath.Join(RepoRoot(t), "go.mod")
	assert.Equal(t, abs, RepoPath(t, "X", abs))
}

func TestReadLinesAndSameLines(t *testing.T) {
	got, err := ReadLines(bufio.NewReader(strings.NewReader("a\nb\nc")), 2)
	require.NoError(t, err)
	assert.NoError(t, SameLines(got, err, "a", "b"))
	assert.EqualError(t, SameLines(got, err, "a", "x"), `got ["a" "b"], want ["a" "x"]`)

	got, err = ReadLines(bufio.NewReader(strings.NewReader("a\nb")), 2)
	assert.Equal(t, []string{"a"}, got, "the lines read before the error")
	assert.ErrorIs(t, err, io.EOF)
	assert.ErrorContains(t, SameLines(got, err, "a", "b"), `line 2 of 2 (got ["a"] so far)`)
}
