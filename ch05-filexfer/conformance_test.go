package main

// The file receiver's conformance suite: a black-box rubric for any
// receiver of this chapter's protocol, in any language. It only dials an
// address, so it grades this package's receiver (started in-process), the
// Python counterpart, or a student's:
//
//	CH05_ADDR=127.0.0.1:9005 go test ./ch05-filexfer -run Conformance -v
//
// With CH05_DIR set to the receiver's directory (absolute, or relative to
// the repository root), the files' contents on disk are checked too; without
// it, the receiver's replies are. Every file it sends has a fresh name under
// conformance-*/, so the suite can run again against the same directory.
// Each check is its own subtest, bounded by a few seconds when grading
// CH05_ADDR (GRADE_TIMEOUT_SCALE=3 triples them), and
// TestConformanceCatchesBrokenServers proves each one can fail.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcp-in-go/course/tests/testutil"
)

// receiverChecks is the rubric; dir is the receiver's directory when the
// test can read it ("" otherwise).
func receiverChecks(dir string) []testutil.Check {
	return []testutil.Check{
		{Name: "SendOne", About: "a 100 KiB file in 32 KiB chunks: READY at 0, then OK with its size", Run: sendOneCheck(dir), Bound: 5 * time.Second},
		{Name: "TwoFilesOneConnection", About: "one connection carries one file after the other", Run: checkTwoFiles, Bound: 5 * time.Second},
		{Name: "HostileNames", About: `"../x", "/x", NUL, newline, "\", ":", "." and ".." components are refused BAD_NAME`, Run: checkHostileNames, Bound: 5 * time.Second},
		{Name: "NotThisProtocol", About: "an HTTP request is refused BAD_MAGIC", Run: checkBadMagic, Bound: 5 * time.Second},
		{Name: "HostileLength", About: "a chunk that claims 4 GiB is refused BAD_CHUNK, not allocated", Run: checkHostileLength, Bound: 5 * time.Second},
		{Name: "CorruptChunk", About: "a chunk whose CRC-32C is wrong is refused CRC_MISMATCH", Run: checkCorruptChunk, Bound: 5 * time.Second},
		{Name: "WrongHash", About: "a file whose SHA-256 is wrong is refused HASH_MISMATCH", Run: checkWrongHash, Bound: 5 * time.Second},
		{Name: "ShortFile", About: "an End before the declared size is refused SIZE_MISMATCH", Run: checkShortFile, Bound: 5 * time.Second},
		{Name: "NoOverwrite", About: "an existing file is refused EXISTS unless overwrite is asked", Run: checkNoOverwrite, Bound: 5 * time.Second},
		{Name: "Resume", About: "after a cut, a resume starts past the verified bytes, and the file is whole", Run: resumeCheck(dir), Bound: 10 * time.Second},
	}
}

// TestConformance grades the receiver at CH05_ADDR when set, else this
// package's receiver in-process.
func TestConformance(t *testing.T) {
	if addr := testutil.ExternalAddr(t, "CH05_ADDR"); addr != "" {
		dir := ""
		if d := os.Getenv("CH05_DIR"); d != "" {
			dir = testutil.RepoPath(t, "CH05_DIR", d)
		}
		testutil.RunChecks(t, addr, receiverChecks(dir), true, nil)
		return
	}
	addr, dir, _ := startServer(t, nil)
	testutil.RunChecks(t, addr, receiverChecks(dir), false, nil)
}

// TestConformancePython grades the Python receiver with the same rubric.
func TestConformancePython(t *testing.T) {
	if os.Getenv("CH05_ADDR") != "" {
		t.Skip("CH05_ADDR is set: grading that receiver only")
	}
	dir := t.TempDir()
	p := testutil.StartPython(t, "ch05_filexfer.py", "serve", "--dir", dir)
	testutil.RunChecks(t, p.Addr, receiverChecks(dir), false, map[string]string{"HostileNames": "exercise-check-name-py"})
}

// fresh returns a name no earlier run used.
func fresh(base string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "conformance-" + hex.EncodeToString(b[:]) + "/" + base
}

// session is one connection to a receiver.
type session struct{ c *net.TCPConn }

func open(ctx context.Context, addr string) (*session, error) {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &session{c}, nil
}

func (s *session) close() { s.c.Close() }

// send writes frames and reads one reply.
func (s *session) send(frames ...[]byte) (Reply, error) {
	for _, f := range frames {
		if _, err := s.c.Write(f); err != nil {
			return Reply{}, fmt.Errorf("write: %w", err)
		}
	}
	r, err := ReadReply(s.c)
	if err != nil {
		return r, fmt.Errorf("no reply: %w", err)
	}
	return r, nil
}

func hdr(name string, size uint64, chunk uint32, flags uint8) []byte {
	b, err := Header{Version: Version, Flags: flags, Name: name, Size: size, ChunkSize: chunk}.MarshalBinary()
	if err != nil {
		panic(err) // the checks only build valid headers this way
	}
	return b
}

// rawHdr builds a header with any name, even one MarshalBinary would refuse.
func rawHdr(name string, size uint64) []byte {
	b := []byte(Magic)
	b = append(b, Version, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = binary.BigEndian.AppendUint64(b, size)
	b = binary.BigEndian.AppendUint32(b, 1024)
	b = append(b, name...)
	return binary.BigEndian.AppendUint32(b, CRC32C(b))
}

// chunks frames data in chunks of n bytes.
func chunks(data []byte, n int) []byte {
	var out []byte
	for off := 0; off < len(data); off += n {
		d := data[off:min(off+n, len(data))]
		out = append(AppendChunkHead(out, d), d...)
	}
	return out
}

func want(r Reply, err error, status Status) error {
	if err != nil {
		return err
	}
	if r.Status != status {
		return fmt.Errorf("got %s %d %q, want %s", r.Status, r.Value, r.Msg, status)
	}
	return nil
}

// upload sends one whole file on s and expects OK.
func (s *session) upload(name string, data []byte, flags uint8) error {
	r, err := s.send(hdr(name, uint64(len(data)), 32<<10, flags))
	if err := want(r, err, StatusReady); err != nil {
		return fmt.Errorf("header of %s: %w", name, err)
	}
	r, err = s.send(chunks(data[r.Value:], 32<<10), AppendEnd(nil, sha256.Sum256(data)))
	if err := want(r, err, StatusOK); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if r.Value != uint64(len(data)) {
		return fmt.Errorf("%s: OK says %d bytes, the file has %d", name, r.Value, len(data))
	}
	return nil
}

// onDisk checks the stored file when the receiver's directory is known.
func onDisk(dir, name string, data []byte) error {
	if dir == "" {
		return nil
	}
	got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return fmt.Errorf("stored file: %w", err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("stored %s differs from what was sent (%d bytes, want %d)", name, len(got), len(data))
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sendOneCheck(dir string) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		s, err := open(ctx, addr)
		if err != nil {
			return err
		}
		defer s.close()
		name, data := fresh("one.bin"), randomBytes(100<<10)
		if err := s.upload(name, data, 0); err != nil {
			return err
		}
		return onDisk(dir, name, data)
	}
}

func checkTwoFiles(ctx context.Context, addr string) error {
	s, err := open(ctx, addr)
	if err != nil {
		return err
	}
	defer s.close()
	for i := range 2 {
		if err := s.upload(fresh(fmt.Sprintf("file%d.txt", i+1)), randomBytes(1000+i), 0); err != nil {
			return fmt.Errorf("file %d of 2 on one connection: %w", i+1, err)
		}
	}
	return nil
}

func checkHostileNames(ctx context.Context, addr string) error {
	for _, name := range []string{"../escape", "/etc/escape", "a\x00b", "line\nbreak", `a\b`, "c:x", "a/./b", "a/../../b", "a//b"} {
		s, err := open(ctx, addr)
		if err != nil {
			return err
		}
		r, err := s.send(rawHdr(name, 5))
		s.close()
		if err := want(r, err, StatusBadName); err != nil {
			return fmt.Errorf("name %q: %w", name, err)
		}
	}
	return nil
}

func checkBadMagic(ctx context.Context, addr string) error {
	s, err := open(ctx, addr)
	if err != nil {
		return err
	}
	defer s.close()
	r, err := s.send([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	return want(r, err, StatusBadMagic)
}

func checkHostileLength(ctx context.Context, addr string) error {
	s, err := open(ctx, addr)
	if err != nil {
		return err
	}
	defer s.close()
	r, err := s.send(hdr(fresh("big.bin"), 100, 1024, 0))
	if err := want(r, err, StatusReady); err != nil {
		return err
	}
	var head [ChunkHeadLen]byte
	binary.BigEndian.PutUint32(head[:], 1<<32-1) // "4 GiB follow"
	r, err = s.send(head[:])
	return want(r, err, StatusBadChunk)
}

func checkCorruptChunk(ctx context.Context, addr string) error {
	s, err := open(ctx, addr)
	if err != nil {
		return err
	}
	defer s.close()
	data := randomBytes(1000)
	r, err := s.send(hdr(fresh("corrupt.bin"), 1000, 1024, 0))
	if err := want(r, err, StatusReady); err != nil {
		return err
	}
	frame := chunks(data, 1024)
	frame[ChunkHeadLen+10] ^= 0x01 // one bit flipped in flight
	r, err = s.send(frame)
	return want(r, err, StatusCRCMismatch)
}

func checkWrongHash(ctx context.Context, addr string) error {
	s, err := open(ctx, addr)
	if err != nil {
		return err
	}
	defer s.close()
	data := randomBytes(1000)
	r, err := s.send(hdr(fresh("hash.bin"), 1000, 1024, 0))
	if err := want(r, err, StatusReady); err != nil {
		return err
	}
	r, err = s.send(chunks(data, 1024), AppendEnd(nil, sha256.Sum256([]byte("another file"))))
	return want(r, err, StatusHashMismatch)
}

func checkShortFile(ctx context.Context, addr string) error {
	s, err := open(ctx, addr)
	if err != nil {
		return err
	}
	defer s.close()
	data := randomBytes(1000)
	r, err := s.send(hdr(fresh("short.bin"), 2000, 1024, 0))
	if err := want(r, err, StatusReady); err != nil {
		return err
	}
	r, err = s.send(chunks(data, 1024), AppendEnd(nil, sha256.Sum256(data)))
	return want(r, err, StatusSizeMismatch)
}

func checkNoOverwrite(ctx context.Context, addr string) error {
	s, err := open(ctx, addr)
	if err != nil {
		return err
	}
	defer s.close()
	name := fresh("twice.txt")
	if err := s.upload(name, []byte("first"), 0); err != nil {
		return err
	}
	r, err := s.send(hdr(name, 6, 1024, 0))
	if err := want(r, err, StatusExists); err != nil {
		return fmt.Errorf("the same name again: %w", err)
	}
	s.close()
	if s, err = open(ctx, addr); err != nil {
		return err
	}
	defer s.close()
	if err := s.upload(name, []byte("second"), FlagOverwrite); err != nil {
		return fmt.Errorf("with the overwrite flag: %w", err)
	}
	return nil
}

func resumeCheck(dir string) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		name, data := fresh("resume.bin"), randomBytes(256<<10)
		s, err := open(ctx, addr)
		if err != nil {
			return err
		}
		r, err := s.send(hdr(name, uint64(len(data)), 32<<10, FlagResume))
		if err := want(r, err, StatusReady); err != nil {
			s.close()
			return err
		}
		// Half the file, then the connection is cut.
		if _, err := s.c.Write(chunks(data[:128<<10], 32<<10)); err != nil {
			s.close()
			return err
		}
		s.close()
		// The receiver keeps the verified bytes; it may not have read the
		// last of them before the cut, so the next offset is reached by
		// asking until it stops growing... or at once.
		var off uint64
		for {
			if s, err = open(ctx, addr); err != nil {
				return err
			}
			r, err = s.send(hdr(name, uint64(len(data)), 32<<10, FlagResume))
			if err != nil || r.Status != StatusBusy { // BUSY: the cut connection is still being wound up
				break
			}
			s.close()
			select { // poll again shortly
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return fmt.Errorf("still BUSY after the cut: %w", ctx.Err())
			}
		}
		defer s.close()
		if err := want(r, err, StatusReady); err != nil {
			return fmt.Errorf("resuming: %w", err)
		}
		off = r.Value
		if off == 0 || off > 128<<10 {
			return fmt.Errorf("resume offset %d, want between 1 and %d (the bytes sent before the cut)", off, 128<<10)
		}
		r, err = s.send(chunks(data[off:], 32<<10), AppendEnd(nil, sha256.Sum256(data)))
		if err := want(r, err, StatusOK); err != nil {
			return fmt.Errorf("after resuming at %d: %w", off, err)
		}
		return onDisk(dir, name, data)
	}
}

// fakeReceiver is a small receiver of the protocol, correct unless a bug is
// switched on: TestConformanceCatchesBrokenServers shows each check fails
// against the bug it is meant to catch.
type fakeReceiver struct {
	mu      sync.Mutex
	files   map[string][]byte
	partial map[string][]byte
	busy    map[string]bool // names being received
	bug     string
}

func (f *fakeReceiver) serve(c net.Conn, _ <-chan struct{}) {
	reply := func(s Status, v uint64) bool {
		b, _ := Reply{Status: s, Value: v}.MarshalBinary()
		_, err := c.Write(b)
		return err == nil
	}
	for {
		h, err := ReadHeader(c)
		if err != nil {
			if s := StatusOf(err); s != StatusIOError && !errors.Is(err, io.EOF) {
				reply(s, 0)
			}
			return
		}
		if f.bug != "any-name" && !fakeNameOK(h.Name) {
			reply(StatusBadName, 0)
			return
		}
		f.mu.Lock()
		_, exists := f.files[h.Name]
		part, busy := f.partial[h.Name], f.busy[h.Name]
		f.busy[h.Name] = true
		f.mu.Unlock()
		if busy {
			reply(StatusBusy, 0)
			return
		}
		done := func() { f.mu.Lock(); delete(f.busy, h.Name); f.mu.Unlock() }
		if exists && h.Flags&FlagOverwrite == 0 && f.bug != "overwrites" {
			done()
			reply(StatusExists, 0)
			return
		}
		if h.Flags&FlagResume == 0 || f.bug == "no-resume" {
			part = nil
		}
		if !reply(StatusReady, uint64(len(part))) {
			done()
			return
		}
		if f.bug == "allocates" { // trusts the length and waits for that many bytes
			var head [ChunkHeadLen]byte
			if _, err := io.ReadFull(c, head[:]); err == nil {
				_, _ = io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(head[:])))
			}
			done()
			return
		}
		data := append([]byte(nil), part...)
		buf := make([]byte, MaxChunkSize)
		status := StatusOK
		for {
			chunk, end, sum, err := ReadChunk(c, buf, h.ChunkSize)
			if errors.Is(err, ErrCutOff) {
				f.mu.Lock()
				f.partial[h.Name] = data
				f.mu.Unlock()
				done()
				return
			}
			if err != nil && !(f.bug == "no-crc" && StatusOf(err) == StatusCRCMismatch) {
				done()
				reply(StatusOf(err), 0)
				return
			}
			if end {
				switch {
				case uint64(len(data)) != h.Size && f.bug != "no-size":
					status = StatusSizeMismatch
				case sum != sha256.Sum256(data) && f.bug != "no-hash":
					status = StatusHashMismatch
				}
				break
			}
			data = append(data, chunk...)
		}
		if status == StatusOK {
			f.mu.Lock()
			f.files[h.Name] = data
			delete(f.partial, h.Name)
			f.mu.Unlock()
		}
		done()
		if !reply(status, uint64(len(data))) || status != StatusOK || f.bug == "one-file" {
			return
		}
	}
}

// fakeNameOK is the fake's own name rule (not CheckName: in a student's
// starter copy that is an exercise still to do).
func fakeNameOK(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\:") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	for _, comp := range strings.Split(name, "/") {
		if comp == "" || comp == "." || comp == ".." {
			return false
		}
	}
	return true
}

func startFake(t *testing.T, bug string) string {
	f := &fakeReceiver{files: map[string][]byte{}, partial: map[string][]byte{}, busy: map[string]bool{}, bug: bug}
	return testutil.StartBroken(t, false, f.serve)
}

// TestConformanceCatchesBrokenServers shows the rubric has teeth. The fake
// receiver without a bug passes every check; with each bug, the check meant
// to catch it fails.
func TestConformanceCatchesBrokenServers(t *testing.T) {
	testutil.SkipIfExternal(t, "CH05_ADDR")
	checks := receiverChecks("")
	t.Run("the fake without a bug passes", func(t *testing.T) {
		testutil.RunChecks(t, startFake(t, ""), checks, true, nil)
	})
	testutil.CatchesBroken(t, checks, map[string]string{
		"SendOne":               testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) { _, _ = io.Copy(io.Discard, c) }),
		"TwoFilesOneConnection": startFake(t, "one-file"),
		"HostileNames":          startFake(t, "any-name"),
		"NotThisProtocol": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) { // closes without a word
			_, _ = c.Read(make([]byte, 64))
		}),
		"HostileLength": startFake(t, "allocates"),
		"CorruptChunk":  startFake(t, "no-crc"),
		"WrongHash":     startFake(t, "no-hash"),
		"ShortFile":     startFake(t, "no-size"),
		"NoOverwrite":   startFake(t, "overwrites"),
		"Resume":        startFake(t, "no-resume"),
	})
}
