package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"

	"github.com/tcp-in-go/course/internal/exercise"
)

// TestSendReceive sends files of the sizes that matter (empty, one byte,
// exactly one chunk, one byte more, many chunks) and a directory, all over
// one connection, and checks every byte arrived under the right name.
func TestSendReceive(t *testing.T) {
	addr, dir, _ := startServer(t, nil)
	src := t.TempDir()
	const chunkSize = 4 << 10
	sizes := map[string]int{"empty": 0, "one": 1, "chunk": chunkSize, "chunk+1": chunkSize + 1, "many": 37*chunkSize + 123}
	want := map[string][32]byte{}
	var args []string
	for name, n := range sizes {
		p, sum := randomFile(t, src, name, n, uint64(n))
		args = append(args, p)
		want[name] = sum
	}
	// A directory: sent as "tree/..." with its relative paths kept.
	for i, rel := range []string{"a.txt", "sub/b.bin", "sub/deeper/c.bin"} {
		_, sum := randomFile(t, filepath.Join(src, "tree"), rel, 1000*i+10, uint64(i))
		want["tree/"+rel] = sum
	}
	args = append(args, filepath.Join(src, "tree"))

	var out bytes.Buffer
	s := sender(addr, &out)
	s.ChunkSize = chunkSize
	results, err := s.Send(context.Background(), args)
	require.NoError(t, err, out.String())
	require.Len(t, results, len(want))

	got := visibleFiles(t, dir)
	sort.Strings(got)
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	assert.Equal(t, names, got)
	for name, sum := range want {
		assert.Equal(t, sum, fileSum(t, filepath.Join(dir, filepath.FromSlash(name))), name)
	}
	for _, l := range lines(out.String()) {
		assert.Regexp(t, `^sent name=\S+ size=\d+ resumed_at=0 elapsed=\S+ rate=\S+ sha256=[0-9a-f]{64}$`, l)
	}
}

// TestOverwrite: an existing file is kept unless the sender asks, and the
// refusal does not end the connection (the next file still goes through).
func TestOverwrite(t *testing.T) {
	addr, dir, _ := startServer(t, nil)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("old"), 0o644))
	src := t.TempDir()
	a, sumA := randomFile(t, src, "a.txt", 100, 1)
	b, _ := randomFile(t, src, "b.txt", 100, 2)

	var out bytes.Buffer
	results, err := sender(addr, &out).Send(context.Background(), []string{a, b})
	require.Error(t, err)
	require.Len(t, results, 2)
	assert.Equal(t, StatusExists, StatusOf(results[0].Err))
	assert.NoError(t, results[1].Err)
	old, _ := os.ReadFile(filepath.Join(dir, "a.txt"))
	assert.Equal(t, "old", string(old))
	assert.Contains(t, out.String(), "failed name=a.txt status=EXISTS")

	s := sender(addr, &out)
	s.Overwrite = true
	_, err = s.Send(context.Background(), []string{a})
	require.NoError(t, err)
	assert.Equal(t, sumA, fileSum(t, filepath.Join(dir, "a.txt")))
}

// ANCHOR: hostile-cases
// hostileCase is one attack: the frames a careless or malicious peer sends,
// and the status the receiver must refuse them with.
type hostileCase struct {
	name   string
	frames [][]byte
	ready  bool // the header is fine; the attack is in the data
	want   Status
}

var hello = []byte("hello")

var hostileCases = []hostileCase{
	{"traversal", [][]byte{header("../escape.txt", 5, 1024, 0)}, false, StatusBadName},
	{"deep traversal", [][]byte{header("a/../../escape.txt", 5, 1024, 0)}, false, StatusBadName},
	{"absolute", [][]byte{header("/tmp/escape.txt", 5, 1024, 0)}, false, StatusBadName},
	{"backslash", [][]byte{header(`..\escape.txt`, 5, 1024, 0)}, false, StatusBadName},
	{"NUL", [][]byte{header("a\x00.txt", 5, 1024, 0)}, false, StatusBadName},
	{"escape sequence", [][]byte{header("a\x1b[2J.txt", 5, 1024, 0)}, false, StatusBadName},
	{"partial dir", [][]byte{header(PartialDir+"/x", 5, 1024, 0)}, false, StatusBadName},
	{"symlink out", [][]byte{header("out/escape.txt", 5, 1024, 0)}, false, StatusBadName},
	{"huge name", [][]byte{header(strings.Repeat("a", 60000), 5, 1024, 0)}, false, StatusBadName},
	{"huge size", [][]byte{header("big", 1<<62, 1024, 0)}, false, StatusTooLarge},
	{"wrong magic", [][]byte{[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, false, StatusBadMagic},
	{"truncated header", [][]byte{header("a.txt", 5, 1024, 0)[:12]}, false, StatusBadHeader},
	{"chunk size past limit", [][]byte{header("a.txt", 5, MaxChunkSize+1, 0)}, false, StatusBadHeader},
	{"chunk longer than announced", [][]byte{header("a.txt", 5, 4, 0), chunk(hello)}, true, StatusBadChunk},
	{"chunk length 4 GiB", [][]byte{header("a.txt", 5, 1024, 0), {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}}, true, StatusBadChunk},
	{"size lies low", [][]byte{header("a.txt", 3, 1024, 0), chunk(hello)}, true, StatusBadChunk},
	{"size lies high", [][]byte{header("a.txt", 10, 1024, 0), chunk(hello), end(hello)}, true, StatusSizeMismatch},
	{"bad CRC", [][]byte{header("a.txt", 5, 1024, 0), append(AppendChunkHead(nil, hello), "jello"...)}, true, StatusCRCMismatch},
	{"bad SHA-256", [][]byte{header("a.txt", 5, 1024, 0), chunk(hello), end([]byte("jello"))}, true, StatusHashMismatch},
}

// ANCHOR_END: hostile-cases

// ANCHOR: hostile
// TestHostileInput sends each hostile case to a fresh receiver whose
// directory holds a planted symlink to another directory. Each must be
// refused with the right status, and nothing may appear in the directory
// (or outside it).
func TestHostileInput(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			addr, dir, _ := startServer(t, func(s *Server) {
				s.MaxSize = 1 << 30
				require.NoError(t, os.MkdirAll(s.Dir, 0o755))
				require.NoError(t, os.Symlink(outside, filepath.Join(s.Dir, "out")))
			})
			c := dialRaw(t, addr)
			c.write(tc.frames...)
			if tc.name == "truncated header" {
				require.NoError(t, c.c.(interface{ CloseWrite() error }).CloseWrite())
			}
			rep := c.reply()
			if tc.ready {
				require.Equal(t, StatusReady, rep.Status, rep.Msg)
				rep = c.reply()
			}
			assert.Equal(t, tc.want, rep.Status, rep.Msg)
			assert.NotEmpty(t, rep.Msg, "a refusal says why")
			assert.Equal(t, []string{"out"}, visibleFiles(t, dir), "only the planted symlink")
			left, err := os.ReadDir(outside)
			require.NoError(t, err)
			assert.Empty(t, left, "nothing written outside the directory")
		})
	}
}

// ANCHOR_END: hostile

// TestSameNameCannotInterleave: while one connection receives a name, a
// second one gets BUSY for it, and can send it once the first is done.
func TestSameNameCannotInterleave(t *testing.T) {
	addr, dir, _ := startServer(t, nil)
	data := []byte("first")
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	a.write(header("same.txt", 5, 1024, FlagOverwrite))
	require.Equal(t, StatusReady, a.reply().Status)

	b.write(header("same.txt", 5, 1024, FlagOverwrite))
	assert.Equal(t, StatusBusy, b.reply().Status)

	a.write(chunk(data), end(data))
	require.Equal(t, StatusOK, a.reply().Status)

	second := []byte("again")
	b.write(header("same.txt", 5, 1024, FlagOverwrite)) // same connection: BUSY kept it open
	require.Equal(t, StatusReady, b.reply().Status)
	b.write(chunk(second), end(second))
	require.Equal(t, StatusOK, b.reply().Status)
	got, _ := os.ReadFile(filepath.Join(dir, "same.txt"))
	assert.Equal(t, "again", string(got))
}

// TestMaxConns: one connection over the limit is told BUSY, not left hanging.
func TestMaxConns(t *testing.T) {
	addr, _, _ := startServer(t, func(s *Server) { s.MaxConns = 1 })
	a := dialRaw(t, addr)
	a.write(header("a.txt", 5, 1024, 0))
	require.Equal(t, StatusReady, a.reply().Status) // a holds the only slot

	b := dialRaw(t, addr)
	rep := b.reply()
	assert.Equal(t, StatusBusy, rep.Status)
	assert.Contains(t, rep.Msg, "limit 1")
}

// TestDiskErrorIsReported: when the receiver cannot write, the sender hears
// IO_ERROR, nothing appears, and the connection still serves the next file.
// (The fault: a directory squats where the partial file should go.)
func TestDiskErrorIsReported(t *testing.T) {
	addr, dir, _ := startServer(t, nil)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.FromSlash(partialName("a.txt", 5))), 0o700))
	c := dialRaw(t, addr)
	c.write(header("a.txt", 5, 1024, 0))
	rep := c.reply()
	assert.Equal(t, StatusIOError, rep.Status)
	assert.Contains(t, rep.Msg, "partial")
	assert.Empty(t, visibleFiles(t, dir))

	_, err := sender(addr, &bytes.Buffer{}).Send(context.Background(), []string{writeTemp(t, "b.txt", "fine")})
	assert.NoError(t, err, "the server keeps serving")
}

func writeTemp(t *testing.T, name, content string) string {
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestStatusNames(t *testing.T) {
	for s, n := range statusNames {
		got, ok := ParseStatus(n)
		assert.True(t, ok)
		assert.Equal(t, s, got)
	}
	assert.Equal(t, "STATUS_0x7f", fmt.Sprint(Status(0x7f)))
}

// TestStalePartialsSwept: a partial file nobody resumed within PartialTTL
// is removed; a recent one is kept for its sender.
func TestStalePartialsSwept(t *testing.T) {
	exercise.Graded(t, "exercise-sweep")
	var dir string
	addr, _, _ := startServer(t, func(s *Server) {
		s.PartialTTL = time.Hour
		dir = s.Dir
		require.NoError(t, os.MkdirAll(filepath.Join(dir, PartialDir), 0o700))
		for _, n := range []string{"old.part", "fresh.part"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, PartialDir, n), []byte("x"), 0o600))
		}
		old := time.Now().Add(-2 * time.Hour)
		require.NoError(t, os.Chtimes(filepath.Join(dir, PartialDir, "old.part"), old, old))
	})
	// Once a file went through, the server has run its first sweep.
	_, err := sender(addr, &bytes.Buffer{}).Send(context.Background(), []string{writeTemp(t, "a.txt", "a")})
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(dir, PartialDir, "old.part"))
	assert.FileExists(t, filepath.Join(dir, PartialDir, "fresh.part"))
}

// TestShutdownKeepsPartial: a receiver shut down in the middle of a file
// (drain time over) closes the connection but keeps the verified part, and
// the next receiver on the same directory lets the sender resume from it.
func TestShutdownKeepsPartial(t *testing.T) {
	dir := t.TempDir()
	src, sum := randomFile(t, t.TempDir(), "big.bin", 64<<10, 5)
	data, err := os.ReadFile(src)
	require.NoError(t, err)

	first := &Server{Dir: dir, Log: slog.New(slog.NewTextHandler(&testutil.LogBuffer{}, nil))}
	addr := testutil.StartServer(t, first.Serve, first.Shutdown)
	c := dialRaw(t, addr)
	c.write(header("big.bin", uint64(len(data)), 16<<10, 0))
	require.Equal(t, StatusReady, c.reply().Status)
	c.write(chunk(data[:16<<10]))
	part := filepath.Join(dir, filepath.FromSlash(partialName("big.bin", uint64(len(data)))))
	require.Eventually(t, func() bool { // poll: the receiver has written the chunk
		fi, err := os.Stat(part)
		return err == nil && fi.Size() == 16<<10
	}, 10*time.Second, 5*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, first.Shutdown(ctx), context.DeadlineExceeded, "the transfer was still open")
	assert.NoFileExists(t, filepath.Join(dir, "big.bin"))

	addr2, _, _ := startServer(t, func(s *Server) { s.Dir = dir })
	s := sender(addr2, &bytes.Buffer{})
	s.Resume = true
	res, err := s.Send(context.Background(), []string{src})
	require.NoError(t, err)
	assert.Equal(t, uint64(16<<10), res[0].Offset)
	assert.Equal(t, sum, fileSum(t, filepath.Join(dir, "big.bin")))
}

// TestShutdownClosesIdle: a connection between files does not hold up a
// shutdown, however long the drain time.
func TestShutdownClosesIdle(t *testing.T) {
	s := &Server{Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(&testutil.LogBuffer{}, nil))}
	addr := testutil.StartServer(t, s.Serve, s.Shutdown)
	c := dialRaw(t, addr)
	data := []byte("one")
	c.write(header("one.txt", 3, 1024, 0), chunk(data), end(data))
	require.Equal(t, StatusReady, c.reply().Status)
	require.Equal(t, StatusOK, c.reply().Status) // now idle, between files

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, s.Shutdown(ctx))
	assert.Less(t, time.Since(start), 5*time.Second)
	_, err := c.c.Read(make([]byte, 1))
	assert.Error(t, err, "the idle connection was closed")
}

// TestServeContract: Serve keeps the course's contract (internal/serve):
// after Shutdown it returns serve.ErrServerClosed, and a Serve called after
// Shutdown returns it at once.
func TestServeContract(t *testing.T) {
	s := &Server{Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(&testutil.LogBuffer{}, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	c := dialRaw(t, ln.Addr().String()) // served: Serve has started
	c.write(header("x.txt", 1, 1024, 0))
	require.Equal(t, StatusReady, c.reply().Status)
	require.NoError(t, c.c.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	select {
	case err := <-done:
		require.ErrorIs(t, err, serve.ErrServerClosed)
	case <-ctx.Done():
		t.Fatal("Serve did not return after Shutdown")
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, s.Serve(ln2), serve.ErrServerClosed)
}

// TestBadHeaderCloses: a header whose name length is out of range is
// refused and the connection closed, because the name's bytes are still in
// the stream: reading on would take them for the next header.
func TestBadHeaderCloses(t *testing.T) {
	addr, _, _ := startServer(t, nil)
	c := dialRaw(t, addr)
	c.write(header(strings.Repeat("n", 2000), 5, 1024, 0))
	assert.Equal(t, StatusBadName, c.reply().Status)
	_, err := ReadReply(c.c)
	assert.ErrorIs(t, err, io.EOF, "no second reply: the connection is closed")
}

// TestCommitCrashState: commit links the partial file to the final name,
// then removes the partial. A crash between the two leaves the partial
// hard-linked to the committed file. A later upload of the same name and
// size must not write through that link: whatever happens to the upload
// (cut off, completed, with or without resume), the final file is the old
// whole file or the new whole file, never a mix.
func TestCommitCrashState(t *testing.T) {
	const size = 64 << 10
	cases := []struct {
		name     string
		flags    uint8
		complete bool
	}{
		{"overwrite, cut off", FlagOverwrite, false},
		{"overwrite, complete", FlagOverwrite, true},
		{"overwrite and resume, cut off", FlagOverwrite | FlagResume, false},
		{"overwrite and resume, complete", FlagOverwrite | FlagResume, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var oldSum [32]byte
			addr, dir, s := startServer(t, func(s *Server) {
				_, oldSum = randomFile(t, s.Dir, "a.bin", size, 1) // the committed file
				part := filepath.Join(s.Dir, filepath.FromSlash(partialName("a.bin", size)))
				require.NoError(t, os.MkdirAll(filepath.Dir(part), 0o700))
				require.NoError(t, os.Link(filepath.Join(s.Dir, "a.bin"), part)) // the state a crash leaves
			})
			final := filepath.Join(dir, "a.bin")

			src, newSum := randomFile(t, t.TempDir(), "new", size, 2)
			newData, err := os.ReadFile(src)
			require.NoError(t, err)
			c := dialRaw(t, addr)
			c.write(header("a.bin", size, 16<<10, tc.flags))
			rep := c.reply()
			require.Equal(t, StatusReady, rep.Status, rep.Msg)
			off := rep.Value
			if tc.complete {
				for ; off < size; off += 16 << 10 {
					c.write(chunk(newData[off : off+16<<10]))
				}
				c.write(end(newData))
				rep = c.reply()
				assert.Equal(t, StatusOK, rep.Status, rep.Msg)
			} else {
				if off < size {
					c.write(chunk(newData[off : off+16<<10]))
				}
				require.NoError(t, c.c.Close()) // the sender vanishes mid-file
				require.Eventually(t, func() bool { return s.Stats()["receiving"] == 0 }, 10*time.Second, 5*time.Millisecond)
			}
			got := fileSum(t, final)
			if tc.complete {
				assert.Equal(t, newSum, got, "the new whole file")
			} else {
				assert.Equal(t, oldSum, got, "the old whole file")
			}
		})
	}
}

// TestPlantedSymlinks: someone with access to the receiver's directory
// plants a symlink where the partial file of "a.txt" will go, or replaces
// the partial directory itself with one. Both point outside. The upload is
// refused, and nothing outside changes.
func TestPlantedSymlinks(t *testing.T) {
	for _, what := range []string{"partial file", "partial directory"} {
		t.Run(what, func(t *testing.T) {
			addr, dir, _ := startServer(t, nil)
			// One upload first: the receiver has made its partial directory.
			_, err := sender(addr, &bytes.Buffer{}).Send(context.Background(), []string{writeTemp(t, "first.txt", "1")})
			require.NoError(t, err)
			outside := t.TempDir()
			victim := filepath.Join(outside, "victim")
			require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
			if what == "partial file" {
				require.NoError(t, os.Symlink(victim, filepath.Join(dir, filepath.FromSlash(partialName("a.txt", 5)))))
			} else {
				require.NoError(t, os.RemoveAll(filepath.Join(dir, PartialDir)))
				require.NoError(t, os.Symlink(outside, filepath.Join(dir, PartialDir)))
			}
			c := dialRaw(t, addr)
			for _, flags := range []uint8{0, FlagResume, FlagOverwrite} {
				c.write(header("a.txt", 5, 1024, flags))
				rep := c.reply()
				require.Equal(t, StatusIOError, rep.Status, "flags %d: %s", flags, rep.Msg)
				assert.NotContains(t, rep.Msg, dir, "no server path in a reply")
				c = dialRaw(t, addr) // IO_ERROR closes the connection
			}
			got, err := os.ReadFile(victim)
			require.NoError(t, err)
			assert.Equal(t, "precious", string(got))
			entries, err := os.ReadDir(outside)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "nothing new outside")
			assert.NoFileExists(t, filepath.Join(dir, "a.txt"))
		})
	}
}
