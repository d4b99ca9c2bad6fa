package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
)

// varintFrame is a frame whose header claims n bytes, followed by body.
func varintFrame(n uint64, body string) []byte {
	return append(binary.AppendUvarint(nil, n), body...)
}

// TestWriteVarintFrame: the header is 1 byte below 128, 2 from 128 on.
func TestWriteVarintFrame(t *testing.T) {
	for size, header := range map[int]int{0: 1, 127: 1, 128: 2, 16383: 2, 16384: 3} {
		var b bytes.Buffer
		require.NoError(t, writeVarintFrame(&b, bytes.Repeat([]byte("x"), size)))
		assert.Equal(t, header+size, b.Len(), "a %d-byte payload has a %d-byte header", size, header)
	}
}

// TestReadVarintFrame: frames come out whole however the bytes arrive; a
// clean end is io.EOF, a frame cut short io.ErrUnexpectedEOF, a length
// above the limit ErrFrameTooLarge.
func TestReadVarintFrame(t *testing.T) {
	exercise.Graded(t, "exercise-varint-frame")
	payloads := []string{"hello", "", strings.Repeat("a", 127), strings.Repeat("b", 128), strings.Repeat("z", 300)}
	var stream bytes.Buffer
	for _, p := range payloads {
		require.NoError(t, writeVarintFrame(&stream, []byte(p)))
	}
	// HalfReader returns half of what is asked each time, and a 16-byte
	// buffer holds only part of a frame: short reads everywhere.
	r := bufio.NewReaderSize(iotest.HalfReader(&stream), 16)
	for _, want := range payloads {
		got, err := readVarintFrame(r, 1024)
		require.NoError(t, err, "frame of %d bytes", len(want))
		assert.Equal(t, want, string(got), "frame of %d bytes", len(want))
	}
	_, err := readVarintFrame(r, 1024)
	assert.Equal(t, io.EOF, err, "a clean end between frames is io.EOF")

	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"a body cut short":        {varintFrame(10, "abc"), io.ErrUnexpectedEOF},
		"a length cut short":      {[]byte{0x80}, io.ErrUnexpectedEOF},
		"a length over the limit": {varintFrame(1025, ""), ErrFrameTooLarge},
	} {
		got, err := readVarintFrame(bufio.NewReader(bytes.NewReader(tc.data)), 1024)
		assert.ErrorIs(t, err, tc.want, name)
		assert.Nil(t, got, name)
	}
	// Eleven bytes with "more follows" set: no uint64 is that long.
	got, err := readVarintFrame(bufio.NewReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 11))), 1024)
	assert.Error(t, err, "a length of more than 10 bytes")
	assert.Nil(t, got)
}

// TestReadVarintFrameLimitIsInclusive: a frame of exactly maxSize bytes is
// read; one byte more is ErrFrameTooLarge.
func TestReadVarintFrameLimitIsInclusive(t *testing.T) {
	exercise.Graded(t, "exercise-varint-frame")
	got, err := readVarintFrame(bufio.NewReader(bytes.NewReader(varintFrame(200, strings.Repeat("x", 200)))), 200)
	require.NoError(t, err)
	assert.Len(t, got, 200)
	_, err = readVarintFrame(bufio.NewReader(bytes.NewReader(varintFrame(201, strings.Repeat("x", 201)))), 200)
	assert.ErrorIs(t, err, ErrFrameTooLarge)
}

// TestVarintHostileLengthIsNotAllocated: a header claiming 64 MiB, with a
// limit of 1 MiB, is refused before anything is allocated for it.
func TestVarintHostileLengthIsNotAllocated(t *testing.T) {
	exercise.Graded(t, "exercise-varint-frame")
	r := bufio.NewReader(bytes.NewReader(varintFrame(64<<20, "")))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := readVarintFrame(r, 1<<20)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrFrameTooLarge)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(64<<10), "readVarintFrame allocated %d bytes for a refused frame", allocated)
}

// FuzzReadVarintFrame: whatever the bytes, no frame exceeds the limit, and
// what writeVarintFrame wrote comes back.
func FuzzReadVarintFrame(f *testing.F) {
	exercise.Graded(f, "exercise-varint-frame")
	f.Add(varintFrame(3, "abc"))
	f.Add(varintFrame(1<<62, "x"))
	f.Add([]byte{0x80, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readVarintFrame(bufio.NewReader(bytes.NewReader(data)), 64)
		if err == nil && len(got) > 64 {
			t.Fatalf("frame of %d bytes exceeds the limit", len(got))
		}
		if len(data) > 64 {
			data = data[:64]
		}
		var b bytes.Buffer
		require.NoError(t, writeVarintFrame(&b, data))
		got, err = readVarintFrame(bufio.NewReader(&b), 64)
		require.NoError(t, err)
		require.Equal(t, data, got)
	})
}
