package main

// The event-loop variant (command eventloop, Linux only): the same RFC 862
// echo as Server, written as a reactor on epoll(7) instead of a goroutine
// per connection. Go's runtime already runs such a loop (the netpoller)
// under every blocking Read; this one is written by hand to show what the
// runtime does for us, and what doing it ourselves buys: no goroutine, no
// stack and no buffer per idle connection.
//
// The shape: one acceptor goroutine hands each new socket to one of N loops
// (one per core); each loop owns an epoll instance and its connections, and
// is the only goroutine that touches them, so nothing is locked per event.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/serve"
)

// eventLoopCmd runs the event-loop server with the serve command's flags.
func eventLoopCmd(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("eventloop", os.Stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on (:PORT for all interfaces)")
	maxConns := fs.Int("max-conns", 10000, "connections served at once (0: no limit); more wait in the accept queue")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "close a client silent this long (0: never); silent: neither sending nor reading")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long open connections may finish")
	loops := fs.Int("loops", runtime.GOMAXPROCS(0), "event loops (goroutines each waiting in epoll_wait)")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *maxConns < 0 || *idle < 0 || *drain < 0 || *loops < 1 {
		return cli.Usagef("-max-conns, -idle-timeout and -drain-timeout must not be negative, -loops must be positive")
	}
	srv := NewEventLoop(EventLoopConfig{MaxConns: *maxConns, IdleTimeout: *idle, Loops: *loops, Log: slog.Default()})
	return cli.ListenAndServe(ctx, slog.Default(), *addr, srv, *drain,
		"model", "eventloop", "loops", *loops, "max_conns", *maxConns, "idle_timeout", *idle)
}

// EventLoopConfig is what an EventLoop is built with: the serve flags, and
// how many loops.
type EventLoopConfig struct {
	MaxConns    int           // connections served at once; 0 means no limit
	IdleTimeout time.Duration // close a peer that neither sends nor reads this long; 0 means never
	Loops       int           // event loops; 0 means one per core (GOMAXPROCS)
	Log         *slog.Logger  // accepted and closed lines; nil: stderr
}

// elBufSize is each loop's read buffer, and the most one connection may have
// pending: a connection with output pending is not read from (see serveConn).
const elBufSize = 64 << 10

// pendBufs lends a connection room for the part of an echo the kernel did
// not take; it goes back as soon as the rest is written.
var pendBufs = sync.Pool{New: func() any { b := make([]byte, elBufSize); return &b }}

// ANCHOR: el-conn
// elConn is all an idle connection costs this process: no goroutine, no
// stack, no buffer; about 100 bytes, plus the kernel's socket.
type elConn struct {
	fd      int
	peer    string // for the closed line
	start   time.Time
	last    time.Time // the last read or write that moved bytes
	pend    *[]byte   // borrowed from pendBufs while output is pending, else nil
	off, n  int       // (*pend)[off:n] is read but not yet echoed
	in, out int64
	eof     bool // the client has sent its FIN
}

// ANCHOR_END: el-conn

// EventLoop is the event-loop echo server. Build it with NewEventLoop; it
// has the course's Serve/Shutdown contract (internal/cli).
type EventLoop struct {
	cfg   EventLoopConfig
	slots chan struct{} // one per connection being served, with MaxConns
	open  atomic.Int64
	pends atomic.Int64 // pending-output buffers lent now (a test reads it)

	mu       sync.Mutex
	started  bool
	ln       net.Listener
	loops    []*loop
	acceptor *loop         // its epoll holds the listener
	done     chan struct{} // closed by Shutdown: stop accepting, drain
	finished chan struct{} // closed when the acceptor and every loop are gone

	draining, force, acceptDone atomic.Bool
	drainStart                  atomic.Int64 // when Shutdown began, in Unix nanoseconds
	loopsClosed                 bool         // their descriptors are closed: wake nothing (mu)
}

// NewEventLoop returns an event-loop server built by cfg.
func NewEventLoop(cfg EventLoopConfig) *EventLoop {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	s := &EventLoop{cfg: cfg, done: make(chan struct{}), finished: make(chan struct{})}
	if cfg.MaxConns > 0 {
		s.slots = make(chan struct{}, cfg.MaxConns)
	}
	return s
}

// OpenConns is the number of connections being served.
func (s *EventLoop) OpenConns() int { return int(s.open.Load()) }

// Serve starts the loops, then accepts on ln (a TCP listener) until
// Shutdown; it returns serve.ErrServerClosed then.
func (s *EventLoop) Serve(ln net.Listener) error {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return fmt.Errorf("eventloop: a *net.TCPListener is needed, got %T", ln)
	}
	s.mu.Lock()
	if s.started || isClosed(s.done) {
		s.mu.Unlock()
		ln.Close()
		return serve.ErrServerClosed
	}
	lfd, err := s.build(tl)
	if err != nil {
		s.mu.Unlock()
		s.closeLoops()
		return err
	}
	defer unix.Close(lfd)
	s.started, s.ln = true, ln
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Add(1)
		go func() { defer wg.Done(); l.run() }()
	}
	s.mu.Unlock()
	go func() { wg.Wait(); s.closeLoops(); close(s.finished) }()

	err = s.accept(s.acceptor, lfd)
	s.acceptDone.Store(true)
	s.wakeAll() // a loop may now exit once its connections are gone
	ln.Close()
	if s.draining.Load() {
		return serve.ErrServerClosed
	}
	s.beginShutdown() // the listener failed: stop the loops too
	return err
}

// build makes the loops, and the acceptor's epoll holding a duplicate of
// the listener's descriptor, which it returns. s.mu is held.
func (s *EventLoop) build(tl *net.TCPListener) (int, error) {
	for range s.cfg.Loops {
		l, err := newLoop(s)
		if err != nil {
			return -1, err
		}
		s.loops = append(s.loops, l)
	}
	acc, err := newLoop(s) // its epoll waits for the listener, and for Shutdown's wake
	if err != nil {
		return -1, err
	}
	s.acceptor = acc
	lfd, err := dupListener(tl)
	if err != nil {
		return -1, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}
	if err := unix.EpollCtl(acc.ep, unix.EPOLL_CTL_ADD, lfd, &ev); err != nil {
		unix.Close(lfd)
		return -1, os.NewSyscallError("epoll_ctl", err)
	}
	return lfd, nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// ANCHOR: el-accept
// accept takes connections off the listener lfd until Shutdown. When none
// is waiting, it blocks in epoll_wait until the listener is readable or
// Shutdown wakes it, then hands each new socket to the loops in turn.
func (s *EventLoop) accept(acc *loop, lfd int) error {
	events := make([]unix.EpollEvent, 2)
	for next := 0; ; next = (next + 1) % len(s.loops) {
		if !s.acquire() { // a slot, with -max-conns
			return nil
		}
		nfd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		for err == unix.EAGAIN && !isClosed(s.done) { // none waiting
			if _, werr := unix.EpollWait(acc.ep, events, -1); werr != nil && werr != unix.EINTR {
				err = werr
				break
			}
			nfd, sa, err = unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		}
		if err != nil {
			s.release()
			if isClosed(s.done) {
				return nil
			}
			if err := s.acceptFailed(err); err != nil {
				return err
			}
			continue
		}
		_ = unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) // as Go does
		c := &elConn{fd: nfd, peer: sockaddrString(sa), start: time.Now()}
		c.last = c.start
		s.open.Add(1)
		s.cfg.Log.Info("accepted", "peer", c.peer)
		s.loops[next].hand(c)
	}
}

// ANCHOR_END: el-accept

// acceptFailed waits a little after a temporary accept error (out of
// descriptors, say) and returns nil to try again, or returns err.
// dupListener returns a duplicate of the listener's descriptor (non-blocking,
// as Go made it): ours to accept on, while Shutdown closes ln itself.
func dupListener(tl *net.TCPListener) (int, error) {
	rc, err := tl.SyscallConn()
	if err != nil {
		return -1, err
	}
	lfd, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { lfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return lfd, os.NewSyscallError("fcntl", derr)
}

func (s *EventLoop) acceptFailed(err error) error {
	switch err {
	case unix.ECONNABORTED, unix.EINTR:
		return nil
	case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
		s.cfg.Log.Warn("accept failed; backing off", "err", err, "retry_in", serve.MinRetryDelay*20)
		select {
		case <-time.After(serve.MinRetryDelay * 20):
		case <-s.done:
		}
		return nil
	}
	return os.NewSyscallError("accept4", err)
}

func (s *EventLoop) acquire() bool {
	if s.slots == nil {
		return !isClosed(s.done)
	}
	select {
	case s.slots <- struct{}{}:
		return !isClosed(s.done)
	case <-s.done:
		return false
	}
}

func (s *EventLoop) release() {
	if s.slots != nil {
		<-s.slots
	}
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return "?"
}

// ANCHOR: el-shutdown
// Shutdown stops accepting, then drains as Server does: a connection is
// closed once it has nothing pending and its client has been silent for
// drainQuiet (or has closed). When ctx ends first, the loops close what is
// left and Shutdown returns ctx.Err().
func (s *EventLoop) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-s.finished:
		return nil
	case <-ctx.Done():
		s.force.Store(true)
		s.wakeAll()
		<-s.finished
		return ctx.Err()
	}
}

// ANCHOR_END: el-shutdown

func (s *EventLoop) beginShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return
	}
	s.drainStart.Store(time.Now().UnixNano())
	s.draining.Store(true)
	close(s.done)
	if s.ln != nil {
		s.ln.Close()
	}
	s.wakeLocked()
}

func (s *EventLoop) wakeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakeLocked()
}

// wakeLocked wakes every loop, unless they are gone (their eventfd numbers
// may belong to other files by now). s.mu is held.
func (s *EventLoop) wakeLocked() {
	if s.loopsClosed {
		return
	}
	for _, l := range append(s.loops, s.acceptor) {
		if l != nil {
			l.wake()
		}
	}
}

// closeLoops closes the loops' descriptors, once they have returned.
func (s *EventLoop) closeLoops() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loopsClosed = true
	if s.acceptor != nil {
		unix.Close(s.acceptor.ep)
		unix.Close(s.acceptor.efd)
	}
	for _, l := range s.loops {
		unix.Close(l.ep)
		unix.Close(l.efd)
	}
}

// loop is one reactor: an epoll instance, the connections it owns (indexed
// by descriptor), and an eventfd the acceptor and Shutdown use to wake it.
type loop struct {
	s       *EventLoop
	ep, efd int
	conns   []*elConn // conns[fd], nil where none
	n       int       // connections owned
	buf     []byte    // the read buffer all its connections share

	mu       sync.Mutex
	incoming []*elConn // handed over by the acceptor, not yet registered
}

func newLoop(s *EventLoop) (*loop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, os.NewSyscallError("eventfd", err)
	}
	l := &loop{s: s, ep: ep, efd: efd, buf: make([]byte, elBufSize)}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(ep)
		unix.Close(efd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

// hand gives c to the loop (from the acceptor's goroutine) and wakes it.
func (l *loop) hand(c *elConn) {
	l.mu.Lock()
	l.incoming = append(l.incoming, c)
	l.mu.Unlock()
	l.wake()
}

func (l *loop) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(l.efd, one[:]) // EAGAIN: the counter is already set, it is awake
}

// ANCHOR: el-run
// run is the loop: wait for events (at most until the next timeout check),
// serve each, and check the timeouts now and then. It returns when the
// server drains and its last connection is gone.
func (l *loop) run() {
	events := make([]unix.EpollEvent, 256)
	lastCheck := time.Now()
	for {
		n, err := unix.EpollWait(l.ep, events, l.tick())
		if err != nil && err != unix.EINTR { // a bug: nothing else fails here
			panic(os.NewSyscallError("epoll_wait", err))
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == l.efd {
				l.takeIncoming()
			} else if c := l.conns[ev.Fd]; c != nil {
				l.serveConn(c, ev.Events)
			}
		}
		if t, now := l.tick(), time.Now(); t >= 0 && now.Sub(lastCheck) >= time.Duration(t)*time.Millisecond {
			lastCheck = now
			l.checkTimeouts(now)
		}
		if l.s.draining.Load() && l.s.acceptDone.Load() && l.n == 0 && l.emptyIncoming() {
			return
		}
	}
}

// ANCHOR_END: el-run

// tick is how often, in milliseconds, run checks the timeouts: often while
// draining, a tenth of the idle timeout otherwise, never without one.
func (l *loop) tick() int {
	switch idle := l.s.cfg.IdleTimeout; {
	case l.s.draining.Load():
		return int(drainQuiet / 5 / time.Millisecond)
	case idle > 0:
		return int(min(max(idle/10, 10*time.Millisecond), time.Second) / time.Millisecond)
	}
	return -1
}

func (l *loop) emptyIncoming() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.incoming) == 0
}

// takeIncoming registers the connections the acceptor handed over.
func (l *loop) takeIncoming() {
	var b [8]byte
	_, _ = unix.Read(l.efd, b[:]) // reset the eventfd counter
	l.mu.Lock()
	in := l.incoming
	l.incoming = nil
	l.mu.Unlock()
	for _, c := range in {
		for c.fd >= len(l.conns) {
			l.conns = append(l.conns, make([]*elConn, len(l.conns)+64)...)
		}
		l.conns[c.fd] = c
		l.n++
		if err := l.watch(c, unix.EPOLL_CTL_ADD, unix.EPOLLIN); err != nil {
			l.close(c, "error", err)
		}
	}
	if l.s.force.Load() {
		l.checkTimeouts(time.Now())
	}
}

// watch sets what the loop waits for on c: EPOLLIN (more to echo) or
// EPOLLOUT (room to write what is pending). Level-triggered: an event is
// reported for as long as the condition holds, so one read per event is
// enough and nothing is lost if we leave data in the socket.
func (l *loop) watch(c *elConn, op int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(l.ep, op, c.fd, &ev))
}

// ANCHOR: el-serve
// serveConn handles one event on c. With output pending, it only writes:
// not reading is the back-pressure (the client's writes fill the socket's
// buffers and block), so at most one read's worth waits per connection.
func (l *loop) serveConn(c *elConn, events uint32) {
	if c.pend != nil { // EPOLLOUT: room for the rest
		if err := l.flush(c); err != nil || c.pend != nil {
			l.closeIf(c, err)
			return
		}
		if c.eof {
			l.finish(c)
			return
		}
		l.closeIf(c, l.watch(c, unix.EPOLL_CTL_MOD, unix.EPOLLIN)) // resume reading
		return
	}
	r, err := ignoreEINTR(unix.Read(c.fd, l.buf))
	switch {
	case err == unix.EAGAIN:
		return
	case err != nil:
		l.close(c, "error", os.NewSyscallError("read", err))
		return
	case r == 0: // the client's FIN: nothing is pending, so we are done
		l.finish(c)
		return
	}
	c.in += int64(r)
	c.last = time.Now()
	w, err := ignoreEINTR(unix.Write(c.fd, l.buf[:r]))
	if err != nil && err != unix.EAGAIN {
		l.close(c, "error", os.NewSyscallError("write", err))
		return
	}
	w = max(w, 0)
	c.out += int64(w)
	if w < r { // the kernel took part: keep the rest, wait for room
		c.pend = pendBufs.Get().(*[]byte)
		l.s.pends.Add(1)
		c.off, c.n = 0, copy(*c.pend, l.buf[w:r])
		l.closeIf(c, l.watch(c, unix.EPOLL_CTL_MOD, unix.EPOLLOUT))
	}
}

// ANCHOR_END: el-serve

// flush writes what is pending on c, and gives the buffer back once it is
// all written (c.pend is nil then).
func (l *loop) flush(c *elConn) error {
	for c.off < c.n {
		w, err := ignoreEINTR(unix.Write(c.fd, (*c.pend)[c.off:c.n]))
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		c.off += w
		c.out += int64(w)
		c.last = time.Now()
	}
	l.giveBack(c)
	return nil
}

func (l *loop) giveBack(c *elConn) {
	if c.pend != nil {
		pendBufs.Put(c.pend)
		l.s.pends.Add(-1)
		c.pend = nil
	}
}

// finish ends a connection whose client has half-closed, once everything is
// echoed: shut down our write side (our FIN), then close.
func (l *loop) finish(c *elConn) {
	c.eof = true
	if c.pend != nil { // the FIN came with the last write still pending
		return
	}
	_ = unix.Shutdown(c.fd, unix.SHUT_WR)
	l.close(c, "eof", nil)
}

func (l *loop) closeIf(c *elConn, err error) {
	if err != nil {
		l.close(c, "error", err)
	}
}

// close closes c, frees its slot and writes its closed line.
func (l *loop) close(c *elConn, reason string, err error) {
	l.giveBack(c)
	unix.Close(c.fd) // also removes it from the epoll set
	l.conns[c.fd] = nil
	l.n--
	l.s.open.Add(-1)
	l.s.release()
	serve.LogClosed(l.s.cfg.Log, c.peer, c.start, reason, err, "bytes_in", c.in, "bytes_out", c.out)
}

// errTimeout is what a timed-out connection's closed line carries.
var errTimeout = errors.New("i/o timeout")

// ANCHOR: el-timeouts
// checkTimeouts closes the connections silent for too long: IdleTimeout
// (reason idle); while draining, drainQuiet without anything pending
// (drained); everything once the drain timeout has run out (shutdown).
func (l *loop) checkTimeouts(now time.Time) {
	idle, draining, force := l.s.cfg.IdleTimeout, l.s.draining.Load(), l.s.force.Load()
	drainStart := time.Unix(0, l.s.drainStart.Load())
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		switch silent := now.Sub(c.last); {
		case force:
			l.close(c, "shutdown", net.ErrClosed)
		case draining && c.pend == nil && min(silent, now.Sub(drainStart)) >= drainQuiet:
			l.close(c, "drained", errTimeout)
		case idle > 0 && silent >= idle:
			l.close(c, "idle", errTimeout)
		}
	}
}

// ANCHOR_END: el-timeouts

func ignoreEINTR(n int, err error) (int, error) {
	if err == unix.EINTR {
		return 0, unix.EAGAIN // level-triggered: the event comes back
	}
	return n, err
}
