package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// TestMaxSizeIsInclusive: a file of exactly -max-size bytes is accepted;
// one byte more is TOO_LARGE before any data is sent.
func TestMaxSizeIsInclusive(t *testing.T) {
	addr, dir, _ := startServer(t, func(s *Server) { s.MaxSize = 1000 })
	src := t.TempDir()
	fits, sum := randomFile(t, src, "fits.bin", 1000, 1)
	_, err := sender(addr, &bytes.Buffer{}).Send(context.Background(), []string{fits})
	require.NoError(t, err)
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "fits.bin")))

	c := dialRaw(t, addr)
	c.write(header("over.bin", 1001, 1024, 0))
	rep := c.reply()
	assert.Equal(t, StatusTooLarge, rep.Status, rep.Msg)
}

// TestChunkPastDeclaredSize: a chunk that would take the file past the size
// its header declared is BAD_CHUNK, and the reply says so, even though the
// chunk is within the chunk size.
func TestChunkPastDeclaredSize(t *testing.T) {
	addr, _, _ := startServer(t, nil)
	c := dialRaw(t, addr)
	c.write(header("short.txt", 10, 1024, 0))
	require.Equal(t, StatusReady, c.reply().Status)
	c.write(chunk([]byte("123456")), chunk([]byte("789abc"))) // 12 bytes of 10
	rep := c.reply()
	assert.Equal(t, StatusBadChunk, rep.Status, rep.Msg)
	assert.Contains(t, rep.Msg, "past the declared size 10")

	// Longer than the chunk size, with plenty of the file still due: the
	// reply does not blame the declared size.
	c = dialRaw(t, addr)
	c.write(header("long.txt", 100, 4, 0))
	require.Equal(t, StatusReady, c.reply().Status)
	c.write(chunk([]byte("12345678")))
	rep = c.reply()
	assert.Equal(t, StatusBadChunk, rep.Status, rep.Msg)
	assert.NotContains(t, rep.Msg, "declared size")
}

// TestReplyMessageLimit: a reply message of exactly MaxMessageLen bytes
// goes through whole; a longer one is cut to MaxMessageLen when sent, and
// refused when read.
func TestReplyMessageLimit(t *testing.T) {
	for _, n := range []int{MaxMessageLen, MaxMessageLen + 1} {
		b, err := Reply{Status: StatusOK, Msg: strings.Repeat("m", n)}.MarshalBinary()
		require.NoError(t, err)
		rep, err := ReadReply(bytes.NewReader(b))
		require.NoError(t, err)
		assert.Len(t, rep.Msg, MaxMessageLen)
	}
	// A reply announcing a message of m bytes (and carrying them).
	raw := func(m int) []byte {
		b := make([]byte, ReplyFixedLen, ReplyFixedLen+m)
		b[0] = byte(StatusOK)
		binary.BigEndian.PutUint16(b[ReplyFixedLen-2:], uint16(m))
		return append(b, strings.Repeat("m", m)...)
	}
	_, err := ReadReply(bytes.NewReader(raw(MaxMessageLen)))
	assert.NoError(t, err, "exactly MaxMessageLen is allowed")
	_, err = ReadReply(bytes.NewReader(raw(MaxMessageLen + 1)))
	assert.Equal(t, StatusBadHeader, StatusOf(err), "%v", err)
}

// TestNilLogUsesDefault: a Server without a Log works, logging to
// slog.Default().
func TestNilLogUsesDefault(t *testing.T) {
	dir := t.TempDir()
	s := &Server{Dir: dir}
	addr := testutil.StartServer(t, s.Serve, s.Shutdown)
	src, sum := randomFile(t, t.TempDir(), "a.bin", 100, 1)
	_, err := sender(addr, io.Discard).Send(context.Background(), []string{src})
	require.NoError(t, err)
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "a.bin")))
}

// TestSendToNobody: when nobody listens, Send reports the refused dial for
// the file (after its retries), and does not call it sent.
func TestSendToNobody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	src, _ := randomFile(t, t.TempDir(), "a.bin", 10, 1)
	s := sender(addr, io.Discard)
	s.Retries = 0
	res, err := s.Send(context.Background(), []string{src})
	require.Error(t, err)
	require.Len(t, res, 1)
	assert.ErrorIs(t, res[0].Err, syscall.ECONNREFUSED)
}
