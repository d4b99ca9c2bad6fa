package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/tests/testutil"
)

// Zero means "never" or "no limit" for every duration and count of the
// receiver and the sender (CONTRIBUTING.md); the defaults live only in the
// flag definitions (main.go). One test per limit.

// TestZeroIdleTimeoutNeverDrops: with IdleTimeout 0 a sender silent for a
// while (longer than a short timeout would allow) is still served.
func TestZeroIdleTimeoutNeverDrops(t *testing.T) {
	assert.True(t, deadline(0).IsZero(), "0 must clear the deadline, not set it to now")
	addr, dir, _ := startServer(t, func(s *Server) { s.IdleTimeout = 0 })
	r := dialRaw(t, addr)
	<-time.After(300 * time.Millisecond) // silent; a 30 s default is too long to wait for here
	data := []byte("hello")
	r.write(header("a.txt", uint64(len(data)), 1024, 0))
	require.Equal(t, StatusReady, r.reply().Status)
	r.write(chunk(data), end(data))
	require.Equal(t, StatusOK, r.reply().Status)
	assert.Equal(t, []string{"a.txt"}, visibleFiles(t, dir))
}

// TestZeroMaxConnsNoLimit: with MaxConns 0 more senders than the default
// limit are served at once, none told BUSY.
func TestZeroMaxConnsNoLimit(t *testing.T) {
	addr, _, _ := startServer(t, func(s *Server) { s.MaxConns = 0 })
	for range DefaultMaxConns + 4 {
		c := testutil.Dial(t, addr) // held open, idle
		t.Cleanup(func() { c.Close() })
	}
	src, _ := randomFile(t, t.TempDir(), "a.bin", 100, 1)
	_, err := sender(addr, io.Discard).Send(context.Background(), []string{src})
	require.NoError(t, err, "a sender past the default limit must be served")
}

// TestZeroMaxSizeNoLimit: with MaxSize 0 a size past the default limit is
// offered READY.
func TestZeroMaxSizeNoLimit(t *testing.T) {
	addr, _, _ := startServer(t, func(s *Server) { s.MaxSize = 0 })
	r := dialRaw(t, addr)
	r.write(header("big.bin", DefaultMaxSize+1, 1024, 0))
	assert.Equal(t, StatusReady, r.reply().Status)
}

// TestZeroPartialTTLKeepsPartials: with PartialTTL 0 an old partial file
// survives the start-up sweep and the sweeps when files arrive.
func TestZeroPartialTTLKeepsPartials(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, filepath.FromSlash(partialName("old.bin", 10)))
	require.NoError(t, os.MkdirAll(filepath.Dir(part), 0o700))
	require.NoError(t, os.WriteFile(part, []byte("12345"), 0o600))
	old := time.Now().Add(-48 * time.Hour)
	require.NoError(t, os.Chtimes(part, old, old))
	s := &Server{Dir: dir, PartialTTL: 0}
	addr := testutil.StartServer(t, s.Serve, s.Shutdown)
	s.mu.Lock()
	s.lastSweep = time.Time{} // the next file sweeps
	s.mu.Unlock()
	src, _ := randomFile(t, t.TempDir(), "a.bin", 100, 1)
	_, err := sender(addr, io.Discard).Send(context.Background(), []string{src})
	require.NoError(t, err)
	assert.FileExists(t, part, "PartialTTL 0 must keep partial files")
}

// TestZeroSenderTimeoutWaits: a Sender with Timeout 0 sets no deadline (a
// zero deadline, not one that has already passed) and still sends.
func TestZeroSenderTimeoutWaits(t *testing.T) {
	addr, dir, _ := startServer(t, nil)
	src, sum := randomFile(t, t.TempDir(), "a.bin", 100, 1)
	s := sender(addr, io.Discard)
	s.Timeout = 0
	_, err := s.Send(context.Background(), []string{src})
	require.NoError(t, err)
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "a.bin")))
}

// TestZeroChunkRefused: a chunk size of 0 has no "no limit" meaning; Send
// refuses it rather than pick a default.
func TestZeroChunkRefused(t *testing.T) {
	s := &Sender{Addr: "127.0.0.1:1"}
	_, err := s.Send(context.Background(), []string{"x"})
	require.ErrorContains(t, err, "chunk size 0")
	var ne net.Error
	assert.NotErrorAs(t, err, &ne, "refused before any dial")
}
