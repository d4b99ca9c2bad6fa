package main

import (
	"context"
	"io"
	"net"
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
