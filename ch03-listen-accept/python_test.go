package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/faultproxy"
	"github.com/tcp-in-go/course/tests/testutil"
)

// The Python counterpart speaks the same bytes: its client against our
// server, our client and the protocol tests against its server.

func TestPythonClientAgainstGoServer(t *testing.T) {
	addr := startHeartbeat(t, time.Minute, 3)
	cmd := testutil.PythonCmd(t, "ch03_heartbeat.py", "client", "--addr", addr, "--interval", "20ms", "--count", "3")
	_, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, cmd, "")
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "msg=connected")
	assert.Contains(t, stderr, "msg=stopped")
}

func TestPythonClientDetectsDeadPeer(t *testing.T) {
	p := faultproxy.Start(t, startHeartbeat(t, time.Minute, 3), faultproxy.Options{})
	p.Blackhole(true) // connections are accepted, nothing ever comes back
	cmd := testutil.PythonCmd(t, "ch03_heartbeat.py", "client", "--addr", p.Addr(),
		"--interval", "50ms", "--count", "1", "--max-backoff", "100ms")
	done := make(chan struct{})
	var stderr string
	var err error
	go func() {
		defer close(done)
		_, stderr, err = testutil.RunWithTimeout(t, 30*time.Second, cmd, "")
	}()
	// The client exits after its first PONG, which can only come once it
	// has declared the first connection dead and made a second one.
	require.Eventually(t, func() bool { return p.Accepted() == 2 }, 20*time.Second, 5*time.Millisecond,
		"the client never reconnected")
	p.Blackhole(false)
	<-done
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "msg=\"peer dead\"")
	assert.Contains(t, stderr, "reason=timeout")
}

func TestGoClientAgainstPythonServer(t *testing.T) {
	py := testutil.StartPython(t, "ch03_heartbeat.py", "serve", "--interval", conformanceInterval.String())
	checkConformance(t, py.Addr, conformanceInterval, DefaultMisses)
	c := &Client{Addr: py.Addr, Interval: 20 * time.Millisecond, MaxPongs: 3, Log: discard}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.Run(ctx))
	assert.Equal(t, 3, c.pongs)
}
