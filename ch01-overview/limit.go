package main

import (
	"net"
	"sync"
)

// ANCHOR: limit
// LimitListener returns a listener that lets at most n connections be
// served at once (-max-conns); 0 means no limit. At the limit its Accept
// waits for a connection to close, so new clients wait in the kernel's
// accept queue, their handshake done, until a slot is free.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return &limitListener{Listener: ln,
		slots: make(chan struct{}, n), done: make(chan struct{})}
}

// limitListener holds a token in slots for every connection it has handed
// out and that is still open.
type limitListener struct {
	net.Listener
	slots     chan struct{} // a token per connection being served
	done      chan struct{} // closed by Close: wakes an Accept waiting for a slot
	closeOnce sync.Once
}

// Close closes the listener, and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// ANCHOR_END: limit

// ANCHOR: limit-conn
// limitConn gives its listener's slot back when it is closed, once,
// however many times Close is called (the handler and Shutdown both may).
type limitConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the connection underneath. Embedding net.Conn
// keeps only its methods: without this one, the lingering close could not
// send its FIN first.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ANCHOR_END: limit-conn

// ANCHOR: accept
// Accept takes a slot, waiting while every slot is taken, then accepts a
// connection that gives the slot back when it is closed. If the listener is
// closed while it waits, it returns net.ErrClosed, as a closed listener's
// Accept does; if the Accept underneath fails, the slot is given back.
func (l *limitListener) Accept() (net.Conn, error) {
	// ANCHOR: exercise-max-conns
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	conn, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: conn, release: func() { <-l.slots }}, nil
	// ANCHOR_END: exercise-max-conns
}

// ANCHOR_END: accept
