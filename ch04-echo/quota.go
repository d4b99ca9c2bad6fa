package main

// The byte quota (Config.MaxBytes, flag -max-bytes): a limit of the
// chapter's exercises. A client may send MaxBytes bytes on a connection;
// they are echoed, and then the server says goodbye.

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
)

// errQuota ends a connection whose client has sent all it may.
var errQuota = errors.New("byte quota used up")

// goodbyeWait bounds how long a connection over its quota is read (and
// discarded) after the server's FIN, waiting for the client's.
const goodbyeWait = time.Second

// ANCHOR: quota-conn
// quotaConn lets its client send at most left more bytes: the echo loop
// reads through it, and it stops the loop with errQuota once they are
// used up.
type quotaConn struct {
	net.Conn
	left int64 // bytes the client may still send
}

// Read reads what the client sent, no more than its quota allows: once the
// quota is used up it returns errQuota, without reading.
func (c *quotaConn) Read(b []byte) (int, error) {
	// ANCHOR: exercise-quota
	if c.left <= 0 {
		return 0, errQuota
	}
	if int64(len(b)) > c.left {
		b = b[:c.left] // the rest of what the client sent stays unread
	}
	n, err := c.Conn.Read(b)
	c.left -= int64(n)
	return n, err
	// ANCHOR_END: exercise-quota
}

// ANCHOR_END: quota-conn

// ANCHOR: with-quota
// withQuota wraps a handler: each connection is read through a quotaConn,
// and one that used up its quota ends with reason "quota" once the server
// has said goodbye.
func (s *Server) withQuota(handle serve.Handler) serve.Handler {
	return func(c net.Conn) serve.End {
		end := handle(&quotaConn{Conn: c, left: s.cfg.MaxBytes})
		if errors.Is(end.Err, errQuota) {
			goodbye(c)
			end.Err, end.Reason = nil, "quota"
		}
		return end
	}
}

// goodbye ends a connection without losing what was echoed. Closing a
// socket that holds unread bytes (the client sent more than its quota)
// makes the kernel send RST, and a client that has not read its echo yet
// loses it (chapter 1). So: FIN first (the client reads its echo, then
// EOF), then read and discard until the client's FIN, for a second at most.
func goodbye(c net.Conn) {
	if tc, ok := tcpConn(c).(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(goodbyeWait))
	_, _ = io.Copy(io.Discard, c)
}

// ANCHOR_END: with-quota
