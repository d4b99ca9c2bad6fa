package main

// The TLS echo client: dial, verify the server, show what was negotiated,
// then echo stdin through the encrypted connection.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Client holds what the client command needs.
type Client struct {
	Addr    string
	Config  *tls.Config
	Timeout time.Duration // dial and handshake
	Resume  bool          // connect a second time and show the resumed session
}

// ANCHOR: dial
// Dial opens a TCP connection and runs the handshake on it. tls.Dialer does
// both, under one timeout, and returns an error if the server's certificate
// does not verify: after Dial returns, the peer is who it claims to be.
func (c *Client) Dial(ctx context.Context) (*tls.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: c.Timeout}, Config: c.Config}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", c.Addr, err)
	}
	return conn.(*tls.Conn), nil
}

// ANCHOR_END: dial

// Run connects, prints the connection state to info, echoes in to out, and,
// with Resume, connects once more to show that the second handshake resumes
// the first session from its ticket.
func (c *Client) Run(ctx context.Context, in io.Reader, out, info io.Writer) error {
	conn, err := c.Dial(ctx)
	if err != nil {
		return err
	}
	printState(info, c.Addr, c.Config.ServerName, conn.ConnectionState())
	if err := echoThrough(ctx, conn, in, out); err != nil {
		return err
	}
	if !c.Resume {
		return nil
	}
	// ANCHOR: resume
	// The first connection has stored the server's session ticket in
	// Config.ClientSessionCache (in TLS 1.3 the ticket arrives after the
	// handshake, so it is read along with the echoed data). Dialling again
	// with the same Config offers the ticket, and the server skips the
	// certificate exchange: DidResume is true.
	conn, err = c.Dial(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(info, "reconnected:")
	printState(info, c.Addr, c.Config.ServerName, conn.ConnectionState())
	return echoThrough(ctx, conn, strings.NewReader(""), out)
	// ANCHOR_END: resume
}

// ANCHOR: print-state
// printState shows the negotiated parameters and the verified chain, from
// the server's certificate up to the CA the client trusts.
func printState(w io.Writer, addr, serverName string, st tls.ConnectionState) {
	alpn := st.NegotiatedProtocol
	if alpn == "" {
		alpn = "(none)"
	}
	fmt.Fprintf(w, "connected to %s\n", addr)
	fmt.Fprintf(w, "  version:      %s\n", tls.VersionName(st.Version))
	fmt.Fprintf(w, "  cipher suite: %s\n", tls.CipherSuiteName(st.CipherSuite))
	fmt.Fprintf(w, "  key exchange: %s\n", st.CurveID)
	fmt.Fprintf(w, "  ALPN:         %s\n", alpn)
	fmt.Fprintf(w, "  resumed:      %t\n", st.DidResume)
	fmt.Fprintf(w, "  verified as:  %s\n", serverName)
	if len(st.VerifiedChains) > 0 {
		var names []string
		for _, cert := range st.VerifiedChains[0] {
			names = append(names, cert.Subject.CommonName)
		}
		fmt.Fprintf(w, "  chain:        %s\n", strings.Join(names, " <- "))
	}
}

// ANCHOR_END: print-state

// ANCHOR: echo-through
// echoThrough sends everything from in, then close_notify (CloseWrite: "I
// have nothing more to send"), while copying whatever comes back to out until
// the server closes its side. The server's close_notify tells us the echo is
// complete; reading it also processes any session ticket the server sent.
func echoThrough(ctx context.Context, conn *tls.Conn, in io.Reader, out io.Writer) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // Ctrl-C
	defer stop()
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if err == nil {
			err = conn.CloseWrite()
		}
		sent <- err
	}()
	_, err := io.Copy(out, conn)
	if err != nil {
		conn.Close() // unblock the writer if the server stopped reading
	}
	if ctx.Err() != nil {
		return ctx.Err() // stdin may be a terminal: do not wait for the writer
	}
	if werr := <-sent; werr != nil && err == nil {
		err = werr
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("echo: %w", err)
	}
	return nil
}

// ANCHOR_END: echo-through
