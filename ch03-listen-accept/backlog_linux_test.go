package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/tests/testutil"
)

// TestBacklog checks what the kernel does with backlog 5: it completes
// backlog+1 handshakes without any accept, leaves further clients in
// SYN_SENT (their SYNs are dropped, not refused), and all of them get in
// once the program accepts. The lesson waits on the kernel's own state in
// /proc/net/tcp; the only timing asserted is a generous bound on the SYN
// retransmission: the dropped clients get in no sooner than 0.5 s (the
// kernel's first retry comes after 1 s), though accept made room at once.
func TestBacklog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := backlogLesson(ctx, &out, 5, 8)
	require.NoError(t, err, out.String())
	late := res.LateDials
	res.LateDials = nil
	assert.Equal(t, backlogResult{Queued: 6, Dropped: 2, Accepted: 8}, res, out.String())
	require.Len(t, late, 2)
	for _, d := range late {
		assert.GreaterOrEqual(t, d, 500*time.Millisecond, "a dropped SYN is retransmitted after about 1 s")
	}
	t.Logf("dropped clients connected after %v", late)
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

// TestBacklogFlagBounds: -backlog 1..100 and -extra 0..100, both ends
// included; anything else is a usage error (exit 2).
func TestBacklogFlagBounds(t *testing.T) {
	for _, tc := range []struct {
		backlog, extra int
		ok             bool
	}{
		{1, 0, true}, {100, 100, true},
		{0, 0, false}, {101, 0, false}, {1, -1, false}, {1, 101, false},
	} {
		err := checkBacklogFlags(tc.backlog, tc.extra)
		if tc.ok {
			assert.NoError(t, err, "%+v", tc)
		} else {
			assert.Equal(t, 2, cli.ExitCode(err), "%+v: %v", tc, err)
		}
	}
}
