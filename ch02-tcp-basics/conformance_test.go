package main

// The line protocol's conformance suite: a black-box rubric for any server
// that claims to speak this chapter's protocol ("echo: LINE" for each line),
// in any language. It only dials an address, so it runs against the Go
// server, the raw-syscall server, the Python server, or a student's:
//
//	CH02_ADDR=127.0.0.1:8888 go test ./ch02-tcp-basics -run Conformance -v
//
// Each check is its own subtest with a short time bound when grading an
// external server (GRADE_TIMEOUT_SCALE=3 triples them), and
// TestConformanceCatchesBrokenServers proves each one can fail.
//
// The promises of the chapter's page (docs/src/ch02-tcp-basics.md, "The
// protocol") to a client, and the check that grades each:
//
//   - each line gets "echo: " + the line: OneLine;
//   - lines are put back together however the reads split them, and
//     answered in order: ManyLinesOneWrite, SplitLine;
//   - "\r\n" ends a line like "\n" (the "\r" is dropped), an empty line is
//     a line: CRLF;
//   - a last line without "\n" is answered when the client closes:
//     LastLine;
//   - after the client's FIN, the replies arrive, then the server's FIN:
//     HalfClose;
//   - a line of 64 KiB (65,536 bytes before its "\n") is answered:
//     LongestLine; one byte more gets "error: line too long" and the
//     connection is closed, without waiting for the line's end: TooLong;
//   - a client that stays silent holds up nobody else: Concurrent.
//
// The page also promises a graceful stop (the lines a client has sent are
// answered before the server closes); only the server's own process can
// stop it, so TestShutdownDrainsConnections and the command tests check
// that for the course's servers, and no external check can.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcp-in-go/course/tests/testutil"
)

var lineChecks = []testutil.Check{
	{Name: "OneLine", About: "one line, one reply", Run: checkOneLine, Bound: 5 * time.Second},
	{Name: "ManyLinesOneWrite", About: "three lines in one write get three replies, in order", Run: checkManyLines, Bound: 5 * time.Second},
	{Name: "SplitLine", About: "a line that arrives one byte at a time gets one reply", Run: checkSplit, Bound: 5 * time.Second},
	{Name: "CRLF", About: `"\r\n" ends a line like "\n", and an empty line is a line`, Run: checkCRLF, Bound: 5 * time.Second},
	{Name: "LastLine", About: `a last line without "\n" is answered when the client closes`, Run: checkLastLine, Bound: 5 * time.Second},
	{Name: "HalfClose", About: "after the client's FIN, the replies arrive, then EOF", Run: checkHalfClose, Bound: 5 * time.Second},
	{Name: "LongestLine", About: "a line of 64 KiB (65,536 bytes) is answered", Run: checkLongestLine, Bound: 5 * time.Second},
	{Name: "TooLong", About: "a line of 65,537 bytes is refused with one error line, then the connection closes", Run: checkTooLong, Bound: 5 * time.Second},
	{Name: "Concurrent", About: "20 clients are answered while another one stays silent", Run: checkConcurrent, Bound: 10 * time.Second},
}

// pageLineLimit is the longest line the page promises to answer, written
// out: the checks must not follow MaxLineBytes, or changing the constant
// would change the rubric with it.
const pageLineLimit = 65536

// testLineServer runs the rubric against one of the course's servers.
func testLineServer(t *testing.T, addr string) {
	testutil.RunChecks(t, addr, lineChecks, false, nil)
}

func TestConformanceGoServer(t *testing.T) {
	addr, _ := startServer(t)
	testLineServer(t, addr)
}

func TestConformancePythonServer(t *testing.T) {
	p := testutil.StartPython(t, "ch02_tcp_server.py")
	testLineServer(t, p.Addr)
}

// TestConformanceExternal grades a server someone else started, e.g. a
// student's: CH02_ADDR=127.0.0.1:8888.
func TestConformanceExternal(t *testing.T) {
	addr := testutil.ExternalAddr(t, "CH02_ADDR")
	if addr == "" {
		t.Skip("set CH02_ADDR=host:port to grade a running server")
	}
	testutil.RunChecks(t, addr, lineChecks, true, nil)
}

// send writes text in one write and reads n reply lines.
func send(ctx context.Context, addr, text string, n int) ([]string, error) {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := io.WriteString(c, text); err != nil {
		return nil, err
	}
	return testutil.ReadLines(bufio.NewReader(c), n)
}

func checkOneLine(ctx context.Context, addr string) error {
	got, err := send(ctx, addr, "hello\n", 1)
	return testutil.SameLines(got, err, "echo: hello")
}

func checkManyLines(ctx context.Context, addr string) error {
	got, err := send(ctx, addr, "a\nbb\nccc\n", 3)
	return testutil.SameLines(got, err, "echo: a", "echo: bb", "echo: ccc")
}

func checkSplit(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetNoDelay(true)
	r := bufio.NewReader(c)
	if _, err := io.WriteString(c, "split "); err != nil {
		return err
	}
	// Half a line must get no reply. Give the server time to read it: a
	// server that takes each read for a line replies now.
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if l, err := r.ReadString('\n'); err == nil || l != "" {
		return fmt.Errorf("the server replied to half a line with %q", l)
	}
	dl, _ := ctx.Deadline()
	_ = c.SetReadDeadline(dl)
	for _, b := range []byte("line\n") {
		if _, err := c.Write([]byte{b}); err != nil {
			return err
		}
	}
	got, err := testutil.ReadLines(r, 1)
	return testutil.SameLines(got, err, "echo: split line")
}

func checkCRLF(ctx context.Context, addr string) error {
	got, err := send(ctx, addr, "telnet\r\n\n\r\n", 3)
	return testutil.SameLines(got, err, "echo: telnet", "echo: ", "echo: ")
}

func checkLastLine(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "first\nlast"); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil { // "last" ends with our FIN, not "\n"
		return err
	}
	rest, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("after the client's FIN: %w (got %q)", err, rest)
	}
	if want := "echo: first\necho: last\n"; string(rest) != want {
		return fmt.Errorf("got %q before EOF, want %q", rest, want)
	}
	return nil
}

func checkLongestLine(ctx context.Context, addr string) error {
	line := strings.Repeat("x", pageLineLimit)
	got, err := send(ctx, addr, line+"\nafter\n", 2)
	if err == nil && len(got) == 2 && got[0] != "echo: "+line {
		return fmt.Errorf("a %d-byte line got %.40q (%d bytes), want its echo", pageLineLimit, got[0], len(got[0]))
	}
	return testutil.SameLines(got, err, "echo: "+line, "echo: after")
}

func checkHalfClose(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "last words\n"); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	rest, err := io.ReadAll(c) // ends only if the server closes after our FIN
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no EOF after the client's FIN (got %q): the server kept the connection open", rest)
	}
	if err != nil {
		return err
	}
	if string(rest) != "echo: last words\n" {
		return fmt.Errorf("got %q before EOF, want %q", rest, "echo: last words\n")
	}
	return nil
}

func checkTooLong(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// One byte over the limit, and no "\n": the server must refuse the line
	// before it ends, or a client could make it buffer without bound.
	go func() { _, _ = c.Write([]byte(strings.Repeat("x", pageLineLimit+1))) }()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("no error line for a %d-byte line: %w", pageLineLimit+1, err)
	}
	if line != tooLongReply {
		return fmt.Errorf("got %q, want %q", line, tooLongReply)
	}
	_, err = r.ReadByte() // then the server closes (EOF or, as we still send, a reset)
	var ne net.Error
	switch {
	case err == nil:
		return errors.New("the server sent more after refusing the line")
	case errors.As(err, &ne) && ne.Timeout():
		return errors.New("the server kept the connection open after refusing the line")
	}
	return nil
}

func checkConcurrent(ctx context.Context, addr string) error {
	// Client 0 connects and stays silent. A server with one goroutine (or
	// thread) per connection answers the others anyway; one that handles a
	// client at a time blocks them all behind client 0.
	silent, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer silent.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			line := strings.Repeat(string(rune('a'+i)), i+1)
			got, err := send(ctx, addr, line+"\n"+line+"\n", 2)
			if err := testutil.SameLines(got, err, "echo: "+line, "echo: "+line); err != nil {
				errs <- fmt.Errorf("client %d: %w", i+1, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// brokenLines serves the protocol with one bug: reply maps a line (with a
// trailing "\r" kept) to its reply, "" for none.
func brokenLines(t *testing.T, oneAtATime bool, reply func(line string) string) string {
	return testutil.StartLineServer(t, oneAtATime, reply)
}

// TestConformanceCatchesBrokenServers shows the rubric has teeth: each check
// fails against a server with the bug it is meant to catch.
func TestConformanceCatchesBrokenServers(t *testing.T) {
	good := func(l string) string { return ReplyPrefix + strings.TrimSuffix(l, "\r") }
	perRead := func(reply func(chunk string) string) string { // takes each read for a line
		return testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) {
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := io.WriteString(c, reply(string(buf[:n]))+"\n"); err != nil {
					return
				}
			}
		})
	}
	testutil.CatchesBroken(t, lineChecks, map[string]string{
		"OneLine": brokenLines(t, false, func(string) string { return "" }), // silent
		"ManyLinesOneWrite": perRead(func(chunk string) string {
			line, _, _ := strings.Cut(chunk, "\n")
			return good(line)
		}),
		"SplitLine": perRead(func(chunk string) string { return good(strings.TrimSuffix(chunk, "\n")) }),
		"CRLF":      brokenLines(t, false, func(l string) string { return ReplyPrefix + l }), // echoes the "\r"
		"LastLine":  brokenLines(t, false, good),                                             // drops a line cut short by EOF
		"LongestLine": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) { // off by one
			sc := bufio.NewScanner(c)
			sc.Buffer(nil, pageLineLimit) // the line and its "\n" no longer fit
			for sc.Scan() {
				_, _ = io.WriteString(c, good(sc.Text())+"\n")
			}
			_, _ = io.WriteString(c, tooLongReply)
		}),
		"HalfClose": testutil.StartBroken(t, false, func(c net.Conn, stop <-chan struct{}) { // never closes
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				_, _ = io.WriteString(c, good(sc.Text())+"\n")
			}
			<-stop
		}),
		"TooLong":    brokenLines(t, false, good), // buffers a line of any length
		"Concurrent": brokenLines(t, true, good),
	})
}
