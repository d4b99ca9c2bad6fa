package main

// The heartbeat client: it sends PING every interval, declares the server dead
// when no line has arrived for Misses intervals, and reconnects with an
// exponential backoff with jitter until its context is cancelled.

import (
	"bufio"
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
		attrs = append(attrs, "delay", e.Delay.Round(time.Millisecond).String(), "reason", e.Reason)
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
	silence := time.Duration(c.Misses) * c.Interval
	dialer := net.Dialer{Timeout: silence}
	failures := 0 // consecutive attempts that did not get a single PONG
	for {
		c.emit(Event{State: StateConnecting, Retry: failures})
		conn, err := dialer.DialContext(ctx, "tcp", c.Addr)
		healthy := false
		if err == nil {
			c.emit(Event{State: StateConnected})
			healthy, err = c.session(ctx, conn)
		}
		switch {
		case ctx.Err() != nil:
			c.emit(Event{State: StateStopped})
			return nil
		case err == nil: // MaxPongs reached
			c.emit(Event{State: StateStopped})
			return nil
		case Classify(err) == KindTimeout && conn != nil:
			c.emit(Event{State: StateDead, Reason: KindTimeout, Err: err})
		default:
			c.emit(Event{State: StateDisconnected, Reason: Classify(err), Err: err})
		}
		if healthy {
			failures = 0 // the connection worked: the backoff starts again
		}
		delay := c.Backoff.Delay(failures)
		failures++
		c.emit(Event{State: StateWaiting, Delay: delay, Reason: Classify(err)})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			c.emit(Event{State: StateStopped})
			return nil
		}
	}
}

// ANCHOR_END: run

// ANCHOR: session
// session runs the heartbeat on one connection until it fails. It reports
// whether at least one PONG arrived, and the error that ended it (nil when
// MaxPongs was reached).
func (c *Client) session(ctx context.Context, conn net.Conn) (healthy bool, err error) {
	silence := time.Duration(c.Misses) * c.Interval
	stopAfter := context.AfterFunc(ctx, func() { conn.Close() }) // cancel unblocks I/O

	// The pinger writes; this goroutine reads. Whichever fails first closes
	// the connection so that the other one returns too.
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; conn.Close() })
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(c.Interval)
		defer t.Stop()
		for seq := 1; ; seq++ {
			_ = conn.SetWriteDeadline(time.Now().Add(silence))
			if _, err := fmt.Fprintf(conn, "PING %d\n", seq); err != nil {
				fail(err)
				return
			}
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()

	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64), maxLine)
	for {
		// The dead-peer rule: a read deadline pushed forward by every line.
		_ = conn.SetReadDeadline(time.Now().Add(silence))
		if !sc.Scan() {
			err := sc.Err()
			if err == nil {
				err = errEOF
			}
			fail(err)
			break
		}
		if !strings.HasPrefix(sc.Text(), "PONG") {
			fail(fmt.Errorf("protocol error: got %q, want PONG", sc.Text()))
			break
		}
		healthy = true
		c.pongs++
		if c.OnPong != nil {
			c.OnPong()
		}
		if c.MaxPongs > 0 && c.pongs >= c.MaxPongs {
			fail(nil)
			break
		}
	}
	close(done)
	wg.Wait()
	stopAfter()
	return healthy, firstErr
}

// ANCHOR_END: session

// errEOF is what session reports when the server closed the connection.
var errEOF = fmt.Errorf("server closed the connection: %w", io.EOF)

func runClient(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" client", os.Stderr)
	addr := fs.String("addr", defaultAddr, "heartbeat server to connect to")
	interval := fs.Duration("interval", DefaultInterval, "time between PINGs")
	misses := fs.Int("misses", DefaultMisses, "missed intervals before the server is declared dead")
	count := fs.Int("count", 0, "exit after this many PONGs (0: run until interrupted)")
	maxDelay := fs.Duration("max-backoff", 0, "longest wait between reconnection attempts (default 10*interval)")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *interval <= 0 || *misses < 1 || *count < 0 {
		return cli.Usagef("-interval must be positive, -misses at least 1, -count not negative")
	}
	c := &Client{Addr: *addr, Interval: *interval, Misses: *misses, MaxPongs: *count, Log: slog.Default()}
	if *maxDelay > 0 {
		c.Backoff = Backoff{Base: min(*interval/10, *maxDelay), Max: *maxDelay}
	}
	return c.Run(ctx)
}
