package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSinkCutsOffHalfWrittenChunk: a write that stops half-way through a
// chunk (here the file-size limit, RLIMIT_FSIZE, lets the kernel write 3 of
// the chunk's 6 bytes, then fails with EFBIG, as a disk that fills up does)
// must not leave those 3 bytes behind: the partial file holds whole,
// verified chunks only, and its size is where a resume starts.
func TestSinkCutsOffHalfWrittenChunk(t *testing.T) {
	if !inChild(t) {
		return // it ran in a process of its own: RLIMIT_FSIZE is process-wide
	}
	p := filepath.Join(t.TempDir(), "p")
	require.NoError(t, os.WriteFile(p, []byte("12345"), 0o600))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer f.Close()

	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim))
	restore := lim
	lim.Cur = 8 // the whole (child) process
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	defer func() { _ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &restore) }()

	sk := newSink(f, sha256.New(), 5, 6)
	b := sk.buffer()
	sk.put(b[:copy(b, "chunk!")])
	n, err := sk.wait()
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &restore))
	require.ErrorIs(t, err, syscall.EFBIG)
	assert.Equal(t, uint64(5), n)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "12345", string(got), "the half-written chunk is cut off")
}
