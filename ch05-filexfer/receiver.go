package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/telemetry"
	"github.com/tcp-in-go/course/internal/tracing"
)

// Server receives files into Dir. A limit's zero value means "no limit"
// or "never" (the flags' defaults are the Default constants below); set
// them before Serve.
type Server struct {
	Dir         string
	MaxConns    int           // concurrent connections; more are told BUSY (0: no limit)
	IdleTimeout time.Duration // longest silence from a sender (0: wait forever)
	MaxSize     int64         // largest file accepted (0: no limit)
	PartialTTL  time.Duration // partial files older than this are removed (0: kept)
	Log         *slog.Logger
	// Metrics, if set, counts connections, bytes and transfers
	// (-metrics-addr); nil means metrics off.
	Metrics *telemetry.Metrics
	// Tracer, if set, makes a span per file received (tracing.go); nil
	// means tracing off.
	Tracer *tracing.Tracer

	oldVersion bool // tests: refuse version 2 as a receiver from before it would

	setup     sync.Once   // builds core from the fields, once
	core      *serve.Core // the accept loop and the connections (chapter 3)
	xfer      *xferMetrics
	root      *os.Root
	slots     chan struct{}
	mu        sync.Mutex            // guards the fields below
	idle      map[net.Conn]struct{} // connections between files
	receiving map[string]bool       // names being received (per-name lock)
	lastSweep time.Time
}

// Stats is what -debug-addr publishes (expvar "filexfer"): connections open,
// how many of them are between files, and files being received.
func (s *Server) Stats() map[string]int {
	open := s.OpenConns() // not under s.mu: Shutdown's Each takes the locks the other way round
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]int{"conns_open": open, "conns_idle": len(s.idle), "receiving": len(s.receiving)}
}

// OpenConns is the number of connections being served (logged when
// draining starts).
func (s *Server) OpenConns() int { s.initCore(); return s.core.OpenConns() }

// Ready reports whether the receiver accepts new senders: false from the
// moment a drain begins (/readyz).
func (s *Server) Ready() bool { s.initCore(); return s.core.Ready() }

// initCore builds the Core from the fields, once, whichever of Serve and
// Shutdown runs first: both may run at any time (a signal can come first).
func (s *Server) initCore() {
	s.setup.Do(func() {
		log := s.Log
		if log == nil {
			log = slog.Default()
		}
		s.core = serve.New(serve.Config{Log: log, Observer: s.Metrics.Observer()})
	})
}

// Defaults for the Server's limits: the serve command's flag defaults.
const (
	DefaultMaxConns    = 64
	DefaultIdleTimeout = 30 * time.Second
	DefaultMaxSize     = 64 << 30 // 64 GiB
	DefaultPartialTTL  = 24 * time.Hour
)

// deadline is when a wait of d from now ends: d = 0 means never (the zero
// time, which clears a connection's deadline).
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

func (s *Server) init() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	// ANCHOR: root
	// Every file operation below goes through root: os.Root resolves names
	// inside Dir and refuses any that would leave it, including through a
	// symlink someone planted in Dir ("a/link-to-etc/passwd").
	root, err := os.OpenRoot(s.Dir)
	if err != nil {
		return err
	}
	if err := root.MkdirAll(PartialDir, 0o700); err != nil {
		root.Close()
		return err
	}
	// ANCHOR_END: root
	s.root = root
	if s.xfer == nil {
		s.xfer = newXferMetrics(s.Metrics)
	}
	if s.MaxConns > 0 { // nil slots: no limit
		s.slots = make(chan struct{}, s.MaxConns)
	}
	s.idle = map[net.Conn]struct{}{}
	s.receiving = map[string]bool{}
	return nil
}

// ANCHOR: serve
// Serve opens Dir, removes stale partial files, then accepts connections on
// ln with the course's one accept loop (serve.Core, chapter 3) until
// Shutdown, when it returns serve.ErrServerClosed. MaxConns is not the
// Core's limit (which leaves extra clients waiting in the accept queue):
// here a sender over the limit is accepted and told BUSY, so it knows.
func (s *Server) Serve(ln net.Listener) error {
	s.initCore()
	s.mu.Lock()
	if s.core.Draining() { // Shutdown ran first: open nothing
		s.mu.Unlock()
		ln.Close()
		return serve.ErrServerClosed
	}
	if err := s.init(); err != nil {
		s.mu.Unlock()
		ln.Close()
		return err
	}
	s.lastSweep = time.Now()
	s.removeStalePartials() // under s.mu: Shutdown closes root under it
	s.mu.Unlock()
	return s.core.Serve(ln, s.serveConn)
}

// serveConn is a connection's goroutine: a slot, then handle.
func (s *Server) serveConn(raw net.Conn) serve.End {
	c := &telemetry.Conn{Conn: raw} // counts the bytes
	reason := "refused"
	if s.takeSlot() {
		reason = s.handle(c)
		s.releaseSlot()
	} else {
		s.refuse(c, Reply{Status: StatusBusy, Msg: fmt.Sprintf("too many connections (limit %d)", s.MaxConns)})
	}
	in, out := c.Counts()
	s.Metrics.Transferred(in, out)
	return serve.End{Reason: reason, Attrs: []any{"bytes_in", in, "bytes_out", out}}
}

// ANCHOR_END: serve

// takeSlot takes one of MaxConns slots without waiting, and reports false
// when all are taken. MaxConns 0 (no slots) means no limit.
func (s *Server) takeSlot() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// ANCHOR: shutdown
// Shutdown stops accepting, wakes the connections that are between files
// (a read deadline in the past ends their wait for the next header), lets
// transfers in progress finish until ctx is done, then closes what is left:
// their partial files stay, resumable.
func (s *Server) Shutdown(ctx context.Context) error {
	s.initCore()
	s.core.BeginShutdown()
	s.core.Each(func(c net.Conn) {
		if s.isIdle(c) {
			_ = c.SetReadDeadline(time.Now())
		}
	})
	err := s.core.Wait(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != nil { // every handler has returned: nobody uses it
		s.root.Close()
		s.root = nil
	}
	return err
}

// ANCHOR_END: shutdown

// setIdle records whether c is between files, and reports false when the
// server is shutting down (an idle connection should then just close).
// Shutdown marks draining before it looks for idle connections, so either
// it sees c idle and wakes it, or this sees the shutdown.
func (s *Server) setIdle(c net.Conn, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idle {
		s.idle[c] = struct{}{}
	} else {
		delete(s.idle, c)
	}
	return !s.core.Draining()
}

func (s *Server) isIdle(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.idle[c]
	return ok
}

// refuse sends one reply and closes gracefully: write, half-close, then
// read and discard what the peer already sent. Closing a socket with unread
// data makes the kernel send RST, which can destroy the reply before the
// peer reads it.
func (s *Server) refuse(c net.Conn, r Reply) {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, _ := r.MarshalBinary()
	_, _ = c.Write(b)
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

// ANCHOR: handle
// handle serves one connection: header, file, reply, as many times as the
// sender likes. A refused header (bad name, exists, too large, busy) leaves
// the stream in step, so the connection stays open for the next file; any
// error inside a file's data closes it, because the receiver can no longer
// tell where the next frame starts. It returns why the connection ended.
func (s *Server) handle(c *telemetry.Conn) (reason string) {
	log := s.Log.With("peer", c.RemoteAddr().String())
	defer s.setIdle(c.Conn, false)
	for {
		h, reason := s.nextHeader(c, log)
		if reason != "" {
			return reason
		}
		rep, err := s.transfer(c, h, log) // receive, in a span, measured
		if err != nil {
			keep := keepOpen(err)
			s.fail(c, log, h.Name, err, keep)
			if keep {
				continue
			}
			return serve.Reason(err, false)
		}
		if err := s.reply(c, rep); err != nil {
			log.Warn("reply", "name", h.Name, "err", err)
			return serve.Reason(err, false)
		}
	}
}

// ANCHOR_END: handle

// ANCHOR: next-header
// nextHeader waits, idle, for the next file's header. It returns a reason
// when the connection should end: the sender is done (eof), Shutdown woke
// the wait (drained), or the header was bad (the stream is then out of
// step). setIdle gets the accepted connection, the one Shutdown sees.
func (s *Server) nextHeader(c *telemetry.Conn, log *slog.Logger) (Header, string) {
	// The deadline first: Shutdown's wake-up (a deadline in the past)
	// must not be overwritten once setIdle has let Shutdown see c idle.
	_ = c.SetReadDeadline(deadline(s.IdleTimeout))
	if !s.setIdle(c.Conn, true) {
		return Header{}, "drained" // shutting down: nothing in progress here
	}
	h, err := ReadHeader(c)
	if errors.Is(err, io.EOF) {
		return Header{}, "eof" // the sender is done
	}
	if !s.setIdle(c.Conn, false) && err != nil {
		return Header{}, "drained" // woken by Shutdown
	}
	if err == nil && s.oldVersion && h.Version != Version {
		err = protoErr(StatusBadVersion, "version %d, this receiver speaks %d", h.Version, Version)
	}
	if err != nil {
		s.fail(c, log, "", err, false)
		return Header{}, serve.Reason(err, false)
	}
	return h, ""
}

// ANCHOR_END: next-header

// keepOpen reports whether err, returned by receive, refused a file before
// any of its data was read, so the stream is still in step.
func keepOpen(err error) bool {
	switch StatusOf(err) {
	case StatusBadName, StatusTooLarge, StatusExists, StatusBusy:
		return true
	}
	return false
}

func (s *Server) reply(c net.Conn, r Reply) error {
	b, _ := r.MarshalBinary()
	_ = c.SetWriteDeadline(deadline(s.IdleTimeout))
	_, err := c.Write(b)
	return err
}

// fail logs err and tells the sender, unless the connection itself failed.
// keep says the connection goes on; otherwise the reply is the last word.
func (s *Server) fail(c net.Conn, log *slog.Logger, name string, err error, keep bool) {
	var ne net.Error
	switch {
	case errors.Is(err, ErrCutOff):
		log.Warn("cut off", "name", name)
		return
	case errors.As(err, &ne) && ne.Timeout():
		log.Warn("idle timeout", "name", name, "after", s.IdleTimeout)
		err = protoErr(StatusTimeout, "no data for %v", s.IdleTimeout)
	case errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET):
		log.Warn("connection lost", "name", name, "err", err)
		return
	}
	log.Warn("refused", "name", name, "status", StatusOf(err).String(), "err", err)
	msg := err.Error()
	var pe *ProtoError
	if errors.As(err, &pe) {
		msg = pe.Msg
	}
	if keep {
		_ = s.reply(c, Reply{Status: StatusOf(err), Msg: msg})
		return
	}
	s.refuse(c, Reply{Status: StatusOf(err), Msg: msg})
}

// lock takes the per-name lock: two senders uploading the same name at once
// would otherwise write the same partial file in turns.
func (s *Server) lock(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.receiving[name] {
		return false
	}
	s.receiving[name] = true
	return true
}

func (s *Server) unlock(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.receiving, name)
}

// partialName is where name's data waits until it is verified. The size is
// part of it so that a resume never continues a different file's partial.
func partialName(name string, size uint64) string {
	sum := sha256.Sum256([]byte(name))
	return PartialDir + "/" + hex.EncodeToString(sum[:16]) + "-" + strconv.FormatUint(size, 10) + ".part"
}

// ANCHOR: receive
// receive takes one file whose header has been read. It returns the OK
// reply, or an error whose status is the refusal, and where the data
// started (the resume offset; 0 when refused before READY).
func (s *Server) receive(c net.Conn, h Header, log *slog.Logger) (Reply, uint64, error) {
	start := time.Now()
	s.sweepPartials()
	if err := s.admit(h); err != nil {
		return Reply{}, 0, err
	}
	defer s.unlock(h.Name)
	overwrite := h.Flags&FlagOverwrite != 0
	if err := s.checkTarget(h.Name, overwrite); err != nil {
		return Reply{}, 0, err
	}
	// The data goes to a partial file aside, never under the final name.
	part := partialName(h.Name, h.Size)
	f, err := s.openPartial(part, h.Name, h.Flags&FlagResume != 0)
	if err != nil {
		return Reply{}, 0, err
	}
	defer f.Close()
	sum := sha256.New()
	off, err := s.resumeOffset(f, h, sum)
	if err != nil {
		return Reply{}, 0, err
	}
	if err := s.reply(c, Reply{Status: StatusReady, Value: off}); err != nil {
		return Reply{}, off, err
	}
	if err := s.readData(c, h, f, part, sum, off); err != nil {
		return Reply{}, off, err
	}
	if err := s.commit(f, part, h.Name, overwrite); err != nil {
		return Reply{}, off, err
	}
	log.Info("received", "name", h.Name, "size", h.Size, "resumed_at", off, "elapsed", time.Since(start).Round(time.Millisecond))
	return Reply{Status: StatusOK, Value: h.Size}, off, nil
}

// ANCHOR_END: receive

// admit refuses a header before any of its data is read: a bad name, a
// size over MaxSize, or a name being received on another connection.
// Otherwise it takes the name's lock; the caller must unlock it.
func (s *Server) admit(h Header) error {
	if err := CheckName(h.Name); err != nil {
		return err
	}
	if s.MaxSize > 0 && h.Size > uint64(s.MaxSize) {
		return protoErr(StatusTooLarge, "size %d over the limit %d", h.Size, s.MaxSize)
	}
	if !s.lock(h.Name) {
		return protoErr(StatusBusy, "%q is being received on another connection", h.Name)
	}
	return nil
}

// ANCHOR: data
// readData reads the chunks and the End frame into the partial file f. Each
// chunk is checked (length, CRC) before it is written, so f only ever holds
// verified bytes, and its size is the offset a resume can safely start
// from. The sink writes and hashes one chunk while this loop reads the next.
func (s *Server) readData(c net.Conn, h Header, f *os.File, part string, sum hash.Hash, off uint64) error {
	sk := newSink(f, sum, off, int(min(uint64(h.ChunkSize), h.Size-off)))
	received := off
	for {
		_ = c.SetReadDeadline(deadline(s.IdleTimeout))
		limit := min(uint64(h.ChunkSize), h.Size-received)
		data, end, want, err := ReadChunk(c, sk.buffer(), uint32(limit))
		if err != nil {
			if StatusOf(err) == StatusBadChunk && limit < uint64(h.ChunkSize) {
				err = protoErr(StatusBadChunk, "chunk goes past the declared size %d", h.Size)
			}
			_, _ = sk.wait()
			_ = f.Sync() // keep what was verified: the sender may resume
			return err
		}
		if end {
			if _, err := sk.wait(); err != nil {
				return s.writeFailed(f, part, err)
			}
			return s.verify(part, h, received, sum.Sum(nil), want)
		}
		sk.put(data)
		received += uint64(len(data))
		if sk.failed.Load() { // the disk is full: stop reading a file we cannot keep
			_, err := sk.wait()
			return s.writeFailed(f, part, err)
		}
	}
}

// ANCHOR_END: data

// verify checks the whole file once the End frame has arrived: its size,
// and its SHA-256 against the sender's. A file that fails is discarded:
// its verified chunks add up to the wrong file, so a resume cannot use it.
func (s *Server) verify(part string, h Header, received uint64, got []byte, want [sha256.Size]byte) error {
	if received != h.Size {
		s.discard(part)
		return protoErr(StatusSizeMismatch, "got %d bytes, header said %d", received, h.Size)
	}
	if !bytes.Equal(got, want[:]) {
		s.discard(part)
		return protoErr(StatusHashMismatch, "SHA-256 %x, sender says %x", got, want)
	}
	return nil
}

// checkTarget makes the final name's parent directories and refuses a name
// that exists (unless overwrite) or that is a directory. os.Root refuses a
// path that escapes Dir, e.g. through a symlink.
func (s *Server) checkTarget(name string, overwrite bool) error {
	if dir := path.Dir(name); dir != "." {
		if err := s.root.MkdirAll(dir, 0o755); err != nil {
			return protoErr(StatusBadName, "cannot create directory %q: %v", dir, unwrapPath(err))
		}
	}
	fi, err := s.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return protoErr(StatusBadName, "%q: %v", name, unwrapPath(err))
	case fi.IsDir():
		return protoErr(StatusBadName, "%q is a directory", name)
	case !overwrite:
		return protoErr(StatusExists, "%q exists (send with -overwrite to replace it)", name)
	}
	return nil
}

// unwrapPath keeps only the system's reason ("no space left on device")
// of a file error: replies go to a peer, who has no business learning the
// receiver's paths.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// ANCHOR: openpartial
// openPartial opens the partial file of name, and never one that shares its
// data with another file. A crash between commit's link and remove leaves
// the partial hard-linked to the committed file: truncating it or writing
// to it would change the committed file in place. So an existing partial is
// kept only for a resume, and only while it is a regular file with no other
// name; otherwise it is removed, and a fresh one is created with O_EXCL,
// which fails if anything (a symlink) appeared at that name meanwhile. What
// the receiver never creates there (a symlink, a directory) is refused.
func (s *Server) openPartial(part, name string, resume bool) (*os.File, error) {
	lfi, err := s.root.Lstat(part)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, protoErr(StatusIOError, "partial file: %v", unwrapPath(err))
	case !lfi.Mode().IsRegular():
		return nil, protoErr(StatusIOError, "partial file is %s, not a regular file", kind(lfi.Mode()))
	default:
		if resume {
			f, err := s.root.OpenFile(part, os.O_RDWR, 0)
			if err != nil {
				return nil, protoErr(StatusIOError, "open partial file: %v", unwrapPath(err))
			}
			if fi, err := f.Stat(); err == nil && os.SameFile(fi, lfi) && s.soleName(fi, name) {
				return f, nil
			}
			f.Close()
		}
		if err := s.root.Remove(part); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, protoErr(StatusIOError, "remove partial file: %v", unwrapPath(err))
		}
	}
	f, err := s.root.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, protoErr(StatusIOError, "create partial file: %v", unwrapPath(err))
	}
	return f, nil
}

// ANCHOR_END: openpartial

// soleName reports whether the partial file fi is known to have no name
// but its own: not the final file's (the crash state above), and, where the
// system keeps a link count, no other either.
func (s *Server) soleName(fi fs.FileInfo, name string) bool {
	if n, ok := linkCount(fi); ok && n != 1 {
		return false
	}
	ffi, err := s.root.Lstat(name)
	return err != nil || !os.SameFile(fi, ffi)
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// writeFailed handles a failed write (disk full, quota, file too large):
// it removes the partial file, so that its space is free again and the
// next upload of the name starts afresh, and reports IO_ERROR with the
// system's reason only. The reply never carries a path of the receiver's.
func (s *Server) writeFailed(f *os.File, part string, err error) error {
	f.Close() // before the remove: Windows cannot remove an open file
	s.discard(part)
	return protoErr(StatusIOError, "write partial file: %v", unwrapPath(err))
}

// resumeOffset decides where the sender starts. With FlagResume it keeps the
// partial file's bytes and hashes them, because the final SHA-256 must cover
// the whole file; otherwise it starts over.
func (s *Server) resumeOffset(f *os.File, h Header, hash io.Writer) (uint64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, protoErr(StatusIOError, "stat partial file: %v", unwrapPath(err))
	}
	off := uint64(fi.Size())
	if h.Flags&FlagResume == 0 || off > h.Size {
		off = 0
	}
	if off > 0 {
		if _, err := io.Copy(hash, io.NewSectionReader(f, 0, int64(off))); err != nil {
			return 0, protoErr(StatusIOError, "read partial file: %v", unwrapPath(err))
		}
	}
	if err := f.Truncate(int64(off)); err != nil {
		return 0, protoErr(StatusIOError, "truncate partial file: %v", unwrapPath(err))
	}
	if _, err := f.Seek(int64(off), io.SeekStart); err != nil {
		return 0, protoErr(StatusIOError, "seek partial file: %v", unwrapPath(err))
	}
	return off, nil
}

// ANCHOR: commit
// commit makes a verified partial file the real one, in an order that
// survives a crash at any step: flush the data to disk, then rename (atomic:
// readers see the old file or the new one, never a mix), then flush the
// directories so the rename itself is on disk before we say OK.
func (s *Server) commit(f *os.File, part, name string, overwrite bool) error {
	if err := f.Sync(); err != nil {
		return protoErr(StatusIOError, "fsync: %v", unwrapPath(err))
	}
	if err := f.Close(); err != nil {
		return protoErr(StatusIOError, "close: %v", unwrapPath(err))
	}
	if overwrite {
		if err := s.root.Rename(part, name); err != nil {
			return protoErr(StatusIOError, "rename: %v", unwrapPath(err))
		}
	} else if err := s.linkNew(part, name); err != nil {
		return err
	}
	if err := s.syncDir(path.Dir(name)); err != nil {
		return protoErr(StatusIOError, "fsync directory: %v", unwrapPath(err))
	}
	if err := s.syncDir(PartialDir); err != nil {
		return protoErr(StatusIOError, "fsync directory: %v", unwrapPath(err))
	}
	return nil
}

// ANCHOR_END: commit

// ANCHOR: link-new
// linkNew gives the partial file its final name only if that name is still
// free. Link fails if name appeared meanwhile, so no-overwrite stays true
// even against a local process racing us; then the partial's own name goes.
func (s *Server) linkNew(part, name string) error {
	err := s.root.Link(part, name)
	switch {
	case errors.Is(err, fs.ErrExist):
		return protoErr(StatusExists, "%q appeared during the transfer", name)
	case err == nil:
		err = s.root.Remove(part)
	default:
		// No hard links on this file system (FAT, some network
		// shares): check, then rename, accepting a small race.
		if _, lerr := s.root.Lstat(name); lerr == nil {
			return protoErr(StatusExists, "%q appeared during the transfer", name)
		}
		err = s.root.Rename(part, name)
	}
	if err != nil {
		return protoErr(StatusIOError, "commit: %v", unwrapPath(err))
	}
	return nil
}

// ANCHOR_END: link-new

func (s *Server) syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for fsync there; NTFS journals renames
	}
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *Server) discard(part string) {
	if err := s.root.Remove(part); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.Log.Warn("remove partial", "file", part, "err", err)
	}
}

// sweepPartials removes partial files nobody resumed within PartialTTL (a
// partial's modification time is its last write). It runs when the server
// starts, then at most once a minute when a file arrives.
func (s *Server) sweepPartials() {
	s.mu.Lock()
	if time.Since(s.lastSweep) < time.Minute {
		s.mu.Unlock()
		return
	}
	s.lastSweep = time.Now()
	s.mu.Unlock()
	s.removeStalePartials()
}

// removeStalePartials removes the partial files older than PartialTTL; a
// PartialTTL of 0 keeps them until resumed.
func (s *Server) removeStalePartials() {
	if s.PartialTTL <= 0 {
		return
	}
	// ANCHOR: exercise-sweep
	d, err := s.root.Open(PartialDir)
	if err != nil {
		return
	}
	entries, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range entries {
		fi, err := e.Info()
		if err == nil && strings.HasSuffix(e.Name(), ".part") && time.Since(fi.ModTime()) > s.PartialTTL {
			s.discard(PartialDir + "/" + e.Name())
			s.Log.Info("removed stale partial", "file", e.Name())
		}
	}
	// ANCHOR_END: exercise-sweep
}
