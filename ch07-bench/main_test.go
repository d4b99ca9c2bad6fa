package main

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startEcho runs the reference echo server in-process on 127.0.0.1:0.
func startEcho(t testing.TB) (string, *EchoServer) {
	t.Helper()
	srv := &EchoServer{}
	return testutil.StartServer(t, srv.Serve, srv.Shutdown), srv
}

// startBroken runs an echo server that misbehaves on purpose, to prove the
// generator notices: handle gets each connection (served by the course's one
// accept loop, internal/serve) and must return when it is closed.
func startBroken(t testing.TB, handle func(c net.Conn)) string {
	t.Helper()
	var core serve.Core
	return testutil.StartServer(t, func(ln net.Listener) error { return core.Serve(ln, handle) },
		func(ctx context.Context) error {
			core.BeginShutdown()
			core.Each(func(c net.Conn) { c.Close() }) // wake handlers blocked in Read
			return core.Wait(ctx)
		})
}

// corruptEvery echoes faithfully except that it flips one bit in every
// n-th byte it sends back.
func corruptEvery(n int) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		total := 0
		for {
			k, err := c.Read(buf)
			for i := range k {
				total++
				if total%n == 0 {
					buf[i] ^= 0x01
				}
			}
			if k > 0 {
				if _, werr := c.Write(buf[:k]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// dropEvery echoes everything except every n-th byte, which it swallows:
// the client waits for a byte that never comes.
func dropEvery(n int) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		total := 0
		for {
			k, err := c.Read(buf)
			out := buf[:0]
			for i := range k {
				total++
				if total%n != 0 {
					out = append(out, buf[i])
				}
			}
			if len(out) > 0 {
				if _, werr := c.Write(out); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// stallOnce echoes, but once it has echoed after bytes it stops reading for
// pause: a garbage-collection pause, a page fault storm, a noisy neighbour.
func stallOnce(after int, pause time.Duration) func(net.Conn) {
	var once sync.Once
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		total := 0
		for {
			k, err := c.Read(buf)
			if k > 0 {
				if _, werr := c.Write(buf[:k]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
			total += k
			if total >= after {
				once.Do(func() { time.Sleep(pause) }) // the misbehaviour under test
			}
		}
	}
}

// testCfg is a small, fast run against addr.
func testCfg(addr, mode string) Config {
	return Config{Addr: addr, Mode: mode, Conns: 4, Size: 64, Duration: 300 * time.Millisecond,
		Timeout: 2 * time.Second, Rate: 1000}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
