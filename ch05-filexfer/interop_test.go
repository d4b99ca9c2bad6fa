package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/tests/testutil"
)

// interopSizes are the file sizes that catch off-by-one errors at chunk
// boundaries. CH05_BIG=1 adds a file over 100 MiB (slow: the Python side
// computes CRC-32C in pure Python).
func interopSizes(t *testing.T) map[string]int {
	sizes := map[string]int{"empty": 0, "one": 1, "one-chunk": DefaultChunk, "many-chunks": 5*DefaultChunk + 17}
	if os.Getenv("CH05_BIG") != "" {
		sizes["big"] = 101<<20 + 3
	} else {
		t.Log("set CH05_BIG=1 to add a 101 MiB file")
	}
	return sizes
}

// TestInteropGoToPython: the Go sender, the Python receiver.
func TestInteropGoToPython(t *testing.T) {
	dir := t.TempDir()
	py := testutil.StartPython(t, "ch05_filexfer.py", "serve", "--dir", dir)
	src := t.TempDir()
	want := map[string][32]byte{}
	var paths []string
	for name, n := range interopSizes(t) {
		p, sum := randomFile(t, src, name, n, uint64(n))
		paths = append(paths, p)
		want[name] = sum
	}
	_, sub := randomFile(t, src, "tree/sub/x.bin", 999, 7)
	want["tree/sub/x.bin"] = sub
	paths = append(paths, filepath.Join(src, "tree"))

	var out bytes.Buffer
	s := sender(py.Addr, &out)
	s.Timeout = 2 * time.Minute
	_, err := s.Send(context.Background(), paths)
	require.NoError(t, err, out.String())
	for name, sum := range want {
		assert.Equal(t, sum, fileSum(t, filepath.Join(dir, filepath.FromSlash(name))), name)
	}

	// The Python receiver refuses what the Go one refuses.
	c := dialRaw(t, py.Addr)
	c.write(header("../escape", 1, 1024, 0))
	assert.Equal(t, StatusBadName, c.reply().Status)
	c.write(header("one", 1, 1024, 0))
	assert.Equal(t, StatusExists, c.reply().Status)
}

// TestInteropPythonToGo: the Python sender, the Go receiver, then a resume
// by the Python sender of a partial file the Go receiver kept.
func TestInteropPythonToGo(t *testing.T) {
	addr, dir, _ := startServer(t, nil)
	src := t.TempDir()
	want := map[string][32]byte{}
	var paths []string
	for name, n := range interopSizes(t) {
		p, sum := randomFile(t, src, name, n, uint64(n)+1)
		paths = append(paths, p)
		want[name] = sum
	}
	cmd := testutil.PythonCmd(t, "ch05_filexfer.py", append([]string{"send", "--addr", addr}, paths...)...)
	stdout, stderr, err := testutil.RunWithTimeout(t, 5*time.Minute, cmd, "")
	require.NoError(t, err, "%s%s", stdout, stderr)
	assert.Len(t, lines(stdout), len(want), stdout)
	for name, sum := range want {
		assert.Equal(t, sum, fileSum(t, filepath.Join(dir, name)), name)
		assert.Contains(t, stdout, fmt.Sprintf("sent name=%s ", name))
	}

	// Cut a transfer off mid-file, then let Python resume it.
	p, sum := randomFile(t, src, "cut.bin", 200<<10, 9)
	s := sender(startProxy(t, addr, "cut", 100<<10), &bytes.Buffer{})
	s.ChunkSize = 16 << 10
	_, err = s.Send(context.Background(), []string{p})
	require.Error(t, err)
	untilNotBusy(t, func() bool { // the receiver may not have noticed the cut yet
		cmd = testutil.PythonCmd(t, "ch05_filexfer.py", "send", "--resume", "--addr", addr, p)
		stdout, stderr, err = testutil.RunWithTimeout(t, time.Minute, cmd, "")
		return err != nil && strings.Contains(stdout, "status=BUSY")
	})
	require.NoError(t, err, "%s%s", stdout, stderr)
	assert.NotContains(t, stdout, "resumed_at=0 ", "the Python sender should have resumed")
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "cut.bin")))
}

// TestInteropPythonRetries: the Python sender's --retries resumes through a
// link that drops every connection after 100 KiB, into the Go receiver.
func TestInteropPythonRetries(t *testing.T) {
	addr, dir, _ := startServer(t, nil)
	p, sum := randomFile(t, t.TempDir(), "flaky.bin", 300<<10, 3)
	px := startProxy(t, addr, "cut", 100<<10)
	cmd := testutil.PythonCmd(t, "ch05_filexfer.py", "send", "--retries", "20", "--chunk", "16384", "--addr", px, p)
	stdout, stderr, err := testutil.RunWithTimeout(t, time.Minute, cmd, "")
	require.NoError(t, err, "%s%s", stdout, stderr)
	assert.NotContains(t, stdout, "resumed_at=0 ", "the last attempt resumed")
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "flaky.bin")))
}
