//go:build unix

package main

import (
	"errors"
	"net"
	"syscall"
)

// ANCHOR: health
// checkConn tells whether an idle pooled connection is still usable, without
// blocking and without consuming data. It peeks (MSG_PEEK) at the socket with
// MSG_DONTWAIT:
//   - EAGAIN: nothing to read, the connection is quiet: healthy;
//   - 0 bytes: the server sent FIN (it closed, e.g. its own idle timeout);
//   - data: bytes nobody asked for (a late reply): the stream is out of step;
//   - an error such as ECONNRESET: the connection is dead.
func checkConn(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil // not a socket (net.Pipe in a test): nothing to check
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var perr error
	buf := make([]byte, 1)
	err = rc.Read(func(fd uintptr) bool {
		flags := syscall.MSG_PEEK | syscall.MSG_DONTWAIT
		n, _, perr = syscall.Recvfrom(int(fd), buf, flags)
		return true // never wait for readability: we only look
	})
	switch {
	case err != nil:
		return err
	case errors.Is(perr, syscall.EAGAIN) || errors.Is(perr, syscall.EWOULDBLOCK):
		return nil
	case perr != nil:
		return perr
	case n == 0:
		return errPeerClosed
	default:
		return errUnexpectedData
	}
}

// ANCHOR_END: health
