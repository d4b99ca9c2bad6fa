package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type clientConfig struct {
	addr     string
	msg      string // send msg+"\n" instead of stdin
	n, size  int    // with n > 0: send n generated messages of size bytes, verify
	timeout  time.Duration
	idle     time.Duration // give up when the server sends nothing this long; 0: never
	progress io.Writer     // with -n, a progress line every second goes here (nil: none)
}

// conn is the client's connection: a TCP connection, whose sending side it
// can close on its own (CloseWrite), possibly wrapped (idleConn).
type conn interface {
	net.Conn
	CloseWrite() error
}

// runClient sends stdin (or -msg) and copies the echo to stdout, or with -n
// sends a generated payload and verifies it. It returns once the echo of
// everything sent has arrived.
func runClient(ctx context.Context, cfg clientConfig, stdin io.Reader, stdout io.Writer) error {
	if cfg.timeout > 0 { // 0: never
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() }) // unblock reads and writes on timeout or Ctrl-C
	defer stop()

	var ec conn = c.(*net.TCPConn)
	if cfg.idle > 0 {
		ec = idleConn{TCPConn: c.(*net.TCPConn), idle: cfg.idle}
	}
	if cfg.n > 0 {
		err = verifyEcho(ec, cfg.n, cfg.size, stdout, cfg.progress)
	} else {
		src := stdin
		if cfg.msg != "" {
			src = strings.NewReader(cfg.msg + "\n")
		}
		err = copyEcho(ec, src, stdout)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("gave up after %s (-timeout): %w", cfg.timeout, ctx.Err())
	}
	if ctx.Err() != nil {
		return ctx.Err() // Ctrl-C
	}
	return err
}

// ANCHOR: client-copy
// ANCHOR: client-send
// copyEcho sends src to the server while copying what comes back to dst. The
// two directions run at once: a client that sends everything before reading
// would deadlock against any echo server once the socket buffers fill. When
// src ends the client half-closes (its FIN tells the server nothing more is
// coming) and waits until as many bytes came back as it sent.
func copyEcho(c conn, src io.Reader, dst io.Writer) error {
	t := newTally()
	go func() {
		n, err := io.Copy(c, src)
		if err == nil {
			err = c.CloseWrite() // "that is all": the rest is echoed, then EOF
		}
		t.sentAll(n, err)
	}()
	// ANCHOR_END: client-send
	// ANCHOR: client-receive
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			r, err := c.Read(buf)
			if r > 0 {
				if _, werr := dst.Write(buf[:r]); werr != nil {
					readErr <- werr
					return
				}
				t.received(int64(r))
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	select {
	case <-t.done:
		return t.err()
	case err := <-readErr:
		if !errors.Is(err, io.EOF) {
			return err // a reset, a timeout: runClient's Close stops the sender
		}
		t.readEnded()
		<-t.done // the server closed; wait for the sender to know the total
		return t.err()
	}
	// ANCHOR_END: client-receive
}

// ANCHOR_END: client-copy

// ANCHOR: idle-conn
// idleConn gives up on a server that sends nothing for idle (-idle-timeout):
// the server's idle deadline, on the client's side. Reads go through it;
// CloseWrite and the rest are the TCP connection's.
type idleConn struct {
	*net.TCPConn
	idle time.Duration
}

// Read reads what the server sent, and fails with a clear error, saying
// -idle-timeout, when nothing came for idle.
func (c idleConn) Read(b []byte) (int, error) {
	// ANCHOR: exercise-client-idle
	_ = c.SetReadDeadline(time.Now().Add(c.idle))
	n, err := c.TCPConn.Read(b)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("the server sent nothing for %s (-idle-timeout)", c.idle)
	}
	return n, err
	// ANCHOR_END: exercise-client-idle
}

// ANCHOR_END: idle-conn

// tally decides when the echo is complete: once the total sent is known and
// as many bytes have come back.
type tally struct {
	mu             sync.Mutex
	sent, got      int64
	sendErr        error
	sentKnown, eof bool
	done           chan struct{}
	closed         bool
}

func newTally() *tally { return &tally{done: make(chan struct{})} }

func (t *tally) sentAll(n int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent, t.sendErr, t.sentKnown = n, err, true
	t.check()
}

func (t *tally) received(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.got += n
	t.check()
}

// readEnded records that nothing more will be received.
func (t *tally) readEnded() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eof = true
	t.check()
}

func (t *tally) check() {
	if !t.closed && t.sentKnown && (t.got >= t.sent || t.sendErr != nil || t.eof) {
		t.closed = true
		close(t.done)
	}
}

func (t *tally) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.sendErr != nil:
		return fmt.Errorf("send: %w", t.sendErr)
	case t.got < t.sent:
		return fmt.Errorf("the server closed the connection after echoing %d of %d bytes", t.got, t.sent)
	case t.got > t.sent:
		return fmt.Errorf("the server sent %d bytes, more than the %d sent", t.got, t.sent)
	}
	return nil
}

// ANCHOR: client-verify
// ANCHOR: client-verify-send
// verifyEcho streams n messages of size bytes generated from a fixed seed, and
// checks the echo byte for byte against a second generator with the same
// seed, so neither side holds the whole payload in memory.
func verifyEcho(c conn, n, size int, out, progress io.Writer) error {
	seed := [32]byte{8, 6, 2} // any fixed seed; RFC 862 it is
	start := time.Now()
	var verified atomic.Int64
	stopProgress := func() {}
	if progress != nil {
		stopProgress = showProgress(progress, &verified, int64(n)*int64(size), start)
	}
	defer stopProgress()
	sendErr := make(chan error, 1)
	go func() {
		gen := rand.NewChaCha8(seed)
		msg := make([]byte, size)
		for range n {
			_, _ = gen.Read(msg)
			if _, err := c.Write(msg); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- c.CloseWrite()
	}()
	// ANCHOR_END: client-verify-send
	// ANCHOR: client-verify-check
	want := rand.NewChaCha8(seed)
	exp, got := make([]byte, size), make([]byte, size)
	for i := range n {
		_, _ = want.Read(exp)
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("message %d of %d: %w", i+1, n, err)
		}
		if !bytes.Equal(exp, got) {
			off := 0
			for exp[off] == got[off] {
				off++
			}
			return fmt.Errorf("message %d differs at byte %d: sent %#x, got back %#x", i+1, off, exp[off], got[off])
		}
		verified.Add(int64(size))
	}
	if err := <-sendErr; err != nil {
		return fmt.Errorf("send: %w", err)
	}
	elapsed := time.Since(start)
	stopProgress() // clear the progress line before the result
	total := float64(n) * float64(size)
	fmt.Fprintf(out, "verified messages=%d size=%d bytes=%d elapsed=%s throughput=%.1fMiB/s\n",
		n, size, n*size, elapsed.Round(time.Microsecond), total/elapsed.Seconds()/(1<<20))
	return nil
	// ANCHOR_END: client-verify-check
}

// ANCHOR_END: client-verify

// showProgress rewrites one line on w every second with how much of total
// has been verified; stop (safe to call twice) clears the line.
func showProgress(w io.Writer, done *atomic.Int64, total int64, start time.Time) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-tick.C:
				d := done.Load()
				fmt.Fprintf(w, "\r\033[Kverified %d of %d MiB (%.0f%%), %.1f MiB/s",
					d>>20, total>>20, 100*float64(d)/float64(total), float64(d)/time.Since(start).Seconds()/(1<<20))
			}
		}
	}()
	return sync.OnceFunc(func() { close(quit); <-finished })
}
