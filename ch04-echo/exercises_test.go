package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
	"github.com/tcp-in-go/course/tests/testutil"
)

// The tests that grade the chapter's exercises (see the page's Exercises).

// TestQuota grades exercise-quota: with -max-bytes N a client gets the
// first N bytes it sent echoed, then EOF, whatever it sent beyond them; the
// connection's closed line says reason=quota; a client that sends less is
// served as usual; each connection has a quota of its own.
func TestQuota(t *testing.T) {
	exercise.Graded(t, "exercise-quota")
	const quota = 100_000 // not a multiple of either buffer size
	var logs testutil.LogBuffer
	srv := newServer(Config{MaxBytes: quota, IdleTimeout: time.Minute, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	addr := startServer(t, srv)

	// sendAll sends data, half-closes, waits until the server has ended the
	// connection, and only then reads: the echo must still be there.
	sendAll := func(t *testing.T, data []byte) []byte {
		t.Helper()
		c := testutil.Dial(t, addr).(*net.TCPConn)
		sent := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.CloseWrite()
			}
			sent <- err
		}()
		require.Eventually(t, func() bool { return srv.Stats().ConnsOpen == 0 }, 10*time.Second, 5*time.Millisecond,
			"the server ends the connection (the client has half-closed)")
		got, err := testutil.ReadToEOF(c)
		require.NoError(t, err, "read the echo after the server closed: a reset loses it")
		require.NoError(t, <-sent)
		return got
	}
	closedLines := func() []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "msg=closed") {
				out = append(out, l)
			}
		}
		return out
	}

	// Over the quota, twice: each connection has its own.
	for i := range 2 {
		data := random(quota + 50_000)
		got := sendAll(t, data)
		require.NoError(t, diff(data[:quota], got), "connection %d: the first %d bytes, and nothing more", i+1, quota)
		lines := closedLines()
		require.Len(t, lines, i+1)
		assert.Contains(t, lines[i], "reason=quota", "connection %d's closed line", i+1)
		assert.Contains(t, lines[i], "bytes_in=100000 bytes_out=100000")
	}
	// A client that does not half-close reads its echo, then the server's
	// FIN, at once: the server does not wait for the client's FIN first.
	c := testutil.Dial(t, addr)
	data := random(quota + 1000)
	_, err := c.Write(data)
	require.NoError(t, err)
	begin := time.Now()
	got, err := testutil.ReadToEOF(c)
	require.NoError(t, err)
	require.NoError(t, diff(data[:quota], got))
	assert.Less(t, time.Since(begin), goodbyeWait, "EOF comes with the echo, not after the goodbye's wait")
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return len(closedLines()) == 3 }, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, closedLines()[2], "reason=quota")

	// Under the quota, in small pieces: all of it, and the usual end.
	c = testutil.Dial(t, addr)
	for range 10 {
		echoOnce(t, c, strings.Repeat("x", 999))
	}
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	got, err = testutil.ReadToEOF(c)
	require.NoError(t, err)
	assert.Empty(t, got)
	require.Eventually(t, func() bool { return len(closedLines()) == 4 }, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, closedLines()[3], "reason=eof", "a client under its quota")
}

// silentServer accepts connections and reads them without ever answering
// or closing, until the test ends.
func silentServer(t *testing.T) string {
	return testutil.StartBroken(t, false, func(c net.Conn, stop <-chan struct{}) {
		_, _ = io.Copy(io.Discard, c)
		<-stop
	})
}

// dripServer echoes one byte at a time, every 100 ms: slow, never silent
// for long.
func dripServer(t *testing.T) string {
	return testutil.StartBroken(t, false, func(c net.Conn, stop <-chan struct{}) {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		b := make([]byte, 1)
		for {
			if _, err := c.Read(b); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
}

// TestClientIdleTimeout grades exercise-client-idle: with -idle-timeout the
// client gives up on a server silent that long, saying why, in both of its
// modes; a slow server that keeps sending is never idle, however long the
// echo takes; and without the flag the client waits (until -timeout).
func TestClientIdleTimeout(t *testing.T) {
	exercise.Graded(t, "exercise-client-idle")
	ctx := context.Background()
	const idle = 300 * time.Millisecond
	silent := silentServer(t)
	for _, cfg := range []clientConfig{
		{addr: silent, msg: "hello", timeout: 8 * time.Second, idle: idle},
		{addr: silent, n: 3, size: 100, timeout: 8 * time.Second, idle: idle},
	} {
		begin := time.Now()
		err := runClient(ctx, cfg, nil, io.Discard)
		took := time.Since(begin)
		require.Error(t, err, "a silent server, -idle-timeout %s", idle)
		assert.Contains(t, err.Error(), "-idle-timeout", "the error says which limit ran out")
		assert.GreaterOrEqual(t, took, idle, "not before -idle-timeout")
		assert.Less(t, took, 5*time.Second, "soon after -idle-timeout, not at -timeout")
	}

	// 12 bytes at one every 100 ms: 1.2 s in all, four times -idle-timeout.
	var out bytes.Buffer
	err := runClient(ctx, clientConfig{addr: dripServer(t), msg: "drip, drip.", timeout: 30 * time.Second, idle: idle}, nil, &out)
	require.NoError(t, err, "a server that keeps sending is not idle")
	assert.Equal(t, "drip, drip.\n", out.String())

	// Without -idle-timeout only -timeout ends the wait.
	begin := time.Now()
	err = runClient(ctx, clientConfig{addr: silent, msg: "hello", timeout: time.Second}, nil, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-timeout")
	assert.GreaterOrEqual(t, time.Since(begin), time.Second)
}
