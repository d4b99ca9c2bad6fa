// Package faultproxy is the course's TCP proxy for fault injection, in the
// spirit of Shopify's toxiproxy but small enough to read in one sitting. It
// sits between a client and a target, forwards bytes both ways, and lets a
// test break the stream at an exact byte: cut it (FIN), reset it (RST),
// stall it (stop reading, keep both connections open), pause it and go on,
// corrupt one byte or every n-th byte, drop every n-th byte or a range. Faults are plain functions
// of the stream offset, so a test can also write its own.
//
//	p := faultproxy.Start(t, serverAddr, faultproxy.Options{Up: faultproxy.CutAt(100 << 10)})
//	client.Dial(p.Addr()) // the server sees the first 100 KiB, then EOF
//
// Up is the client-to-target direction, Down the target-to-client one. A
// half-close (EOF) is passed on as a half-close, a reset as a reset. Two
// switches act on every connection at once, whenever the test flips them:
// Blackhole (a peer gone silent: bytes vanish, nothing is closed) and
// ResetAll. Close (registered with t.Cleanup by Start) resets every proxied
// connection and waits for the proxy's goroutines, so goleak stays quiet.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Action is what a Fault does to the stream after forwarding its bytes:
// Pass, Cut, Reset, Stall or Pause(d).
type Action struct {
	kind  actionKind
	pause time.Duration
}

type actionKind int

const (
	pass actionKind = iota
	cut
	reset
	stall
	pausing
)

var (
	Pass  = Action{kind: pass}  // go on forwarding
	Cut   = Action{kind: cut}   // close both connections gracefully (FIN both ways)
	Reset = Action{kind: reset} // abort both connections (RST both ways)
	Stall = Action{kind: stall} // stop reading this direction until the proxy closes
)

// Pause stops reading this direction for d, then goes on: forward must be
// a non-empty prefix of the piece, and the rest of the piece is given to
// the Fault again (at its own offset) when the pause is over.
func Pause(d time.Duration) Action { return Action{kind: pausing, pause: d} }

// A Fault sees each piece of one direction's stream: off is how many bytes
// came before b. It returns the bytes to forward (b itself, a prefix of it,
// or a modified copy) and what to do next. It is called from one goroutine
// per direction and connection, and must not keep b. The same Fault serves
// every connection, so it keeps no state of its own: the offset is its
// clock.
type Fault func(off int64, b []byte) (forward []byte, act Action)

// at calls hit(i) for the piece that holds byte n of the stream, with i
// the index of that byte in b; other pieces pass.
func at(n int64, hit func(b []byte, i int64) ([]byte, Action)) Fault {
	return func(off int64, b []byte) ([]byte, Action) {
		if off <= n && n < off+int64(len(b)) {
			return hit(b, n-off)
		}
		return b, Pass
	}
}

// CutAt forwards the first n bytes, then closes both sides (FIN): the
// target reads EOF where the client's data stops, as on a link that
// dropped.
func CutAt(n int64) Fault {
	return at(n, func(b []byte, i int64) ([]byte, Action) { return b[:i], Cut })
}

// ResetAt forwards the first n bytes, then resets both sides (RST).
func ResetAt(n int64) Fault {
	return at(n, func(b []byte, i int64) ([]byte, Action) { return b[:i], Reset })
}

// StallAt forwards the first n bytes, then stops reading: both connections
// stay open, nothing more flows this way, and the sender's writes back up
// into the kernel buffers until it blocks. Only the peers' own timeouts (or
// the proxy's Close) end it.
func StallAt(n int64) Fault {
	return at(n, func(b []byte, i int64) ([]byte, Action) { return b[:i], Stall })
}

// DropRange swallows bytes from up to (not including) to, and forwards the
// rest: the peer reads a stream whose later bytes are all correct, only
// shifted.
func DropRange(from, to int64) Fault {
	return func(off int64, b []byte) ([]byte, Action) {
		lo, hi := min(max(from-off, 0), int64(len(b))), min(max(to-off, 0), int64(len(b)))
		if lo == hi {
			return b, Pass
		}
		return append(append(make([]byte, 0, len(b)), b[:lo]...), b[hi:]...), Pass
	}
}

// PauseAt forwards the first n bytes (n ≥ 1), stops reading for d, then
// forwards the rest as if nothing happened: a garbage-collection pause, a
// page-fault storm, a noisy neighbour. Both connections stay open.
func PauseAt(n int64, d time.Duration) Fault {
	return func(off int64, b []byte) ([]byte, Action) {
		// The piece that ends at or after byte n-1: forward up to it,
		// pause. What is left starts at n, so it does not pause again.
		if off < n && n <= off+int64(len(b)) {
			return b[:n-off], Pause(d)
		}
		return b, Pass
	}
}

// FlipAt flips bit 5 of byte n (turns 'a' into 'A'), as a corrupted link
// that slipped past TCP's checksum would.
func FlipAt(n int64) Fault {
	return at(n, func(b []byte, i int64) ([]byte, Action) {
		out := append([]byte(nil), b...)
		out[i] ^= 0x20
		return out, Pass
	})
}

// FlipEvery flips bit 5 of every n-th byte (the n-th, the 2n-th, ... of
// each connection): a server or a link that corrupts now and then.
func FlipEvery(n int64) Fault {
	return func(off int64, b []byte) ([]byte, Action) {
		var out []byte
		for i := range int64(len(b)) {
			if (off+i+1)%n == 0 {
				if out == nil {
					out = append([]byte(nil), b...)
				}
				out[i] ^= 0x20
			}
		}
		if out == nil {
			return b, Pass
		}
		return out, Pass
	}
}

// DropEvery swallows every n-th byte and forwards the rest: the peer waits
// for bytes that never come, or reads a stream shifted by the gaps.
func DropEvery(n int64) Fault {
	return func(off int64, b []byte) ([]byte, Action) {
		out := make([]byte, 0, len(b))
		for i := range int64(len(b)) {
			if (off+i+1)%n != 0 {
				out = append(out, b[i])
			}
		}
		return out, Pass
	}
}

// Options are a proxy's faults; nil passes the direction through untouched.
type Options struct {
	Up   Fault // client -> target
	Down Fault // target -> client
}

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	opts   Options

	done      chan struct{} // closed by Close: ends stalls and pauses
	accepted  chan struct{} // closed when the accept loop returns
	wg        sync.WaitGroup
	nAccepted atomic.Int64
	blackhole atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Start listens on 127.0.0.1:0, proxies every connection to target with
// opts' faults, and closes the proxy when the test ends.
func Start(t testing.TB, target string, opts Options) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, opts: opts, done: make(chan struct{}),
		accepted: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients dial instead of the target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, resets every proxied connection, ends stalls and
// waits for the proxy's goroutines. Calling it again does nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		return
	default:
	}
	close(p.done)
	p.mu.Unlock()
	p.ln.Close()
	<-p.accepted // no connection is added after this
	p.ResetAll()
	p.wg.Wait()
}

// ResetAll aborts every connection the proxy holds with an RST on both
// sides, as a middlebox that lost its state does. New connections are
// still proxied.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		abort(c)
		delete(p.conns, c)
	}
}

// Accepted is how many client connections the proxy has accepted so far.
func (p *Proxy) Accepted() int64 { return p.nAccepted.Load() }

// Blackhole starts (true) or stops (false) dropping all traffic, both ways,
// on every connection: bytes are read and thrown away, and a FIN or RST
// that arrives meanwhile is swallowed too, so nothing is ever closed. Each
// peer sees what it would see if the other died without a word, a cable
// was pulled, or a NAT forgot the connection: silence. Once the blackhole
// is off, bytes flow again (those it swallowed are lost).
func (p *Proxy) Blackhole(on bool) { p.blackhole.Store(on) }

func (p *Proxy) acceptLoop() {
	defer close(p.accepted)
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed by Close
		}
		p.nAccepted.Add(1)
		target, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			client.Close() // the target is down: the client sees EOF
			continue
		}
		p.mu.Lock()
		p.conns[client] = struct{}{}
		p.conns[target] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.link(client, target)
	}
}

// link runs both directions of one proxied connection, then closes it.
func (p *Proxy) link(client, target net.Conn) {
	defer p.wg.Done()
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); p.pipe(target, client, p.opts.Up) }()
	go func() { defer pipes.Done(); p.pipe(client, target, p.opts.Down) }()
	pipes.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, target)
	p.mu.Unlock()
	client.Close()
	target.Close()
}

// pipe copies src to dst through fault. When src ends, dst learns it the
// same way: a FIN becomes a half-close, anything else a reset; while the
// blackhole is on, it learns nothing.
func (p *Proxy) pipe(dst, src net.Conn, fault Fault) {
	buf := make([]byte, 32<<10)
	var off int64
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.blackhole.Load() {
			if !p.forward(dst, src, fault, off, buf[:n]) {
				return
			}
		}
		off += int64(n)
		switch {
		case err != nil && p.blackhole.Load():
			return // swallowed: dst stays open, as if src had gone silent
		case errors.Is(err, io.EOF):
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		case err != nil:
			abort(dst)
			return
		}
	}
}

// forward writes one piece read from src, at offset off of the stream, to
// dst through fault, and acts on what the fault asks. It reports whether
// the pipe goes on.
func (p *Proxy) forward(dst, src net.Conn, fault Fault, off int64, b []byte) bool {
	for len(b) > 0 {
		out, act := b, Pass
		if fault != nil {
			out, act = fault(off, b)
		}
		if len(out) > 0 {
			if _, err := dst.Write(out); err != nil {
				abort(src)
				return false
			}
		}
		switch act.kind {
		case cut:
			src.Close()
			dst.Close()
			return false
		case reset:
			abort(src)
			abort(dst)
			return false
		case stall:
			<-p.done // read nothing more; Close resets both sides
			return false
		case pausing: // out was b's first bytes; the rest goes on after the pause
			off, b = off+int64(len(out)), b[len(out):]
			t := time.NewTimer(act.pause)
			select {
			case <-t.C:
			case <-p.done:
				t.Stop()
				return false
			}
		default:
			return true
		}
	}
	return true
}

// abort closes c with an RST instead of a FIN: SO_LINGER 0 makes Close
// discard unsent data and reset the connection.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
