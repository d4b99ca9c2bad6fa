package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// The net package hides each transport behind three interfaces:
//
//   - net.Listener (Accept, Close, Addr) hands out connections;
//   - net.Conn (Read, Write, Close, deadlines, addresses) is a byte stream
//     to one peer: TCP, a Unix-domain socket, TLS, or net.Pipe in memory;
//   - net.PacketConn (ReadFrom, WriteTo, ...) sends and receives datagrams,
//     each with its own address: UDP, unixgram.
//
// Code written against the interfaces runs on any of them. What the
// interfaces cannot hide is the nature of the transport: a stream has no
// message boundaries and a datagram socket has no connection.

// ANCHOR: serve-stream
// serveStream is one accept loop for any stream transport. It knows nothing
// of TCP or Unix sockets: only net.Listener and net.Conn. It returns when ln
// is closed, after every connection it started has finished.
func serveStream(ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed (a real server would back off on temporary errors)
		}
		wg.Go(func() {
			defer c.Close()
			_, _ = handleLines(c, c)
		})
	}
}

// ANCHOR_END: serve-stream

// ANCHOR: serve-packets
// servePackets is the same protocol over datagrams. There is no Accept and
// no connection: every ReadFrom returns one datagram and the address it came
// from, and the reply must be addressed explicitly. One datagram is one
// message, so no framing is needed, but a datagram longer than buf is
// truncated and the rest is lost (on Windows ReadFrom reports an error instead).
func servePackets(pc net.PacketConn, bufSize int) {
	buf := make([]byte, bufSize)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil && !isMsgTooLong(err) {
			return // closed
		}
		_, _ = pc.WriteTo(lineReply(bytes.TrimSuffix(buf[:n], []byte("\n"))), from)
	}
}

// ANCHOR_END: serve-packets

// isMsgTooLong reports the error Windows gives for a truncated datagram
// (WSAEMSGSIZE, 10040); Linux and macOS truncate silently.
func isMsgTooLong(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && errno == 10040
}

// udpBufSize is the demo's deliberately small datagram buffer, to show
// truncation. A real UDP server sizes it for the largest datagram it accepts
// (at most 65,507 bytes of payload over IPv4).
const udpBufSize = 32

func runInterfaces(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" interfaces", os.Stderr)
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ch02-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return interfacesDemo(ctx, os.Stdout, dir)
}

// ANCHOR: interfaces-demo
// interfacesDemo runs the same handlers over TCP, a Unix socket and UDP, and
// prints what a client sees. dir holds the Unix socket's file.
func interfacesDemo(ctx context.Context, w io.Writer, dir string) error {
	var lc net.ListenConfig
	streams := []struct{ network, addr string }{
		{"tcp", "127.0.0.1:0"},
		{"unix", filepath.Join(dir, "ch02.sock")},
	}
	for i, s := range streams {
		ln, err := lc.Listen(ctx, s.network, s.addr)
		if err != nil {
			return err
		}
		done := make(chan struct{})
		go func() { serveStream(ln); close(done) }()
		fmt.Fprintf(w, "%d. %s: net.Listener at %s, one net.Conn per client\n", i+1, s.network, displayAddr(ln.Addr()))
		err = streamClient(ctx, w, s.network, ln.Addr().String())
		ln.Close()
		<-done
		if err != nil {
			return err
		}
	}

	pc, err := lc.ListenPacket(ctx, "udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { servePackets(pc, udpBufSize); close(done) }()
	defer func() { pc.Close(); <-done }()
	fmt.Fprintf(w, "3. udp: net.PacketConn at %s, no Accept and no connection\n", pc.LocalAddr())
	return packetClient(ctx, w, pc.LocalAddr().String())
}

// ANCHOR_END: interfaces-demo

// displayAddr prints a Unix socket's path by its file name only (the
// directory is temporary).
func displayAddr(a net.Addr) string {
	if a.Network() == "unix" {
		return filepath.Base(a.String())
	}
	return a.String()
}

// streamClient writes two lines in three writes that split them anywhere,
// and reads the replies: a stream keeps the bytes, not the writes.
func streamClient(ctx context.Context, w io.Writer, network, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	note := ""
	if network == "unix" {
		note = " (a Unix client socket has no name unless it binds one)"
	}
	fmt.Fprintf(w, "   client %s -> server %s%s\n", displayAddr(c.LocalAddr()), displayAddr(c.RemoteAddr()), note)
	for _, part := range []string{"hel", "lo\nwor", "ld\n"} {
		if _, err := io.WriteString(c, part); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "   wrote %q %q %q\n", "hel", "lo\nwor", "ld\n")
	got := make([]byte, 0, 64)
	want := "echo: hello\necho: world\n"
	for len(got) < len(want) {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		got = append(got, buf[:n]...)
	}
	fmt.Fprintf(w, "   read  %q: two lines, however the bytes were cut\n", got)
	return nil
}

// packetClient shows what datagrams keep (boundaries) and what they lack
// (a connection, and room for more than the reader's buffer).
func packetClient(ctx context.Context, w io.Writer, addr string) error {
	var lc net.ListenConfig
	c, err := lc.ListenPacket(ctx, "udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   client %s\n", c.LocalAddr())
	long := strings.Repeat("x", 2*udpBufSize)
	for _, msg := range []string{"one", "two", long} {
		if _, err := c.WriteTo([]byte(msg), to); err != nil {
			return err
		}
		buf := make([]byte, 1024)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   sent %d bytes, got %d from %s: %q\n", len(msg), n, from, buf[:n])
	}
	fmt.Fprintf(w, "   each datagram is one message; the %d-byte one was cut to the server's %d-byte buffer\n", len(long), udpBufSize)

	// No connection: nobody listens on this port, and WriteTo still succeeds.
	// (The kernel's ICMP "port unreachable" answer is only reported to a
	// connected UDP socket, and UDP never retransmits.)
	nobody, err := lc.ListenPacket(ctx, "udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	dead := nobody.LocalAddr()
	nobody.Close()
	_, err = c.WriteTo([]byte("anyone?"), dead)
	fmt.Fprintf(w, "   WriteTo a port nobody listens on: err=%v (no handshake, so no error)\n", err)
	return nil
}
