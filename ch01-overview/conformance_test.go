package main

// The conformance suite of chapter 1's server: a black-box rubric for any
// server that reads lines and answers only to refuse one, in any language.
// It only dials an address, so it grades this package's server (started
// in-process), the Python counterpart, or a student's:
//
//	CH01_ADDR=127.0.0.1:9000 go test ./ch01-overview -run Conformance -v
//
// The server prints what it receives on its own side, so from the network
// it grades these promises of the chapter's page:
//
//   - lines, whole or split over several writes, get no reply (QuietOnLines);
//   - after the client's FIN, the server closes too (ClosesAfterFIN);
//   - a line longer than the server's limit (any limit up to 64 KiB) gets
//     an "error: ..." line, and the connection is closed (LongLineRefused);
//   - saying goodbye without losing the last words: a client that sent more
//     after its over-long line and reads only 50 ms later still gets the
//     error line, then a clean end of stream, not a reset (LateReaderGetsError);
//   - 100 clients connected at once are each served (Concurrent100).
//
// Not graded from outside: the idle timeout (its length is the server's
// choice), and QUIT and -max-conns (exercises, not the lesson). Each check
// is its own subtest, bounded by a few seconds when grading CH01_ADDR
// (GRADE_TIMEOUT_SCALE=3 triples them); TestConformanceCatchesBrokenServers
// proves each one can fail.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tcp-in-go/course/tests/testutil"
)

var overviewChecks = []testutil.Check{
	{Name: "QuietOnLines", About: "lines, whole or in pieces, get no reply", Run: checkQuietOnLines, Bound: 5 * time.Second},
	{Name: "ClosesAfterFIN", About: "after the client's FIN, the server closes too", Run: checkClosesAfterFIN, Bound: 5 * time.Second},
	{Name: "LongLineRefused", About: `a line over 64 KiB is answered "error: ..." and the connection closed`, Run: checkLongLineRefused, Bound: 5 * time.Second},
	{Name: "LateReaderGetsError", About: "a client that reads 50 ms late still gets the error line, then a clean close", Run: checkLateReaderGetsError, Bound: 5 * time.Second},
	{Name: "Concurrent100", About: "100 clients connected at once are each served", Run: checkConcurrent100, Bound: 10 * time.Second},
}

// TestConformance grades the server at CH01_ADDR when set, else this
// package's server in-process.
func TestConformance(t *testing.T) {
	if addr := testutil.ExternalAddr(t, "CH01_ADDR"); addr != "" {
		testutil.RunChecks(t, addr, overviewChecks, true, nil)
		return
	}
	addr, _, _ := startServer(t, 4096, time.Minute)
	testutil.RunChecks(t, addr, overviewChecks, false, nil)
}

// TestConformancePython grades the Python counterpart with the same rubric.
func TestConformancePython(t *testing.T) {
	testutil.SkipIfExternal(t, "CH01_ADDR")
	p := testutil.StartPython(t, "ch01_overview.py")
	testutil.RunChecks(t, p.Addr, overviewChecks, false, nil)
}

func checkQuietOnLines(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetNoDelay(true)
	for _, piece := range []string{"hello\nsecond line\r\n", "in ", "pieces", "\n", "no newline at the end"} {
		if _, err := io.WriteString(c, piece); err != nil {
			return err
		}
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	got, err := testutil.ReadToEOF(c)
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return fmt.Errorf("the server replied %q to valid lines: it should print them, not answer", got)
	}
	return nil
}

func checkClosesAfterFIN(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.CloseWrite(); err != nil {
		return err
	}
	_, err = testutil.ReadToEOF(c)
	return err
}

func checkLongLineRefused(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// Keep sending while reading: the error must reach us even so.
	go func() { _, _ = c.Write([]byte(tooLong)) }()
	line, err := bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer to a line over 64 KiB (got %q): a server must bound the line it buffers", line)
	case err != nil:
		return fmt.Errorf("the connection ended without an error line (got %q): %w", line, err)
	case !strings.HasPrefix(line, "error: "):
		return fmt.Errorf("got %q, want an %q line", line, "error: ...")
	}
	if _, err := testutil.ReadToEOF(c); err != nil && !isReset(err) {
		return fmt.Errorf("after the error line: %w", err)
	}
	return nil
}

// tooLong is a line over any limit up to 64 KiB: 64 KiB and one byte.
var tooLong = strings.Repeat("x", 64<<10+1) + "\n"

// lateBy is how late the client of checkLateReaderGetsError reads.
const lateBy = 50 * time.Millisecond

// checkLateReaderGetsError: the chapter's central lesson. The client sends
// an over-long line and as much again after it, half-closes, and reads only
// 50 ms later, when a server that refused and closed at once has long
// reset the connection (it still had our bytes unread). The error line must
// be there, and the end of stream must be clean: a reset can destroy data
// the client has not read yet (RFC 9112, section 9.6), and on Linux, which
// keeps what already arrived, it still ends the stream with an error.
func checkLateReaderGetsError(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, tooLong+tooLong)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	select {
	case <-sent: // a write cut short by a reset is the server's fault, seen below
	case <-ctx.Done():
		return fmt.Errorf("the server stopped reading a %d-byte line: %w", len(tooLong), ctx.Err())
	}
	time.Sleep(lateBy) // the client under test reads late: its behaviour, not a wait for the server
	got, err := testutil.ReadToEOF(c)
	line, _, _ := strings.Cut(string(got), "\n")
	switch {
	case len(got) == 0 && err != nil:
		return fmt.Errorf("read %s after the line: no error line, %w (closing at once with unread bytes sends a reset, which loses the reply: linger)", lateBy, err)
	case !strings.HasPrefix(line, "error: "):
		return fmt.Errorf("got %q, want an %q line", got, "error: ...")
	case isReset(err):
		return fmt.Errorf("the error line, then %w: the server closed with our bytes unread; send FIN first and read what the client still sends, then close", err)
	case err != nil:
		return fmt.Errorf("after the error line: %w", err)
	}
	return nil
}

// isReset reports a connection reset: what a close with our data still
// unread looks like from here.
func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && strings.Contains(err.Error(), "reset")
}

// checkConcurrent100 connects 100 clients, sends a line on each, then
// half-closes the last one first: a server that serves one client at a time
// never gets to it while the first 99 are open.
func checkConcurrent100(ctx context.Context, addr string) error {
	var conns []*net.TCPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 100 {
		c, err := testutil.DialCtx(ctx, addr)
		if err != nil {
			return fmt.Errorf("client %d: %w", i+1, err)
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "client %d\n", i+1); err != nil {
			return fmt.Errorf("client %d: %w", i+1, err)
		}
	}
	for i := len(conns) - 1; i >= 0; i-- {
		if err := conns[i].CloseWrite(); err != nil {
			return fmt.Errorf("client %d: %w", i+1, err)
		}
		if _, err := testutil.ReadToEOF(conns[i]); err != nil {
			return fmt.Errorf("client %d of 100, with the others still open: %w", i+1, err)
		}
	}
	return nil
}

// TestConformanceCatchesBrokenServers shows the rubric has teeth: each check
// fails against a server with the bug it is meant to catch.
func TestConformanceCatchesBrokenServers(t *testing.T) {
	testutil.SkipIfExternal(t, "CH01_ADDR")
	lines := func(c net.Conn, each func(line string) bool) {
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, 1<<20) // no limit worth the name
		for sc.Scan() && each(sc.Text()) {
		}
	}
	testutil.CatchesBroken(t, overviewChecks, map[string]string{
		"QuietOnLines": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) { // echoes
			lines(c, func(l string) bool { _, err := io.WriteString(c, l+"\n"); return err == nil })
		}),
		"ClosesAfterFIN": testutil.StartBroken(t, false, func(c net.Conn, stop <-chan struct{}) {
			lines(c, func(string) bool { return true })
			<-stop // keeps the connection open
		}),
		"LongLineRefused": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) {
			lines(c, func(string) bool { return true }) // buffers any line
		}),
		"LateReaderGetsError": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) {
			sc := bufio.NewScanner(c)
			sc.Buffer(nil, 4096)
			for sc.Scan() {
			}
			// Refuses the line, then closes at once with the rest unread:
			// the kernel sends a reset.
			_, _ = io.WriteString(c, "error: line too long\n")
		}),
		"Concurrent100": testutil.StartBroken(t, true, func(c net.Conn, _ <-chan struct{}) {
			lines(c, func(string) bool { return true })
		}),
	})
}
