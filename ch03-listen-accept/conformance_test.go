package main

// The heartbeat protocol's conformance suite: a black-box rubric for any
// server of this chapter's protocol, in any language. It only dials an
// address, so it grades this package's server (started in-process), the
// Python counterpart, or a student's server, run with the page's defaults
// (-interval 5s -misses 3):
//
//	CH03_ADDR=127.0.0.1:9003 go test ./ch03-listen-accept -run Conformance -v
//
// Each check is its own subtest with a short time bound when grading an
// external server (GRADE_TIMEOUT_SCALE=3 triples them), and
// TestConformanceCatchesBrokenServers proves each one can fail.
//
// The promises of the chapter's page to a client, and the check that
// grades each:
//
//	"PING" is answered "PONG", "PING token" "PONG token"    Ping, PingToken
//	a line may end in "\r\n"                                CRLF
//	any other line gets "ERR unknown command", and the
//	  connection stays open                                 Unknown
//	lines are framed by "\n", not by reads (粘包/拆包)        Pipelined, SplitLine
//	many clients are served at once                         Concurrent50
//	a line of up to 1024 bytes, "\n" included, is answered;
//	  a longer one closes the connection                    LongLine
//	after the client's FIN, the last answer, then a FIN     HalfClose
//	a client silent for 3 intervals is closed: never
//	  before, and within half an interval after             SilentClosed
//
// (What the page promises about its client, matching PONGs to PINGs and
// reconnecting, is the client's own tests': pong_test.go, heartbeat_test.go.)

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcp-in-go/course/tests/testutil"
)

// conformanceInterval is the heartbeat interval of the course's own servers
// under the suite: short, so that SilentClosed takes about a second.
const conformanceInterval = 300 * time.Millisecond

// heartbeatChecks is the rubric for a server run with -interval interval
// and -misses misses.
func heartbeatChecks(interval time.Duration, misses int) []testutil.Check {
	silence := time.Duration(misses) * interval
	return []testutil.Check{
		{Name: "Ping", About: `"PING" is answered "PONG"`, Run: checkPing, Bound: 5 * time.Second},
		{Name: "PingToken", About: `"PING 42" is answered "PONG 42": the token comes back`, Run: checkPingToken, Bound: 5 * time.Second},
		{Name: "CRLF", About: `"PING 7\r\n" (telnet, Windows) is answered "PONG 7", without the "\r"`, Run: checkCRLF, Bound: 5 * time.Second},
		{Name: "Unknown", About: `any other line is answered "ERR unknown command", and the connection stays open`, Run: checkUnknown, Bound: 5 * time.Second},
		{Name: "Pipelined", About: "three lines in one write get three answers, in order", Run: checkPipelined, Bound: 5 * time.Second},
		{Name: "SplitLine", About: "a line that arrives one byte at a time gets one answer", Run: checkSplitLine, Bound: 5 * time.Second},
		{Name: "Concurrent50", About: "50 clients connected at once are each answered", Run: checkConcurrent50, Bound: 10 * time.Second},
		{Name: "LongLine", About: `a line of 1024 bytes ("\n" included) is answered; a longer one closes the connection`, Run: checkLongLine, Bound: 5 * time.Second},
		{Name: "HalfClose", About: "after the client's FIN, the last answer arrives, then the server closes", Run: checkHalfCloseHeartbeat, Bound: 5 * time.Second},
		{Name: "SilentClosed", About: fmt.Sprintf("a client silent for %d intervals (%v) is closed, not before, and within half an interval after", misses, silence),
			Run: checkSilentClosed(silence, interval/2), Bound: silence + 5*time.Second},
	}
}

// TestConformance grades the server at CH03_ADDR when set, else this
// package's server in-process.
func TestConformance(t *testing.T) {
	if addr := testutil.ExternalAddr(t, "CH03_ADDR"); addr != "" {
		testutil.RunChecks(t, addr, heartbeatChecks(DefaultInterval, DefaultMisses), true, nil)
		return
	}
	checkConformance(t, startHeartbeat(t, conformanceInterval, DefaultMisses), conformanceInterval, DefaultMisses)
}

// checkConformance runs the rubric against one of the course's servers
// (this package's, the built program, the Python counterpart), run with
// -interval interval -misses misses.
func checkConformance(t *testing.T, addr string, interval time.Duration, misses int) {
	testutil.RunChecks(t, addr, heartbeatChecks(interval, misses), false, nil)
}

// ask writes lines (each with "\n") in one write and reads as many answers.
func ask(ctx context.Context, addr string, lines ...string) ([]string, error) {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return askOn(c, bufio.NewReader(c), lines...)
}

func askOn(c net.Conn, r *bufio.Reader, lines ...string) ([]string, error) {
	if _, err := io.WriteString(c, strings.Join(lines, "\n")+"\n"); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	return testutil.ReadLines(r, len(lines))
}

func checkPing(ctx context.Context, addr string) error {
	got, err := ask(ctx, addr, "PING")
	return testutil.SameLines(got, err, "PONG")
}

func checkPingToken(ctx context.Context, addr string) error {
	got, err := ask(ctx, addr, "PING 42", "PING a-b")
	return testutil.SameLines(got, err, "PONG 42", "PONG a-b")
}

func checkCRLF(ctx context.Context, addr string) error {
	got, err := ask(ctx, addr, "PING 7\r")
	return testutil.SameLines(got, err, "PONG 7")
}

func checkUnknown(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	got, err := askOn(c, r, "HELLO")
	if err := testutil.SameLines(got, err, "ERR unknown command"); err != nil {
		return err
	}
	got, err = askOn(c, r, "PING after")
	if err := testutil.SameLines(got, err, "PONG after"); err != nil {
		return fmt.Errorf("after an unknown command: %w", err)
	}
	return nil
}

func checkPipelined(ctx context.Context, addr string) error {
	got, err := ask(ctx, addr, "PING 1", "PING", "HELLO")
	return testutil.SameLines(got, err, "PONG 1", "PONG", "ERR unknown command")
}

func checkSplitLine(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetNoDelay(true) // each write its own segment
	r := bufio.NewReader(c)
	if _, err := io.WriteString(c, "PIN"); err != nil {
		return err
	}
	// Half a line must get no answer. Give the server time to read it: a
	// server that takes each read for a line answers now.
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if l, err := r.ReadString('\n'); err == nil || l != "" {
		return fmt.Errorf("the server answered half a line (%q) with %q", "PIN", l)
	}
	dl, _ := ctx.Deadline()
	_ = c.SetReadDeadline(dl)
	if _, err := io.WriteString(c, "G 7\n"); err != nil {
		return err
	}
	l, err := r.ReadString('\n')
	return testutil.SameLines([]string{strings.TrimSuffix(l, "\n")}, err, "PONG 7")
}

func checkConcurrent50(ctx context.Context, addr string) error {
	return testutil.Together(ctx, addr, 50, func(c *net.TCPConn, i int) error {
		token := fmt.Sprint(i)
		got, err := askOn(c, bufio.NewReader(c), "PING "+token)
		return testutil.SameLines(got, err, "PONG "+token)
	})
}

func checkLongLine(ctx context.Context, addr string) error {
	// The longest line: 1024 bytes, its "\n" included, is answered.
	token := strings.Repeat("x", maxLine-len("PING \n"))
	got, err := ask(ctx, addr, "PING "+token)
	if err := testutil.SameLines(got, err, "PONG "+token); err != nil {
		return fmt.Errorf("a line of 1024 bytes, newline included: %w", err)
	}
	// One byte more closes the connection, as does a much longer line.
	for _, n := range []int{maxLine + 1, 2006} {
		if err := refusesLine(ctx, addr, n); err != nil {
			return err
		}
	}
	return nil
}

// refusesLine sends a line of n bytes, newline included: the server must
// close the connection without an answer.
func refusesLine(ctx context.Context, addr string, n int) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	line := "PING " + strings.Repeat("x", n-len("PING \n")) + "\n"
	if _, err := io.WriteString(c, line); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		return err
	}
	got, err := io.ReadAll(c)
	var ne net.Error
	switch {
	case len(got) > 0:
		return fmt.Errorf("the server answered a %d-byte line with %q", n, truncate(got))
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the server kept the connection open after a %d-byte line (it must bound what it buffers)", n)
	}
	return nil // EOF or a reset: closed
}

func checkHalfCloseHeartbeat(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "PING last\n"); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no EOF after the client's FIN (got %q): the server kept the connection open", got)
	}
	if err != nil {
		return err
	}
	if string(got) != "PONG last\n" {
		return fmt.Errorf("got %q before EOF, want %q", got, "PONG last\n")
	}
	return nil
}

// checkSilentClosed connects and says nothing: the server must close the
// connection silence after it accepted it, give or take slack on the late
// side. The clock starts before the dial, so it never runs short.
func checkSilentClosed(silence, slack time.Duration) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		start := time.Now()
		c, err := testutil.DialCtx(ctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetReadDeadline(start.Add(silence + slack))
		got, err := io.ReadAll(c)
		closed := time.Since(start)
		var ne net.Error
		switch {
		case len(got) > 0:
			return fmt.Errorf("the server sent %q to a client that said nothing", truncate(got))
		case errors.As(err, &ne) && ne.Timeout():
			return fmt.Errorf("a client silent for %v was still connected (want it closed after %v)", closed.Round(time.Millisecond), silence)
		case closed < silence:
			return fmt.Errorf("a silent client was closed after %v, before the %v it may stay silent", closed.Round(time.Millisecond), silence)
		}
		return nil // closed in time, by a FIN or a reset
	}
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// brokenHeartbeat is a server with one bug: answer maps a line to its reply
// ("" for none).
func brokenHeartbeat(t *testing.T, answer func(line string) string) string {
	return testutil.StartLineServer(t, false, answer)
}

// TestConformanceCatchesBrokenServers shows the rubric has teeth: each check
// fails against a server with the bug it is meant to catch.
func TestConformanceCatchesBrokenServers(t *testing.T) {
	testutil.SkipIfExternal(t, "CH03_ADDR")
	good := func(line string) string { a, _ := reply(line); return a }
	silent := brokenHeartbeat(t, func(string) string { return "" })
	testutil.CatchesBroken(t, heartbeatChecks(conformanceInterval, DefaultMisses), map[string]string{
		"Ping": silent,
		"PingToken": brokenHeartbeat(t, func(l string) string { // drops the token
			if strings.HasPrefix(l, "PING") {
				return "PONG"
			}
			return good(l)
		}),
		"CRLF": brokenHeartbeat(t, func(l string) string { // keeps the "\r"
			if strings.HasPrefix(l, "PING ") {
				return "PONG " + strings.TrimPrefix(l, "PING ")
			}
			return good(l)
		}),
		"Unknown": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) { // closes on an unknown command
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				a := good(sc.Text())
				_, _ = io.WriteString(c, a+"\n")
				if strings.HasPrefix(a, "ERR") {
					return
				}
			}
		}),
		"Pipelined": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) { // one Read, one line
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				line, _, _ := strings.Cut(string(buf[:n]), "\n")
				_, _ = io.WriteString(c, good(line)+"\n")
			}
		}),
		"SplitLine": testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) { // each Read is a line
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, good(strings.TrimSuffix(string(buf[:n]), "\n"))+"\n")
			}
		}),
		"Concurrent50": testutil.StartBroken(t, true, func(c net.Conn, _ <-chan struct{}) {
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				_, _ = io.WriteString(c, good(sc.Text())+"\n")
			}
		}),
		"LongLine": brokenHeartbeat(t, good), // no bound on a line
		"HalfClose": testutil.StartBroken(t, false, func(c net.Conn, stop <-chan struct{}) { // never closes
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				_, _ = io.WriteString(c, good(sc.Text())+"\n")
			}
			<-stop
		}),
		"SilentClosed": brokenHeartbeat(t, good), // no dead-peer rule: a silent client stays forever
	})
}
