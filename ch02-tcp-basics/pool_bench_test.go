package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// What a pool saves: one request (a line and its reply) over a pooled
// connection, against the same request over a new connection each time
// (handshake, request, close). Run:
//
//	go test ./ch02-tcp-basics -run '^$' -bench Request -benchtime 2s
func BenchmarkRequestPooled(b *testing.B) {
	srv := NewServer(quietLog())
	addr := testutil.StartServer(b, srv.Serve, srv.Shutdown)
	cfg := DefaultPoolConfig(addr)
	cfg.MinIdle = 0
	p, err := NewPool(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for b.Loop() {
		if err := poolRequest(ctx, p, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestNewConnection(b *testing.B) {
	srv := NewServer(quietLog())
	addr := testutil.StartServer(b, srv.Serve, srv.Shutdown)
	for b.Loop() {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := exchange(c, []string{"bench"}); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// TestNewConnectionIsSeveralTimesSlower runs the two benchmarks above and
// checks the page's claim with a generous bound: a request over a new
// connection costs at least twice one over a pooled connection (measured on
// loopback: about 4.5×). A ratio, not a time, so a slow machine passes too.
func TestNewConnectionIsSeveralTimesSlower(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two benchmarks, about 3 s")
	}
	pooled := testing.Benchmark(BenchmarkRequestPooled)
	fresh := testing.Benchmark(BenchmarkRequestNewConnection)
	require.Positive(t, pooled.N)
	require.Positive(t, fresh.N)
	ratio := float64(fresh.NsPerOp()) / float64(pooled.NsPerOp())
	t.Logf("pooled %d ns/op, new connection %d ns/op: %.1f×", pooled.NsPerOp(), fresh.NsPerOp(), ratio)
	assert.GreaterOrEqual(t, ratio, 2.0, "a new connection per request is several times slower")
}
