package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"
)

// ANCHOR: client
// RunClient sends msg (as one line), or everything read from in, to the
// server at addr. It then half-closes the connection (no more data from us)
// and copies whatever the server says to out until the server closes: that
// EOF is the proof the server has read every byte we sent.
func RunClient(ctx context.Context, addr, msg string, in io.Reader,
	out io.Writer) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // Ctrl-C unblocks I/O
	defer stop()

	if in == nil {
		in = strings.NewReader(msg + "\n")
	}
	sent, err := io.Copy(conn, in)
	if err != nil {
		return contextOr(ctx, fmt.Errorf("send: %w", err))
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return contextOr(ctx, err)
	}
	slog.Info("sent", "peer", conn.RemoteAddr().String(), "bytes", sent)
	if _, err := io.Copy(out, conn); err != nil {
		return contextOr(ctx, fmt.Errorf("receive: %w", err))
	}
	return nil
}

// ANCHOR_END: client

// contextOr prefers ctx's error: after Ctrl-C, "use of closed network
// connection" is a consequence, not the cause.
func contextOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
