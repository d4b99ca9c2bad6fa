package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/exercise"
	"github.com/tcp-in-go/course/internal/faultproxy"
	"github.com/tcp-in-go/course/tests/testutil"
)

func TestPingPongCountsExactly(t *testing.T) {
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModePingPong)
	cfg.Requests = 1000
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Equal(t, int64(1000), res.Requests, "exactly -requests measured echoes")
	assert.Equal(t, int64(1000), res.Latency.Count)
	assert.Equal(t, int64(1000*64), res.Bytes)
	assert.Greater(t, res.ReqPerSec, 0.0)
	l := res.Latency
	assert.True(t, 0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max,
		"percentiles must be ordered: %+v", l)
}

func TestWarmupIsNotRecorded(t *testing.T) {
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModePingPong)
	cfg.Warmup = 200 * time.Millisecond
	cfg.Requests = 300
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	// The warm-up certainly echoed many messages, but only the budget counts.
	assert.Equal(t, int64(300), res.Requests)
	assert.Empty(t, res.Errors)
}

func TestCorruptedEchoIsAnError(t *testing.T) {
	for _, mode := range []string{ModePingPong, ModeStream, ModeOpenLoop, ModeConnect} {
		t.Run(mode, func(t *testing.T) {
			// Every 100th byte: even a short run on a busy machine (the
			// stream mode runs 300 ms) echoes that much per connection.
			n := int64(100)
			if mode == ModeConnect {
				n = 60 // each connection carries only one 64-byte echo
			}
			addr := startFaulty(t, faultproxy.Options{Down: faultproxy.FlipEvery(n)})
			cfg := testCfg(addr, mode)
			res, err := Run(ctxT(t), cfg)
			require.NoError(t, err)
			assert.Positive(t, res.Errors["mismatch"], "a flipped bit must be counted as a mismatch: %+v", res.Errors)
			assert.Contains(t, res.ErrorText["mismatch"], "echo differs at byte")
		})
	}
	t.Run("idle", func(t *testing.T) {
		addr := startFaulty(t, faultproxy.Options{Down: faultproxy.FlipEvery(2)}) // the second byte of every connection
		cfg := testCfg(addr, ModeIdle)
		cfg.Duration = 0
		res, err := Run(ctxT(t), cfg)
		require.NoError(t, err)
		assert.Equal(t, int64(4), res.Errors["mismatch"])
		assert.Zero(t, res.Held)
	})
}

func TestDroppedByteIsATimeout(t *testing.T) {
	addr := startFaulty(t, faultproxy.Options{Down: faultproxy.DropEvery(500)})
	cfg := testCfg(addr, ModePingPong)
	cfg.Timeout = 100 * time.Millisecond
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Positive(t, res.Errors["timeout"], "%+v", res.Errors)
	assert.Zero(t, res.Errors["mismatch"], "a short echo must not pass or be compared early")
}

func TestStreamMeasuresThroughput(t *testing.T) {
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModeStream)
	cfg.Size = 16 << 10
	cfg.Conns = 2
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Positive(t, res.Bytes)
	assert.Positive(t, res.MBPerSec)
	assert.Equal(t, res.Bytes/int64(cfg.Size), res.Requests)
}

func TestConnectMode(t *testing.T) {
	addr, srv := startEcho(t)
	cfg := testCfg(addr, ModeConnect)
	cfg.Requests = 200
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Equal(t, int64(200), res.Requests)
	require.Eventually(t, func() bool { return srv.OpenConns() == 0 }, 5*time.Second, 5*time.Millisecond,
		"every connection is closed after its echo")
}

// ANCHOR: test-openloop
func TestOpenLoopHonoursRate(t *testing.T) {
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModeOpenLoop)
	cfg.Rate = 2000
	cfg.Duration = time.Second
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	// The schedule holds exactly Rate x Duration sends; all must come back.
	assert.InDelta(t, 2000, res.Requests, 10)
	assert.InDelta(t, 2000, res.ReqPerSec, 200)
	assert.Equal(t, 2000.0, res.TargetRate)
}

// TestOpenLoopSeesStalls is coordinated omission shown on purpose: the
// server stops for 300 ms once. A closed loop with one connection simply
// waits, so only one of its requests is slow and its p99 stays small; the
// open loop keeps its schedule, every request due during the stall is
// charged its wait, and the stall shows in its p99.
func TestOpenLoopSeesStalls(t *testing.T) {
	const stall = 300 * time.Millisecond
	run := func(mode string) Latency {
		addr := startFaulty(t, faultproxy.Options{Up: faultproxy.PauseAt(200*64, stall)})
		cfg := testCfg(addr, mode)
		cfg.Conns = 1
		cfg.Rate = 1000
		cfg.Duration = time.Second
		res, err := Run(ctxT(t), cfg)
		require.NoError(t, err)
		require.Empty(t, res.Errors)
		return res.Latency
	}
	closed, open := run(ModePingPong), run(ModeOpenLoop)
	t.Logf("closed loop: p50 %.0fµs p99 %.0fµs max %.0fµs", closed.P50, closed.P99, closed.Max)
	t.Logf("open loop:   p50 %.0fµs p99 %.0fµs max %.0fµs", open.P50, open.P99, open.Max)
	assert.GreaterOrEqual(t, closed.Max, float64(stall.Microseconds())*0.9, "the closed loop saw the stall once")
	assert.Less(t, closed.P99, float64(stall.Microseconds())/3, "…but its p99 hides it")
	assert.GreaterOrEqual(t, open.P99, float64(stall.Microseconds())/3, "the open loop's p99 shows it")
}

// ANCHOR_END: test-openloop

func TestIdleHoldsConnections(t *testing.T) {
	addr, srv := startEcho(t)
	cfg := testCfg(addr, ModeIdle)
	cfg.Conns = 200
	cfg.Duration = 2 * time.Second
	sawAll := make(chan bool, 1)
	go func() {
		sawAll <- testutil.Eventually(cfg.Duration, func() bool { return srv.OpenConns() == cfg.Conns })
	}()
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.True(t, <-sawAll, "the server must hold all %d connections at once", cfg.Conns)
	assert.Equal(t, cfg.Conns, res.Held)
	assert.Empty(t, res.Errors, "every held connection still echoes at the end")
	assert.Positive(t, res.ClientMem)
	require.Eventually(t, func() bool { return srv.OpenConns() == 0 }, 5*time.Second, 5*time.Millisecond)
}

// TestIdleServerCost: with -pid, idle mode divides the server's growth by
// the connections held. The server runs in this process, so each held
// connection shows two descriptors (both ends).
func TestIdleServerCost(t *testing.T) {
	exercise.Graded(t, "exercise-fds-per-conn")
	if runtime.GOOS != "linux" {
		t.Skip("-pid sampling reads /proc (Linux)")
	}
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModeIdle)
	cfg.Conns = 100
	cfg.Duration = 100 * time.Millisecond
	cfg.ServerPID = os.Getpid()
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	require.NotNil(t, res.Server)
	assert.Equal(t, 100, res.Held)
	assert.InDelta(t, 2.0, res.Server.FDsPerConn, 0.5, "descriptors per held connection")
	assert.Contains(t, res.Server.String(), "fds/conn")
}

func TestIdleInterruptedStillClosesEverything(t *testing.T) {
	addr, srv := startEcho(t)
	cfg := testCfg(addr, ModeIdle)
	cfg.Conns = 20
	cfg.Duration = time.Minute
	ctx, cancel := context.WithCancel(ctxT(t))
	go func() {
		testutil.Eventually(10*time.Second, func() bool { return srv.OpenConns() == cfg.Conns })
		cancel() // Ctrl-C while holding (or give up waiting)
	}()
	res, err := Run(ctx, cfg)
	require.ErrorIs(t, err, context.Canceled)
	assert.LessOrEqual(t, res.Held, cfg.Conns) // the last dials may have been cut short
	require.Eventually(t, func() bool { return srv.OpenConns() == 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestDeadServerCountsRefused(t *testing.T) {
	addr, srv := startEcho(t)
	require.NoError(t, srv.Shutdown(ctxT(t)))
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			res, err := Run(ctxT(t), testCfg(addr, mode))
			require.NoError(t, err)
			assert.Positive(t, res.Errors["refused"], "%+v", res.Errors)
			assert.Zero(t, res.Requests)
			if mode == ModeOpenLoop {
				assert.Positive(t, res.Errors["unsent"], "the schedule went on without a connection")
			}
		})
	}
}

func TestJSONOutput(t *testing.T) {
	addr, _ := startEcho(t)
	var out bytes.Buffer
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer stderr.Close()
	cpu := filepath.Join(t.TempDir(), "cpu.prof")
	mem := filepath.Join(t.TempDir(), "mem.prof")
	err = runLoadTo(ctxT(t), []string{"-addr", addr, "-requests", "200", "-warmup", "0", "-json",
		"-cpuprofile", cpu, "-memprofile", mem, "-pid", "0"}, &out, stderr)
	require.NoError(t, err)
	var res map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	assert.Equal(t, "pingpong", res["mode"])
	assert.Equal(t, 200.0, res["requests"])
	assert.Equal(t, 0.0, res["error_total"])
	lat := res["latency"].(map[string]any)
	for _, k := range []string{"p50_us", "p90_us", "p99_us", "p99_9_us", "max_us"} {
		assert.Positive(t, lat[k], k)
	}
	for _, f := range []string{cpu, mem} {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), "%s must hold a profile", f)
	}
	st, err := stderr.Stat()
	require.NoError(t, err)
	assert.Zero(t, st.Size(), "no progress line when stderr is not a terminal")
}

func TestTableOutput(t *testing.T) {
	addr, _ := startEcho(t)
	res, err := Run(ctxT(t), Config{Addr: addr, Mode: ModePingPong, Conns: 2, Size: 32, Requests: 50})
	require.NoError(t, err)
	var b bytes.Buffer
	res.WriteTable(&b)
	for _, want := range []string{`requests +50 \(`, `latency +p50 .* p99\.9 .* max `, `errors +0\n`} {
		assert.Regexp(t, want, b.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, // no -addr
		{"-addr", "x:1", "-mode", "nope"},
		{"-addr", "x:1", "-conns", "0"},
		{"-addr", "x:1", "-tls"}, // no -ca
		{"-addr", "x:1", "-mode", "open-loop", "-rate", "0"},
		{"-addr", "x:1", "extra"},
		{"-addr", "x:1", "-mode", "stream", "-requests", "5"},
	} {
		_, _, _, _, err := parseRunFlags(args, &bytes.Buffer{})
		assert.Equal(t, 2, cli.ExitCode(err), "%v: %v", args, err)
	}
}

// TestOverloadedGeneratorWarns: when the generator's own send lag is a large
// part of the latency it measured, it must say so; when it is small, not.
func TestOverloadedGeneratorWarns(t *testing.T) {
	exercise.Graded(t, "exercise-lag-warning")
	late := &Result{Latency: Latency{P99: 2000}, SendLag: &Latency{Count: 100, P99: 1500}}
	assert.Contains(t, lagWarning(late), "the generator sent late (send lag p99 1.5ms, latency p99 2ms)")
	fine := &Result{Latency: Latency{P99: 2000}, SendLag: &Latency{Count: 100, P99: 100}}
	assert.Empty(t, lagWarning(fine))
	assert.Empty(t, lagWarning(&Result{Latency: Latency{P99: 2000}}), "closed loops have no send lag")

	// And a real open-loop run prints its send lag in the table.
	addr, _ := startEcho(t)
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer stderr.Close()
	var out bytes.Buffer
	require.NoError(t, runLoadTo(ctxT(t), []string{"-addr", addr, "-mode", "open-loop", "-conns", "1",
		"-rate", "2000", "-duration", "100ms", "-warmup", "0"}, &out, stderr))
	assert.Contains(t, out.String(), "send lag")
}

// TestProgressLine: with a terminal (here a buffer standing in for one) the
// generator prints a status line each second.
func TestProgressLine(t *testing.T) {
	addr, _ := startEcho(t)
	cfg := testCfg(addr, ModePingPong)
	cfg.Duration = 1200 * time.Millisecond
	var progress bytes.Buffer
	cfg.Progress = &progress
	_, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Regexp(t, `^\r +1s +\d+ req/s +[0-9.]+ MB/s +conns +4 +errors 0 +\n$`, progress.String())
}

// TestStreamCatchesDroppedChunk: a server that drops one whole chunk of the
// stream (the bytes after it are all correct, only shifted) is caught.
func TestStreamCatchesDroppedChunk(t *testing.T) {
	const size = 1024
	addr := startFaulty(t, faultproxy.Options{Down: faultproxy.DropRange(63*size, 64*size)}) // the 64th chunk
	cfg := testCfg(addr, ModeStream)
	cfg.Conns, cfg.Size = 1, size
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Positive(t, res.Errors["mismatch"], "%+v", res.Errors)
}

func TestStreamPatternIsPeriodic(t *testing.T) {
	p := streamPattern(3 * streamPeriod) // chunks larger than the period
	for _, i := range []int{0, 1, streamPeriod - 1, 2*streamPeriod + 7, 3*streamPeriod + 5} {
		assert.Equal(t, p[i%streamPeriod], p[i], "byte %d", i)
	}
}

// TestRequestBudgetAgainstDeadServerEnds: -requests cannot be reached against
// a dead server; the run must end by itself and say why.
func TestRequestBudgetAgainstDeadServerEnds(t *testing.T) {
	addr, srv := startEcho(t)
	require.NoError(t, srv.Shutdown(ctxT(t)))
	cfg := testCfg(addr, ModePingPong)
	cfg.Requests = 100
	cfg.Timeout = 200 * time.Millisecond
	res, err := Run(ctxT(t), cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Errors["stalled"], "%+v", res.Errors)
	assert.Positive(t, res.Errors["refused"])
	assert.Zero(t, res.Requests)
}

// TestNothingMeasuredFails: a run in which not one echo was verified (here
// every connection is closed by the server at once) still prints its table,
// with the errors, but returns errNothingMeasured, so the program exits
// non-zero and a script does not chart it. A run with echoes returns nil
// (TestJSONOutput).
func TestNothingMeasuredFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer stderr.Close()
	var out bytes.Buffer
	err = runLoadTo(ctxT(t), []string{"-addr", ln.Addr().String(), "-conns", "2",
		"-duration", "300ms", "-warmup", "0"}, &out, stderr)
	require.ErrorIs(t, err, errNothingMeasured)
	assert.Contains(t, err.Error(), "no verified echo")
	assert.Contains(t, out.String(), "errors", "the table is printed all the same")
}
