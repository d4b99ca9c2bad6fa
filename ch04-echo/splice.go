package main

import (
	"io"
	"net"
	"time"
)

// ANCHOR: splice
// echoSplice is the zero-copy alternative to echo: io.Copy from a TCP
// connection to a TCP connection uses splice(2) on Linux, moving pages from
// the receive queue through a kernel pipe to the send queue without copying
// them into this process. The price: io.Copy runs to the end of the stream,
// so there is no idle deadline refreshed per read, no live byte counters, and
// every connection holds a pipe (two more file descriptors) even while idle.
// The benchmarks measure whether that buys speed on loopback.
func (s *Server) echoSplice(c net.Conn, n *byteCount) error {
	var deadline time.Time
	s.refreshDeadline(c, &deadline) // set once: the whole stream must fit in one window
	copied, err := io.Copy(c, c)
	n.in, n.out = copied, copied
	s.stats.in.Add(copied)
	s.stats.out.Add(copied)
	return err
}

// ANCHOR_END: splice
