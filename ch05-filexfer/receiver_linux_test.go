package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFailedWriteFreesPartial: a write that fails (here: the file-size
// limit, RLIMIT_FSIZE, which makes write return EFBIG as a full disk makes
// it return ENOSPC) is refused with IO_ERROR, the partial file is removed
// so its space is free again, the reply names no server path, and the same
// name can be sent once the disk has room again.
func TestFailedWriteFreesPartial(t *testing.T) {
	if !inChild(t) {
		return // it ran in a process of its own: RLIMIT_FSIZE is process-wide
	}
	addr, dir, s := startServer(t, nil)
	src, sum := randomFile(t, t.TempDir(), "big.bin", 256<<10, 3)
	data, err := os.ReadFile(src)
	require.NoError(t, err)

	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim))
	restore := lim
	lim.Cur = 64 << 10 // the whole (child) process
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	defer func() { _ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &restore) }()

	c := dialRaw(t, addr)
	c.write(header("big.bin", uint64(len(data)), 16<<10, 0))
	require.Equal(t, StatusReady, c.reply().Status)
	for off := 0; off < len(data); off += 16 << 10 {
		if _, err := c.c.Write(chunk(data[off : off+16<<10])); err != nil {
			break // the receiver gave up and closed: its reply is waiting
		}
	}
	rep := c.reply()
	assert.Equal(t, StatusIOError, rep.Status, rep.Msg)
	assert.NotContains(t, rep.Msg, dir, "no server path in a reply")
	assert.NotContains(t, rep.Msg, "/", "no server path in a reply")
	require.Eventually(t, func() bool { return s.Stats()["receiving"] == 0 }, 10*time.Second, 5*time.Millisecond)
	assert.NoFileExists(t, filepath.Join(dir, filepath.FromSlash(partialName("big.bin", uint64(len(data))))),
		"the partial of a failed write is freed")
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &restore))

	res, err := sender(addr, &bytes.Buffer{}).Send(context.Background(), []string{src})
	require.NoError(t, err)
	assert.Zero(t, res[0].Offset)
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "big.bin")))
}
