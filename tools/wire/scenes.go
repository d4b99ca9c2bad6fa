package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// A Scene is one lesson shown on the wire: a chapter's program run as the
// server, and a client that does one thing to it.
type Scene struct {
	Name    string
	Title   string
	Chapter string   // the directory built with go build, e.g. ch02-tcp-basics
	Args    []string // the server's arguments; it must listen on 127.0.0.1:0
	Client  func(ctx context.Context, srv *Server) error
	// Loose: how many data segments a bulk transfer takes varies with
	// timing, so the golden test checks the scene's events (see shape),
	// not every packet.
	Loose bool
	// Setup runs the program with these arguments before the server
	// starts ({dir} is the scene's scratch directory, also in Args).
	Setup []string
	// Snap is how many bytes of each packet to keep (default 128, the
	// headers); the TLS scene keeps more, to read the record headers.
	Snap int
	// TLS: name the TLS records each segment starts (RFC 8446 §5.1).
	TLS bool
}

var scenes = []Scene{
	{
		Name:    "ch02-handshake",
		Title:   "ch02: one line over a connection: the handshake, the data, the four-way close (the client closes first)",
		Chapter: "ch02-tcp-basics",
		Args:    []string{"serve", "-addr", "127.0.0.1:0"},
		Client: func(ctx context.Context, srv *Server) error {
			conn, err := dial(ctx, srv.Addr)
			if err != nil {
				return err
			}
			if _, err := io.WriteString(conn, "hello\n"); err != nil {
				return err
			}
			if _, err := readLine(conn); err != nil {
				return err
			}
			// The client closes first: its side goes through FIN-WAIT-1,
			// FIN-WAIT-2 and TIME-WAIT. The server reads EOF and closes.
			return conn.Close()
		},
	},
	{
		Name:    "ch01-lingering",
		Title:   "ch01: a line over -max-line 16, answered and closed with the lingering close (FIN, not RST)",
		Chapter: "ch01-overview",
		Args:    []string{"serve", "-addr", "127.0.0.1:0", "-max-line", "16"},
		Client:  overlong(100),
	},
	{
		Name:    "ch02-reset",
		Title:   "ch02: a line over the 64 KiB limit, answered and closed with unread bytes in the receive buffer (RST)",
		Chapter: "ch02-tcp-basics",
		Args:    []string{"serve", "-addr", "127.0.0.1:0"},
		Client:  overlong(64*1024 + 1000),
	},
	{
		Name:    "ch04-zero-window",
		Title:   "ch04: a client that sends but stops reading: its window closes to zero, the server probes it, then the idle timeout ends the connection",
		Chapter: "ch04-echo",
		Args:    []string{"serve", "-addr", "127.0.0.1:0", "-idle-timeout", "1s"},
		Client:  stopsReading,
		Loose:   true,
	},
	{
		Name:    "ch03-nagle",
		Title:   "ch03: three PINGs, each written in two pieces, with Nagle's algorithm on (SetNoDelay(false))",
		Chapter: "ch03-listen-accept",
		Args:    []string{"serve", "-addr", "127.0.0.1:0"},
		Client:  writeWriteRead(false),
	},
	{
		Name:    "ch03-nodelay",
		Title:   "ch03: the same three PINGs with TCP_NODELAY (Go's default)",
		Chapter: "ch03-listen-accept",
		Args:    []string{"serve", "-addr", "127.0.0.1:0"},
		Client:  writeWriteRead(true),
	},
	{
		Name:    "ch06-tls13",
		Title:   "ch06: a TLS 1.3 handshake and one echoed line: the TLS records over the TCP segments",
		Chapter: "ch06-tls",
		Setup:   []string{"gencert", "-dir", "{dir}"},
		Args: []string{"serve", "-addr", "127.0.0.1:0", "-cert", "{dir}/server.pem",
			"-key", "{dir}/server-key.pem"},
		Client: tlsEcho,
		Snap:   2048,
		TLS:    true,
	},
}

func findScene(name string) (Scene, bool) {
	for _, s := range scenes {
		if s.Name == name {
			return s, true
		}
	}
	return Scene{}, false
}

func dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return conn, nil
}

func readLine(conn net.Conn) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := conn.Read(one); err != nil {
			return string(b), err
		}
		b = append(b, one[0])
		if one[0] == '\n' {
			return string(b), nil
		}
	}
}

// overlong sends one line of n bytes in one write, reads what the server
// says until it closes (EOF, or a reset), then closes.
func overlong(n int) func(context.Context, *Server) error {
	return func(ctx context.Context, srv *Server) error {
		conn, err := dial(ctx, srv.Addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		line := append(bytes.Repeat([]byte("a"), n-1), '\n')
		if _, err := conn.Write(line); err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, conn)
		if err != nil && !strings.Contains(err.Error(), "reset") {
			return err
		}
		return nil
	}
}

// writeWriteRead sends three PINGs to chapter 3's heartbeat server, each in
// two writes ("PING " and "N\n"), and reads each PONG before the next:
// the pattern of nodelay.go. With Nagle on, the second write waits until the
// first is acknowledged, and the server delays that ACK (it has nothing to
// send until the line is whole): about 40 ms per round on Linux.
func writeWriteRead(nodelay bool) func(context.Context, *Server) error {
	return func(ctx context.Context, srv *Server) error {
		conn, err := dial(ctx, srv.Addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := conn.(*net.TCPConn).SetNoDelay(nodelay); err != nil {
			return err
		}
		for i := 1; i <= 3; i++ {
			if _, err := io.WriteString(conn, "PING "); err != nil {
				return err
			}
			if _, err := fmt.Fprintf(conn, "%d\n", i); err != nil {
				return err
			}
			if _, err := readLine(conn); err != nil {
				return err
			}
		}
		return nil
	}
}

// tlsEcho completes a TLS 1.3 handshake with chapter 6's echo server
// (trusting the CA its gencert made), sends one line, reads the echo and
// closes (close_notify, then FIN).
func tlsEcho(ctx context.Context, srv *Server) error {
	ca, err := os.ReadFile(filepath.Join(srv.Dir, "ca.pem"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	raw, err := dial(ctx, srv.Addr)
	if err != nil {
		return err
	}
	conn := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "hello\n"); err != nil {
		return err
	}
	_, err = readLine(conn)
	return err
}

// stopsReading dials with a small receive buffer (set before connect, so
// that the SYN announces a small window scale), sends far more than the
// buffers on both sides hold, and never reads: the echoes fill its receive
// buffer, its window closes, the server's writes block (back-pressure) and
// so do the client's, until the server's idle timeout closes the connection.
func stopsReading(ctx context.Context, srv *Server) error {
	addr := srv.Addr
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = setRcvBuf(fd, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(bytes.Repeat([]byte("x"), 256<<10)); err != nil {
		return err
	}
	// The server's idle timeout ends it; then we close, unread echoes in
	// our buffer, which makes our kernel send a reset.
	_, err = srv.WaitLog(ctx, "msg=closed")
	return err
}

// finished reports whether the capture holds the connection's end: a reset,
// or both FINs, each acknowledged by the other side.
func finished(serverPort int) func([]Packet) bool {
	return func(pkts []Packet) bool {
		var finC, finS *Packet
		ackedC, ackedS := false, false
		for i := range pkts {
			p := &pkts[i]
			if p.RST {
				return true
			}
			fromCli := p.DstPort == serverPort
			if p.FIN && fromCli {
				finC = p
			}
			if p.FIN && !fromCli {
				finS = p
			}
			if p.ACK && fromCli && finS != nil && int32(p.Ack-(finS.Seq+uint32(finS.Len)+1)) >= 0 {
				ackedS = true
			}
			if p.ACK && !fromCli && finC != nil && int32(p.Ack-(finC.Seq+uint32(finC.Len)+1)) >= 0 {
				ackedC = true
			}
		}
		return ackedC && ackedS
	}
}

// Result is one scene's capture, rendered.
type Result struct {
	Markdown string
	Pcap     string // path of the capture file
	Rows     []Row
}

// Run captures one scene into dir/NAME.pcap and renders it.
func Run(ctx context.Context, sc Scene, dir string) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tmp, err := os.MkdirTemp("", "wire-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin, err := buildProgram(ctx, sc.Chapter, tmp)
	if err != nil {
		return nil, err
	}
	expand := func(args []string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			out[i] = strings.ReplaceAll(a, "{dir}", tmp)
		}
		return out
	}
	if sc.Setup != nil {
		if out, err := exec.CommandContext(ctx, bin, expand(sc.Setup)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s %v: %v\n%s", sc.Chapter, sc.Setup, err, out)
		}
	}
	srv, err := startServer(ctx, bin, expand(sc.Args)...)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	srv.Dir = tmp
	file := filepath.Join(dir, sc.Name+".pcap")
	snap := sc.Snap
	if snap == 0 {
		snap = 128
	}
	capt, err := startCapture(ctx, file, srv.Port, snap)
	if err != nil {
		return nil, err
	}
	defer capt.Stop()
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if err := sc.Client(cctx, srv); err != nil {
		return nil, fmt.Errorf("%s: client: %w", sc.Name, err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	pkts, err := capt.WaitFor(wctx, finished(srv.Port))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.Name, err)
	}
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].Time.Before(pkts[j].Time) })
	rows := Rows(pkts, srv.Port)
	if sc.TLS {
		tlsRecords(pkts, rows, srv.Port)
	}
	return &Result{Markdown: Markdown(sc.Title, rows, timeWaitNote(rows)), Pcap: file, Rows: rows}, nil
}
