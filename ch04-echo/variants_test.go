package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// TestConformanceTuned grades the tuned variant and its splice mode with
// the same rubric as the plain server.
func TestConformanceTuned(t *testing.T) {
	if os.Getenv("ECHO_ADDR") != "" {
		t.Skip("ECHO_ADDR is set: grading that server only")
	}
	for name, srv := range map[string]Config{
		"tuned":  {Tuned: true, IdleTimeout: time.Minute},
		"splice": {Tuned: true, Splice: true, IdleTimeout: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runConformance(t, startServer(t, newServer(srv)), false)
		})
	}
}

// TestConformanceC grades the C reference the benchmarks compare with: it
// is a correct echo server, so the comparison is a fair one.
func TestConformanceC(t *testing.T) {
	if os.Getenv("ECHO_ADDR") != "" {
		t.Skip("ECHO_ADDR is set: grading that server only")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the C reference uses Linux epoll")
	}
	cc := testutil.RequireTool(t, "cc")
	bin := filepath.Join(t.TempDir(), "epoll_echo")
	out, err := exec.Command(cc, "-O2", "-Wall", "-Werror", "-o", bin, "cref/epoll_echo.c").CombinedOutput()
	require.NoError(t, err, "cc: %s", out)
	p := testutil.StartProcess(t, exec.Command(bin, "127.0.0.1", "0"))
	runConformance(t, p.Addr, false)
}

// TestEchoAllocatesNothing backs the page's "0 allocs per echo": once a
// connection is set up, echoing a message allocates nothing, in the client
// or the server (AllocsPerRun counts the whole process), whether the message
// fits the small buffer or streams through a borrowed large one.
func TestEchoAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	for name, srv := range map[string]Config{
		"plain": {IdleTimeout: time.Minute},
		"tuned": {Tuned: true, IdleTimeout: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			c := testutil.Dial(t, startServer(t, newServer(srv)))
			for _, size := range []int{64, 4 << 10} {
				msg, got := random(size), make([]byte, size)
				echo := func() {
					_, err := c.Write(msg)
					require.NoError(t, err)
					_, err = io.ReadFull(c, got)
					require.NoError(t, err)
				}
				echo() // warm up: the first read sets the deadline, borrows...
				assert.Zero(t, testing.AllocsPerRun(1000, echo), "allocations per %d-byte echo", size)
			}
		})
	}
}
