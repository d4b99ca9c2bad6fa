package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
)

const (
	faultFileSize = 300 << 10
	faultChunk    = 8 << 10
)

// streamLen is how many bytes the sender writes for one file of n bytes.
func streamLen(name string, n, chunk int) int64 {
	chunks := (n + chunk - 1) / chunk
	return int64(HeaderFixedLen + len(name) + 4 + chunks*ChunkHeadLen + n + ChunkHeadLen + 32)
}

// resume sends path again with -resume straight to the receiver. Right
// after a fault the receiver may not have noticed yet that the first
// connection is gone, and still holds the name: the resume is polled until
// the answer is not BUSY (bounded); anything else must be success.
func resume(t *testing.T, addr, path string) Result {
	t.Helper()
	var (
		res []Result
		err error
	)
	untilNotBusy(t, func() bool {
		s := sender(addr, &bytes.Buffer{})
		s.ChunkSize = faultChunk
		s.Resume = true
		res, err = s.Send(context.Background(), []string{path})
		return err != nil && len(res) == 1 && StatusOf(res[0].Err) == StatusBusy
	})
	require.NoError(t, err, "resume failed")
	return res[0]
}

// untilNotBusy polls try, which reports whether the receiver answered BUSY,
// until it does not, for at most 10 s.
func untilNotBusy(t testing.TB, try func() (busy bool)) {
	t.Helper()
	require.Eventually(t, func() bool { return !try() }, 10*time.Second, 5*time.Millisecond,
		"the receiver still answers BUSY after 10 s")
}

// ANCHOR: faults
// TestFaults cuts the connection, flips a byte, or stalls the sender at a
// random offset, many times. After each fault no file is visible under its
// final name; a resume completes it with the right SHA-256, starting no
// later than where the fault struck; and the receiver keeps serving.
func TestFaults(t *testing.T) {
	runs := map[string]int{"cut": 25, "flip": 25, "stall": 3}
	if testing.Short() {
		runs = map[string]int{"cut": 5, "flip": 5, "stall": 1}
	}
	for _, mode := range []string{"cut", "flip", "stall"} {
		t.Run(mode, func(t *testing.T) {
			addr, dir, _ := startServer(t, func(s *Server) { s.IdleTimeout = 300 * time.Millisecond })
			src := t.TempDir()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed) // a failing run can be replayed
			rng := rand.New(rand.NewPCG(seed, 1))
			for i := range runs[mode] {
				name := fmt.Sprintf("%s-%d.bin", mode, i)
				path, sum := randomFile(t, src, name, faultFileSize, seed+uint64(i))
				at := faultOffset(rng, mode, name, i)
				faultyTransfer(t, addr, dir, mode, at, path, seed)

				r := resume(t, addr, path)
				assert.LessOrEqual(t, int64(r.Offset), at, "resumed past the fault")
				assert.Equal(t, sum, fileSum(t, filepath.Join(dir, name)), "%s at %d", mode, at)
			}
		})
	}
}

// ANCHOR_END: faults

// ANCHOR: faulty-transfer
// faultOffset picks where run i of mode strikes: anywhere in the stream,
// but once in the header, and mid-data for a stall.
func faultOffset(rng *rand.Rand, mode, name string, i int) int64 {
	switch {
	case mode == "stall":
		return faultFileSize / 2 // mid-data, so a resume has something to keep
	case i == 0: // the header is a tiny target for a random offset: aim at it once
		return rng.Int64N(int64(HeaderFixedLen + len(name) + 4))
	}
	return rng.Int64N(streamLen(name, faultFileSize, faultChunk))
}

// faultyTransfer sends path through a proxy that breaks the stream at byte
// at. The sender must notice, and the file must not be visible.
func faultyTransfer(t *testing.T, addr, dir, mode string, at int64, path string, seed uint64) {
	t.Helper()
	s := sender(startProxy(t, addr, mode, at), &bytes.Buffer{})
	s.ChunkSize = faultChunk
	s.Timeout = 2 * time.Second
	done := make(chan error, 1)
	go func() { _, err := s.Send(context.Background(), []string{path}); done <- err }()
	name := filepath.Base(path)
	if mode == "stall" { // others are served while one sender is stuck
		other, osum := randomFile(t, t.TempDir(), "other-"+name, 1000, seed)
		_, err := sender(addr, &bytes.Buffer{}).Send(context.Background(), []string{other})
		require.NoError(t, err)
		assert.Equal(t, osum, fileSum(t, filepath.Join(dir, "other-"+name)))
	}
	err := <-done
	require.Error(t, err, "fault %s at byte %d went unnoticed", mode, at)
	assert.NotContains(t, visibleFiles(t, dir), name, "a faulty transfer is visible")
}

// ANCHOR_END: faulty-transfer

// TestRetryResumes: a link that drops every connection after 100 KiB still
// delivers a 300 KiB file, because the sender retries and each retry
// resumes where the receiver's partial file ends.
func TestRetryResumes(t *testing.T) {
	exercise.Graded(t, "exercise-retry")
	addr, dir, _ := startServer(t, nil)
	path, sum := randomFile(t, t.TempDir(), "flaky.bin", faultFileSize, 1)
	var out bytes.Buffer
	s := sender(startProxy(t, addr, "cut", 100<<10), &out)
	s.ChunkSize = faultChunk
	s.Retries = 20
	res, err := s.Send(context.Background(), []string{path})
	require.NoError(t, err, out.String())
	assert.Positive(t, res[0].Offset, "the last attempt resumed")
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "flaky.bin")))
}

func TestRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		ErrCutOff:                          true,
		protoErr(StatusCRCMismatch, "x"):   true,
		protoErr(StatusBusy, "x"):          true,
		protoErr(StatusExists, "x"):        false,
		protoErr(StatusBadName, "x"):       false,
		&fs.PathError{Err: fs.ErrNotExist}: false,
	} {
		assert.Equal(t, want, retryable(err), "%v", err)
	}
}
