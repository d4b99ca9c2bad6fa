package main

// The grading tests of the chapter's exercises: QUIT (exercise-quit) and
// -max-conns (exercise-max-conns). The Python exercise is graded in
// python/tests/test_ch01_overview.py and by interop_test.go.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestQuitSaysGoodbye: QUIT gets "bye" and the server's FIN, even from a
// client that had sent a lot more after QUIT, and the server keeps reading
// (a lingering close): a client still talking 50 ms later is not reset, and
// once it half-closes, the connection ends cleanly. The line before QUIT
// is printed, nothing after it.
func TestQuitSaysGoodbye(t *testing.T) {
	exercise.Graded(t, "exercise-quit")
	addr, out, logs := startLogged(t, 100, time.Minute)
	c := testutil.Dial(t, addr).(*net.TCPConn)
	more := strings.Repeat("more after QUIT\n", 16<<10) // 256 KiB the server never prints
	_, err := io.WriteString(c, "one\nQUIT\n"+more)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
	reply, err := io.ReadAll(c)
	require.NoError(t, err, "bye, then the server's FIN at once (not a reset, not 2 s later)")
	assert.Equal(t, "bye\n", string(reply))

	time.Sleep(50 * time.Millisecond) // a client still talking a little later: the behaviour under test
	_, err = io.WriteString(c, more[:64<<10])
	require.NoError(t, err, "the server still reads what we send: it has not closed on us")
	require.NoError(t, c.CloseWrite())
	logs.WaitFor(t, "reason=quit", 10*time.Second) // written once the server has closed
	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "a clean end, not a reset")
	assert.Equal(t, []string{"Received: one"}, out.all(), "the line before QUIT is printed, none after it")
	assert.Contains(t, logs.String(), " lines=1 reason=quit")
}

// TestQuitInAnyCase: QUIT is the whole line, in any case; a line that only
// starts with it is an ordinary line.
func TestQuitInAnyCase(t *testing.T) {
	exercise.Graded(t, "exercise-quit")
	addr, out, _ := startServer(t, 100, time.Minute)
	for _, line := range []string{"quit", "Quit", "QUIT\r"} {
		c := testutil.Dial(t, addr)
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err := io.WriteString(c, line+"\n")
		require.NoError(t, err)
		reply, err := io.ReadAll(c)
		require.NoError(t, err, "%q", line)
		assert.Equal(t, "bye\n", string(reply), "%q ends the session", line)
	}
	for i, line := range []string{"QUITE", "QUIT now", " QUIT", "QUIT."} {
		c := testutil.Dial(t, addr).(*net.TCPConn)
		_, err := io.WriteString(c, line+"\n")
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		reply, err := io.ReadAll(c)
		require.NoError(t, err, "%q", line)
		assert.Empty(t, string(reply), "%q is an ordinary line: no reply", line)
		assert.Equal(t, "Received: "+line, out.waitFor(t, i+1)[i])
	}
}

// TestClientPrintsBye: the chapter's client shows the goodbye.
func TestClientPrintsBye(t *testing.T) {
	exercise.Graded(t, "exercise-quit")
	addr, _, _ := startServer(t, 100, time.Minute)
	var reply strings.Builder
	require.NoError(t, RunClient(t.Context(), addr, "", strings.NewReader("hello\nQUIT\n"), &reply))
	assert.Equal(t, "bye\n", reply.String())
}

// startLimited runs a server behind LimitListener(ln, n).
func startLimited(t *testing.T, n int, ln net.Listener) (*Server, *lines, <-chan error) {
	srv, out, _ := loggedServer(t)
	return srv, out, serveIn(t, srv, LimitListener(ln, n))
}

// TestMaxConnsMakesClientsWait: with -max-conns 1, a second client is
// connected (its handshake done by the kernel) but not served until the
// first one closes.
func TestMaxConnsMakesClientsWait(t *testing.T) {
	exercise.Graded(t, "exercise-max-conns")
	ln := listen(t)
	_, out, _ := startLimited(t, 1, ln)
	a := testutil.Dial(t, ln.Addr().String())
	_, err := io.WriteString(a, "a\n")
	require.NoError(t, err)
	out.waitFor(t, 1)

	b := testutil.Dial(t, ln.Addr().String())
	_, err = io.WriteString(b, "b\n")
	require.NoError(t, err)
	out.stays(t, 1, 300*time.Millisecond, "the second client waits while the first is served")
	require.NoError(t, a.Close())
	assert.Equal(t, []string{"Received: a", "Received: b"}, out.waitFor(t, 2), "served once the first one closed")

	c := testutil.Dial(t, ln.Addr().String())
	_, err = io.WriteString(c, "c\n")
	require.NoError(t, err)
	out.stays(t, 2, 300*time.Millisecond, "one connection at a time, however many came and went")
	require.NoError(t, b.Close())
	assert.Equal(t, "Received: c", out.waitFor(t, 3)[2])
}

// TestMaxConnsShutdownWhileWaiting: Shutdown ends Serve at once, even while
// the loop waits for a free slot; the connection being served still
// finishes.
func TestMaxConnsShutdownWhileWaiting(t *testing.T) {
	exercise.Graded(t, "exercise-max-conns")
	ln := listen(t)
	srv, out, served := startLimited(t, 1, ln)
	a := testutil.Dial(t, ln.Addr().String())
	_, err := io.WriteString(a, "a\n")
	require.NoError(t, err)
	out.waitFor(t, 1) // served: the loop now waits for a's slot

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	assert.ErrorIs(t, within(t, served, 2*time.Second, "of Shutdown while waiting for a slot"), ErrServerClosed)
	_, err = io.WriteString(a, "still here\n")
	require.NoError(t, err)
	require.NoError(t, a.Close())
	assert.NoError(t, <-shut)
	assert.Equal(t, []string{"Received: a", "Received: still here"}, out.all())
}

// TestMaxConnsSurvivesAcceptErrors: a failed Accept gives its slot back, so
// three failures in a row do not leave a limit of 1 with no slot at all.
func TestMaxConnsSurvivesAcceptErrors(t *testing.T) {
	exercise.Graded(t, "exercise-max-conns")
	ln := &flakyListener{Listener: listen(t), script: []bool{true, true, true}}
	_, out, _ := startLimited(t, 1, ln)
	for i := range 2 {
		c := testutil.Dial(t, ln.Addr().String())
		_, err := fmt.Fprintf(c, "client %d\n", i)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("Received: client %d", i), out.waitFor(t, i+1)[i])
		require.NoError(t, c.Close())
	}
}

// TestLimitConn: the slot is given back once however often the connection
// is closed, and CloseWrite still reaches the connection underneath (the
// lingering close needs it).
func TestLimitConn(t *testing.T) {
	ln := listen(t)
	c := testutil.Dial(t, ln.Addr().String())
	server, err := ln.Accept()
	require.NoError(t, err)
	released := 0
	lc := &limitConn{Conn: server, release: func() { released++ }}
	cw, ok := net.Conn(lc).(interface{ CloseWrite() error })
	require.True(t, ok, "a limitConn has CloseWrite")
	require.NoError(t, cw.CloseWrite())
	_, err = bufio.NewReader(c).ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the peer reads our FIN")
	require.NoError(t, lc.Close())
	_ = lc.Close()
	assert.Equal(t, 1, released, "one slot back for one connection")
	assert.Same(t, ln, LimitListener(ln, 0), "0: no limit, the listener as it is")
}
