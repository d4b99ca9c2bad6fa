package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/testutil"

	"github.com/tcp-in-go/course/internal/exercise"
)

// startServer runs the net package server in-process on 127.0.0.1:0.
func startServer(t *testing.T) (addr string, srv *Server) {
	t.Helper()
	srv = NewServer(quietLog())
	return testutil.StartServer(t, srv.Serve, srv.Shutdown), srv
}

// testLineServer is the rubric for any server that claims to speak the
// chapter's protocol. It only needs an address, so it runs against the Go
// server, the raw-syscall server, the Python server, or a student's
// (CH02_ADDR=host:port go test ./ch02-tcp-basics -run Conformance).
// grades names the exercises of this chapter's code the server depends on.
func testLineServer(t *testing.T, addr string, grades ...string) {
	t.Run("one line, one reply", func(t *testing.T) {
		replies, err := exchange(testutil.Dial(t, addr), []string{"hello"})
		require.NoError(t, err)
		assert.Equal(t, []string{"echo: hello"}, replies)
	})
	t.Run("many lines in one write", func(t *testing.T) {
		c := testutil.Dial(t, addr)
		_, err := io.WriteString(c, "a\nbb\nccc\n")
		require.NoError(t, err)
		assert.Equal(t, []string{"echo: a", "echo: bb", "echo: ccc"}, readLines(t, c, 3))
	})
	t.Run("one line split over many writes", func(t *testing.T) {
		c := testutil.Dial(t, addr)
		c.(*net.TCPConn).SetNoDelay(true)
		for _, b := range []byte("split line\n") {
			_, err := c.Write([]byte{b})
			require.NoError(t, err)
		}
		assert.Equal(t, []string{"echo: split line"}, readLines(t, c, 1))
	})
	t.Run("CRLF and empty lines", func(t *testing.T) {
		if len(grades) > 0 {
			exercise.Graded(t, grades...)
		}
		c := testutil.Dial(t, addr)
		_, err := io.WriteString(c, "telnet\r\n\n")
		require.NoError(t, err)
		assert.Equal(t, []string{"echo: telnet", "echo: "}, readLines(t, c, 2))
	})
	t.Run("half-close: replies arrive, then EOF", func(t *testing.T) {
		c := testutil.Dial(t, addr)
		_, err := io.WriteString(c, "last words\n")
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		rest, err := io.ReadAll(c) // ends only if the server closes after our FIN
		require.NoError(t, err)
		assert.Equal(t, "echo: last words\n", string(rest))
	})
	t.Run("too long a line is refused", func(t *testing.T) {
		c := testutil.Dial(t, addr)
		go func() { _, _ = c.Write([]byte(strings.Repeat("x", MaxLineBytes+10))) }()
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, tooLongReply, line)
		_, err = r.ReadByte() // then the server closes (EOF or, as we still send, RST)
		assert.Error(t, err)
	})
	t.Run("concurrent clients are served at once", func(t *testing.T) {
		// Client 0 connects and stays silent. With one goroutine per
		// connection the others are answered anyway; a server that handled
		// one client at a time would block them all behind client 0.
		_ = testutil.Dial(t, addr)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				line := strings.Repeat(string(rune('a'+i)), i+1)
				replies, err := exchange(testutil.Dial(t, addr), []string{line, line})
				assert.NoError(t, err)
				assert.Equal(t, []string{"echo: " + line, "echo: " + line}, replies)
			})
		}
		wg.Wait()
	})
}

func readLines(t *testing.T, c net.Conn, n int) []string {
	t.Helper()
	r := bufio.NewReader(c)
	var out []string
	for range n {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		out = append(out, strings.TrimSuffix(line, "\n"))
	}
	return out
}

func TestConformanceGoServer(t *testing.T) {
	addr, _ := startServer(t)
	testLineServer(t, addr, "exercise-crlf")
}

func TestConformancePythonServer(t *testing.T) {
	p := testutil.StartPython(t, "ch02_tcp_server.py")
	testLineServer(t, p.Addr)
}

// TestConformanceExternal runs the rubric against a server someone else
// started, e.g. a student's: CH02_ADDR=127.0.0.1:8888.
func TestConformanceExternal(t *testing.T) {
	addr := os.Getenv("CH02_ADDR")
	if addr == "" {
		t.Skip("set CH02_ADDR=host:port to test a running server")
	}
	testLineServer(t, addr)
}

func TestShutdownDrainsConnections(t *testing.T) {
	srv := NewServer(quietLog())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	c := testutil.Dial(t, ln.Addr().String())
	replies, err := exchange(c, []string{"before"})
	require.NoError(t, err)
	require.Equal(t, []string{"echo: before"}, replies)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx), "an idle connection drains at once")
	require.ErrorIs(t, <-served, net.ErrClosed)

	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the server closed the connection")
	_, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	assert.Error(t, err, "nobody listens any more")
}
