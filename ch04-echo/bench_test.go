package main

// Benchmarks. They run against this package's server in-process, or against
// ECHO_ADDR when set (scripts/ch04-bench.sh uses that to measure the Python
// counterparts with the same client code):
//
//	go test ./ch04-echo -run '^$' -bench . -benchtime 2s
//	ECHO_ADDR=127.0.0.1:65432 go test ./ch04-echo -run '^$' -bench PingPong

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcp-in-go/course/tests/testutil"
)

func benchAddr(b *testing.B, cfg Config) string {
	if addr := os.Getenv("ECHO_ADDR"); addr != "" {
		return addr
	}
	srv := newServer(cfg)
	return testutil.StartServer(b, srv.Serve, srv.Shutdown)
}

// BenchmarkPingPong64 measures small echoes: each connection sends 64 bytes
// and waits for them before sending the next, so every echo is a full round
// trip through both kernels' TCP stacks.
func BenchmarkPingPong64(b *testing.B) {
	for _, conns := range []int{1, 50} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			pingPong(b, benchAddr(b, Config{IdleTimeout: 5 * time.Minute}), conns) // as deployed: deadlines on
		})
	}
}

// ANCHOR: bench-pingpong
// pingPong runs b.N echoes of 64 bytes over conns connections to addr:
// each connection sends 64 bytes and waits for them before sending the next.
func pingPong(b *testing.B, addr string, conns int) {
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = testutil.Dial(b, addr)
	}
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, got := make([]byte, 64), make([]byte, 64)
			for next.Add(1) <= int64(b.N) {
				if _, err := c.Write(msg); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(c, got); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "echoes/s")
}

// ANCHOR_END: bench-pingpong

// BenchmarkEchoWithMetrics is PingPong64 with 50 connections, with the
// Prometheus metrics off and on (metrics.go): the cost of metrics on the hot
// path. Compare the two with benchstat.
func BenchmarkEchoWithMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", on), func(b *testing.B) {
			srv := newServer(Config{IdleTimeout: 5 * time.Minute, Metrics: on})
			pingPong(b, testutil.StartServer(b, srv.Serve, srv.Shutdown), 50)
		})
	}
}

// BenchmarkBulk measures streaming throughput over one connection: a writer
// sends 64 KiB chunks while a reader takes the echo back. Each byte crosses
// loopback twice. copy=splice echoes with io.Copy (splice(2) on Linux), to
// compare with the buffered loop the server uses.
func BenchmarkBulk(b *testing.B) {
	for _, mode := range []string{"buffer", "splice"} {
		b.Run("copy="+mode, func(b *testing.B) {
			if mode == "splice" && os.Getenv("ECHO_ADDR") != "" {
				b.Skip("splice is a mode of this package's server")
			}
			addr := benchAddr(b, Config{IdleTimeout: 5 * time.Minute, Tuned: mode == "splice", Splice: mode == "splice"})
			c := testutil.Dial(b, addr).(*net.TCPConn)
			const chunk = 64 << 10
			b.SetBytes(chunk)
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				msg := make([]byte, chunk)
				for range b.N {
					if _, err := c.Write(msg); err != nil {
						return // the reader reports the failure
					}
				}
			}()
			// Read with a large buffer (io.Copy to io.Discard would read in
			// 8 KiB pieces and make the client the bottleneck).
			buf := make([]byte, 256<<10)
			for left := int64(b.N) * chunk; left > 0; {
				n, err := c.Read(buf[:min(int64(len(buf)), left)])
				if err != nil {
					b.Fatalf("%d bytes short: %v", left, err)
				}
				left -= int64(n)
			}
		})
	}
}
