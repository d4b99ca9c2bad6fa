package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/serve"
)

// This file writes the six steps of a TCP server with raw system calls
// (golang.org/x/sys/unix), to show what net.Listen and Accept do for you.
// It is Linux-only; rawserver_other.go says so on other systems.
//
// What the net package adds on top of these calls: non-blocking sockets driven
// by the runtime's network poller (epoll), so that thousands of goroutines
// can wait on sockets with a handful of threads. Here every blocked accept()
// or read() holds an OS thread, which is fine for a lesson and not for a
// server with 10,000 clients.

const rawSupported = true

// RawListener is a listening socket made by hand: just a file descriptor.
// It is also a net.Listener, so that cli.Serve runs the raw server like any
// other; RawServer itself calls accept() on the descriptor.
type RawListener struct {
	fd        int
	addr      netip.AddrPort
	closeOnce sync.Once
}

// Addr returns the address the socket is bound to (with the real port when
// the caller asked for port 0).
func (l *RawListener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// Accept accepts a connection and hands its descriptor to the net package
// (net.FileConn registers it with the runtime's poller), for code that
// wants a net.Conn. RawServer keeps the raw descriptor instead.
func (l *RawListener) Accept() (net.Conn, error) {
	cfd, _, err := unix.Accept4(l.fd, unix.SOCK_CLOEXEC)
	if err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", err)}
	}
	f := os.NewFile(uintptr(cfd), "tcp")
	defer f.Close() // FileConn made its own copy of the descriptor
	return net.FileConn(f)
}

// Close wakes a thread blocked in accept() (shutdown does, close alone does
// not on Linux), then releases the descriptor. Later calls do nothing.
func (l *RawListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		_ = unix.Shutdown(l.fd, unix.SHUT_RDWR)
		err = unix.Close(l.fd)
	})
	return err
}

// ANCHOR: raw-listen
// ListenRaw performs steps 1 to 3 one system call at a time.
func ListenRaw(addr string, backlog int) (*RawListener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: want IP:PORT: %w", addr, err)
	}
	port := int(ap.Port())
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: port, Addr: ap.Addr().As4()}
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: port, Addr: ap.Addr().As16()}
	}
	fd, err := socketBind(family, sa, addr) // steps 1 and 2
	if err != nil {
		return nil, err
	}
	// Step 3: listen() turns it into a passive socket (state LISTEN). The
	// backlog bounds the accept queue: handshakes the kernel has completed
	// and Accept has not taken yet. Linux caps it at net.core.somaxconn, so
	// 0 (no limit of ours) asks for the most: the kernel's limit.
	if backlog == 0 {
		backlog = math.MaxInt32
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen: %w", err)
	}
	bound, err := unix.Getsockname(fd) // the real port when addr said :0
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	return &RawListener{fd: fd, addr: sockaddrToAddrPort(bound)}, nil
}

// ANCHOR_END: raw-listen

// ANCHOR: raw-bind
// socketBind performs steps 1 and 2, and returns the socket's descriptor.
func socketBind(family int, sa unix.Sockaddr, addr string) (int, error) {
	// Step 1: socket() creates an endpoint and returns a file descriptor.
	// SOCK_CLOEXEC keeps it from leaking into programs we might exec.
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC,
		unix.IPPROTO_TCP)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	// SO_REUSEADDR lets a restarted server bind its port while connections
	// of the previous run still sit in TIME_WAIT (net.Listen sets it too).
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
	}
	// Step 2: bind() gives the socket its local address and port.
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return -1, fmt.Errorf("bind %s: address already in use "+
				"(another server running? try -addr 127.0.0.1:0)", addr)
		}
		return -1, fmt.Errorf("bind %s: %w", addr, err)
	}
	return fd, nil
}

// ANCHOR_END: raw-bind

func sockaddrToAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// fdStream makes a connected socket's file descriptor an io.Reader and
// io.Writer, so step 5 can reuse handleLines unchanged.
type fdStream int

func (f fdStream) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), p)
		switch {
		case err == unix.EINTR:
			continue // interrupted by a signal before any data: retry
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF // read() returning 0 means the peer sent FIN
		}
		return n, nil
	}
}

func (f fdStream) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) { // write() may send less than asked: loop
		n, err := unix.Write(int(f), p[written:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}

// RawServer serves the line protocol on a RawListener.
type RawServer struct {
	log *slog.Logger

	mu       sync.Mutex
	conns    map[int]struct{} // open connection descriptors
	ln       *RawListener
	done     chan struct{} // closed by Shutdown
	loopDone chan struct{} // closed when Serve returns
	handlers sync.WaitGroup
}

// NewRawServer returns a raw-syscall server that logs to log.
func NewRawServer(log *slog.Logger) *RawServer {
	return &RawServer{log: log, conns: map[int]struct{}{},
		done: make(chan struct{}), loopDone: make(chan struct{})}
}

// ANCHOR: raw-serve
// Serve runs step 4, accept(), in a loop, with a goroutine per connection.
// It keeps the course's Serve contract (chapter 3): temporary errors such as
// EMFILE are retried after a growing wait, any other error ends the loop,
// and after Shutdown it returns serve.ErrServerClosed.
func (s *RawServer) Serve(l net.Listener) error {
	defer close(s.loopDone)
	ln, ok := l.(*RawListener)
	if !ok {
		l.Close()
		return fmt.Errorf("raw server: want a *RawListener, got %T", l)
	}
	if !s.start(ln) { // Shutdown came first
		ln.Close()
		return serve.ErrServerClosed
	}
	var delay time.Duration
	for {
		// Step 4: accept() blocks until the accept queue holds a connection,
		// then returns a NEW descriptor for it; ln.fd stays listening.
		cfd, peer, err := unix.Accept4(ln.fd, unix.SOCK_CLOEXEC)
		if err != nil {
			if delay, err = s.retry(err, delay); err != nil {
				return err
			}
			continue
		}
		delay = 0
		if !s.track(cfd) {
			unix.Close(cfd) // accepted just as Shutdown began
			return serve.ErrServerClosed
		}
		p := sockaddrToAddrPort(peer).String()
		s.log.Info("accepted", "step", "4 accept", "peer", p, "fd", cfd)
		go s.handle(cfd, p, time.Now())
	}
}

// ANCHOR_END: raw-serve
// start records ln for Shutdown, unless Shutdown has already run.
func (s *RawServer) start(ln *RawListener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ln = ln
	return !s.closing()
}

// closing reports whether Shutdown has begun.
func (s *RawServer) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// retry decides what an accept error means, as serve.Core does: after
// Shutdown, the end; a temporary error (serve.Temporary), a wait that
// doubles up to a second; anything else, a broken listener.
func (s *RawServer) retry(err error, delay time.Duration) (time.Duration, error) {
	if s.closing() {
		return delay, serve.ErrServerClosed // Shutdown called shutdown() on the listener
	}
	if !serve.Temporary(err) {
		return delay, fmt.Errorf("accept: %w", err)
	}
	if delay == 0 { // the first of a run of failures: log once, not per failure
		s.log.Warn("accept failed; backing off", "err", err, "retry_in", serve.MinRetryDelay)
	}
	delay = min(max(2*delay, serve.MinRetryDelay), serve.MaxRetryDelay)
	select {
	case <-time.After(delay):
		return delay, nil
	case <-s.done:
		return delay, serve.ErrServerClosed
	}
}

// track registers a new connection's descriptor for Shutdown; it refuses
// once Shutdown has begun.
func (s *RawServer) track(cfd int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing() {
		return false
	}
	s.conns[cfd] = struct{}{}
	s.handlers.Add(1)
	return true
}

// handle serves one connection's descriptor: step 5, then step 6.
func (s *RawServer) handle(cfd int, peer string, start time.Time) {
	defer s.handlers.Done()
	s.log.Info("serving", "step", "5 read/write", "peer", peer)
	lines, err := handleLines(fdStream(cfd), fdStream(cfd)) // step 5
	s.mu.Lock()
	delete(s.conns, cfd) // forget it before close: the number may be reused
	s.mu.Unlock()
	unix.Close(cfd) // step 6: close() the connection's descriptor
	reason := cmp.Or(endReason(err), serve.Reason(err, s.closing()))
	serve.LogClosed(s.log, peer, start, reason, err, "step", "6 close", "lines", lines)
}

// ANCHOR: raw-shutdown
// Shutdown stops accepting and drains the connections. close() on a
// descriptor another thread is blocked on does not wake it on Linux, but
// shutdown() does: on the listener it makes accept() fail, on a connection
// SHUT_RD makes a blocked read() return 0 (end of file), so each handler
// finishes what it has and exits. When ctx ends, SHUT_RDWR cuts the rest.
func (s *RawServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closing()
	if first {
		close(s.done)
	}
	ln := s.ln
	if ln != nil {
		_ = unix.Shutdown(ln.fd, unix.SHUT_RDWR)
	}
	for cfd := range s.conns {
		_ = unix.Shutdown(cfd, unix.SHUT_RD)
	}
	s.mu.Unlock()
	if ln != nil {
		<-s.loopDone // accept() has returned: now the descriptor can be closed
		ln.Close()
	}
	return s.drain(ctx)
}

// ANCHOR_END: raw-shutdown

// drain waits for the handlers; when ctx ends first, it cuts the remaining
// connections with SHUT_RDWR and returns ctx's error.
func (s *RawServer) drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for cfd := range s.conns {
			_ = unix.Shutdown(cfd, unix.SHUT_RDWR)
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("shutdown: drain timeout, cut remaining connections: %w", ctx.Err())
	}
}

// OpenConns is the number of connections being served (cli.Serve logs it).
func (s *RawServer) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// serveRaw is the -raw mode of the default command: the hand-made listener,
// run like every other server by cli.Serve.
func serveRaw(ctx context.Context, log *slog.Logger, addr string, backlog int, drain time.Duration) error {
	ln, err := ListenRaw(addr, backlog)
	if err != nil {
		return err
	}
	return cli.Serve(ctx, log, ln, NewRawServer(log), drain,
		"steps", "1 socket, 2 bind, 3 listen (raw syscalls)", "backlog", backlog)
}
