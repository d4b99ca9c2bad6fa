package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/testutil"

	"github.com/tcp-in-go/course/internal/exercise"
)

// ANCHOR: test-emfile
// TestAcceptSurvivesEMFILE runs TestEMFILEChild in a subprocess (this same
// test binary, re-executed): running out of file descriptors affects a
// whole process, and the other tests must not suffer from it.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	exercise.Graded(t, "exercise-temporary-errors")
	cmd := exec.Command(os.Args[0], "-test.run=^TestEMFILEChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CH03_EMFILE_CHILD=1")
	stdout, stderr, err := testutil.RunWithTimeout(t, 60*time.Second, cmd, "")
	require.NoError(t, err, "child failed:\n%s\n%s", stdout, stderr)
	assert.Contains(t, stdout, "--- PASS: TestEMFILEChild", "the child must run, not skip")
	assert.Contains(t, stderr, "too many open files", "the server should log its retries")
}

// TestEMFILEChild: a client connects (the kernel completes the handshake and
// queues the connection), then the process uses up its file descriptors
// under a lowered soft limit. Accept fails with EMFILE again and again; the
// loop must back off and keep trying, and serve the client as soon as
// descriptors are free again.
func TestEMFILEChild(t *testing.T) {
	if os.Getenv("CH03_EMFILE_CHILD") != "1" {
		t.Skip("run in a subprocess by TestAcceptSurvivesEMFILE")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.SetDeadline(time.Now().Add(30*time.Second)))

	// Lower the soft limit and open /dev/null until the kernel says EMFILE.
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	open, err := os.ReadDir("/proc/self/fd") // the descriptors open now
	require.NoError(t, err)
	lim.Cur = min(uint64(len(open)+16), lim.Max)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	var hogs []*os.File
	defer func() {
		for _, f := range hogs {
			f.Close()
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			require.ErrorIs(t, err, syscall.EMFILE)
			break
		}
		hogs = append(hogs, f)
	}

	srv := NewServer(time.Minute, 3, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	retries := make(chan error, 100)
	srv.OnAcceptRetry = func(err error, _ time.Duration) {
		select {
		case retries <- err:
		default:
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for range 3 {
		select {
		case err := <-retries:
			require.ErrorIs(t, err, syscall.EMFILE)
		case <-time.After(20 * time.Second):
			t.Fatal("accept did not report EMFILE")
		}
	}
	// Free the descriptors: the waiting connection is accepted and served.
	for _, f := range hogs {
		f.Close()
	}
	hogs = nil
	_, err = io.WriteString(client, "PING 1\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(client).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "PONG 1\n", line)
	require.NoError(t, srv.Shutdown(t.Context()))
	require.NoError(t, <-served)
}

// ANCHOR_END: test-emfile
