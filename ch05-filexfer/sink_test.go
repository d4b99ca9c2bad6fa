package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSinkWritesInOrder: chunks handed to the sink land in the file in
// order, and the hash covers them all.
func TestSinkWritesInOrder(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "p"))
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	sk := newSink(f, h, 0, 3)
	var want []byte
	for _, s := range []string{"abc", "def", "gh"} {
		b := sk.buffer()
		n := copy(b, s)
		sk.put(b[:n])
		want = append(want, s...)
	}
	n, err := sk.wait()
	require.NoError(t, err)
	assert.Equal(t, uint64(8), n)
	got, _ := os.ReadFile(f.Name())
	assert.Equal(t, string(want), string(got))
	assert.Equal(t, sha256.Sum256(want), [32]byte(h.Sum(nil)))
}

// TestSinkWriteError: a failing write (here: a read-only file, as a full
// disk would) is reported, and the byte count stays at what was written.
func TestSinkWriteError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p")
	require.NoError(t, os.WriteFile(p, []byte("12345"), 0o600))
	f, err := os.Open(p) // read-only: every write fails
	require.NoError(t, err)
	defer f.Close()
	sk := newSink(f, sha256.New(), 5, 4)
	b := sk.buffer()
	sk.put(b[:copy(b, "more")])
	n, err := sk.wait()
	require.Error(t, err)
	assert.Equal(t, uint64(5), n)
	assert.True(t, sk.failed.Load())
}
