package main

// Network errors, classified the way a program has to react to them.
//
// Go wraps a socket error in layers (*net.OpError around *os.SyscallError
// around a syscall.Errno), so never compare error strings: ask with errors.Is
// for a known value and errors.As for an interface.
//
//	timeout   a deadline passed (net.Error.Timeout()); the connection is
//	          still usable if you extend the deadline
//	refused   nobody listens on that port (an RST answered our SYN)
//	reset     the peer aborted the connection (an RST arrived mid-stream)
//	eof       the peer closed its sending side: no more data will come, but
//	          we may still be able to write (half-close)
//	closed    we closed this socket ourselves and used it afterwards
//	          (net.ErrClosed): usually a shutdown in progress, not a failure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
)

// Kind is the class of a network error.
type Kind string

// The classes students need to tell apart.
const (
	KindNone       Kind = "none"
	KindTimeout    Kind = "timeout"
	KindRefused    Kind = "refused"
	KindReset      Kind = "reset"
	KindBrokenPipe Kind = "broken-pipe"
	KindEOF        Kind = "eof"
	KindClosed     Kind = "closed"
	KindOther      Kind = "other"
)

// ANCHOR: classify
// Classify names the class of err. The order matters: net.ErrClosed and EOF
// first, because they are the expected ends of a connection.
func Classify(err error) Kind {
	var ne net.Error
	switch {
	case err == nil:
		return KindNone
	case errors.Is(err, net.ErrClosed):
		return KindClosed
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindEOF
	case errors.As(err, &ne) && ne.Timeout():
		return KindTimeout // for a deadline, errors.Is(err, os.ErrDeadlineExceeded) too
	case isAny(err, refusedErrnos):
		return KindRefused
	case isAny(err, resetErrnos):
		return KindReset
	case errors.Is(err, syscall.EPIPE):
		return KindBrokenPipe // we wrote after the peer reset the connection
	default:
		return KindOther
	}
}

// ANCHOR_END: classify

// isAny reports whether err wraps one of the errnos.
func isAny(err error, errnos []syscall.Errno) bool {
	for _, errno := range errnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Each provoke function below produces one class of error on purpose, on
// loopback, and returns it. The tests and the "errors" command use them.

// ANCHOR: provoke-timeout
// provokeTimeout reads from a server that never writes, with a deadline.
func provokeTimeout() error {
	return withPair(func(client, _ net.Conn) error {
		_ = client.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := client.Read(make([]byte, 1))
		return err
	})
}

// ANCHOR_END: provoke-timeout

// ANCHOR: provoke-refused
// provokeRefused dials a port nobody listens on: we take a free port from
// the kernel and close the listener again.
func provokeRefused() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return errors.New("dial unexpectedly succeeded (port reused?)")
	}
	return err
}

// ANCHOR_END: provoke-refused

// ANCHOR: provoke-reset
// provokeReset makes the server abort: with SO_LINGER set to 0, Close sends
// an RST instead of a FIN and drops unsent data.
func provokeReset() error {
	return withPair(func(client, server net.Conn) error {
		_ = server.(*net.TCPConn).SetLinger(0)
		server.Close()
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := client.Read(make([]byte, 1))
		return err
	})
}

// ANCHOR_END: provoke-reset

// ANCHOR: provoke-eof
// provokeEOF half-closes the server side: CloseWrite sends a FIN. The client
// reads EOF, and can still send: the server reads what it wrote.
func provokeEOF() error {
	return withPair(func(client, server net.Conn) error {
		if err := server.(*net.TCPConn).CloseWrite(); err != nil {
			return err
		}
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, readErr := client.Read(make([]byte, 1))
		if _, err := client.Write([]byte("still here\n")); err != nil {
			return fmt.Errorf("write after EOF: %w", err)
		}
		_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len("still here\n"))
		if _, err := io.ReadFull(server, buf); err != nil {
			return fmt.Errorf("server read after half-close: %w", err)
		}
		return readErr
	})
}

// ANCHOR_END: provoke-eof

// ANCHOR: provoke-closed
// provokeClosed reads from a connection we closed ourselves.
func provokeClosed() error {
	return withPair(func(client, _ net.Conn) error {
		client.Close()
		_, err := client.Read(make([]byte, 1))
		return err
	})
}

// ANCHOR_END: provoke-closed

// withPair runs f with both ends of a fresh loopback connection and closes
// them afterwards.
func withPair(f func(client, server net.Conn) error) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := ln.Accept() // the kernel completed the handshake already
	if err != nil {
		return err
	}
	defer server.Close()
	return f(client, server)
}

var provocations = []struct {
	name    string
	provoke func() error
}{
	{"timeout", provokeTimeout},
	{"refused", provokeRefused},
	{"reset", provokeReset},
	{"eof", provokeEOF},
	{"closed", provokeClosed},
}

func runErrors(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" errors", os.Stderr)
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	return errorsLesson(ctx, os.Stdout)
}

// errorsLesson provokes each error and prints its class.
func errorsLesson(ctx context.Context, w io.Writer) error {
	for _, p := range provocations {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := p.provoke()
		fmt.Fprintf(w, "%-8s -> %-8s %v\n", p.name, Classify(err), err)
	}
	return nil
}
