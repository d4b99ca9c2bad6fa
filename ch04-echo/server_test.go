package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/debugserver"
	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

// startServer runs srv in-process on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T, srv *Server) string {
	t.Helper()
	return testutil.StartServer(t, srv.Serve, srv.Shutdown)
}

// newServer is NewServer with a quiet log unless the test gives one.
func newServer(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = quietLog()
	}
	return NewServer(cfg)
}

func echoOnce(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	require.NoError(t, roundTrip(c, []byte(msg)))
}

func TestClientResetMidStream(t *testing.T) {
	srv := newServer(Config{})
	addr := startServer(t, srv)

	c := testutil.Dial(t, addr).(*net.TCPConn)
	_, err := c.Write(random(1 << 20)) // the server is busy echoing this...
	require.NoError(t, err)
	require.NoError(t, c.SetLinger(0)) // ...when Close sends RST instead of FIN
	require.NoError(t, c.Close())

	require.Eventually(t, func() bool { return srv.Stats().ConnsOpen == 0 }, 10*time.Second, 5*time.Millisecond, "the reset connection is gone")
	echoOnce(t, testutil.Dial(t, addr), "still serving")
}

func TestThousandClientsAtOnce(t *testing.T) {
	addr := startServer(t, newServer(Config{}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, concurrentClients(ctx, addr, 1000))
}

// ANCHOR: test-idle
// TestIdleTimeoutFreesSilentClients: a silent client is closed after
// IdleTimeout, a talking one never is, in the plain server and in the tuned
// one (which moves its deadline only now and then).
func TestIdleTimeoutFreesSilentClients(t *testing.T) {
	const idle = time.Second
	for name, cfg := range map[string]Config{
		"plain": {IdleTimeout: idle},
		"tuned": {Tuned: true, IdleTimeout: idle},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(cfg)
			addr := startServer(t, srv)

			start := time.Now() // before Dial: the server's clock starts at accept, after this
			silent := testutil.Dial(t, addr)
			n, err := silent.Read(make([]byte, 1))
			assert.Equal(t, 0, n)
			assert.ErrorIs(t, err, io.EOF, "the server should close a silent client")
			assert.GreaterOrEqual(t, time.Since(start), idle)

			// A client that keeps talking is never idle, however long it stays.
			busy := testutil.Dial(t, addr)
			tick := time.NewTicker(idle / 5)
			defer tick.Stop()
			for range 10 { // two idle timeouts in all
				<-tick.C
				echoOnce(t, busy, "ping")
			}
			require.Eventually(t, func() bool { return srv.Stats().ConnsOpen == 1 }, 10*time.Second, 5*time.Millisecond,
				"only the busy client is open")
		})
	}
}

// ANCHOR_END: test-idle

func TestMaxConnsQueuesExtraClients(t *testing.T) {
	srv := newServer(Config{MaxConns: 2})
	addr := startServer(t, srv)
	c1, c2 := testutil.Dial(t, addr), testutil.Dial(t, addr)
	echoOnce(t, c1, "one")
	echoOnce(t, c2, "two")

	// The third handshake completes (the kernel queues it), but the server
	// does not accept it while both slots are taken.
	c3 := testutil.Dial(t, addr)
	_, err := c3.Write([]byte("three"))
	require.NoError(t, err)
	require.NoError(t, c3.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = c3.Read(make([]byte, 5))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "third client served beyond -max-conns: %v", err)
	assert.EqualValues(t, 2, srv.Stats().ConnsOpen)

	// When one leaves, the waiting client is served; the other is unaffected.
	require.NoError(t, c1.Close())
	require.NoError(t, c3.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, 5)
	_, err = io.ReadFull(c3, got)
	require.NoError(t, err)
	assert.Equal(t, "three", string(got))
	echoOnce(t, c2, "still here")
}

// TestShutdownClosesStragglers: a client that never reads keeps its
// connection busy; when the drain window ends, Shutdown closes it.
func TestShutdownClosesStragglers(t *testing.T) {
	srv := newServer(Config{Log: quietLog()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	c := testutil.Dial(t, ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, checkNeverReads(ctx, ln.Addr().String()))
	// A straggler: c's writes fill the buffers (a server that reads in small
	// pieces pushes back sooner; two seconds is enough either way).
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Write(random(8 << 20))
	var ne net.Error
	require.True(t, err == nil || errors.As(err, &ne) && ne.Timeout(), "%v", err)

	dctx, dcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer dcancel()
	err = srv.Shutdown(dctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, <-served, serve.ErrServerClosed)
	assert.EqualValues(t, 0, srv.Stats().ConnsOpen)
}

// TestSIGTERMDrains runs the built program: after SIGTERM it stops accepting,
// finishes echoing what a client already sent, closes idle clients, and
// exits 0.
func TestSIGTERMDrains(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no SIGTERM to send to a process")
	}
	bin := testutil.BuildGo(t, ".")
	p := testutil.StartProcess(t, exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-drain-timeout", "30s"))

	idle := testutil.Dial(t, p.Addr)
	echoOnce(t, idle, "hello")
	busy := testutil.Dial(t, p.Addr).(*net.TCPConn)
	data := random(8 << 20)
	wrote := make(chan error, 1)
	go func() { _, err := busy.Write(data); wrote <- err }() // not read yet: the server's writes block

	exited := make(chan error, 1)
	go func() { exited <- p.Signal(syscall.SIGTERM, 30*time.Second) }()
	p.WaitOutput(t, "msg=draining", 10*time.Second) // the server drains

	got := make([]byte, len(data))
	_, err := io.ReadFull(busy, got)
	require.NoError(t, err, "the echo in flight must not be cut short")
	require.NoError(t, <-wrote)
	require.NoError(t, diff(data, got))
	_, err = busy.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	_, err = idle.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)

	require.NoError(t, <-exited, "exit status after SIGTERM")
	assert.Contains(t, p.Output(), "msg=stopped")
	_, err = net.DialTimeout("tcp", p.Addr, time.Second)
	assert.Error(t, err, "the listener is closed")
}

func TestDebugEndpoint(t *testing.T) {
	srv := newServer(Config{})
	addr := startServer(t, srv)
	c := testutil.Dial(t, addr)
	echoOnce(t, c, "count me")
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return srv.Stats().ConnsOpen == 0 }, 10*time.Second, 5*time.Millisecond, "the connection is closed")

	dbg, stop, err := debugserver.Start(context.Background(), "127.0.0.1:0", "echo", func() any { return srv.Stats() }, quietLog())
	require.NoError(t, err)
	defer stop()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get("http://" + dbg + "/debug/vars")
	require.NoError(t, err)
	var vars struct{ Echo Stats }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&vars))
	resp.Body.Close()
	assert.EqualValues(t, 1, vars.Echo.ConnsTotal)
	assert.EqualValues(t, len("count me"), vars.Echo.BytesIn)
	assert.EqualValues(t, len("count me"), vars.Echo.BytesOut)

	resp, err = hc.Get("http://" + dbg + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "goroutine profile")

	_, _, err = debugserver.Start(context.Background(), "0.0.0.0:0", "echo", func() any { return srv.Stats() }, quietLog())
	assert.ErrorContains(t, err, "loopback")
}

// TestIdleConnectionHoldsNoLargeBuffer: a burst of bulk data makes the
// connection borrow a 64 KiB buffer; once the burst is echoed and the
// connection waits again, the buffer is back in the pool.
func TestIdleConnectionHoldsNoLargeBuffer(t *testing.T) {
	srv := newServer(Config{})
	addr := startServer(t, srv)
	c := testutil.Dial(t, addr).(*net.TCPConn)
	require.NoError(t, roundTrip(c, random(4<<20)))
	assert.Positive(t, srv.Stats().Borrows, "bulk data should be read into large buffers")
	require.Eventually(t, func() bool {
		return srv.Stats().LargeBufs == 0
	}, 10*time.Second, 5*time.Millisecond, "no large buffer is held by the idle connection")
	assert.EqualValues(t, 1, srv.Stats().ConnsOpen)
	echoOnce(t, c, "small again")
}

func TestClientCommand(t *testing.T) {
	addr := startServer(t, newServer(Config{}))
	ctx := context.Background()

	in := random(300 << 10)
	var out bytes.Buffer
	require.NoError(t, runClient(ctx, clientConfig{addr: addr, timeout: 30 * time.Second}, bytes.NewReader(in), &out))
	require.NoError(t, diff(in, out.Bytes()))

	out.Reset()
	require.NoError(t, runClient(ctx, clientConfig{addr: addr, n: 50, size: 1000, timeout: 30 * time.Second}, nil, &out))
	assert.Contains(t, out.String(), "verified messages=50 size=1000 bytes=50000")

	// Against the source text's one-read server the client says what went wrong.
	bad := startBroken(t, "one-read")
	err := runClient(ctx, clientConfig{addr: bad, timeout: 30 * time.Second}, bytes.NewReader(in), io.Discard)
	assert.Error(t, err)
	err = runClient(ctx, clientConfig{addr: bad, n: 10, size: 1000, timeout: 30 * time.Second}, nil, io.Discard)
	assert.Error(t, err)
}

// TestClientHalfCloses: a server may wait for the client's FIN before it
// echoes (this one reads everything first); the client must send it.
func TestClientHalfCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		all, _ := io.ReadAll(c)
		_, _ = c.Write(all)
	}()
	defer func() { ln.Close(); <-done }()
	var out bytes.Buffer
	err = runClient(context.Background(), clientConfig{addr: ln.Addr().String(), msg: "after FIN", timeout: 5 * time.Second}, nil, &out)
	require.NoError(t, err)
	assert.Equal(t, "after FIN\n", out.String())
}

// TestTranscript records the session shown in the book: the client sends a
// line, and the server logs the connection.
func TestTranscript(t *testing.T) {
	var logs testutil.LogBuffer
	srv := newServer(Config{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	addr := startServer(t, srv)
	var out bytes.Buffer
	require.NoError(t, runClient(context.Background(),
		clientConfig{addr: addr, msg: "hello, echo", timeout: 30 * time.Second}, nil, &out))
	logs.WaitFor(t, "msg=closed", 10*time.Second)
	got := "$ go run ./ch04-echo client -msg 'hello, echo'\n" + out.String() +
		"\n# meanwhile, the server's log:\n" + logs.String()
	testutil.Golden(t, "testdata/client-msg.txt", testutil.Normalize(got, "65432"))
}

func TestClientProgressLine(t *testing.T) {
	var buf testutil.LogBuffer // written from showProgress's goroutine
	var done atomic.Int64
	done.Store(512 << 20)
	stop := showProgress(&buf, &done, 1<<30, time.Now())
	buf.WaitFor(t, "verified 512 of 1024 MiB (50%)", 10*time.Second)
	stop()
	stop() // twice is fine
	assert.True(t, strings.HasSuffix(buf.String(), "\r\033[K"), "stop clears the line: %q", buf.String())
}

// TestHold: the memory script's helper opens n connections, each echoed once,
// holds them until cancelled, then closes them all.
func TestHold(t *testing.T) {
	srv := newServer(Config{})
	addr := startServer(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	held := make(chan error, 1)
	go func() { held <- hold(ctx, addr, 50, quietLog()) }()
	require.Eventually(t, func() bool {
		st := srv.Stats()
		return st.ConnsOpen == 50 && st.BytesOut == 50
	}, 10*time.Second, 5*time.Millisecond, "50 connections are open, each echoed one byte")
	cancel()
	require.NoError(t, <-held)
	require.Eventually(t, func() bool { return srv.Stats().ConnsOpen == 0 }, 10*time.Second, 5*time.Millisecond, "all are closed")
}

// TestClientSendsAndReceivesAtOnce: the client reads the echo while it is
// still sending. One that sent everything first would deadlock once the
// bytes in flight exceed the socket buffers of both sides (a few MiB each
// way on loopback): 32 MiB is well past them, and the timeout turns the
// deadlock into a failure.
func TestClientSendsAndReceivesAtOnce(t *testing.T) {
	addr := startServer(t, newServer(Config{IdleTimeout: time.Minute}))
	const size = 32 << 20
	var got countingWriter
	err := runClient(context.Background(), clientConfig{addr: addr, timeout: 20 * time.Second},
		io.LimitReader(zeros{}, size), &got)
	require.NoError(t, err, "a client that sends everything before reading deadlocks")
	assert.Equal(t, int64(size), got.n, "every byte came back")
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// countingWriter counts what is written to it, and keeps none of it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n += int64(len(b))
	return len(b), nil
}
