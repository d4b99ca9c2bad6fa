package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// lines is a concurrency-safe io.Writer that collects printed lines and
// lets a test wait until a given number have arrived (no sleeping).
type lines struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSuffix(l.buf.String(), "\n"), "\n")
}

// waitFor blocks until at least n lines were printed, or fails after 10 s.
func (l *lines) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := l.all(); len(got) >= n && got[0] != "" {
			return got
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("want %d printed lines, have %q", n, l.all())
		}
	}
}

// stays checks that no more than n lines are printed within d: what a
// client that must wait sees (a bounded wait for something not to happen).
func (l *lines) stays(t *testing.T, n int, d time.Duration, why string) {
	t.Helper()
	deadline := time.After(d)
	for {
		if got := l.all(); len(got) > n {
			t.Fatalf("%s: want %d printed lines, have %q", why, n, got)
		}
		select {
		case <-l.changed:
		case <-deadline:
			return
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// startServer runs a Server in-process on 127.0.0.1:0.
func startServer(t *testing.T, maxLine int, idle time.Duration) (string, *lines, *Server) {
	out := newLines()
	srv := NewServer(Config{MaxLine: maxLine, IdleTimeout: idle, Out: out, Log: testLogger(t)})
	addr := testutil.StartServer(t, srv.Serve, srv.Shutdown)
	return addr, out, srv
}

// startLogged is startServer with the server's log in a LogBuffer, so that
// a test can wait for a line of it.
func startLogged(t *testing.T, maxLine int, idle time.Duration) (string, *lines, *testutil.LogBuffer) {
	out, logs := newLines(), &testutil.LogBuffer{}
	srv := NewServer(Config{MaxLine: maxLine, IdleTimeout: idle, Out: out,
		Log: slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil))})
	return testutil.StartServer(t, srv.Serve, srv.Shutdown), out, logs
}

func TestPrintsEachLine(t *testing.T) {
	addr, out, _ := startServer(t, 100, time.Minute)
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, "hello\nsecond line\r\nno newline at the end")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, []string{"Received: hello", "Received: second line", "Received: no newline at the end"}, out.waitFor(t, 3))
}

// ANCHOR: test-split
// TestSplitMessage sends one line in three writes, waiting between them, so
// it reaches the server as three TCP segments. The server must still print
// it once, whole.
func TestSplitMessage(t *testing.T) {
	addr, out, _ := startServer(t, 100, time.Minute)
	c := testutil.Dial(t, addr).(*net.TCPConn)
	for _, piece := range []string{"hel", "lo wor", "ld\n"} {
		_, err := io.WriteString(c, piece)
		require.NoError(t, err)
	}
	require.NoError(t, c.CloseWrite())
	_, _ = io.Copy(io.Discard, c) // the server closes after our EOF
	assert.Equal(t, []string{"Received: hello world"}, out.waitFor(t, 1))
}

// ANCHOR_END: test-split

// ANCHOR: test-naive
// TestNaiveSingleReadIsWrong runs the source text's single-Read handler. The
// client sends "hel", waits until the handler has printed, then sends the
// rest: the handler prints a fragment and never sees the rest of the line.
func TestNaiveSingleReadIsWrong(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	out := newLines()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err == nil {
			naiveHandle(conn, out)
		}
	}()

	c := testutil.Dial(t, ln.Addr().String())
	_, err = io.WriteString(c, "hel")
	require.NoError(t, err)
	out.waitFor(t, 1) // the single Read returned only what had arrived
	_, _ = io.WriteString(c, "lo world\n")
	<-done
	assert.Equal(t, []string{"Received: hel"}, out.all(), "one Read is not one message")
}

// ANCHOR_END: test-naive

func TestManyClientsAtOnce(t *testing.T) {
	addr, out, _ := startServer(t, 100, time.Minute)
	const clients, perClient = 50, 20
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			w := bufio.NewWriter(c)
			for j := range perClient {
				fmt.Fprintf(w, "client %d line %d\n", i, j)
				if j%5 == 0 {
					_ = w.Flush() // spread the lines over several segments
				}
			}
			assert.NoError(t, w.Flush())
		})
	}
	wg.Wait()
	got := out.waitFor(t, clients*perClient)
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for i := range clients {
		for j := range perClient {
			assert.Equal(t, 1, seen[fmt.Sprintf("Received: client %d line %d", i, j)], "client %d line %d", i, j)
		}
	}
}

func TestLineLimit(t *testing.T) {
	addr, out, _ := startServer(t, 16, time.Minute)

	// Exactly the limit is fine.
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, strings.Repeat("a", 16)+"\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"Received: " + strings.Repeat("a", 16)}, out.waitFor(t, 1))

	// One byte more: the client is told why and disconnected...
	bad := testutil.Dial(t, addr)
	require.NoError(t, bad.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(bad, strings.Repeat("b", 17)+"\n")
	require.NoError(t, err)
	reply, err := io.ReadAll(bad)
	require.NoError(t, err, "the server closes the connection after its error line")
	assert.Equal(t, "error: line longer than 16 bytes; closing\n", string(reply))

	// ...and everyone else is still served.
	_, err = io.WriteString(c, "still here\n")
	require.NoError(t, err)
	assert.Equal(t, "Received: still here", out.waitFor(t, 2)[1])
}

func TestIdleClientIsDisconnected(t *testing.T) {
	addr, _, _ := startServer(t, 100, 100*time.Millisecond)
	c := testutil.Dial(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	start := time.Now()
	n, err := c.Read(make([]byte, 1))
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF, "the server closes a silent client")
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestGracefulShutdownLetsClientsFinish(t *testing.T) {
	out := newLines()
	srv := NewServer(Config{MaxLine: 100, Out: out, Log: testLogger(t)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	c := testutil.Dial(t, ln.Addr().String())
	_, err = io.WriteString(c, "first\n")
	require.NoError(t, err)
	out.waitFor(t, 1) // the connection is being handled

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	assert.ErrorIs(t, <-served, ErrServerClosed, "Serve returns once the listener is closed")
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "no new connections after Shutdown")

	// The open connection still finishes its work.
	_, err = io.WriteString(c, "last words\n")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.NoError(t, <-shut)
	assert.Equal(t, []string{"Received: first", "Received: last words"}, out.all())
}

func TestShutdownDrainTimeoutClosesStragglers(t *testing.T) {
	out, logs := newLines(), &testutil.LogBuffer{}
	srv := NewServer(Config{MaxLine: 100, Out: out, Log: slog.New(slog.NewTextHandler(logs, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	c := testutil.Dial(t, ln.Addr().String())
	_, err = io.WriteString(c, "hi\n")
	require.NoError(t, err)
	out.waitFor(t, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded)
	<-served
	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "a client still connected after the drain timeout is closed")
	assert.Contains(t, logs.String(), " lines=1 reason=shutdown", "its last line says why")
}

// TestCloseWithUnreadBytesResets shows the kernel's side of the lesson: a
// server that writes a line and closes with the client's bytes unread sends
// a reset. On Linux the line that had already arrived can still be read,
// 50 ms later; the read after it fails with "connection reset by peer"
// instead of a clean end of stream.
func TestCloseWithUnreadBytesResets(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("what a reset leaves readable depends on the system; this is Linux's behaviour")
	}
	ln := listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = conn.Read(make([]byte, 16)) // some of what the client sent
		_, _ = io.WriteString(conn, "last words\n")
		conn.Close() // the rest unread: a reset
	}()
	c := testutil.Dial(t, ln.Addr().String())
	_, err := io.WriteString(c, strings.Repeat("x", 64<<10))
	require.NoError(t, err)
	<-done
	time.Sleep(50 * time.Millisecond) // the client reads late: the behaviour under test
	got, err := io.ReadAll(c)
	assert.Equal(t, "last words\n", string(got), "Linux keeps what had arrived")
	assert.True(t, isReset(err), "then the stream ends with a reset, not EOF: %v", err)
}

func TestClient(t *testing.T) {
	addr, out, _ := startServer(t, 16, time.Minute)
	var reply strings.Builder
	ctx := t.Context()
	require.NoError(t, RunClient(ctx, addr, "hello", nil, &reply))
	require.NoError(t, RunClient(ctx, addr, "", strings.NewReader("one\ntwo\n"), &reply))
	got := out.waitFor(t, 3)
	assert.ElementsMatch(t, []string{"Received: hello", "Received: one", "Received: two"}, got)
	assert.Empty(t, reply.String(), "the server replies only to report errors")

	// The server's error reaches the user.
	require.NoError(t, RunClient(ctx, addr, strings.Repeat("x", 40), nil, &reply))
	assert.Equal(t, "error: line longer than 16 bytes; closing\n", reply.String())
}

func TestClientRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	err = RunClient(t.Context(), addr, "hi", nil, io.Discard)
	assert.ErrorContains(t, err, "connection refused")
}

// TestDeadlinePushedBeforeEveryLine: the idle timeout measures silence, not
// the session's length. A client that sends a line every 0.6×IdleTimeout for
// 3×IdleTimeout stays connected throughout; a deadline set once, before the
// loop, would cut it off after the first IdleTimeout. Then it falls silent
// and is disconnected.
func TestDeadlinePushedBeforeEveryLine(t *testing.T) {
	const idle = 500 * time.Millisecond
	addr, out, _ := startServer(t, 100, idle)
	c := testutil.Dial(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	// A ticker paces the client (it is the behaviour under test, not a way
	// to wait for the server).
	tick := time.NewTicker(idle * 6 / 10)
	defer tick.Stop()
	start := time.Now()
	const n = 5 // the fifth line is sent at 3×IdleTimeout
	for i := 1; i <= n; i++ {
		<-tick.C
		_, err := fmt.Fprintf(c, "line %d\n", i)
		require.NoError(t, err)
		// Every line so far is printed: the connection is still served.
		assert.Equal(t, fmt.Sprintf("Received: line %d", i), out.waitFor(t, i)[i-1])
	}
	require.GreaterOrEqual(t, time.Since(start), 3*idle, "the session outlived IdleTimeout several times")
	// Silence: the server closes the connection after one IdleTimeout.
	silent := time.Now()
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the server closes a client once it falls silent")
	assert.GreaterOrEqual(t, time.Since(silent), idle*8/10)
}

// TestLineLimitAtTheDefault: with the default -max-line of 4096 (the size
// at which the scanner's buffer stops growing by itself), a line of exactly
// 4096 bytes is still accepted, and one byte more is not.
func TestLineLimitAtTheDefault(t *testing.T) {
	addr, out, _ := startServer(t, 4096, time.Minute)
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, strings.Repeat("a", 4096)+"\n")
	require.NoError(t, err)
	assert.Equal(t, "Received: "+strings.Repeat("a", 4096), out.waitFor(t, 1)[0])

	bad := testutil.Dial(t, addr)
	require.NoError(t, bad.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(bad, strings.Repeat("b", 4097)+"\n")
	require.NoError(t, err)
	reply, err := io.ReadAll(bad)
	require.NoError(t, err)
	assert.Equal(t, "error: line longer than 4096 bytes; closing\n", string(reply))
}

// TestLogCountsLines: the closing log line says how many lines were served.
func TestLogCountsLines(t *testing.T) {
	logs := &testutil.LogBuffer{}
	srv := NewServer(Config{MaxLine: 100, Out: newLines(), Log: slog.New(slog.NewTextHandler(logs, nil))})
	addr := testutil.StartServer(t, srv.Serve, srv.Shutdown)
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, "one\ntwo\nthree\n")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	logs.WaitFor(t, "msg=closed", 10*time.Second)
	assert.Contains(t, logs.String(), " lines=3 reason=eof")
}

// TestLingeringCloseReadsWhatTheClientStillSends: after the error line the
// server keeps reading (and discarding) for a while instead of closing at
// once, so a client that was still sending when it was refused gets a clean
// end of stream, not a reset.
func TestLingeringCloseReadsWhatTheClientStillSends(t *testing.T) {
	addr, _, _ := startServer(t, 16, time.Minute)
	c := testutil.Dial(t, addr).(*net.TCPConn)
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := io.WriteString(c, strings.Repeat("b", 17)+"\n")
	require.NoError(t, err)
	reply, err := io.ReadAll(c) // the error line, then the server's FIN
	require.NoError(t, err)
	assert.Equal(t, "error: line longer than 16 bytes; closing\n", string(reply))
	// Still sending: a server that had closed would answer with a reset.
	_, err = io.WriteString(c, "the rest of what I was saying\n")
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "a clean close, not a reset")
}

// TestLineLimitCountsTheCR: the limit counts every byte before the "\n",
// the "\r" of a "\r\n" ending too (as the Python server does).
func TestLineLimitCountsTheCR(t *testing.T) {
	addr, out, _ := startServer(t, 16, time.Minute)
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, strings.Repeat("a", 15)+"\r\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"Received: " + strings.Repeat("a", 15)}, out.waitFor(t, 1))

	bad := testutil.Dial(t, addr)
	_, err = io.WriteString(bad, strings.Repeat("b", 16)+"\r\n")
	require.NoError(t, err)
	reply, err := io.ReadAll(bad)
	require.NoError(t, err)
	assert.Equal(t, "error: line longer than 16 bytes; closing\n", string(reply))
}

// TestRefusalSendsFINAtOnce: the lingering close sends FIN first, so a
// client that is still connected reads the error line and then EOF at once,
// not when the server gives up lingering 2 s later.
func TestRefusalSendsFINAtOnce(t *testing.T) {
	addr, _, _ := startServer(t, 16, time.Minute)
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, strings.Repeat("b", 17)+"\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
	reply, err := io.ReadAll(c)
	require.NoError(t, err, "EOF within 1 s, while we are still connected: the server's FIN came first")
	assert.Equal(t, "error: line longer than 16 bytes; closing\n", string(reply))
}

// TestLingeringCloseIsBounded: a client that keeps trickling bytes after
// its line was refused cannot hold the connection: the server closes 2 s
// after the refusal.
func TestLingeringCloseIsBounded(t *testing.T) {
	addr, _, _ := startServer(t, 16, time.Minute)
	checkLingerBounded(t, addr)
}

// checkLingerBounded sends a line over a limit of 16 bytes to addr, then a
// byte every 100 ms. Once the server has closed, its kernel answers our next
// byte with a reset, and the write after that fails: that must happen about
// 2 s after the refusal.
func checkLingerBounded(t *testing.T, addr string) {
	c := testutil.Dial(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, strings.Repeat("b", 17)+"\n")
	require.NoError(t, err)
	_, err = bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err, "the error line")
	refused := time.Now()
	// A ticker paces the trickle: the client's behaviour under test.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Since(refused) < 6*time.Second {
		<-tick.C
		if _, err := c.Write([]byte("x")); err != nil {
			took := time.Since(refused)
			assert.Greater(t, took, time.Second, "the server lingered before it closed")
			assert.Less(t, took, 4*time.Second, "closed about 2 s after the refusal")
			return
		}
	}
	t.Fatal("after 6 s the server still read our trickle: the lingering close must be bounded in time")
}

// TestLingeringCloseStopsAfter1MiB: a client that floods after its line was
// refused is cut off once the server has discarded 1 MiB, long before the
// 2 s the lingering close waits at most.
func TestLingeringCloseStopsAfter1MiB(t *testing.T) {
	addr, _, _ := startServer(t, 16, time.Minute)
	c := testutil.Dial(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, strings.Repeat("b", 17)+"\n")
	require.NoError(t, err)
	_, err = bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err, "the error line")
	refused := time.Now()
	chunk := make([]byte, 64<<10)
	for time.Since(refused) < 6*time.Second {
		if _, err := c.Write(chunk); err != nil {
			assert.Less(t, time.Since(refused), 1500*time.Millisecond, "a flood ends the lingering close after 1 MiB, not after 2 s")
			return
		}
	}
	t.Fatal("after 6 s the server still read our flood: the lingering close must be bounded in bytes")
}
