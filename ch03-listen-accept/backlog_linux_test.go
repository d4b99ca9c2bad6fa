package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/testutil"
)

// TestBacklog checks what the kernel does with backlog 5: it completes
// backlog+1 handshakes without any accept, leaves further clients in
// SYN_SENT (their SYNs are dropped, not refused), and all of them get in
// once the program accepts. No timing is asserted: the lesson waits on the
// kernel's own state in /proc/net/tcp.
func TestBacklog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := backlogLesson(ctx, &out, 5, 8)
	require.NoError(t, err, out.String())
	assert.Equal(t, backlogResult{Queued: 6, Dropped: 2, Accepted: 8}, res, out.String())
	testutil.Golden(t, "testdata/backlog.golden", testutil.Normalize(out.String()))
}

func TestTCPSocketsSeesListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	q, syn, err := tcpSockets(port)
	require.NoError(t, err)
	assert.Equal(t, 0, q)
	assert.Equal(t, 0, syn)
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	q, err = waitQueue(ctx(t), port, 1)
	require.NoError(t, err)
	assert.Equal(t, 1, q, "a connection not yet accepted is in the queue")
	s, err := ln.Accept()
	require.NoError(t, err)
	s.Close()
	q, _, err = tcpSockets(port)
	require.NoError(t, err)
	assert.Equal(t, 0, q, "accept takes it out of the queue")
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}
