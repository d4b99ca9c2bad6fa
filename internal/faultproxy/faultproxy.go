// Package faultproxy is the course's TCP proxy for fault injection, in the
// spirit of Shopify's toxiproxy but small enough to read in one sitting. It
// sits between a client and a target, forwards bytes both ways, and lets a
// test break the stream at an exact byte: cut it (FIN), reset it (RST),
// stall it (stop reading, keep both connections open), or corrupt one byte.
// Faults are plain functions of the stream offset, so a test can write its
// own (drop every n-th byte, flip a bit in every n-th byte).
//
//	p := faultproxy.Start(t, serverAddr, faultproxy.Options{Up: faultproxy.CutAt(100 << 10)})
//	client.Dial(p.Addr()) // the server sees the first 100 KiB, then EOF
//
// Up is the client-to-target direction, Down the target-to-client one. A
// half-close (EOF) is passed on as a half-close, a reset as a reset. Close
// (registered with t.Cleanup by Start) resets every proxied connection and
// waits for the proxy's goroutines, so goleak stays quiet.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Action is what a Fault does to the stream after forwarding its bytes.
type Action int

const (
	Pass  Action = iota // go on forwarding
	Cut                 // close both connections gracefully (FIN both ways)
	Reset               // abort both connections (RST both ways)
	Stall               // stop reading this direction until the proxy closes
)

// A Fault sees each piece of one direction's stream: off is how many bytes
// came before b. It returns the bytes to forward (b itself, a prefix of it,
// or a modified copy) and what to do next. It is called from one goroutine
// per direction and connection, and must not keep b.
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

// FlipAt flips bit 5 of byte n (turns 'a' into 'A'), as a corrupted link
// that slipped past TCP's checksum would.
func FlipAt(n int64) Fault {
	return at(n, func(b []byte, i int64) ([]byte, Action) {
		out := append([]byte(nil), b...)
		out[i] ^= 0x20
		return out, Pass
	})
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

	done     chan struct{} // closed by Close: ends stalls
	accepted chan struct{} // closed when the accept loop returns
	wg       sync.WaitGroup

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

func (p *Proxy) acceptLoop() {
	defer close(p.accepted)
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed by Close
		}
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
// same way: a FIN becomes a half-close, anything else a reset.
func (p *Proxy) pipe(dst, src net.Conn, fault Fault) {
	buf := make([]byte, 32<<10)
	var off int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			b, act := buf[:n], Pass
			if fault != nil {
				b, act = fault(off, b)
			}
			off += int64(n)
			if _, werr := dst.Write(b); werr != nil {
				abort(src)
				return
			}
			switch act {
			case Cut:
				src.Close()
				dst.Close()
				return
			case Reset:
				abort(src)
				abort(dst)
				return
			case Stall:
				<-p.done // read nothing more; Close resets both sides
				return
			}
		}
		if errors.Is(err, io.EOF) {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
		if err != nil {
			abort(dst)
			return
		}
	}
}

// abort closes c with an RST instead of a FIN: SO_LINGER 0 makes Close
// discard unsent data and reset the connection.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
