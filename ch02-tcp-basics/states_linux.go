package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Observation is one end's state seen at one step of the walk.
type Observation struct {
	Step  int
	End   string // "listener", "client" or "server"
	State State
}

// end is one socket we watch, named by its 4-tuple.
type end struct {
	name          string
	local, remote netip.AddrPort
	last          State
}

func addrPort(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// settle waits until the kernel shows the expected state for e. On loopback
// most moves finish within microseconds of the call that caused them, but
// not always before the call returns, so we poll (bounded by ctx) instead of
// assuming. It returns whatever it last saw if ctx ends first.
func settle(ctx context.Context, e *end, want State) (State, error) {
	for {
		s, _, err := kernelState(e.local, e.remote)
		if err != nil || s == want {
			return s, err
		}
		select {
		case <-ctx.Done():
			return s, nil
		case <-time.After(time.Millisecond):
		}
	}
}

// ANCHOR: walk
// walkStates takes one connection through its whole life on this machine,
// printing both ends' kernel states after each step and the model's
// explanation of every change. The client closes first (active close), the
// server second (passive close).
func walkStates(ctx context.Context, w io.Writer) (obs []Observation, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	lst := &end{name: "listener", local: addrPort(ln.Addr()), remote: netip.MustParseAddrPort("0.0.0.0:0"), last: Closed}
	fmt.Fprintf(w, "Kernel states of one connection, read from /proc/net/tcp by 4-tuple after each step.\n\n")

	var ce, se *end // the client and server ends, once connected
	step := 0
	observe := func(what string, expect map[*end]State, events ...Event) error {
		step++
		fmt.Fprintf(w, "%d. %s\n", step, what)
		for _, e := range []*end{lst, ce, se} {
			if e == nil {
				continue
			}
			want, ok := expect[e]
			if !ok {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			got, err := settle(sctx, e, want)
			cancel()
			if err != nil {
				return err
			}
			obs = append(obs, Observation{step, e.name, got})
			fmt.Fprintf(w, "   %-8s %s -> %-15s %s\n", e.name, e.local, e.remote, got)
			if got != e.last {
				path, ok := Explain(e.last, got, events...)
				if !ok {
					fmt.Fprintf(w, "            the model has no way from %s to %s on these events!\n", e.last, got)
				} else {
					fmt.Fprintf(w, "            %s\n", FormatPath(path))
				}
			}
			e.last = got
		}
		return nil
	}
	if err := observe("server: net.Listen -> socket(), bind(), listen()", map[*end]State{lst: Listen}, PassiveOpen); err != nil {
		return obs, err
	}

	// A tiny receive buffer on the client (set before connect, so the window
	// is advertised with it) lets the server fill it quickly in step 6.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	cconn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return obs, err
	}
	defer cconn.Close()
	ce = &end{name: "client", local: addrPort(cconn.LocalAddr()), remote: addrPort(cconn.RemoteAddr()), last: Closed}
	se = &end{name: "server", local: ce.remote, remote: ce.local, last: Listen} // born from the listener
	if err := observe("client: net.Dial -> connect(): SYN, SYN-ACK, ACK; the server has not called Accept yet",
		map[*end]State{lst: Listen, ce: Established, se: Established}, ActiveOpen, RcvSYN, RcvSYNACK, RcvACKofSYN); err != nil {
		return obs, err
	}

	sconn, err := ln.Accept()
	if err != nil {
		return obs, err
	}
	defer sconn.Close()
	if err := observe("server: Accept -> takes the finished connection off the accept queue (no packet sent)",
		map[*end]State{ce: Established, se: Established}); err != nil {
		return obs, err
	}

	// Active close by the client. CloseWrite is shutdown(SHUT_WR): it sends
	// FIN like Close does, but keeps the socket so the client can still read.
	if err := cconn.(*net.TCPConn).CloseWrite(); err != nil {
		return obs, err
	}
	if err := observe("client: CloseWrite -> FIN; the server's kernel ACKs it at once",
		map[*end]State{ce: FinWait2, se: CloseWait}, CloseCall, RcvFIN, RcvACKofFIN); err != nil {
		return obs, err
	}

	buf := make([]byte, 1)
	if _, err := sconn.Read(buf); err != io.EOF {
		return obs, fmt.Errorf("server read after the client's FIN: got %v, want EOF", err)
	}
	fmt.Fprintf(w, "   server: Read returns io.EOF: the client will send no more\n")

	// Passive close. On loopback the client's ACK of the server's FIN comes
	// back within microseconds, so LAST-ACK is normally too short to see.
	// To hold it, the server first fills the client's receive window (the
	// client is not reading): its FIN then waits in the send queue behind
	// the data, and stays unacknowledged until the client reads.
	n, err := fillSendQueue(sconn.(*net.TCPConn))
	if err != nil {
		return obs, err
	}
	fmt.Fprintf(w, "   server: wrote until the send buffer was full (the client is not reading)\n")
	if err := sconn.Close(); err != nil {
		return obs, err
	}
	if err := observe("server: Close -> FIN, queued behind the unread data",
		map[*end]State{ce: FinWait2, se: LastAck}, CloseCall); err != nil {
		return obs, err
	}

	got, err := io.Copy(io.Discard, cconn) // read everything, up to the server's FIN
	if err != nil {
		return obs, err
	}
	if got != int64(n) {
		return obs, fmt.Errorf("client read %d bytes, server wrote %d", got, n)
	}
	if err := observe("client: reads all the data and then EOF (the server's FIN), and ACKs the FIN",
		map[*end]State{ce: TimeWait, se: Closed}, RcvFIN, RcvACKofFIN); err != nil {
		return obs, err
	}

	if err := cconn.Close(); err != nil {
		return obs, err
	}
	if err := observe("client: Close -> the socket is gone from the program, but the kernel keeps TIME-WAIT",
		map[*end]State{ce: TimeWait}); err != nil {
		return obs, err
	}
	fmt.Fprintf(w, "\nThe client (the active closer) stays in TIME-WAIT for 2*MSL, 60 s on Linux; then it is CLOSED.\n")
	return obs, nil
}

// ANCHOR_END: walk

// fillSendQueue writes to c until the kernel refuses more (EAGAIN): the
// peer's receive buffer and our send buffer are both full. It writes through
// the raw, non-blocking descriptor, because net.Conn.Write would block
// instead of telling us. It returns the number of bytes written.
func fillSendQueue(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	chunk := make([]byte, 16*1024)
	total, full := 0, false
	var werr error
	for !full && werr == nil {
		err := rc.Write(func(fd uintptr) bool {
			n, err := unix.Write(int(fd), chunk)
			switch {
			case err == unix.EAGAIN:
				full = true
			case err == unix.EINTR:
			case err != nil:
				werr = err
			default:
				total += n
			}
			return true // do not wait for the socket to become writable
		})
		if err != nil {
			return total, err
		}
	}
	return total, werr
}
