package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// printCensus prints how many sockets of the local port are in each state,
// IPv4 and IPv6 together (the census of census.go).
func printCensus(w io.Writer, port uint16) error {
	total := map[State]int{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		counts, err := Census(f, port)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for s, n := range counts {
			total[s] += n
		}
	}
	fmt.Fprintf(w, "TCP sockets with local port %d, by state:\n", port)
	for _, s := range AllStates() {
		if total[s] > 0 {
			fmt.Fprintf(w, "  %-12s %d\n", s, total[s])
		}
	}
	return nil
}

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
func walkStates(ctx context.Context, w io.Writer) ([]Observation, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	lst := &end{name: "listener", local: addrPort(ln.Addr()),
		remote: netip.MustParseAddrPort("0.0.0.0:0"), last: Closed}
	k := &walk{ctx: ctx, w: w, lst: lst}
	fmt.Fprintf(w, "Kernel states of one connection, read from /proc/net/tcp "+
		"by 4-tuple after each step.\n\n")
	if err := k.observe("server: net.Listen -> socket(), bind(), listen()",
		map[*end]State{k.lst: Listen}, PassiveOpen); err != nil {
		return k.obs, err
	}
	cconn, sconn, err := k.open(ln)
	if err != nil {
		return k.obs, err
	}
	defer cconn.Close()
	defer sconn.Close()
	if err := k.activeClose(cconn, sconn); err != nil {
		return k.obs, err
	}
	if err := k.passiveClose(cconn, sconn); err != nil {
		return k.obs, err
	}
	fmt.Fprintf(w, "\nThe client (the active closer) stays in TIME-WAIT for 2*MSL, "+
		"60 s on Linux; then it is CLOSED.\n")
	return k.obs, nil
}

// ANCHOR_END: walk

// walk is one run of walkStates: the ends it watches, and what it saw.
type walk struct {
	ctx         context.Context
	w           io.Writer
	lst, ce, se *end // the listener, then the client and server ends
	step        int
	obs         []Observation
}

// ANCHOR: observe
// observe prints a step, then the kernel state of each end in expect (once
// it has settled there) and, for every change, the model's path that
// explains it with the step's events.
func (k *walk) observe(what string, expect map[*end]State, events ...Event) error {
	k.step++
	fmt.Fprintf(k.w, "%d. %s\n", k.step, what)
	for _, e := range []*end{k.lst, k.ce, k.se} {
		want, ok := expect[e]
		if e == nil || !ok {
			continue
		}
		sctx, cancel := context.WithTimeout(k.ctx, 5*time.Second)
		got, err := settle(sctx, e, want)
		cancel()
		if err != nil {
			return err
		}
		k.obs = append(k.obs, Observation{k.step, e.name, got})
		fmt.Fprintf(k.w, "   %-8s %s -> %-15s %s\n", e.name, e.local, e.remote, got)
		if got != e.last {
			if path, ok := Explain(e.last, got, events...); ok {
				fmt.Fprintf(k.w, "            %s\n", FormatPath(path))
			} else {
				fmt.Fprintf(k.w, "            the model has no way from %s to %s"+
					" on these events!\n", e.last, got)
			}
		}
		e.last = got
	}
	return nil
}

// ANCHOR_END: observe

// ANCHOR: open
// open connects a client to ln (the three-way handshake) and accepts the
// connection on the server side.
func (k *walk) open(ln net.Listener) (cconn, sconn net.Conn, err error) {
	d := smallWindowDialer() // a window the server can fill (passiveClose)
	if cconn, err = d.DialContext(k.ctx, "tcp", ln.Addr().String()); err != nil {
		return nil, nil, err
	}
	k.ce = &end{name: "client", local: addrPort(cconn.LocalAddr()),
		remote: addrPort(cconn.RemoteAddr()), last: Closed}
	k.se = &end{name: "server", local: k.ce.remote, remote: k.ce.local,
		last: Listen} // born from the listener
	err = k.observe("client: net.Dial -> connect(): SYN, SYN-ACK, ACK; "+
		"the server has not called Accept yet",
		map[*end]State{k.lst: Listen, k.ce: Established, k.se: Established},
		ActiveOpen, RcvSYN, RcvSYNACK, RcvACKofSYN)
	if err == nil {
		sconn, err = ln.Accept()
	}
	if err == nil {
		err = k.observe("server: Accept -> takes the finished connection "+
			"off the accept queue (no packet sent)",
			map[*end]State{k.ce: Established, k.se: Established})
	}
	if err != nil {
		cconn.Close()
		if sconn != nil {
			sconn.Close()
		}
		return nil, nil, err
	}
	return cconn, sconn, nil
}

// ANCHOR_END: open

// smallWindowDialer dials with a tiny receive buffer, set before connect()
// so that the window is advertised with it: the server can then fill it
// quickly (passiveClose).
func smallWindowDialer() *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
}

// ANCHOR: active-close
// activeClose: the client closes first. CloseWrite is shutdown(SHUT_WR): it
// sends FIN like Close does, but keeps the socket so the client can still
// read.
func (k *walk) activeClose(cconn, sconn net.Conn) error {
	if err := cconn.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	err := k.observe("client: CloseWrite -> FIN; the server's kernel ACKs it "+
		"at once", map[*end]State{k.ce: FinWait2, k.se: CloseWait},
		CloseCall, RcvFIN, RcvACKofFIN)
	if err != nil {
		return err
	}
	buf := make([]byte, 1)
	if _, err := sconn.Read(buf); err != io.EOF {
		return fmt.Errorf("server read after the client's FIN: got %v, want EOF", err)
	}
	fmt.Fprintf(k.w, "   server: Read returns io.EOF: the client will send no more\n")
	return nil
}

// ANCHOR_END: active-close

// ANCHOR: passive-close
// passiveClose: the server closes second. To hold LAST-ACK open, it first
// fills the client's window (the client is not reading): its FIN then waits
// behind the data, unacknowledged until the client reads.
func (k *walk) passiveClose(cconn, sconn net.Conn) error {
	n, err := fillSendQueue(sconn.(*net.TCPConn))
	if err != nil {
		return err
	}
	fmt.Fprintf(k.w, "   server: wrote until the send buffer was full "+
		"(the client is not reading)\n")
	if err := sconn.Close(); err != nil {
		return err
	}
	if err := k.observe("server: Close -> FIN, queued behind the unread data",
		map[*end]State{k.ce: FinWait2, k.se: LastAck}, CloseCall); err != nil {
		return err
	}
	got, err := io.Copy(io.Discard, cconn) // read everything, up to the server's FIN
	if err != nil {
		return err
	}
	if got != int64(n) {
		return fmt.Errorf("client read %d bytes, server wrote %d", got, n)
	}
	err = k.observe("client: reads all the data and then EOF (the server's FIN), "+
		"and ACKs the FIN", map[*end]State{k.ce: TimeWait, k.se: Closed},
		RcvFIN, RcvACKofFIN)
	if err != nil {
		return err
	}
	if err := cconn.Close(); err != nil {
		return err
	}
	return k.observe("client: Close -> the socket is gone from the program, "+
		"but the kernel keeps TIME-WAIT", map[*end]State{k.ce: TimeWait})
}

// ANCHOR_END: passive-close

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
