package main

// The heartbeat client: it sends PING every interval, declares the server dead
// when no line has arrived for Misses intervals, and reconnects with an
// exponential backoff with jitter until its context is cancelled.

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tcp-in-go/course/internal/cli"
	"github.com/tcp-in-go/course/internal/clock"
)

// ANCHOR: backoff
// Backoff computes how long to wait before reconnection attempt n (0, 1,
// 2...): Base doubled n times, capped at Max, with "equal jitter": a random
// point in the upper half of that window. Without jitter, every client that
// lost the same server retries at the same instants and the herd knocks the
// restarted server over again; the lower half is kept so that no retry comes
// immediately.
type Backoff struct {
	Base, Max time.Duration
	Rand      func() float64 // in [0,1); nil means math/rand/v2
}

// Delay returns the wait before attempt n.
func (b Backoff) Delay(n int) time.Duration {
	// ANCHOR: exercise-backoff
	d := b.Max
	if n < 62 && b.Base<<n > 0 && b.Base<<n < b.Max { // (shifting too far overflows)
		d = b.Base << n
	}
	return d/2 + time.Duration(b.random()*float64(d/2))
	// ANCHOR_END: exercise-backoff
}

func (b Backoff) random() float64 {
	if b.Rand != nil {
		return b.Rand()
	}
	return rand.Float64()
}

// ANCHOR_END: backoff

// State is what the client is doing; each change is logged and reported.
type State string

// The client's states.
const (
	StateConnecting   State = "connecting"
	StateConnected    State = "connected"
	StateDead         State = "peer dead" // no line for Misses intervals
	StateDisconnected State = "disconnected"
	StateDialFailed   State = "dial failed" // no connection: refused, unreachable, timed out
	StateWaiting      State = "waiting to reconnect"
	StateStopped      State = "stopped"
)

// Event is one state change.
type Event struct {
	State  State
	Retry  int           // connecting: 0 for a first connection, n for the nth retry in a row
	Delay  time.Duration // waiting: how long
	Reason Kind          // dead, disconnected, waiting: why
	Err    error
	Pongs  int // connected, disconnected: PONGs received so far in total
}

// Client is a heartbeat client. Addr and Interval are required; the other
// fields have defaults.
type Client struct {
	Addr     string
	Interval time.Duration
	Misses   int     // default DefaultMisses
	Backoff  Backoff // default: Interval/10 doubling up to 10*Interval
	MaxPongs int     // stop after this many PONGs in total; 0 = run until cancelled
	Log      *slog.Logger
	OnEvent  func(Event) // called for each state change (tests watch it)
	OnPong   func()      // called for each PONG (tests watch it)

	pongs int
}

func (c *Client) emit(e Event) {
	e.Pongs = c.pongs
	attrs := []any{"addr", c.Addr}
	switch e.State {
	case StateConnecting:
		attrs = append(attrs, "retry", e.Retry)
	case StateWaiting:
		attrs = append(attrs, "retry_in", e.Delay.Round(time.Millisecond).String(), "reason", e.Reason)
	case StateDialFailed:
		attrs = append(attrs, "reason", e.Reason, "err", e.Err)
	case StateDead, StateDisconnected:
		attrs = append(attrs, "reason", e.Reason, "pongs", e.Pongs)
		if e.Err != nil {
			attrs = append(attrs, "err", e.Err)
		}
	}
	if c.Log != nil {
		c.Log.Info(string(e.State), attrs...)
	}
	if c.OnEvent != nil {
		c.OnEvent(e)
	}
}

// debug logs one protocol line at debug level (the client command's -v).
func (c *Client) debug(msg string, attrs ...any) {
	if c.Log != nil {
		c.Log.Debug(msg, attrs...)
	}
}

// silence is how long the peer may say nothing before it is declared dead.
func (c *Client) silence() time.Duration { return time.Duration(c.Misses) * c.Interval }

// ANCHOR: run
// Run connects, keeps the heartbeat going and reconnects after every failure
// until ctx is cancelled (it then returns nil) or MaxPongs PONGs arrived.
func (c *Client) Run(ctx context.Context) error {
	if c.Misses == 0 {
		c.Misses = DefaultMisses
	}
	if c.Backoff.Base == 0 {
		c.Backoff = Backoff{Base: c.Interval / 10, Max: 10 * c.Interval}
	}
	failures := 0 // consecutive attempts that did not get a single PONG
	for {
		healthy, err := c.attempt(ctx, failures)
		if ctx.Err() != nil || err == nil { // cancelled, or MaxPongs reached
			c.emit(Event{State: StateStopped})
			return nil
		}
		if healthy {
			failures = 0 // the connection worked: the backoff starts again
		}
		delay := c.Backoff.Delay(failures)
		failures++
		c.emit(Event{State: StateWaiting, Delay: delay, Reason: Classify(err)})
		if !clock.Sleep(ctx, delay) {
			c.emit(Event{State: StateStopped})
			return nil
		}
	}
}

// ANCHOR_END: run

// ANCHOR: attempt
// attempt dials once and, if that works, runs the heartbeat until the
// connection fails. It logs how the attempt ended: a failed dial (refused,
// say), a server declared dead, or a lost connection.
func (c *Client) attempt(ctx context.Context, retry int) (healthy bool, err error) {
	c.emit(Event{State: StateConnecting, Retry: retry})
	dialer := net.Dialer{Timeout: c.silence()}
	conn, err := dialer.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		if ctx.Err() == nil {
			c.emit(Event{State: StateDialFailed, Reason: Classify(err), Err: err})
		}
		return false, err
	}
	c.emit(Event{State: StateConnected})
	healthy, err = c.session(ctx, conn)
	switch {
	case err == nil || ctx.Err() != nil: // MaxPongs reached, or cancelled
	case Classify(err) == KindTimeout:
		c.emit(Event{State: StateDead, Reason: KindTimeout, Err: err})
	default:
		c.emit(Event{State: StateDisconnected, Reason: Classify(err), Err: err})
	}
	return healthy, err
}

// ANCHOR_END: attempt

// ANCHOR: session
// session runs the heartbeat on one connection until it fails. It reports
// whether at least one PONG arrived, and the error that ended it (nil when
// MaxPongs was reached).
func (c *Client) session(ctx context.Context, conn net.Conn) (healthy bool, err error) {
	stopAfter := context.AfterFunc(ctx, func() { conn.Close() }) // cancel unblocks I/O
	defer stopAfter()
	// The pinger writes; this goroutine reads. Whichever fails first closes
	// the connection so that the other one returns too.
	var once sync.Once
	fail := func(e error) {
		once.Do(func() { err = e; conn.Close() })
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.ping(conn, done, fail) })
	healthy = c.readPongs(conn, fail)
	close(done)
	wg.Wait()
	return healthy, err
}

// ANCHOR_END: session

// ANCHOR: ping
// ping sends "PING <seq>" every Interval, until done is closed or a write
// fails.
func (c *Client) ping(conn net.Conn, done <-chan struct{}, fail func(error)) {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for seq := 1; ; seq++ {
		_ = conn.SetWriteDeadline(time.Now().Add(c.silence()))
		if _, err := fmt.Fprintf(conn, "PING %d\n", seq); err != nil {
			fail(err)
			return
		}
		c.debug("ping", "seq", seq)
		select {
		case <-t.C:
		case <-done:
			return
		}
	}
}

// ANCHOR_END: ping

// ANCHOR: read-pongs
// readPongs reads the server's lines until the connection fails, MaxPongs
// have arrived, or the server stays silent for Misses intervals. It reports
// whether at least one PONG arrived.
func (c *Client) readPongs(conn net.Conn, fail func(error)) (healthy bool) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64), maxLine)
	for {
		// The dead-peer rule: a read deadline pushed forward by every line.
		_ = conn.SetReadDeadline(time.Now().Add(c.silence()))
		if !sc.Scan() {
			fail(cmp.Or(sc.Err(), errEOF)) // no error from Scan: the server closed
			return healthy
		}
		if !strings.HasPrefix(sc.Text(), "PONG") {
			fail(fmt.Errorf("protocol error: got %q, want PONG", sc.Text()))
			return healthy
		}
		healthy = true
		c.pongs++
		c.debug("pong", "line", sc.Text())
		if c.OnPong != nil {
			c.OnPong()
		}
		if c.MaxPongs > 0 && c.pongs >= c.MaxPongs {
			fail(nil)
			return healthy
		}
	}
}

// ANCHOR_END: read-pongs

// errEOF is what session reports when the server closed the connection.
var errEOF = fmt.Errorf("server closed the connection: %w", io.EOF)

func runClient(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" client", os.Stderr)
	addr := fs.String("addr", defaultAddr, "server address (HOST:PORT)")
	interval := fs.Duration("interval", DefaultInterval, "time between PINGs")
	misses := fs.Int("misses", DefaultMisses, "missed intervals before the peer is declared dead")
	count := fs.Int("count", 0, "exit after this many PONGs (0: run until interrupted)")
	maxDelay := fs.Duration("max-backoff", 0, "longest wait between reconnection attempts (default 10*interval)")
	verbose := fs.Bool("v", false, "also log every PING sent and PONG received (debug level)")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *interval <= 0 || *misses < 1 || *count < 0 {
		return cli.Usagef("-interval must be positive, -misses at least 1, -count not negative")
	}
	log := slog.Default()
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := &Client{Addr: *addr, Interval: *interval, Misses: *misses, MaxPongs: *count, Log: log}
	if *maxDelay > 0 {
		c.Backoff = Backoff{Base: min(*interval/10, *maxDelay), Max: *maxDelay}
	}
	return c.Run(ctx)
}
