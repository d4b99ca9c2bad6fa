package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"

	"github.com/tcp-in-go/course/internal/tracing"
)

// Sender sends files to a receiver, all over one connection while the
// receiver keeps it open.
type Sender struct {
	Addr      string
	ChunkSize int
	Overwrite bool
	Resume    bool
	Retries   int           // retry a failed transfer this often, resuming
	Timeout   time.Duration // dial timeout, and longest wait for the receiver (0: none)
	Out       io.Writer     // one summary line per file
	Progress  io.Writer     // if not nil, a progress bar is drawn there
	// Tracer, if set, makes a span per file sent (tracing.go); nil means
	// tracing off.
	Tracer *tracing.Tracer

	plain bool // the receiver refused version 2: send version 1, untraced
}

// Result is the outcome of one file.
type Result struct {
	Name    string
	Size    int64
	Offset  uint64 // where the receiver let us start (resume)
	Elapsed time.Duration
	Sum     [sha256.Size]byte
	Err     error
}

// job is a local file and the name it gets on the receiver.
type job struct{ path, name string }

// ANCHOR: walk
// collect turns the command line into jobs. A file is sent under its base
// name; a directory is walked, each of its files sent under the
// directory's base name plus its relative path.
func collect(paths []string) ([]job, error) {
	var jobs []job
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		// Only regular files and directories: opening a FIFO blocks until
		// someone writes to it, and a device has no size (/dev/zero).
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%q is not a regular file or a directory (%v): refusing to send it", p, fi.Mode().Type())
		}
		if !fi.IsDir() {
			jobs = append(jobs, job{p, filepath.Base(p)})
			continue
		}
		dir, err := walkDir(p)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, dir...)
	}
	return jobs, nil
}

// ANCHOR_END: walk

// ANCHOR: walk-dir
// walkDir lists the regular files under directory p, named with '/'
// separators on every OS. Symlinks and special files are skipped, not
// followed.
func walkDir(p string) ([]job, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(abs) // "." becomes the directory's real name
	var jobs []job
	err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(p, fp)
		if err != nil {
			return err
		}
		jobs = append(jobs, job{fp, base + "/" + filepath.ToSlash(rel)})
		return nil
	})
	return jobs, err
}

// ANCHOR_END: walk-dir

// Send sends every file named by paths (files or directories) and prints a
// summary line for each. It returns the results and an error if any file
// failed. After a refusal that leaves the stream in step (EXISTS, BAD_NAME...)
// it goes on over the same connection; after anything else it reconnects.
func (s *Sender) Send(ctx context.Context, paths []string) ([]Result, error) {
	if s.ChunkSize < 1 || s.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("chunk size %d not in 1..%d", s.ChunkSize, MaxChunkSize)
	}
	if s.Out == nil {
		s.Out = io.Discard
	}
	jobs, err := collect(paths)
	if err != nil {
		return nil, err
	}
	var (
		conn    net.Conn
		results []Result
		failed  int
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	buf := make([]byte, 3*s.ChunkSize)
	for _, j := range jobs {
		var r Result
		for attempt := 0; ; attempt++ {
			if ctx.Err() != nil {
				return results, ctx.Err()
			}
			if conn == nil {
				d := net.Dialer{Timeout: s.Timeout}
				if conn, err = d.DialContext(ctx, "tcp", s.Addr); err != nil {
					r = Result{Name: j.name, Err: &dialError{err}}
				}
			}
			if conn != nil {
				stop := context.AfterFunc(ctx, func() { conn.Close() })
				r = s.tracedSend(ctx, conn, j, buf, s.Resume || attempt > 0)
				stop()
				if r.Err != nil && !keepOpen(r.Err) {
					conn.Close()
					conn = nil
				}
			}
			if s.downgrade(r.Err) {
				continue // an old receiver: the same file again, as version 1
			}
			// ANCHOR: exercise-retry
			// A transfer that failed for a passing reason (cut off, corrupted
			// in flight, name busy) is retried, resuming from what the
			// receiver kept, after a growing pause.
			if r.Err != nil && attempt < s.Retries && retryable(r.Err) {
				pause := min(50*time.Millisecond<<attempt, 2*time.Second)
				select {
				case <-time.After(pause):
				case <-ctx.Done():
				}
				continue
			}
			// ANCHOR_END: exercise-retry
			break
		}
		results = append(results, r)
		s.summary(r)
		if r.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		return results, fmt.Errorf("%d of %d files failed", failed, len(jobs))
	}
	return results, nil
}

// retryable reports whether trying again may help: the network failed, or
// the receiver saw damage or was busy. A refusal of the file itself (bad
// name, exists, too large) will not change on a retry.
func retryable(err error) bool {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return false // the local file: trying again will not help
	}
	var pe *ProtoError
	if !errors.As(err, &pe) {
		return true
	}
	switch pe.Status {
	case StatusCRCMismatch, StatusHashMismatch, StatusTimeout, StatusBusy:
		return true
	}
	return false
}

// dialError is a failure to reach the receiver: no protocol status applies
// (IO_ERROR is the receiver's write failure), so the summary says
// NO_CONNECTION, a local status.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// ANCHOR: summary
func (s *Sender) summary(r Result) {
	if r.Err != nil {
		status := StatusOf(r.Err).String()
		var de *dialError
		if errors.As(r.Err, &de) {
			status = "NO_CONNECTION"
		}
		fmt.Fprintf(s.Out, "failed name=%s status=%s err=%q\n", logValue(r.Name), status, r.Err)
		return
	}
	sent := float64(r.Size-int64(r.Offset)) / (1 << 20)
	fmt.Fprintf(s.Out, "sent name=%s size=%d resumed_at=%d elapsed=%s rate=%.1fMiB/s sha256=%x\n",
		logValue(r.Name), r.Size, r.Offset, r.Elapsed.Round(time.Microsecond), sent/max(r.Elapsed.Seconds(), 1e-9), r.Sum)
}

// ANCHOR_END: summary

// logValue is a name as log/slog's text handler writes a value: bare when
// plain, else quoted, so an escape sequence in a file name reaches the
// terminal as text.
func logValue(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' || r == '=' || r == '"' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// ANCHOR: sendfile
// sendFile sends one file: header, wait for READY (and the offset to start
// from), chunks, End with the SHA-256 of the whole file, wait for OK.
func (s *Sender) sendFile(ctx context.Context, c net.Conn, j job, buf []byte, resume bool) (r Result) {
	start := time.Now()
	r.Name = j.name
	defer func() { r.Elapsed = time.Since(start) }()
	f, err := os.Open(j.path)
	if err != nil {
		r.Err = err
		return r
	}
	defer f.Close()
	if r.Size, r.Err = size(f); r.Err != nil {
		return r
	}
	if r.Offset, r.Err = s.offer(ctx, c, j.name, r.Size, resume); r.Err != nil {
		return r
	}
	// The SHA-256 covers the whole file, so on a resume the bytes the
	// receiver already has are hashed here too (read, not sent).
	sha := sha256.New()
	if _, err := io.CopyN(sha, f, int64(r.Offset)); err != nil {
		r.Err = fmt.Errorf("read %s: %w", j.path, err)
		return r
	}
	bar := s.bar(j.name, r.Size, int64(r.Offset))
	if bar != nil {
		defer bar.Clear() // the summary line replaces the bar, success or not
	}
	if err := s.sendChunks(c, f, uint64(r.Size)-r.Offset, sha, buf, bar); err != nil {
		r.Err = s.explain(c, err)
		return r
	}
	copy(r.Sum[:], sha.Sum(nil))
	r.Err = s.finish(c, r.Sum, r.Size)
	return r
}

// ANCHOR_END: sendfile

func size(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// ANCHOR: offer
// offer sends the header and waits for READY: it returns the offset the
// receiver asks for (0, or where its partial file ends on a resume), or
// the refusal. The header carries ctx's trace context (version 2) unless
// the receiver is too old for it.
func (s *Sender) offer(ctx context.Context, c net.Conn, name string, size int64, resume bool) (uint64, error) {
	h := Header{Version: Version, Name: name, Size: uint64(size), ChunkSize: uint32(s.ChunkSize)}
	if tp := tracing.TraceParent(ctx); tp != "" && !s.plain {
		h.Version, h.TraceParent = VersionTrace, tp
	}
	if s.Overwrite {
		h.Flags |= FlagOverwrite
	}
	if resume {
		h.Flags |= FlagResume
	}
	hb, err := h.MarshalBinary()
	if err != nil {
		return 0, err
	}
	_ = c.SetDeadline(deadline(s.Timeout))
	if _, err := c.Write(hb); err != nil {
		return 0, err
	}
	rep, err := ReadReply(c)
	switch {
	case err != nil:
		return 0, err
	case rep.Status != StatusReady:
		return 0, &ProtoError{Status: rep.Status, Msg: rep.Msg}
	case rep.Value > uint64(size):
		return 0, fmt.Errorf("receiver offers offset %d past the end (%d)", rep.Value, size)
	}
	return rep.Value, nil
}

// ANCHOR_END: offer

// ANCHOR: finish
// finish sends the End frame with the file's SHA-256 and waits for OK: the
// receiver has verified and committed the whole file, size bytes.
func (s *Sender) finish(c net.Conn, sum [sha256.Size]byte, size int64) error {
	_ = c.SetDeadline(deadline(s.Timeout))
	if _, err := c.Write(AppendEnd(nil, sum)); err != nil {
		return s.explain(c, err)
	}
	rep, err := ReadReply(c)
	switch {
	case err != nil:
		return err
	case rep.Status != StatusOK:
		return &ProtoError{Status: rep.Status, Msg: rep.Msg}
	case rep.Value != uint64(size):
		return fmt.Errorf("receiver committed %d bytes, we sent %d", rep.Value, size)
	}
	return nil
}

// ANCHOR_END: finish

// explain: when a write fails, the receiver has usually said why (a CRC
// mismatch, disk full) just before closing. Read that reply if it is there.
func (s *Sender) explain(c net.Conn, err error) error {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if rep, rerr := ReadReply(c); rerr == nil && rep.Status != StatusOK && rep.Status != StatusReady {
		return &ProtoError{Status: rep.Status, Msg: rep.Msg}
	}
	return err
}

// ANCHOR: pipeline
// sendChunks sends n bytes of f as chunks. Every byte must pass through
// user space anyway, to be hashed (SHA-256) and checksummed (CRC-32C) before
// its chunk head can be written, so the kernel's sendfile cannot help here.
// What does help is overlap: a goroutine reads and hashes chunk i+1 while
// the network takes chunk i. buf holds three chunk buffers that circulate
// between the two.
func (s *Sender) sendChunks(c net.Conn, f io.Reader, n uint64, sha hash.Hash, buf []byte, bar *progressbar.ProgressBar) error {
	size := s.ChunkSize
	free := make(chan []byte, 3)
	for i := range 3 {
		free <- buf[i*size : (i+1)*size : (i+1)*size]
	}
	full := make(chan outChunk, 2)
	quit, done := make(chan struct{}), make(chan struct{})
	defer func() { close(quit); <-done }() // the reader must stop using buf and sha before we return
	go func() {
		defer close(done)
		readChunks(f, n, sha, free, full, quit)
	}()
	for ch := range full { // writer: full -> network -> free
		if ch.err != nil {
			return ch.err
		}
		_ = c.SetWriteDeadline(deadline(s.Timeout))
		bufs := net.Buffers{ch.head[:], ch.data} // one writev for head + data
		if _, err := bufs.WriteTo(c); err != nil {
			return err
		}
		if bar != nil {
			_ = bar.Add(len(ch.data))
		}
		free <- ch.data[:cap(ch.data)]
	}
	return nil
}

// ANCHOR_END: pipeline

// ANCHOR: reader
// outChunk is a chunk ready to send, or the error that ended the reading.
type outChunk struct {
	head [ChunkHeadLen]byte
	data []byte
	err  error
}

// readChunks is the reader goroutine: file -> hash -> full, n bytes in
// buffers taken from free. It closes full when done, and returns at once
// when quit is closed.
func readChunks(f io.Reader, n uint64, sha hash.Hash, free <-chan []byte, full chan<- outChunk, quit <-chan struct{}) {
	defer close(full)
	for left := n; left > 0; {
		var b []byte
		select {
		case b = <-free:
		case <-quit:
			return
		}
		b = b[:min(uint64(cap(b)), left)]
		if _, err := io.ReadFull(f, b); err != nil {
			select {
			case full <- outChunk{err: fmt.Errorf("file shorter than its size (changed while sending?): %w", err)}:
			case <-quit:
			}
			return
		}
		sha.Write(b)
		ch := outChunk{data: b}
		AppendChunkHead(ch.head[:0], b)
		left -= uint64(len(b))
		select {
		case full <- ch:
		case <-quit:
			return
		}
	}
}

// ANCHOR_END: reader

// bar returns a progress bar on s.Progress, or nil when there is none.
func (s *Sender) bar(name string, size, done int64) *progressbar.ProgressBar {
	if s.Progress == nil {
		return nil
	}
	b := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(s.Progress),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	_ = b.Set64(done)
	return b
}
