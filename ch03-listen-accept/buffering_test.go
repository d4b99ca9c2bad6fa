package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// ANCHOR: test-writes
func TestWritesAreCounted(t *testing.T) {
	const n = 500
	small, err := measureWrites(n, false)
	require.NoError(t, err)
	buffered, err := measureWrites(n, true)
	require.NoError(t, err)
	const recordLen = len("record 0000\n")
	assert.Equal(t, int64(3*n), small.Writes, "three Write calls per record")
	assert.Equal(t, int64((n*recordLen+4095)/4096), buffered.Writes, "one Write per 4 KiB buffer")
	for _, r := range []writeResult{small, buffered} {
		assert.Equal(t, int64(n*recordLen), r.Bytes)
		assert.Equal(t, r.Bytes, r.ReceivedBytes, "every byte must arrive (a missing Flush loses the tail)")
		assert.True(t, r.ReceivedEquals, "and the lesson says so")
	}
}

// ANCHOR_END: test-writes

// BenchmarkWrites sends 1000 records of 12 bytes per iteration, written in
// three pieces each, without and with a bufio.Writer.
func BenchmarkWrites(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		name := map[bool]string{false: "small-writes", true: "bufio"}[buffered]
		b.Run(name, func(b *testing.B) {
			err := withPair(func(client, server net.Conn) error {
				done := make(chan struct{})
				go func() { _, _ = io.Copy(io.Discard, server); close(done) }()
				b.SetBytes(int64(1000 * len("record 0000\n")))
				for b.Loop() {
					if err := writeRecords(client, 1000, buffered); err != nil {
						return err
					}
				}
				err := client.(*net.TCPConn).CloseWrite()
				<-done
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

func TestWritesTranscript(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writesLesson(&out, 1000))
	testutil.Golden(t, "testdata/writes.golden", testutil.Normalize(out.String()))
}

// TestNodelay: with Nagle on, a write-write-read round trip waits for the
// peer's delayed ACK (about 40 ms on Linux); with TCP_NODELAY it takes tens
// of microseconds on loopback. The exact timer is the kernel's, so the test
// asserts a generous ratio of medians, not a time: Nagle is at least 10×
// slower (measured on Linux: 44 ms against 29 µs, about 1500×).
func TestNodelay(t *testing.T) {
	const rounds = 7
	median := map[bool]time.Duration{}
	for _, nodelay := range []bool{true, false} {
		rtts, err := measureNodelay(rounds, nodelay)
		require.NoError(t, err)
		require.Len(t, rtts, rounds)
		assert.Positive(t, rtts[0])
		median[nodelay] = rtts[rounds/2]
	}
	t.Logf("median round trip: TCP_NODELAY %v, Nagle %v", median[true], median[false])
	assert.GreaterOrEqual(t, median[false], 10*median[true],
		"Nagle + delayed ACK must make a write-write-read round trip at least 10× slower")
}

func TestScanLines(t *testing.T) {
	// One byte per Read: the messages must come out whole anyway.
	lines, err := scanLines(iotest.OneByteReader(strings.NewReader("one\ntwo\r\nthree")), 16)
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "two", "three"}, lines, "ScanLines drops \\r\\n and keeps a final line without \\n")

	_, err = scanLines(strings.NewReader(strings.Repeat("x", 17)+"\n"), 16)
	assert.ErrorIs(t, err, bufio.ErrTooLong)
}

func frame(n uint32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	return append(b, body...)
}

func TestReadFrame(t *testing.T) {
	// Short reads: HalfReader returns half of what is asked each time.
	var stream bytes.Buffer
	for _, m := range []string{"hello", "", strings.Repeat("z", 300)} {
		require.NoError(t, writeFrame(&stream, []byte(m)))
	}
	r := iotest.HalfReader(&stream)
	for _, want := range []string{"hello", "", strings.Repeat("z", 300)} {
		got, err := readFrame(r, 1024)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	_, err := readFrame(r, 1024)
	assert.Equal(t, io.EOF, err, "a clean end between frames is io.EOF")

	_, err = readFrame(bytes.NewReader(frame(10, "abc")), 1024)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "a body cut short")
	_, err = readFrame(bytes.NewReader([]byte{0, 0}), 1024)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "a header cut short")
	_, err = readFrame(bytes.NewReader(frame(1025, "")), 1024)
	assert.ErrorIs(t, err, ErrFrameTooLarge)
}

// TestReadFrameLimitIsInclusive: a frame of exactly maxSize bytes is read;
// one byte more is ErrFrameTooLarge.
func TestReadFrameLimitIsInclusive(t *testing.T) {
	got, err := readFrame(bytes.NewReader(frame(16, strings.Repeat("x", 16))), 16)
	require.NoError(t, err)
	assert.Len(t, got, 16)
	_, err = readFrame(bytes.NewReader(frame(17, strings.Repeat("x", 17))), 16)
	assert.ErrorIs(t, err, ErrFrameTooLarge)
}

// TestTimeWritesSyncs: the fsync timing makes one fsync per block when
// asked, and none otherwise.
func TestTimeWritesSyncs(t *testing.T) {
	for _, sync := range []bool{false, true} {
		calls := recordFileCalls(t, filepath.Join(t.TempDir(), "unused"))
		_, err := timeWrites(t.TempDir(), 3, sync)
		require.NoError(t, err)
		want := 0
		if sync {
			want = 3
		}
		assert.Equal(t, 3, countCalls(*calls, "temp write"))
		assert.Equal(t, want, countCalls(*calls, "temp sync"), "sync=%v", sync)
	}
}

func countCalls(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

// ANCHOR: test-hostile-length
// TestHostileLengthIsNotAllocated: a header claiming 4 GiB must be refused
// before anything is allocated for it.
func TestHostileLengthIsNotAllocated(t *testing.T) {
	hostile := frame(0xFFFFFFF0, "")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := readFrame(bytes.NewReader(hostile), 1<<20)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrFrameTooLarge)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(64<<10), "readFrame allocated %d bytes for a refused frame", allocated)
}

// ANCHOR_END: test-hostile-length

func FuzzReadFrame(f *testing.F) {
	f.Add(frame(3, "abc"))
	f.Add(frame(0xFFFFFFFF, "x"))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readFrame(bytes.NewReader(data), 64)
		if err == nil && len(got) > 64 {
			t.Fatalf("frame of %d bytes exceeds the limit", len(got))
		}
	})
}

func TestFramingTranscript(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, framingLesson(&out))
	testutil.Golden(t, "testdata/framing.golden", out.String())
}

// ANCHOR: test-durable
func TestWriteFileDurable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.txt")
	require.NoError(t, os.WriteFile(path, []byte("old\n"), 0o644))

	calls := recordFileCalls(t, path) // the real Write/Sync/Close calls
	var steps []string
	require.NoError(t, writeFileDurable(path, []byte("new\n"), func(s string) { steps = append(steps, s) }))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new\n", string(got))
	want := []string{"create", "write", "fsync the file", "close", "rename", "fsync the directory"}
	require.Len(t, steps, len(want), "%q", steps)
	for i := range want {
		assert.True(t, strings.HasPrefix(steps[i], want[i]), "step %d is %q, want %q: the durable path, in this order", i+1, steps[i], want[i])
	}
	// The labels prove nothing by themselves: these are the calls made.
	wantCalls := []string{"temp write", "temp sync", "temp close", "dir open (target renamed)", "dir sync", "dir close"}
	if runtime.GOOS == "windows" { // no directory fsync there (see syncDir)
		wantCalls = wantCalls[:3]
	}
	assert.Equal(t, wantCalls, *calls)
	assertOnlyFiles(t, dir, "state.txt")
}

// ANCHOR_END: test-durable

// recordFileCalls makes writeFileDurable's files record their Write, Sync
// and Close calls (the files still do the real work) until the test ends.
// Opening the directory also records whether the target already holds the
// new contents, that is, whether the rename came before the directory fsync.
func recordFileCalls(t *testing.T, target string) *[]string {
	var calls []string
	oldCreate, oldOpen := createTemp, openDir
	t.Cleanup(func() { createTemp, openDir = oldCreate, oldOpen })
	createTemp = func(dir, pattern string) (syncFile, error) {
		f, err := oldCreate(dir, pattern)
		if err != nil {
			return nil, err
		}
		return &recordingFile{syncFile: f, kind: "temp", calls: &calls}, nil
	}
	openDir = func(dir string) (syncFile, error) {
		d, err := oldOpen(dir)
		if err != nil {
			return nil, err
		}
		if got, _ := os.ReadFile(target); string(got) == "new\n" {
			calls = append(calls, "dir open (target renamed)")
		} else {
			calls = append(calls, "dir open (target not renamed yet)")
		}
		return &recordingFile{syncFile: d, kind: "dir", calls: &calls}, nil
	}
	return &calls
}

type recordingFile struct {
	syncFile
	kind  string
	calls *[]string
}

func (r *recordingFile) Write(p []byte) (int, error) {
	*r.calls = append(*r.calls, r.kind+" write")
	return r.syncFile.Write(p)
}

func (r *recordingFile) Sync() error {
	*r.calls = append(*r.calls, r.kind+" sync")
	return r.syncFile.Sync()
}

func (r *recordingFile) Close() error {
	*r.calls = append(*r.calls, r.kind+" close")
	return r.syncFile.Close()
}

func TestWriteFileDurableFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// The target is a non-empty directory: the rename fails after the data
	// was written and synced; the temporary file must be removed.
	target := filepath.Join(dir, "target")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "inside"), 0o755))
	err := writeFileDurable(target, []byte("data"), nil)
	require.Error(t, err)
	assertOnlyFiles(t, dir, "target")

	err = writeFileDurable(filepath.Join(dir, "missing", "x"), []byte("data"), nil)
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	assert.Equal(t, names, got, "no temporary file may be left behind")
}

func TestFsyncTranscript(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, fsyncLesson(&out, t.TempDir(), 10, false))
	testutil.Golden(t, "testdata/fsync.golden", out.String())
	_, err := timeWrites(t.TempDir(), 3, true)
	require.NoError(t, err)
}

// numberRE matches the figures of the socket-buffer table, which differ from
// machine to machine.
var numberRE = regexp.MustCompile(`\b\d+\b`)

// TestSockbufTable writes testdata/sockbuf.md (included by the book) with
// -update, from this machine's live values. Without -update it checks that
// the table still has the same rows, whatever the numbers are here.
func TestSockbufTable(t *testing.T) {
	rows, err := sockbufRows()
	if runtime.GOOS != "linux" {
		require.Error(t, err)
		t.Skip(err)
	}
	require.NoError(t, err)
	var out bytes.Buffer
	sockbufTable(&out, rows)
	path := "testdata/sockbuf.md"
	if *testutil.Update {
		require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create it")
	norm := func(s string) string { return numberRE.ReplaceAllString(s, "N") }
	assert.Equal(t, norm(string(want)), norm(out.String()))
}
