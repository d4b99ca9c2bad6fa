package testutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcp-in-go/course/internal/exercise"
)

// Grading another implementation. Each chapter's conformance suite takes the
// address of a server to grade from a variable (CH01_ADDR, ECHO_ADDR...); the
// helpers below keep their conventions the same.

// ExternalAddr returns the address in the environment variable name, or ""
// when it is unset (then the suite grades the chapter's own server).
func ExternalAddr(t testing.TB, name string) string {
	t.Helper()
	addr := os.Getenv(name)
	if addr != "" {
		t.Logf("grading the server at %s=%s", name, addr)
	}
	return addr
}

// SkipIfExternal skips a test of the course's own code (a Python twin, the
// suite's own check against broken servers) while the variable name points
// the suite at another server: then the external server's checks are all
// that runs, and nothing else can fail, or read as if it had.
func SkipIfExternal(t testing.TB, name string) {
	t.Helper()
	if os.Getenv(name) != "" {
		t.Skipf("%s is set: grading that server only (this test checks the course's own code)", name)
	}
}

// RepoPath resolves a path given in a grading variable (CH06_CA=certs/ca.pem):
// absolute as is, relative to the repository root otherwise, since tests
// run in their package's directory but people type paths from the root. A
// missing file fails the test with a message naming the variable.
func RepoPath(t testing.TB, name, value string) string {
	t.Helper()
	p := value
	if !filepath.IsAbs(p) {
		p = filepath.Join(RepoRoot(t), p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v (a relative path is taken from the repository root, %s)", name, value, err, RepoRoot(t))
	}
	return p
}

// GradeTimeout returns a conformance check's time bound: d, multiplied by
// GRADE_TIMEOUT_SCALE when set (GRADE_TIMEOUT_SCALE=3 on a slow machine).
// The bounds are short by default, so that a broken server fails fast.
func GradeTimeout(d time.Duration) time.Duration {
	s, err := strconv.ParseFloat(os.Getenv("GRADE_TIMEOUT_SCALE"), 64)
	if err != nil || s <= 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return d
	}
	return time.Duration(float64(d) * s)
}

// Check is one rule of a conformance suite: Run talks to the server at addr
// and returns an error saying what is wrong, within ctx's deadline. Checks
// return errors rather than failing a test, so that a suite can prove each
// of them fails against a server with the bug it is meant to catch.
type Check struct {
	Name  string
	About string
	Run   func(ctx context.Context, addr string) error
	Bound time.Duration // the check's time bound, before GRADE_TIMEOUT_SCALE
}

// RunChecks runs each check as its own subtest. Grading an external server,
// the checks run all at once (not limited by go test's -parallel), each
// within its short Bound, so a broken server fails the suite within the
// longest bound; the course's own servers, tested under the load of the
// whole test suite, are checked one after the other with a minute each.
// graded, for the course's own server, names the exercise a check needs
// (see package exercise); it may be nil.
func RunChecks(t *testing.T, addr string, checks []Check, external bool, graded map[string]string) {
	t.Helper()
	var results []<-chan error
	if external {
		results = runAll(t, addr, checks, func(c Check) time.Duration { return GradeTimeout(c.Bound) })
	}
	for i, c := range checks {
		t.Run(c.Name, func(t *testing.T) {
			if e := graded[c.Name]; e != "" {
				exercise.Graded(t, e)
			}
			var err error
			if external {
				err = <-results[i]
			} else {
				err = runOne(t.Context(), addr, c, time.Minute)
			}
			if err != nil {
				t.Fatalf("%s (%s): %v", c.Name, c.About, err)
			}
		})
	}
}

// runOne runs a check within bound, saying so when the bound ran out.
func runOne(ctx context.Context, addr string, c Check, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	err := c.Run(ctx, addr)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("not done within %s (GRADE_TIMEOUT_SCALE=3 allows three times as long): %w", bound, err)
	}
	return err
}

// runAll starts every check at once; each result arrives on its channel.
// The checks end before the test does.
func runAll(t *testing.T, addr string, checks []Check, bound func(Check) time.Duration) []<-chan error {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	out := make([]<-chan error, len(checks))
	for i, c := range checks {
		ch := make(chan error, 1)
		out[i] = ch
		wg.Go(func() { ch <- runOne(t.Context(), addr, c, bound(c)) })
	}
	return out
}

// CatchesBroken proves a suite has teeth: each check must fail against the
// broken server catches names for it (an address from StartBroken), within
// a few seconds.
func CatchesBroken(t *testing.T, checks []Check, catches map[string]string) {
	t.Helper()
	for _, c := range checks {
		if _, ok := catches[c.Name]; !ok {
			t.Fatalf("no broken server shows that %s can fail", c.Name)
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	results := make([]chan error, len(checks))
	for i, c := range checks {
		results[i] = make(chan error, 1)
		wg.Go(func() { results[i] <- runOne(t.Context(), catches[c.Name], c, min(c.Bound, 5*time.Second)) })
	}
	for i, c := range checks {
		t.Run(c.Name, func(t *testing.T) {
			err := <-results[i]
			if err == nil {
				t.Fatalf("%s passed against a broken server", c.Name)
			}
			t.Logf("%s against a broken server: %v", c.Name, err)
		})
	}
}

// StartBroken serves handle on 127.0.0.1:0 until the test ends, one
// goroutine per connection (or, with oneAtATime, one connection after the
// other, like the source text's first servers). stop is closed when the test
// ends; every connection is closed then.
func StartBroken(t testing.TB, oneAtATime bool, handle func(c net.Conn, stop <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
		wg     sync.WaitGroup
		stop   = make(chan struct{})
	)
	serve := func(c net.Conn) {
		defer c.Close()
		handle(c, stop)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			if oneAtATime {
				serve(c)
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		close(stop)
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// StartLineServer is StartBroken for a line protocol: it reads lines ("\r"
// kept, no bound on their length) and writes reply(line) + "\n" back, or
// nothing when reply returns "". The conformance suites give it a reply
// with one bug to prove a check can fail.
func StartLineServer(t testing.TB, oneAtATime bool, reply func(line string) string) string {
	t.Helper()
	return StartBroken(t, oneAtATime, func(c net.Conn, _ <-chan struct{}) {
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if a := reply(strings.TrimSuffix(l, "\n")); a != "" {
				if _, err := io.WriteString(c, a+"\n"); err != nil {
					return
				}
			}
		}
	})
}

// DialCtx connects to addr within ctx and bounds every read and write on the
// connection by ctx's deadline.
func DialCtx(ctx context.Context, addr string) (*net.TCPConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return c.(*net.TCPConn), nil
}

// ReadLines reads n lines from r for a check, without their "\n"; on an
// error it returns the lines read so far and says how far it got.
func ReadLines(r *bufio.Reader, n int) ([]string, error) {
	var got []string
	for range n {
		l, err := r.ReadString('\n')
		if err != nil {
			return got, fmt.Errorf("line %d of %d (got %q so far): %w", len(got)+1, n, got, err)
		}
		got = append(got, strings.TrimSuffix(l, "\n"))
	}
	return got, nil
}

// SameLines is a check's verdict on lines read: err if reading failed, an
// error naming both if got is not want, else nil.
func SameLines(got []string, err error, want ...string) error {
	if err != nil {
		return err
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// ReadToEOF reads until the server closes; a deadline instead of EOF means
// the server kept the connection open, and the error says so.
func ReadToEOF(c net.Conn) ([]byte, error) {
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return got, fmt.Errorf("no EOF after %d bytes: the server did not close after the client's FIN (%w)", len(got), err)
	}
	return got, err
}

// Together runs clients at once against addr: each dials, has its exchange
// with the server, then keeps its connection open until every client has
// had its own, so that the server holds them all at the same moment. It
// returns the first error (naming its client), and then cancels the others.
func Together(ctx context.Context, addr string, clients int, exchange func(c *net.TCPConn, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		answered sync.WaitGroup
		done     sync.WaitGroup
		errs     = make(chan error, clients)
	)
	answered.Add(clients)
	all := make(chan struct{})
	go func() { answered.Wait(); close(all) }()
	for i := range clients {
		done.Go(func() {
			err := func() error {
				c, err := DialCtx(ctx, addr)
				if err != nil {
					answered.Done()
					return err
				}
				defer c.Close()
				err = exchange(c, i)
				answered.Done()
				if err != nil {
					return err
				}
				select { // hold the connection until every client was answered
				case <-all:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}()
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				cancel() // fail fast: release the others
			}
		})
	}
	done.Wait()
	close(errs)
	return <-errs // the first error, or nil
}
