package serve

import (
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
	"github.com/tcp-in-go/course/tests/testutil"
)

// ANCHOR: test-emfile
// TestAcceptSurvivesEMFILE runs TestEMFILEChild in a subprocess (this test
// binary, run again): running out of file descriptors affects a whole
// process, and the other tests must not suffer from it.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	cmd := exec.Command(os.Args[0],
		"-test.run=^TestEMFILEChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "SERVE_EMFILE_CHILD=1")
	stdout, stderr, err := testutil.RunWithTimeout(t, 60*time.Second, cmd, "")
	require.NoError(t, err, "child failed:\n%s\n%s", stdout, stderr)
	assert.Contains(t, stdout, "--- PASS: TestEMFILEChild",
		"the child must run, not skip")
	assert.Contains(t, stderr, "too many open files", "the loop logs its retries")
}

// ANCHOR_END: test-emfile

// ANCHOR: test-emfile-setup

// TestEMFILEChild: a client connects (the kernel completes the handshake and
// queues it), then the process uses up its descriptors under a lowered soft
// limit. Accept fails with EMFILE again and again; the loop must back off
// and keep trying, and serve the client once descriptors are free again.
func TestEMFILEChild(t *testing.T) {
	if os.Getenv("SERVE_EMFILE_CHILD") != "1" {
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
	open, err := os.ReadDir("/proc/self/fd")
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
	// ANCHOR_END: test-emfile-setup

	// ANCHOR: test-emfile-check
	retries := make(chan error, 100)
	core := New(Config{Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		OnRetry: func(err error, _ time.Duration) {
			select {
			case retries <- err:
			default:
			}
		}})
	wait := served(t, core, ln)
	for range 3 {
		select {
		case err := <-retries:
			require.ErrorIs(t, err, syscall.EMFILE)
		case <-time.After(20 * time.Second):
			t.Fatal("accept did not report EMFILE")
		}
	}
	for _, f := range hogs { // free the descriptors: the client is served
		f.Close()
	}
	hogs = nil
	_, err = io.WriteString(client, "ping")
	require.NoError(t, err)
	got := make([]byte, 4)
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(got))
	client.Close()
	require.NoError(t, core.Shutdown(t.Context()))
	require.ErrorIs(t, wait(), ErrServerClosed)
}

// ANCHOR_END: test-emfile-check
