package main

// What the listen backlog really is, observed on Linux.
//
// listen(fd, backlog) does not limit how many clients a server has: it
// limits how many connections the kernel may complete (three-way handshake
// done, state ESTABLISHED) and hold in the *accept queue* before the program
// calls accept. While the queue is full, Linux drops new SYNs; the clients
// do not fail, they retransmit their SYN (after 1 s, then at growing
// intervals) and get in once accept has made room. /proc/net/tcp shows the queue: for a
// socket in state LISTEN (0A) its rx_queue column is the accept queue length,
// the Recv-Q that `ss -lnt` prints.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ANCHOR: listen-backlog
// listenBacklog listens on 127.0.0.1:0 with an explicit backlog. net.Listen
// always passes the system maximum (net.core.somaxconn), so we make the
// socket with system calls and hand it to the net package.
func listenBacklog(backlog int) (net.Listener, error) {
	fd, err := syscall.Socket(syscall.AF_INET,
		syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), "listener") // closes fd when we are done
	defer f.Close()
	loopback := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}} // port 0: any
	if err := syscall.Bind(fd, loopback); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		return nil, os.NewSyscallError("listen", err)
	}
	return net.FileListener(f) // duplicates fd into a net.Listener
}

// ANCHOR_END: listen-backlog

// ANCHOR: proc-net-tcp
// tcpSockets reads /proc/net/tcp and returns, for the sockets whose local
// (listening) or remote (connecting) port is port, the accept queue of the
// LISTEN socket and the number of sockets in SYN_SENT.
func tcpSockets(port int) (acceptQueue, synSent int, err error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	hexPort := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // header: sl local_address rem_address st tx_queue:rx_queue ...
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		local, remote, state := fields[1], fields[2], fields[3]
		switch {
		case state == "0A" && strings.HasSuffix(local, hexPort): // LISTEN
			_, rx, _ := strings.Cut(fields[4], ":")
			n, err := strconv.ParseInt(rx, 16, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("parse rx_queue %q: %w", rx, err)
			}
			acceptQueue = int(n)
		case state == "02" && strings.HasSuffix(remote, hexPort): // SYN_SENT
			synSent++
		}
	}
	return acceptQueue, synSent, sc.Err()
}

// ANCHOR_END: proc-net-tcp

// backlogResult is what the lesson observed, for the tests.
type backlogResult struct {
	Queued   int // connections the kernel completed before we accepted any
	Dropped  int // clients left in SYN_SENT while the queue was full
	Accepted int // connections accepted in the end
	// How long each dropped client's dial took: until a retransmitted SYN
	// found room in the queue.
	LateDials []time.Duration
}

// ANCHOR: backlog-lesson
// backlogLesson listens with the given backlog, does not accept, and dials
// clients one at a time: each either completes (the kernel queues it) or
// stays in SYN_SENT (the kernel dropped its SYN). Then it accepts them all.
func backlogLesson(ctx context.Context, w io.Writer, backlog, clients int) (backlogResult, error) {
	var res backlogResult
	ln, err := listenBacklog(backlog)
	if err != nil {
		return res, err
	}
	defer ln.Close()
	fmt.Fprintf(w, "listening on %s with backlog %d, not calling accept yet\n", ln.Addr(), backlog)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b := &backlogRun{ctx: ctx, w: w, ln: ln, port: ln.Addr().(*net.TCPAddr).Port,
		backlog: backlog, results: make(chan dialed, clients)}
	defer b.closeAll()
	for i := 1; i <= clients; i++ {
		if err := b.dial(i); err != nil {
			return res, err
		}
	}
	res.Queued, res.Dropped, err = tcpSockets(b.port)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w, "the kernel completed %d handshakes for backlog %d; %d clients wait in SYN_SENT\n",
		res.Queued, backlog, res.Dropped)
	err = b.acceptAll(&res, clients)
	return res, err
}

// ANCHOR_END: backlog-lesson

// backlogRun is one run of backlogLesson: the listener and the clients.
type backlogRun struct {
	ctx           context.Context
	w             io.Writer
	ln            net.Listener
	port, backlog int
	results       chan dialed // each finished dial
	conns         []net.Conn  // the clients connected so far
	pending       int         // dials started and not finished
}

type dialed struct {
	c    net.Conn
	err  error
	took time.Duration
}

// ANCHOR: backlog-dial
// dial starts client i, then waits until its dial finished (the kernel
// queued the connection), or the kernel shows one more socket stuck in
// SYN_SENT (its SYN was dropped). Polling /proc is the only way to see it.
func (b *backlogRun) dial(i int) error {
	go func() {
		var d net.Dialer
		start := time.Now()
		c, err := d.DialContext(b.ctx, "tcp", b.ln.Addr().String())
		b.results <- dialed{c, err, time.Since(start)}
	}()
	b.pending++
	for {
		select {
		case r := <-b.results:
			if err := b.connected(r); err != nil {
				return err
			}
			q, err := waitQueue(b.ctx, b.port, len(b.conns))
			if err != nil {
				return err
			}
			fmt.Fprintf(b.w, "client %d: connected; accept queue %d/%d\n", i, q, b.backlog)
			return nil
		case <-time.After(5 * time.Millisecond):
			q, syn, err := tcpSockets(b.port)
			if err != nil {
				return err
			}
			if syn >= b.pending {
				fmt.Fprintf(b.w, "client %d: SYN_SENT, its SYN was dropped: accept queue full (%d/%d)\n", i, q, b.backlog)
				return nil
			}
		case <-b.ctx.Done():
			return b.ctx.Err()
		}
	}
}

// ANCHOR_END: backlog-dial

// connected records a finished dial.
func (b *backlogRun) connected(r dialed) error {
	if r.err != nil {
		return r.err
	}
	b.conns = append(b.conns, r.c)
	b.pending--
	return nil
}

// ANCHOR: backlog-accept
// acceptAll accepts every client. The queued connections come at once; the
// dropped clients come when their SYN is retransmitted and finds room.
func (b *backlogRun) acceptAll(res *backlogResult, clients int) error {
	deadline, _ := b.ctx.Deadline()
	_ = b.ln.(*net.TCPListener).SetDeadline(deadline)
	for res.Accepted < clients {
		c, err := b.ln.Accept()
		if err != nil {
			return err
		}
		c.Close()
		res.Accepted++
		if res.Accepted == res.Queued {
			fmt.Fprintf(b.w, "accepted %d connections straight from the queue\n", res.Accepted)
		}
	}
	for b.pending > 0 {
		r := <-b.results
		if err := b.connected(r); err != nil {
			return err
		}
		res.LateDials = append(res.LateDials, r.took)
	}
	fmt.Fprintf(b.w, "accepted %d more after their SYN was retransmitted: %d in all\n",
		res.Accepted-res.Queued, res.Accepted)
	return nil
}

// ANCHOR_END: backlog-accept

func (b *backlogRun) closeAll() {
	for _, c := range b.conns {
		c.Close()
	}
}

// waitQueue waits until the accept queue holds n connections: connect returns
// in the client once it has sent the last ACK of the handshake, a moment
// before the server side has processed it.
func waitQueue(ctx context.Context, port, n int) (int, error) {
	for {
		q, _, err := tcpSockets(port)
		if err != nil || q >= n {
			return q, err
		}
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return q, ctx.Err()
		}
	}
}
