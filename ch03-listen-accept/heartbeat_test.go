package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/faultproxy"
	"github.com/tcp-in-go/course/internal/serve"
	"github.com/tcp-in-go/course/tests/testutil"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// startHeartbeat runs a heartbeat server in-process on 127.0.0.1:0.
func startHeartbeat(t *testing.T, interval time.Duration, misses int) string {
	t.Helper()
	srv := NewServer(Config{Interval: interval, Misses: misses, Log: discard})
	return testutil.StartServer(t, srv.Serve, srv.Shutdown)
}

func TestReply(t *testing.T) {
	for line, want := range map[string]string{
		"PING":        "PONG",
		"PING 42":     "PONG 42",
		"PING 42\r":   "PONG 42",
		"PING a b":    "PONG a b",
		"PONG":        "ERR unknown command",
		"ping":        "ERR unknown command",
		"":            "ERR unknown command",
		"HELLO WORLD": "ERR unknown command",
	} {
		got, _ := reply(line)
		assert.Equal(t, want, got, "reply(%q)", line)
	}
}

// TestServerDropsSilentClient: a client that sends nothing is closed once
// it has been silent for Misses intervals: never before, and within half an
// interval after (a server that waited Misses+1 intervals would fail).
func TestServerDropsSilentClient(t *testing.T) {
	const interval, misses = 200 * time.Millisecond, 2
	addr := startHeartbeat(t, interval, misses)
	start := time.Now() // before Dial: the server's clock starts at accept, after this
	c := testutil.Dial(t, addr)
	_, err := c.Read(make([]byte, 1))
	silent := time.Since(start)
	assert.Equal(t, KindEOF, Classify(err), "the server must close a silent connection: %v", err)
	assert.GreaterOrEqual(t, silent, misses*interval, "closed before the client missed %d intervals", misses)
	assert.Less(t, silent, misses*interval+interval/2, "closed %v after connecting: later than %d intervals plus slack", silent, misses)
}

// TestServerZeroIntervalNeverDrops: -interval 0 (or -misses 0) means never:
// a silent client stays connected.
func TestServerZeroIntervalNeverDrops(t *testing.T) {
	for _, cfg := range []Config{{Interval: 0, Misses: 3}, {Interval: 10 * time.Millisecond, Misses: 0}} {
		cfg.Log = discard
		srv := NewServer(cfg)
		c := testutil.Dial(t, testutil.StartServer(t, srv.Serve, srv.Shutdown))
		require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		_, err := c.Read(make([]byte, 1))
		assert.Equal(t, KindTimeout, Classify(err), "%+v: a silent client must stay connected: %v", cfg, err)
	}
}

func TestServerKeepsPingingClient(t *testing.T) {
	const interval = 30 * time.Millisecond
	addr := startHeartbeat(t, interval, 3)
	c := testutil.Dial(t, addr)
	r := bufio.NewReader(c)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range 8 { // 8 intervals: well past the 3-interval limit
		<-tick.C
		_, err := io.WriteString(c, "PING\n")
		require.NoError(t, err, "ping %d", i)
		line, err := r.ReadString('\n')
		require.NoError(t, err, "ping %d: a client that pings must not be dropped", i)
		require.Equal(t, "PONG\n", line)
	}
}

func TestServerRefusesLongLine(t *testing.T) {
	addr := startHeartbeat(t, DefaultInterval, DefaultMisses)
	c := testutil.Dial(t, addr)
	_, err := c.Write(bytes.Repeat([]byte("x"), 2*maxLine))
	require.NoError(t, err)
	_, err = io.ReadAll(c)
	// The server closes with our unread bytes in its buffer: that is an RST.
	assert.Contains(t, []Kind{KindNone, KindReset}, Classify(err), "%v", err)
}

func TestBackoff(t *testing.T) {
	zero := func() float64 { return 0 }
	almostOne := func() float64 { return 0.999999 }
	b := Backoff{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond, Rand: zero}
	var lows, highs []time.Duration
	for n := range 6 {
		lows = append(lows, b.Delay(n))
	}
	b.Rand = almostOne
	for n := range 6 {
		highs = append(highs, b.Delay(n).Round(time.Millisecond))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 40 * ms, 40 * ms}, lows)
	assert.Equal(t, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 80 * ms, 80 * ms}, highs)
	assert.Equal(t, 80*ms, b.Delay(1000).Round(ms), "huge attempt numbers must not overflow")
	b.Rand = nil
	for range 100 {
		d := b.Delay(2)
		assert.True(t, d >= 20*ms && d < 40*ms, "jittered delay %v outside [20ms, 40ms)", d)
	}
}

// recorder collects a client's events and PONGs for a test to wait on.
type recorder struct {
	mu       sync.Mutex
	events   []Event
	at       []time.Time // when each event happened
	pongs    []time.Time
	changed  chan struct{} // gets a value after each event or PONG
	logLines bytes.Buffer
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Write(p []byte) (int, error) { // the client's log
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logLines.Write(p)
}

func (r *recorder) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logLines.String()
}

// waitEvent waits for the first event at index >= from that matches, and
// returns its index.
func (r *recorder) waitEvent(t *testing.T, from int, timeout time.Duration, match func(Event) bool) (int, Event) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if match(r.events[i]) {
				e := r.events[i]
				r.mu.Unlock()
				return i, e
			}
		}
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no matching event within %v; events: %+v", timeout, r.events)
		}
	}
}

// waitPongs waits until n PONGs arrived after the time since.
func (r *recorder) waitPongs(t *testing.T, n int, since time.Time, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		count := 0
		for _, p := range r.pongs {
			if !p.Before(since) {
				count++
			}
		}
		r.mu.Unlock()
		if count >= n {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("fewer than %d PONGs within %v; events: %+v", n, timeout, r.events)
		}
	}
}

func (r *recorder) lastPong() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pongs[len(r.pongs)-1]
}

// eventAt is when event i happened.
func (r *recorder) eventAt(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at[i]
}

// startClient runs c in a goroutine with a recorder attached; cleanup
// cancels it and checks that Run returns.
func startClient(t *testing.T, c *Client) (*recorder, context.CancelFunc) {
	t.Helper()
	rec := newRecorder()
	c.Log = slog.New(slog.NewTextHandler(rec, nil))
	c.OnEvent = func(e Event) {
		rec.mu.Lock()
		rec.events = append(rec.events, e)
		rec.at = append(rec.at, time.Now())
		rec.mu.Unlock()
		rec.notify()
	}
	c.OnPong = func() {
		rec.mu.Lock()
		rec.pongs = append(rec.pongs, time.Now())
		rec.mu.Unlock()
		rec.notify()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("client did not stop after cancel")
		}
		if t.Failed() {
			t.Logf("client log:\n%s", rec.log())
		}
	})
	return rec, cancel
}

func is(s State) func(Event) bool { return func(e Event) bool { return e.State == s } }

// ANCHOR: test-dead-peer
// TestClientDetectsDeadPeer: the proxy starts dropping every byte without
// closing anything. TCP alone would wait forever; the heartbeat must declare
// the server dead Misses intervals after its last PONG: never before, and
// within half an interval after (Misses+1 intervals would fail). Then it
// reconnects once traffic flows again.
func TestClientDetectsDeadPeer(t *testing.T) {
	const interval, misses = 200 * time.Millisecond, 3
	// The server's own limit is long, so that only the client's rule acts.
	server := startHeartbeat(t, time.Minute, misses)
	p := faultproxy.Start(t, server, faultproxy.Options{})
	rec, cancel := startClient(t, &Client{Addr: p.Addr(),
		Interval: interval, Misses: misses,
		Backoff: Backoff{Base: 100 * time.Millisecond, Max: 100 * time.Millisecond}})
	rec.waitPongs(t, 2, time.Time{}, 10*time.Second)

	p.Blackhole(true)
	i, dead := rec.waitEvent(t, 0, 10*time.Second, is(StateDead))
	p.Blackhole(false)

	silent := rec.eventAt(i).Sub(rec.lastPong())
	assert.Equal(t, KindTimeout, dead.Reason)
	assert.GreaterOrEqual(t, silent, misses*interval-5*time.Millisecond,
		"declared dead too early")
	assert.Less(t, silent, misses*interval+interval/2, "dead peer noticed too late")
	_, _ = rec.waitEvent(t, i, 10*time.Second, is(StateConnected))
	rec.waitPongs(t, 1, time.Now(), 10*time.Second)
	cancel()
	rec.waitEvent(t, i, 10*time.Second, is(StateStopped))

	log := regexp.MustCompile(`pongs=\d+`).ReplaceAllString(rec.log(), "pongs=N")
	log = regexp.MustCompile(`(retry_in)=\S+`).ReplaceAllString(log, "$1=<dur>")
	// srtt is exercise-srtt's: dropped, so that the transcript holds in the
	// starter too, where the exercise is a stub.
	log = regexp.MustCompile(` srtt=\S+`).ReplaceAllString(log, "")
	testutil.Golden(t, "testdata/dead-peer.golden", testutil.Normalize(log))
}

// ANCHOR_END: test-dead-peer

func TestClientReconnectsAfterReset(t *testing.T) {
	const interval = 50 * time.Millisecond
	p := faultproxy.Start(t, startHeartbeat(t, time.Minute, 3), faultproxy.Options{})
	rec, _ := startClient(t, &Client{Addr: p.Addr(), Interval: interval, Misses: 3,
		Backoff: Backoff{Base: 10 * time.Millisecond, Max: 10 * time.Millisecond}})
	rec.waitPongs(t, 1, time.Time{}, 10*time.Second)

	p.ResetAll() // an RST in the middle of the stream
	i, ev := rec.waitEvent(t, 0, 10*time.Second, is(StateDisconnected))
	assert.Contains(t, []Kind{KindReset, KindBrokenPipe}, ev.Reason, "%v", ev.Err)
	rec.waitEvent(t, i, 10*time.Second, is(StateConnected))
	rec.waitPongs(t, 1, time.Now(), 10*time.Second)
}

func TestClientReconnectsAfterServerRestart(t *testing.T) {
	const interval = 50 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	srv := NewServer(Config{Interval: time.Minute, Misses: 3, Log: discard})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	ms := time.Millisecond
	rec, _ := startClient(t, &Client{Addr: addr, Interval: interval,
		Backoff: Backoff{Base: 20 * ms, Max: 80 * ms, Rand: func() float64 { return 0 }}})
	rec.waitPongs(t, 1, time.Time{}, 10*time.Second)

	// Stop the server: the client loses the connection, then its dials are
	// refused, each after a longer wait.
	require.NoError(t, srv.Shutdown(context.Background()))
	require.ErrorIs(t, <-served, serve.ErrServerClosed, "the Serve contract")
	var waits []time.Duration
	var reasons []Kind
	from := 0
	for len(waits) < 4 {
		i, ev := rec.waitEvent(t, from, 10*time.Second, is(StateWaiting))
		waits, reasons, from = append(waits, ev.Delay), append(reasons, ev.Reason), i+1
	}
	assert.Empty(t, cmp.Diff([]time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms}, waits),
		"the backoff must restart after a healthy connection, double, and stop at the cap")
	assert.Contains(t, []Kind{KindEOF, KindReset, KindBrokenPipe}, reasons[0])
	assert.Equal(t, []Kind{KindRefused, KindRefused, KindRefused}, reasons[1:])

	// Restart on the same port (Go sets SO_REUSEADDR on listeners, so the
	// old connections in TIME_WAIT do not block it).
	ln2, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv2 := NewServer(Config{Interval: time.Minute, Misses: 3, Log: discard})
	go func() { served <- srv2.Serve(ln2) }()
	t.Cleanup(func() {
		_ = srv2.Shutdown(context.Background())
		<-served
	})
	restarted := time.Now()
	rec.waitPongs(t, 1, restarted, 10*time.Second)
}

func TestClientStopsOnCancel(t *testing.T) {
	// While waiting to reconnect: a refused port and a one-hour backoff.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	rec, cancel := startClient(t, &Client{Addr: addr, Interval: time.Second,
		Backoff: Backoff{Base: time.Hour, Max: time.Hour}})
	i, _ := rec.waitEvent(t, 0, 10*time.Second, is(StateWaiting))
	cancel()
	rec.waitEvent(t, i, 5*time.Second, is(StateStopped))

	// While connected and idle between PINGs.
	rec2, cancel2 := startClient(t, &Client{Addr: startHeartbeat(t, time.Minute, 3), Interval: time.Hour})
	rec2.waitPongs(t, 1, time.Time{}, 10*time.Second)
	cancel2()
	rec2.waitEvent(t, 0, 5*time.Second, is(StateStopped))
}

func TestClientCount(t *testing.T) {
	c := &Client{Addr: startHeartbeat(t, time.Minute, 3), Interval: 10 * time.Millisecond, MaxPongs: 3, Log: discard}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Run(ctx))
	assert.Equal(t, 3, c.pongs)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"client", "-interval", "0"},
		{"client", "-misses", "-1"},
		{"client", "-max-backoff", "0"},
		{"serve", "-misses", "-1"},
		{"serve", "-interval", "-1s"},
		{"backlog", "-backlog", "0"},
		{"writes", "stray"},
		{"nosuchcommand"},
	} {
		err := run(context.Background(), args)
		assert.Equal(t, 2, cli.ExitCode(err), "%v: %v", args, err)
	}
}

// TestServeCommand runs the real program: it logs msg=listening, serves,
// and exits 0 on SIGTERM.
func TestServeCommand(t *testing.T) {
	bin := testutil.BuildGo(t, ".")
	p := testutil.StartProcess(t, exec.Command(bin, "-addr", "127.0.0.1:0", "-interval", conformanceInterval.String()))
	checkConformance(t, p.Addr, conformanceInterval, DefaultMisses)
	require.NoError(t, p.Signal(syscall.SIGTERM, 10*time.Second))
	for _, want := range []string{"msg=draining", "drain_timeout=10s", "msg=stopped"} {
		assert.True(t, strings.Contains(p.Output(), want), p.Output())
	}
}

// TestClientLogsRefusedDialsAsSuch: a refused dial is logged as a failed
// dial (there was no connection to lose), without a PONG count.
func TestClientLogsRefusedDialsAsSuch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	rec, _ := startClient(t, &Client{Addr: addr, Interval: time.Second,
		Backoff: Backoff{Base: time.Hour, Max: time.Hour}})
	_, ev := rec.waitEvent(t, 0, 10*time.Second, is(StateDialFailed))
	assert.Equal(t, KindRefused, ev.Reason)
	rec.waitEvent(t, 0, 10*time.Second, is(StateWaiting))
	log := rec.log()
	assert.Contains(t, log, `msg="dial failed"`)
	assert.Contains(t, log, "reason=refused")
	assert.NotContains(t, log, "disconnected")
	assert.NotContains(t, log, "pongs=")
}

// TestClientLogsPingsAndPongsAtDebug: each PING sent and PONG received is
// one debug line (the client command's -v shows them), the PONG's with its
// round trip.
func TestClientLogsPingsAndPongsAtDebug(t *testing.T) {
	rec := newRecorder()
	c := &Client{Addr: startHeartbeat(t, time.Minute, 3), Interval: 10 * time.Millisecond, MaxPongs: 2,
		Log: slog.New(slog.NewTextHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Run(ctx))
	log := rec.log()
	assert.Contains(t, log, "level=DEBUG msg=ping seq=1")
	assert.Regexp(t, `level=DEBUG msg=pong seq=1 rtt=\S+ srtt=`, log)
	assert.Regexp(t, `level=DEBUG msg=pong seq=2 rtt=\S+ srtt=`, log)
}

// TestClientZeroMissesNeverDeclaresDead: a Client's fields are used as
// given, with no hidden defaults: Misses 0 never declares the server dead.
func TestClientZeroMissesNeverDeclaresDead(t *testing.T) {
	p := faultproxy.Start(t, startHeartbeat(t, time.Minute, 3), faultproxy.Options{})
	p.Blackhole(true)
	rec, _ := startClient(t, &Client{Addr: p.Addr(), Interval: 10 * time.Millisecond})
	rec.waitEvent(t, 0, 10*time.Second, is(StateConnected))
	// 30 intervals of silence: any Misses would have declared it dead.
	assert.Never(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return slices.ContainsFunc(rec.events, is(StateDead))
	}, 300*time.Millisecond, 10*time.Millisecond, "Misses 0 means never")
}

func TestClientNeedsAnInterval(t *testing.T) {
	err := (&Client{Addr: "127.0.0.1:1"}).Run(context.Background())
	assert.ErrorContains(t, err, "Interval must be positive")
}

// TestRunItTranscript follows the page's "Run it" steps against the real
// program: a client that sends two lines and closes (printf | nc -N), then
// one that says nothing (nc, silent); then Ctrl-C. The server's log is the
// transcript the page shows (testdata/run-server.golden), and what the
// first client reads is testdata/run-nc.golden. Normalised: timestamps
// dropped, durations <dur>, the listening port shown as the default 9003,
// the clients' ports numbered.
func TestRunItTranscript(t *testing.T) {
	t.Parallel()
	bin := testutil.BuildGo(t, ".")
	answers, log := runIt(t, exec.Command(bin, "-addr", "127.0.0.1:0", "-interval", "1s"))
	testutil.Golden(t, "testdata/run-nc.golden", answers)
	testutil.Golden(t, "testdata/run-server.golden", log)
}

// TestPythonServerLogsLikeGo: the Python twin, through the same steps,
// answers the same and writes the same lines as the Go program's
// transcript (it stops at once, without a drain: no draining line).
func TestPythonServerLogsLikeGo(t *testing.T) {
	t.Parallel()
	answers, log := runIt(t, testutil.PythonCmd(t, "ch03_heartbeat.py", "--addr", "127.0.0.1:0", "--interval", "1s"))
	want, err := os.ReadFile("testdata/run-nc.golden")
	require.NoError(t, err)
	assert.Equal(t, string(want), answers)
	want, err = os.ReadFile("testdata/run-server.golden")
	require.NoError(t, err)
	goLines := slices.DeleteFunc(strings.Split(string(want), "\n"), func(l string) bool {
		return strings.Contains(l, "msg=draining")
	})
	assert.Equal(t, goLines, strings.Split(log, "\n"))
}

// runIt starts a heartbeat server with cmd and takes it through the "Run
// it" steps. It returns what the first client read, and the server's log,
// normalised.
func runIt(t *testing.T, cmd *exec.Cmd) (answers, log string) {
	p := testutil.StartProcess(t, cmd)

	// printf 'PING 1\nHELLO\n' | nc -N 127.0.0.1 9003
	c := testutil.Dial(t, p.Addr)
	_, err := io.WriteString(c, "PING 1\nHELLO\n")
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite()) // what -N does at the end of its input
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	p.WaitOutput(t, "reason=eof", 10*time.Second)

	// nc 127.0.0.1 9003, and say nothing: the server hangs up after 3 s.
	silent := testutil.Dial(t, p.Addr)
	_, err = silent.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	p.WaitOutput(t, "reason=dead", 10*time.Second)

	require.NoError(t, p.Signal(os.Interrupt, 10*time.Second)) // Ctrl-C
	_, port, err := net.SplitHostPort(p.Addr)
	require.NoError(t, err)
	out := strings.ReplaceAll(p.Output(), "127.0.0.1:"+port, "127.0.0.1:9003")
	return string(got), testutil.Normalize(out, "9003")
}
