package main

// The heartbeat client: it sends "PING <seq>" every interval, matches each
// PONG to the PING it answers (and measures the round trip), declares the
// server dead when no PING has been answered for Misses intervals, and
// reconnects with an exponential backoff with jitter until its context is
// cancelled.

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
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

// Delay returns the wait before attempt n (n >= 0). The zero Backoff
// waits 0: it retries at once.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Max
	if b.Base <= (b.Max-1)>>n { // Base<<n < Max, tested without overflowing
		d = b.Base << n
	}
	return d/2 + time.Duration(b.random()*float64(d/2))
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
	StateDead         State = "peer dead" // no PING answered for Misses intervals
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
	Pongs  int // PONGs that answered a PING so far, in all sessions
	// dead, disconnected: the session's unsolicited PONGs, and its
	// smoothed round-trip time (0 before the first answer).
	Unsolicited int
	SRTT        time.Duration
}

// Client is a heartbeat client. Its fields are used as given: a zero
// Misses never declares the server dead, a zero Backoff retries at once.
type Client struct {
	Addr     string
	Interval time.Duration // between PINGs; must be positive
	Misses   int           // intervals with no PING answered before the server is dead
	Backoff  Backoff       // the wait between attempts
	MaxPongs int           // stop after this many PONGs in all; 0 means run until cancelled
	Log      *slog.Logger  // nil: no log
	OnEvent  func(Event)   // called for each state change (tests watch it)
	OnPong   func()        // called for each PONG that answers a PING (tests watch it)

	pongs       int          // PONGs that answered a PING, in all sessions
	unsolicited int          // this session's PONGs that answered none
	rtt         rttEstimator // this session's round trips
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
		e.Unsolicited, e.SRTT = c.unsolicited, c.rtt.srtt
		attrs = append(attrs, "reason", e.Reason, "pongs", e.Pongs)
		if c.rtt.samples > 0 {
			attrs = append(attrs, "srtt", e.SRTT.Round(time.Microsecond))
		}
		if e.Unsolicited > 0 {
			attrs = append(attrs, "unsolicited", e.Unsolicited)
		}
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

// deadline is when a server last heard from at t is dead: Misses intervals
// later. With Misses 0 it is the zero time: no deadline, never dead.
func (c *Client) deadline(t time.Time) time.Time {
	if c.Misses == 0 {
		return time.Time{}
	}
	return t.Add(time.Duration(c.Misses) * c.Interval)
}

// ANCHOR: run
// Run connects, keeps the heartbeat going and reconnects after every failure
// until ctx is cancelled (it then returns nil) or MaxPongs PONGs arrived.
func (c *Client) Run(ctx context.Context) error {
	if c.Interval <= 0 {
		return errors.New("heartbeat client: Interval must be positive")
	}
	failures := 0 // consecutive attempts that did not get a single answer
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
	dialer := net.Dialer{Deadline: c.deadline(time.Now())}
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
// whether at least one PING was answered, and the error that ended it (nil
// when MaxPongs was reached).
func (c *Client) session(ctx context.Context, conn net.Conn) (ok bool, err error) {
	// Cancelling ctx closes conn, which unblocks its Read and Write.
	stopAfter := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopAfter()
	c.unsolicited, c.rtt = 0, rttEstimator{} // this session's counts
	// The pinger writes; this goroutine reads. Whichever fails first closes
	// the connection so that the other one returns too.
	var once sync.Once
	fail := func(e error) {
		once.Do(func() { err = e; conn.Close() })
	}
	out := newOutstanding(c.Misses + 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.ping(conn, out, done, fail) })
	ok = c.readPongs(conn, out, fail)
	close(done)
	wg.Wait()
	return ok, err
}

// ANCHOR_END: session

// ANCHOR: outstanding
// outstanding are a session's PINGs still waiting for their PONG: the time
// each was sent, by token. The pinger adds, the reader takes. Only the
// newest keep PINGs may still be answered (Misses+1: those of the last
// Misses intervals): an older one is forgotten, so the set stays small
// even when a server answers only some PINGs.
type outstanding struct {
	mu   sync.Mutex
	keep int
	sent map[string]time.Time
}

func newOutstanding(keep int) *outstanding {
	return &outstanding{keep: keep, sent: map[string]time.Time{}}
}

// add records PING seq, sent at t, and forgets PING seq-keep.
func (o *outstanding) add(seq int, t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent[strconv.Itoa(seq)] = t
	delete(o.sent, strconv.Itoa(seq-o.keep))
}

// answer takes the PING that token names and says when it was sent; ok is
// false if none is waiting: the PONG answers no PING of ours.
func (o *outstanding) answer(token string) (sent time.Time, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	sent, ok = o.sent[token]
	delete(o.sent, token)
	return sent, ok
}

// ANCHOR_END: outstanding

// ANCHOR: ping
// ping sends "PING <seq>" every Interval, until done is closed or a write
// fails. Each PING is recorded before it is written, so that even the
// quickest PONG finds it.
func (c *Client) ping(conn net.Conn, out *outstanding, done <-chan struct{},
	fail func(error)) {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for seq := 1; ; seq++ {
		now := time.Now()
		out.add(seq, now)
		_ = conn.SetWriteDeadline(c.deadline(now))
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
// PONGs have arrived, or no PING has been answered for Misses intervals. It
// reports whether at least one PING was answered.
func (c *Client) readPongs(conn net.Conn, out *outstanding,
	fail func(error)) (healthy bool) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64), maxLine)
	heard := time.Now() // when the server last answered a PING
	for {
		// The dead-peer rule: a read deadline Misses intervals after the
		// last answer.
		_ = conn.SetReadDeadline(c.deadline(heard))
		if !sc.Scan() {
			fail(cmp.Or(sc.Err(), errEOF)) // no error from Scan: the server closed
			return healthy
		}
		cmd, token, _ := strings.Cut(sc.Text(), " ")
		if cmd != "PONG" {
			fail(fmt.Errorf("protocol error: got %q, want PONG", sc.Text()))
			return healthy
		}
		sent, ok := out.answer(token)
		if !ok {
			c.unsolicitedPong(sc.Text()) // counted, logged, and no sign of life
			continue
		}
		heard, healthy = time.Now(), true
		if c.pong(token, heard.Sub(sent)) {
			fail(nil) // MaxPongs reached
			return healthy
		}
	}
}

// ANCHOR_END: read-pongs

// ANCHOR: pong
// pong counts a PONG that answered a PING after rtt, and reports whether
// MaxPongs have now arrived.
func (c *Client) pong(token string, rtt time.Duration) (enough bool) {
	c.pongs++
	c.rtt.Observe(rtt)
	c.debug("pong", "seq", token, "rtt", rtt, "srtt", c.rtt.srtt)
	if c.OnPong != nil {
		c.OnPong()
	}
	return c.MaxPongs > 0 && c.pongs >= c.MaxPongs
}

// unsolicitedPong counts a PONG that answers none of our PINGs: a
// duplicate, the answer to a PING too old to count, a token we never sent,
// or no token at all. It says nothing about the server now, so it does not
// move the dead-peer deadline. The first of a session is a warning, the
// others debug lines: a server that sends nothing else cannot flood the log.
func (c *Client) unsolicitedPong(line string) {
	c.unsolicited++
	if c.unsolicited == 1 && c.Log != nil {
		c.Log.Warn("unsolicited pong", "addr", c.Addr, "line", line)
		return
	}
	c.debug("unsolicited pong", "addr", c.Addr, "line", line)
}

// ANCHOR_END: pong

// errEOF is what session reports when the server closed the connection.
var errEOF = fmt.Errorf("server closed the connection: %w", io.EOF)

func runClient(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet(name+" client", os.Stderr)
	addr := fs.String("addr", defaultAddr, "server address (HOST:PORT)")
	interval := fs.Duration("interval", DefaultInterval, "time between PINGs")
	misses := fs.Int("misses", DefaultMisses, "missed intervals before the peer is declared dead; 0: never")
	count := fs.Int("count", 0, "exit after this many PONGs (0: run until interrupted)")
	maxDelay := fs.Duration("max-backoff", 30*time.Second, "longest wait between reconnection attempts")
	verbose := fs.Bool("v", false, "also log every PING sent and PONG received (debug level)")
	if err := cli.Parse(fs, args, false); err != nil {
		return err
	}
	if *interval <= 0 || *maxDelay <= 0 || *misses < 0 || *count < 0 {
		return cli.Usagef("-interval and -max-backoff must be positive, -misses and -count not negative")
	}
	log := slog.Default()
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := &Client{Addr: *addr, Interval: *interval, Misses: *misses, MaxPongs: *count, Log: log,
		Backoff: Backoff{Base: min(*interval/10, *maxDelay), Max: *maxDelay}}
	return c.Run(ctx)
}
