// Package conntrack keeps the set of connections a server is serving, so
// that a graceful shutdown can wait for them and close the stragglers. The
// chapters' servers share it; each decides its own shutdown policy (wake idle
// readers, give them a quiet period...) around it.
//
// The protocol: the accept loop calls Add before starting a connection's
// goroutine (and closes the connection if Add refuses it); the goroutine
// calls Remove when it is done; Shutdown calls Close, closes the listener,
// then Wait.
package conntrack

import (
	"context"
	"net"
	"sync"
)

// Set is a set of open connections. The zero value is ready to use.
type Set struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // one count per connection in the set
}

// ANCHOR: add
// Add registers c, unless Close has been called. Checking and adding under
// one lock guarantees that Wait sees every connection that was let in (and
// that the WaitGroup is never added to while Wait may be waiting on zero).
func (s *Set) Add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// ANCHOR_END: add

// Remove unregisters c: its goroutine has finished with it.
func (s *Set) Remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Close makes Add refuse new connections. It reports whether this call was
// the first, so a second Shutdown does not repeat one-time work.
func (s *Set) Close() (first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first = !s.closed
	s.closed = true
	return first
}

// Closed reports whether Close has been called.
func (s *Set) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Len is the number of connections in the set.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Each calls f for every connection in the set while holding the set's lock:
// f must be quick and must not call the set (SetReadDeadline or Close is fine).
func (s *Set) Each(f func(net.Conn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		f(c)
	}
}

// ANCHOR: wait
// Wait blocks until every connection has been removed. If ctx ends first, it
// closes the connections still open (their goroutines' reads and writes fail
// at once), waits for the goroutines to remove them, and returns ctx.Err().
func (s *Set) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Each(func(c net.Conn) { c.Close() })
		<-done
		return ctx.Err()
	}
}

// ANCHOR_END: wait
