package main

// The tuned variant (Server.Tuned, flag -tuned): the same echo, with an
// idle connection's memory cut to a minimum. The chapter's "Going further"
// section measures it against the plain server.

import (
	"io"
	"net"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
)

// ANCHOR: tuned-listener
// A goroutine's stack starts at 2 KiB and doubles when a call needs more.
// The runtime shrinks it again only during a garbage collection (which a
// quiet server seldom runs), so what a connection's goroutine does once
// decides what it holds while it waits. Formatting a log line and setting a
// deadline (a runtime timer update) each need more than 2 KiB. So the tuned
// server does both in the accept loop's goroutine, whose stack is grown once
// for all: the Core logs the accepted line there (internal/serve), and
// tunedListener sets the first deadline as it accepts.
type tunedListener struct {
	net.Listener
	s *Server
}

func (s *Server) tunedListener(ln net.Listener) net.Listener {
	return tunedListener{ln, s}
}

func (l tunedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	idle := l.s.cfg.IdleTimeout
	tc := &tunedConn{Conn: c, slack: idle / 8}
	if idle > 0 {
		tc.deadline = time.Now().Add(idle)
		_ = c.SetDeadline(tc.deadline)
	}
	return tc, nil
}

// ANCHOR_END: tuned-listener

// ANCHOR: tuned-conn
// tunedConn moves its deadline only when the new one is at least slack
// (an eighth of IdleTimeout) later than the one set: a busy connection then
// updates the runtime timer once per eighth of the window instead of before
// every read, and an idle one never does it on its own stack. A silent peer
// is closed after between 7/8 and all of IdleTimeout.
type tunedConn struct {
	net.Conn
	deadline time.Time // the deadline last set
	slack    time.Duration
}

func (c *tunedConn) SetDeadline(t time.Time) error {
	if !t.Before(c.deadline) && t.Sub(c.deadline) < c.slack {
		return nil
	}
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// ANCHOR_END: tuned-conn

// ANCHOR: tuned-handle
// handleTuned is handle, with splice(2) when asked for. The Core writes the
// closed line after it returns, in a frame of its own: handleTuned's frame
// is reserved for the connection's whole life, and the log call's
// temporaries would make it almost twice as large.
func (s *Server) handleTuned(c net.Conn) serve.End {
	s.stats.total.Add(1)
	var n byteCount
	var err error
	if s.cfg.Splice {
		err = s.echoSplice(tcpConn(c), &n)
	} else {
		err = s.echo(c, &n)
	}
	return serve.End{Err: err, Attrs: []any{"bytes_in", n.in, "bytes_out", n.out}}
}

// tcpConn unwraps c down to the *net.TCPConn that splice needs: the tuned
// connection, and the timing wrapper when metrics are on, both hold it.
func tcpConn(c net.Conn) net.Conn {
	for {
		switch w := c.(type) {
		case *tunedConn:
			c = w.Conn
		case interface{ NetConn() net.Conn }:
			c = w.NetConn()
		default:
			return c
		}
	}
}

// ANCHOR_END: tuned-handle

// ANCHOR: splice
// echoSplice is the zero-copy alternative to echo: io.Copy from a TCP
// connection to a TCP connection uses splice(2) on Linux, moving pages from
// the receive queue through a kernel pipe to the send queue without copying
// them into this process. The price: io.Copy runs to the end of the stream,
// so there is no idle deadline refreshed per read (the whole stream must fit
// in the first one), no live byte counters, and every connection holds a
// pipe (two more file descriptors) even while idle.
func (s *Server) echoSplice(c net.Conn, n *byteCount) error {
	copied, err := io.Copy(c, c)
	n.in, n.out = copied, copied
	s.stats.in.Add(copied)
	s.stats.out.Add(copied)
	return err
}

// ANCHOR_END: splice
