package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// faultProxy is a TCP proxy for fault injection, in the spirit of Shopify's
// toxiproxy but small enough to read: it forwards bytes between clients and
// a target, and on demand
//   - blackholes the traffic: bytes are read and dropped, nothing is closed
//     (a peer that died without a FIN or RST, a cable pulled, a NAT that
//     forgot the connection);
//   - resets every connection: SO_LINGER 0 then Close sends an RST.
type faultProxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	blackhole bool
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup // the pipes
	accepting chan struct{}  // closed when acceptLoop returns
	accepted  chan struct{}  // one value per connection accepted
}

func startProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{},
		accepting: make(chan struct{}), accepted: make(chan struct{}, 100)}
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// waitAccepted waits until the proxy has accepted n more connections.
func (p *faultProxy) waitAccepted(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for range n {
		select {
		case <-p.accepted:
		case <-deadline:
			t.Fatalf("the proxy did not accept %d connections within %v", n, timeout)
		}
	}
}

// Blackhole starts (true) or stops (false) dropping all traffic.
func (p *faultProxy) Blackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	p.mu.Unlock()
}

// Reset aborts every proxied connection with an RST on both sides.
func (p *faultProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
		delete(p.conns, c)
	}
}

func (p *faultProxy) close() {
	p.ln.Close()
	<-p.accepting // no new connections after this
	p.Reset()
	p.wg.Wait()
}

func (p *faultProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *faultProxy) acceptLoop() {
	defer close(p.accepting)
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		select {
		case p.accepted <- struct{}{}:
		default:
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			down.Close() // the target is down: the client sees EOF
			continue
		}
		p.track(down)
		p.track(up)
		p.wg.Add(2)
		go p.pipe(up, down)
		go p.pipe(down, up)
	}
}

// pipe copies from src to dst, dropping the bytes while blackholed. When
// src ends, dst is closed too, as a real peer would see.
// A blackhole drops the end of the stream too: dst then stays open until
// Reset or the proxy's cleanup.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		drop := p.blackhole
		p.mu.Unlock()
		if n > 0 && !drop {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				dst.Close()
				return
			}
		}
		if err != nil {
			if drop {
				return
			}
			if !errors.Is(err, io.EOF) {
				_ = dst.(*net.TCPConn).SetLinger(0) // pass a reset on
			}
			dst.Close()
			return
		}
	}
}
