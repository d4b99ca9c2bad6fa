package main

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/faultproxy"
	"github.com/tcp-in-go/course/tests/testutil"
)

// startServer runs a receiver in-process on 127.0.0.1:0 into a fresh
// directory. configure may change its limits before it starts.
func startServer(t testing.TB, configure func(*Server)) (addr, dir string, s *Server) {
	t.Helper()
	dir = t.TempDir()
	lg := &testutil.LogBuffer{}
	s = &Server{Dir: dir, Log: slog.New(slog.NewTextHandler(lg, nil))}
	if configure != nil {
		configure(s)
	}
	addr = testutil.StartServer(t, s.Serve, s.Shutdown)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", lg.String())
		}
	})
	return addr, dir, s
}

// randomFile writes n random bytes (seeded, so a failure reproduces) and
// returns the path and the SHA-256.
func randomFile(t testing.TB, dir, name string, n int, seed uint64) (string, [32]byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	data := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p, sha256.Sum256(data)
}

func fileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(data)
}

// visibleFiles lists what a user of dir sees: every file outside the
// receiver's partial directory, as '/'-separated relative names.
func visibleFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && rel == PartialDir {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// sender returns a Sender for addr with a test-sized timeout.
func sender(addr string, out io.Writer) *Sender {
	return &Sender{Addr: addr, Out: out, ChunkSize: DefaultChunk, Timeout: 10 * time.Second}
}

// raw is a hand-driven client, for hostile input: it writes frames exactly
// as given and reads replies.
type raw struct {
	t testing.TB
	c net.Conn
}

func dialRaw(t testing.TB, addr string) *raw { return &raw{t, testutil.Dial(t, addr)} }

func (r *raw) write(frames ...[]byte) {
	r.t.Helper()
	for _, f := range frames {
		_, err := r.c.Write(f)
		require.NoError(r.t, err)
	}
}

func (r *raw) reply() Reply {
	r.t.Helper()
	rep, err := ReadReply(r.c)
	require.NoError(r.t, err)
	return rep
}

// header encodes a header by hand, without the encoder's checks: the point
// is to send what a hostile sender would.
func header(name string, size uint64, chunk uint32, flags uint8) []byte {
	b := append([]byte(Magic), Version, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = binary.BigEndian.AppendUint64(b, size)
	b = binary.BigEndian.AppendUint32(b, chunk)
	b = append(b, name...)
	return AppendCRC(b)
}

// AppendCRC appends the CRC-32C of b (what a header ends with).
func AppendCRC(b []byte) []byte { return binary.BigEndian.AppendUint32(b, CRC32C(b)) }

func chunk(data []byte) []byte { return append(AppendChunkHead(nil, data), data...) }

func end(data []byte) []byte { return AppendEnd(nil, sha256.Sum256(data)) }

// startProxy puts a fault proxy (internal/faultproxy) between a sender and
// the receiver at addr: after `after` bytes from the sender it cuts the
// connection ("cut"), flips one byte ("flip"), or stalls ("stall": stops
// forwarding but keeps both connections open).
func startProxy(t testing.TB, target, mode string, after int64) string {
	t.Helper()
	faults := map[string]func(int64) faultproxy.Fault{
		"cut": faultproxy.CutAt, "flip": faultproxy.FlipAt, "stall": faultproxy.StallAt,
	}
	return faultproxy.Start(t, target, faultproxy.Options{Up: faults[mode](after)}).Addr()
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
