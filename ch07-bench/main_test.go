package main

import (
	"context"
	"testing"
	"time"

	"github.com/tcp-in-go/course/internal/faultproxy"
	"github.com/tcp-in-go/course/tests/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startEcho runs the reference echo server in-process on 127.0.0.1:0.
func startEcho(t testing.TB) (string, *EchoServer) {
	t.Helper()
	srv := &EchoServer{}
	return testutil.StartServer(t, srv.Serve, srv.Shutdown), srv
}

// startFaulty runs the reference echo server behind a fault proxy
// (internal/faultproxy) that breaks the stream on purpose, to prove the
// generator notices. It returns the proxy's address.
func startFaulty(t testing.TB, faults faultproxy.Options) string {
	t.Helper()
	addr, _ := startEcho(t)
	return faultproxy.Start(t, addr, faults).Addr()
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
