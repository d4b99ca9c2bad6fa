package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/tcp-in-go/course/internal/testutil"
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
