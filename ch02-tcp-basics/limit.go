package main

import (
	"net"
	"sync"
)

// ANCHOR: limit-listener
// LimitListener returns a listener that lets at most n of its connections
// be open at once. It is written against net.Listener and net.Conn alone, so
// it limits any stream transport (TCP, a Unix socket...): the server that
// calls Accept does not change. Chapter 3's accept loop has the same limit
// built in (-max-conns).
func LimitListener(ln net.Listener, n int) net.Listener {
	slots := make(chan struct{}, n)
	return &limitListener{Listener: ln, slots: slots, done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{} // a token for each open connection, n at most
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Close closes the listener and wakes an Accept that waits for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn is a connection that frees its slot when it is closed.
type limitConn struct {
	net.Conn
	release func() // frees the slot
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// ANCHOR_END: limit-listener

// ANCHOR: limit-accept
// Accept waits for a free slot (or for Close), then accepts a connection
// whose Close gives the slot back, once, however often it is called.
func (l *limitListener) Accept() (net.Conn, error) {
	// ANCHOR: exercise-limit-listener
	select {
	case l.slots <- struct{}{}: // take a slot
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots // no connection: the slot is free again
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
	// ANCHOR_END: exercise-limit-listener
}

// ANCHOR_END: limit-accept
