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
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), "listener") // closes fd when we are done
	defer f.Close()
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
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
	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(w, "listening on %s with backlog %d, not calling accept yet\n", ln.Addr(), backlog)

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	type dialed struct {
		c   net.Conn
		err error
	}
	results := make(chan dialed, clients)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	pending := 0 // dials started and not finished
	for i := 1; i <= clients; i++ {
		go func() {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			results <- dialed{c, err}
		}()
		pending++
		// Wait until this dial finished, or the kernel shows one more socket
		// stuck in SYN_SENT. Polling /proc is the only way to see it.
		for done := false; !done; {
			select {
			case r := <-results:
				if r.err != nil {
					return res, r.err
				}
				conns = append(conns, r.c)
				pending--
				q, err := waitQueue(ctx, port, len(conns))
				if err != nil {
					return res, err
				}
				fmt.Fprintf(w, "client %d: connected; accept queue %d/%d\n", i, q, backlog)
				done = true
			case <-time.After(5 * time.Millisecond):
				q, syn, err := tcpSockets(port)
				if err != nil {
					return res, err
				}
				if syn >= pending {
					fmt.Fprintf(w, "client %d: SYN_SENT, its SYN was dropped: accept queue full (%d/%d)\n", i, q, backlog)
					done = true
				}
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}
	res.Queued, res.Dropped, err = tcpSockets(port)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w, "the kernel completed %d handshakes for backlog %d; %d clients wait in SYN_SENT\n",
		res.Queued, backlog, res.Dropped)

	// Accept everything. The queued connections come at once; the dropped
	// clients come when their SYN is retransmitted and finds room.
	deadline, _ := ctx.Deadline()
	_ = ln.(*net.TCPListener).SetDeadline(deadline)
	for res.Accepted < clients {
		c, err := ln.Accept()
		if err != nil {
			return res, err
		}
		c.Close()
		res.Accepted++
		if res.Accepted == res.Queued {
			fmt.Fprintf(w, "accepted %d connections straight from the queue\n", res.Accepted)
		}
	}
	for ; pending > 0; pending-- {
		r := <-results
		if r.err != nil {
			return res, r.err
		}
		conns = append(conns, r.c)
	}
	fmt.Fprintf(w, "accepted %d more after their SYN was retransmitted: %d in all\n",
		res.Accepted-res.Queued, res.Accepted)
	return res, nil
}

// ANCHOR_END: backlog-lesson

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
