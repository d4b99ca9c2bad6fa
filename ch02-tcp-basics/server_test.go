package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

// startServer runs the net package server in-process on 127.0.0.1:0.
func startServer(t *testing.T) (addr string, srv *Server) {
	t.Helper()
	srv = NewServer(quietLog())
	return testutil.StartServer(t, srv.Serve, srv.Shutdown), srv
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
	require.ErrorIs(t, <-served, serve.ErrServerClosed, "the contract: ErrServerClosed after Shutdown")

	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the server closed the connection")
	_, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	assert.Error(t, err, "nobody listens any more")
}

// TestTooLongClosesWithItsReason: a refused line ends the connection with
// reason=too_long on its closed line (TestRawTooLongClosesWithItsReason says
// the same of the raw server, the Python tests of the Python one).
func TestTooLongClosesWithItsReason(t *testing.T) {
	logs := &testutil.LogBuffer{}
	srv := NewServer(slog.New(slog.NewTextHandler(logs, nil)))
	checkTooLongReason(t, testutil.StartServer(t, srv.Serve, srv.Shutdown), logs)
}

// checkTooLongReason sends a line and a line over the limit to the server at
// addr, which logs to logs.
func checkTooLongReason(t *testing.T, addr string, logs *testutil.LogBuffer) {
	t.Helper()
	c := testutil.Dial(t, addr)
	_, err := io.WriteString(c, "ok\n"+strings.Repeat("x", 65537)+"\n")
	require.NoError(t, err)
	// The server closes with part of the long line unread, so its kernel
	// may answer with a reset (RST) after the error line: no EOF here.
	got, err := io.ReadAll(c)
	if err != nil {
		require.ErrorIs(t, err, syscall.ECONNRESET)
	}
	assert.Equal(t, "echo: ok\nerror: line too long\n", string(got))
	logs.WaitFor(t, "reason=too_long", 10*time.Second)
	assert.Contains(t, logs.String(), `lines=1 reason=too_long err="line longer than 65536 bytes"`)
}
