package main

// The conformance suite: a black-box rubric for any TCP echo server (RFC 862),
// in any language. It only dials an address, so it grades this package's
// server (by default, started in-process), the Python counterparts, or a
// student's server:
//
//	ECHO_ADDR=127.0.0.1:65432 go test ./ch04-echo -run Conformance -v
//
// Grading a server at ECHO_ADDR, the checks run all at once, each within its
// own short bound, so that a broken server fails the whole suite in about
// 15 s; on a slow machine, GRADE_TIMEOUT_SCALE=3 triples every bound. The
// course's own servers, tested under the load of the whole test suite, are
// checked one check at a time with a generous minute each.
//
// Each check is a function returning an error rather than failing a test, so
// that TestConformanceCatchesBrokenServers can prove every check fails
// against a server with the bug it is meant to catch.
//
// The promises of the page (docs/src/ch04-echo.md) that it grades, for any
// server at an address:
//
//   - every byte comes back, unchanged and in order, however the client's
//     writes were split or joined: SingleByte, AllByteValues, OddSizes,
//     Stream16MiB;
//   - many clients are served at once: Concurrent500;
//   - half-close: what was sent before the client's FIN is echoed, then
//     EOF: HalfClose, EmptyConnection;
//   - back-pressure: a client that never reads is pushed back, not
//     buffered without bound: NeverReads;
//   - a client that resets its connection mid-stream does not stop the
//     server: ResetMidStream;
//   - a client that pauses is not an idle one (idle timeouts are minutes):
//     Pause.
//
// Not graded from outside, since they need the server's flags or a signal
// (the package's own tests check them): -idle-timeout closing silent
// clients, -max-conns queueing, -max-bytes, and the drain on SIGTERM.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// ANCHOR: checks
// checks is the rubric, in the order a grader reads it.
var checks = []struct {
	name  string
	about string
	run   func(ctx context.Context, addr string) error
	bound time.Duration // before GRADE_TIMEOUT_SCALE
}{
	{"SingleByte", "one byte comes back",
		checkSingleByte, 5 * time.Second},
	{"EmptyConnection", "a client that sends nothing and half-closes gets EOF",
		checkEmpty, 5 * time.Second},
	{"AllByteValues", "all 256 byte values come back unchanged (no text mode)",
		checkAllBytes, 5 * time.Second},
	{"Stream16MiB", "16 MiB of random data, written while reading",
		checkStream, 15 * time.Second},
	{"Concurrent500", "500 clients connected at once, each echoed",
		checkConcurrent, 15 * time.Second},
	{"HalfClose", "after the client's FIN, everything is echoed, then EOF",
		checkHalfClose, 5 * time.Second},
	{"OddSizes", "writes of odd sizes, split and joined, read with odd buffers",
		checkOddSizes, 5 * time.Second},
	{"NeverReads", "a client that never reads is pushed back, not buffered",
		checkNeverReads, 15 * time.Second},
	{"ResetMidStream", "after a client resets mid-stream, new ones are echoed",
		checkResetMidStream, 10 * time.Second},
	{"Pause", "a client silent for 2 s between two messages gets both back",
		checkPause, 5 * time.Second},
}

// ANCHOR_END: checks

// TestConformance runs the rubric against ECHO_ADDR if set, else against this
// package's server started in-process on 127.0.0.1:0.
func TestConformance(t *testing.T) {
	addr := testutil.ExternalAddr(t, "ECHO_ADDR")
	external := addr != ""
	if !external {
		srv := newServer(Config{IdleTimeout: time.Minute, Log: quietLog()})
		addr = testutil.StartServer(t, srv.Serve, srv.Shutdown)
	}
	runConformance(t, addr, external)
}

// TestConformancePython grades the three Python counterparts with the same
// rubric (skipped when ECHO_ADDR points the suite elsewhere).
func TestConformancePython(t *testing.T) {
	if os.Getenv("ECHO_ADDR") != "" {
		t.Skip("ECHO_ADDR is set: grading that server only")
	}
	for _, model := range []string{"threads", "selectors", "asyncio"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel() // three servers, three processes
			p := testutil.StartPython(t, "ch04_echo.py", "serve", "--model", model)
			runConformance(t, p.Addr, false)
		})
	}
}

// runConformance runs every check as its own subtest: all at once, each
// within its short bound, for an external server; one after the other with a
// minute each for the course's own (see testutil.RunChecks).
func runConformance(t *testing.T, addr string, external bool) {
	rubric := make([]testutil.Check, len(checks))
	for i, c := range checks {
		rubric[i] = testutil.Check{Name: c.name, About: c.about, Run: c.run, Bound: c.bound}
	}
	testutil.RunChecks(t, addr, rubric, external, nil)
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// dial connects with the check's context and bounds every read and write on
// the connection by the context's deadline.
func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// roundTrip writes msg and reads len(msg) bytes back.
func roundTrip(c net.Conn, msg []byte) error {
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	if n, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read %d of %d bytes back: %w", n, len(msg), err)
	}
	return diff(msg, got)
}

// diff describes the first difference between what was sent and received.
func diff(sent, got []byte) error {
	for i := range min(len(sent), len(got)) {
		if sent[i] != got[i] {
			return fmt.Errorf("byte %d: sent %#02x, got back %#02x", i, sent[i], got[i])
		}
	}
	if len(sent) != len(got) {
		return fmt.Errorf("sent %d bytes, got back %d", len(sent), len(got))
	}
	return nil
}

func checkSingleByte(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, []byte{'x'})
}

func checkEmpty(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.CloseWrite(); err != nil {
		return err
	}
	got, err := testutil.ReadToEOF(c)
	if err != nil {
		return err
	}
	return diff(nil, got)
}

func checkAllBytes(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return roundTrip(c, all)
}

// streamEcho writes data in chunks of chunk bytes while a second goroutine
// reads the echo, then half-closes and checks that exactly data came back.
// Writing everything before reading would deadlock against any correct server
// as soon as the socket buffers are full.
func streamEcho(c *net.TCPConn, data []byte, chunk int) error {
	wrote := make(chan error, 1)
	go func() {
		for off := 0; off < len(data); off += chunk {
			if _, err := c.Write(data[off:min(off+chunk, len(data))]); err != nil {
				wrote <- fmt.Errorf("write at %d: %w", off, err)
				return
			}
		}
		wrote <- c.CloseWrite()
	}()
	got := make([]byte, len(data))
	n, rerr := io.ReadFull(c, got)
	werr := <-wrote
	if rerr != nil {
		return fmt.Errorf("read %d of %d bytes back: %w", n, len(data), rerr)
	}
	if werr != nil {
		return werr
	}
	return diff(data, got)
}

func checkStream(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return streamEcho(c, random(16<<20), 64<<10)
}

// checkConcurrent keeps 500 clients connected at once: each is echoed, then
// waits until all are before closing, so a server that serves one client at
// a time (like the source text's) cannot pass.
func checkConcurrent(ctx context.Context, addr string) error {
	return concurrentClients(ctx, addr, 500)
}

func concurrentClients(ctx context.Context, addr string, clients int) error {
	return testutil.Together(ctx, addr, clients, func(c *net.TCPConn, i int) error {
		return roundTrip(c, append([]byte(fmt.Sprintf("client %d: ", i)), random(200)...))
	})
}

func checkHalfClose(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := random(100 << 10)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	got, err := testutil.ReadToEOF(c)
	if err != nil {
		return err
	}
	return diff(msg, got)
}

// checkOddSizes writes odd-sized pieces, some with Nagle's algorithm off (each
// write leaves as its own segment: the server sees them split) and some in a
// burst the kernel coalesces, and reads with odd buffer sizes: TCP is a byte
// stream, and an echo server must not care where the writes began and ended.
func checkOddSizes(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	sizes := []int{1, 2, 3, 5, 7, 11, 13, 509, 1021, 4093, 65521, 1, 1, 1, 100003}
	var total int
	for _, s := range sizes {
		total += s
	}
	data := random(total)
	wrote := make(chan error, 1)
	go func() {
		off := 0
		for i, s := range sizes {
			_ = c.SetNoDelay(i%2 == 0)
			if _, err := c.Write(data[off : off+s]); err != nil {
				wrote <- err
				return
			}
			off += s
		}
		wrote <- c.CloseWrite()
	}()
	var got []byte
	bufSizes := []int{1, 7, 4096, 3, 65536, 17}
	for i := 0; len(got) < total; i++ {
		buf := make([]byte, bufSizes[i%len(bufSizes)])
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if err := <-wrote; err != nil {
		return err
	}
	return diff(data, got)
}

// checkNeverReads plays a client that sends forever and never reads. A
// correct server stops reading once its writes back block, so the client's
// writes block too (here: a write makes no progress for stall). A server that
// keeps reading into memory lets the client write without end; past limit
// (far more than loopback's socket buffers hold) the check fails.
func checkNeverReads(ctx context.Context, addr string) error {
	const (
		stall = 2 * time.Second
		limit = 128 << 20
	)
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	chunk := random(64 << 10)
	var written int64
	for written < limit {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = c.SetWriteDeadline(time.Now().Add(stall))
		n, err := c.Write(chunk)
		written += int64(n)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil // pushed back: the server stopped reading
		}
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", written, err)
		}
	}
	return fmt.Errorf("wrote %d MiB without the server pushing back: it buffers without bound", written>>20)
}

// checkResetMidStream resets a connection (RST, SO_LINGER 0) while the
// server is echoing 1 MiB to it, then keeps dialling new clients for a
// second: each must be echoed. A server that stops serving, or dies, when
// one connection fails is caught once it has seen the reset.
func checkResetMidStream(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	if _, err := c.Write(random(1 << 20)); err != nil {
		c.Close()
		return fmt.Errorf("write before the reset: %w", err)
	}
	_ = c.SetLinger(0) // Close sends RST instead of FIN
	c.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range 10 {
		if err := checkSingleByte(ctx, addr); err != nil {
			return fmt.Errorf("client %d after the reset: %w", i+1, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// checkPause sends a message, says nothing for 2 s, and sends another: a
// client that pauses (someone typing into nc) is not an idle one.
func checkPause(ctx context.Context, addr string) error {
	c, err := testutil.DialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := roundTrip(c, []byte("before the pause\n")); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Second): // the pause is what is checked
	}
	if err := roundTrip(c, []byte("after the pause\n")); err != nil {
		return fmt.Errorf("after 2 s of silence: %w", err)
	}
	return nil
}

// Broken servers, each with one classic bug, for the test below.
// stop is closed when the test ends.
type brokenHandler func(c net.Conn, stop <-chan struct{})

var brokenServers = map[string]brokenHandler{
	// Closes a client silent for half a second: an idle timeout of
	// seconds where the page promises minutes.
	"impatient": func(c net.Conn, _ <-chan struct{}) {
		buf := make([]byte, 4096)
		for {
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := c.Read(buf)
			if _, werr := c.Write(buf[:n]); err != nil || werr != nil {
				return
			}
		}
	},
	// Never answers.
	"silent": func(c net.Conn, _ <-chan struct{}) { _, _ = io.Copy(io.Discard, c) },
	// Echoes, but when the client half-closes it never closes its side.
	"ignores-eof": func(c net.Conn, stop <-chan struct{}) {
		_, _ = io.Copy(c, c)
		<-stop // keeps the connection open
	},
	// Translates newlines like a text-mode file.
	"text-mode": func(c net.Conn, _ <-chan struct{}) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if _, werr := c.Write(bytes.ReplaceAll(buf[:n], []byte("\n"), []byte("\r\n"))); err != nil || werr != nil {
				return
			}
		}
	},
	// The source text's bug: one recv(1024), one send, done.
	"one-read": func(c net.Conn, _ <-chan struct{}) {
		buf := make([]byte, 1024)
		n, _ := c.Read(buf)
		_, _ = c.Write(buf[:n])
	},
	// Echoes only whole 512-byte blocks and drops the tail.
	"fixed-blocks": func(c net.Conn, _ <-chan struct{}) {
		buf := make([]byte, 512)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	},
	// Reads everything into memory as fast as it arrives and writes it back
	// from another goroutine: no back-pressure.
	"unbounded": func(c net.Conn, _ <-chan struct{}) {
		q := make(chan []byte, 1<<16)
		go func() {
			for b := range q {
				if _, err := c.Write(b); err != nil {
					break
				}
			}
			for range q { // drain after a write error
			}
		}()
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := c.Read(buf)
			if n > 0 {
				q <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	},
}

// ANCHOR: catches
// TestConformanceCatchesBrokenServers shows the rubric has teeth: each check
// must fail against the broken server named here (and pass against ours,
// which TestConformance shows).
func TestConformanceCatchesBrokenServers(t *testing.T) {
	if os.Getenv("ECHO_ADDR") != "" {
		t.Skip("ECHO_ADDR is set: grading that server only")
	}
	catches := map[string]string{
		"SingleByte":      "silent",
		"EmptyConnection": "ignores-eof",
		"AllByteValues":   "text-mode",
		"Stream16MiB":     "one-read",
		"Concurrent500":   "one-at-a-time",
		"HalfClose":       "ignores-eof",
		"OddSizes":        "fixed-blocks",
		"NeverReads":      "unbounded",
		"ResetMidStream":  "dies-on-reset",
		"Pause":           "impatient",
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			broken := catches[c.name]
			require.NotEmpty(t, broken, "no broken server shows %s can fail", c.name)
			addr := startBroken(t, broken)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err := c.run(ctx, addr)
			require.Error(t, err, "%s passed against the %q server", c.name, broken)
			t.Logf("%s against %q: %v", c.name, broken, err)
		})
	}
}

// ANCHOR_END: catches

// startBroken serves a broken handler on 127.0.0.1:0 until the test ends.
// "one-at-a-time" is the loop of the source text: accept, echo until the
// client closes, and only then accept the next.
// "dies-on-reset" stops echoing (it closes every new connection at once)
// after a connection ends with an error: the server whose handler exits
// the process, or stops its loop, on a client's reset.
func startBroken(t *testing.T, name string) string {
	switch name {
	case "one-at-a-time":
		return testutil.StartBroken(t, true, func(c net.Conn, _ <-chan struct{}) { _, _ = io.Copy(c, c) })
	case "dies-on-reset":
		var dead atomic.Bool
		return testutil.StartBroken(t, false, func(c net.Conn, _ <-chan struct{}) {
			if dead.Load() {
				return
			}
			if _, err := io.Copy(c, c); err != nil {
				dead.Store(true)
			}
		})
	}
	return testutil.StartBroken(t, false, brokenServers[name])
}
