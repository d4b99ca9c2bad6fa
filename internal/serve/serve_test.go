package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bounded is a context for Shutdown that ends with a failure, not a hang.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo is the handler the tests serve: it copies until the client closes.
func echo(c net.Conn) End {
	_, err := io.Copy(c, c)
	return End{Err: err}
}

// served runs core.Serve(ln, echo) and returns a function that waits for
// its result, failing the test (instead of hanging it) if Serve has not
// returned within 10 s.
func served(t *testing.T, core *Core, ln net.Listener) (wait func() error) {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- core.Serve(ln, echo) }()
	return func() error {
		t.Helper()
		select {
		case err := <-ch:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return within 10 s")
			return nil
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

func TestServeReturnsErrServerClosedAfterShutdown(t *testing.T) {
	core := New(Config{})
	ln := listen(t)
	wait := served(t, core, ln)
	c := dial(t, ln.Addr().String())
	roundTrip(t, c, "hello")
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, core.Shutdown(ctx))
	require.ErrorIs(t, wait(), ErrServerClosed)

	// The listener is closed: new clients are refused.
	_, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	require.Error(t, err)

	// Serve after Shutdown closes its listener and returns at once.
	ln2 := listen(t)
	require.ErrorIs(t, core.Serve(ln2, echo), ErrServerClosed)
	_, err = ln2.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	assert.False(t, core.BeginShutdown(), "a second shutdown is a no-op")
}

func TestShutdownWaitsThenClosesStragglers(t *testing.T) {
	core := New(Config{})
	ln := listen(t)
	wait := served(t, core, ln)
	c := dial(t, ln.Addr().String())
	roundTrip(t, c, "x") // the connection is registered and being served
	require.Equal(t, 1, core.OpenConns())

	// The client stays open: Shutdown waits until its context ends, then
	// closes the connection, which the client sees as EOF.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, core.Shutdown(ctx), context.DeadlineExceeded)
	require.ErrorIs(t, wait(), ErrServerClosed)
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 0, core.OpenConns())
}

// fakeListener returns the scripted errors from Accept, then real
// connections from the listener it wraps.
type fakeListener struct {
	net.Listener
	mu      sync.Mutex
	errs    []error
	onClose func()
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func (l *fakeListener) Close() error {
	if l.onClose != nil {
		l.onClose()
	}
	return l.Listener.Close()
}

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: errno}
}

// ANCHOR: test-backoff
// TestTemporaryErrorsBackOff: EMFILE five times, then a client. The loop
// waits 5, 10, 20, 40, 80 ms (doubling, as net/http), serves the client,
// and starts again from 5 ms at the next error.
func TestTemporaryErrorsBackOff(t *testing.T) {
	emfile := acceptErr(syscall.EMFILE)
	fl := &fakeListener{Listener: listen(t), errs: []error{emfile, emfile, emfile, emfile, emfile}}
	var mu sync.Mutex
	var delays []time.Duration
	var logs bytes.Buffer
	core := New(Config{
		Log: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)),
		OnRetry: func(err error, d time.Duration) {
			assert.ErrorIs(t, err, syscall.EMFILE)
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
		},
	})
	wait := served(t, core, fl)
	c := dial(t, fl.Addr().String())
	roundTrip(t, c, "served after the errors")
	c.Close()

	fl.mu.Lock()
	fl.errs = []error{emfile} // one more error after a success
	fl.mu.Unlock()
	c = dial(t, fl.Addr().String())
	roundTrip(t, c, "and again")
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, core.Shutdown(ctx))
	require.ErrorIs(t, wait(), ErrServerClosed)
	ms := time.Millisecond
	mu.Lock()
	assert.Equal(t, []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 5 * ms}, delays)
	mu.Unlock()
	// One line when a run of failures starts (two runs here), one when it
	// ends (the first run; the second is cut short by Shutdown).
	out := logs.String()
	assert.Equal(t, 2, strings.Count(out, "accept failed; backing off"), out)
	assert.Contains(t, out, "retry_in=5ms")
	assert.Equal(t, 1, strings.Count(out, "accepting again"), out)
	assert.Contains(t, out, "msg=\"accepting again\" failures=5")
}

// ANCHOR_END: test-backoff

// TestBackoffIsCapped: nine errors in a row wait 5 ms doubling up to the
// 1 s cap (2.275 s in all), never longer, and the loop really waits them out.
func TestBackoffIsCapped(t *testing.T) {
	errs := make([]error, 9)
	for i := range errs {
		errs[i] = acceptErr(syscall.ENOBUFS)
	}
	fl := &fakeListener{Listener: listen(t), errs: errs}
	var mu sync.Mutex
	var delays []time.Duration
	core := New(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnRetry: func(_ error, d time.Duration) { mu.Lock(); delays = append(delays, d); mu.Unlock() }})
	start := time.Now()
	wait := served(t, core, fl)
	c := dial(t, fl.Addr().String())
	roundTrip(t, c, "after nine errors")
	waited := time.Since(start)
	c.Close()
	require.NoError(t, core.Shutdown(bounded(t)))
	require.ErrorIs(t, wait(), ErrServerClosed)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, delays, 9)
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second}, delays,
		"5 ms doubling, capped at 1 s")
	assert.Equal(t, time.Second, MaxRetryDelay)
	// The client was served only after the loop slept through every delay.
	assert.GreaterOrEqual(t, waited, 2275*ms, "the accept loop sleeps for each delay")
}

func TestPermanentErrorEndsServe(t *testing.T) {
	boom := errors.New("listener broken")
	fl := &fakeListener{Listener: listen(t), errs: []error{boom}}
	core := New(Config{Log: slog.New(slog.DiscardHandler)})
	err := served(t, core, fl)()
	require.ErrorIs(t, err, boom, "a permanent error is returned, not retried")
	_, aerr := fl.Listener.Accept()
	require.ErrorIs(t, aerr, net.ErrClosed, "Serve closes its listener when it returns")
}

func TestShutdownInterruptsBackoff(t *testing.T) {
	errs := make([]error, 100)
	for i := range errs {
		errs[i] = acceptErr(syscall.ENFILE)
	}
	fl := &fakeListener{Listener: listen(t), errs: errs}
	retried := make(chan time.Duration, 100)
	core := New(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnRetry: func(_ error, d time.Duration) { retried <- d }})
	wait := served(t, core, fl)
	// Wait until the loop starts a long sleep (640 ms, the eighth retry),
	// then shut down: Serve must return long before that sleep would end.
	var sleepStart time.Time
	for sleepStart.IsZero() {
		select {
		case d := <-retried:
			if d >= 640*time.Millisecond {
				sleepStart = time.Now()
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the loop never reached a 640 ms wait")
		}
	}
	require.NoError(t, core.Shutdown(bounded(t)))
	require.ErrorIs(t, wait(), ErrServerClosed)
	assert.Less(t, time.Since(sleepStart), 320*time.Millisecond,
		"Shutdown must interrupt the 640 ms wait, not sit it out")
}

func TestDrainingBeforeListenerCloses(t *testing.T) {
	core := New(Config{})
	var closes, closesWhileDraining atomic.Int32
	fl := &fakeListener{Listener: listen(t)}
	fl.onClose = func() {
		closes.Add(1)
		if core.Draining() {
			closesWhileDraining.Add(1)
		}
	}
	wait := served(t, core, fl)
	c := dial(t, fl.Addr().String())
	roundTrip(t, c, "up") // Serve has registered fl
	c.Close()
	assert.False(t, core.Draining())
	require.NoError(t, core.Shutdown(bounded(t)))
	require.ErrorIs(t, wait(), ErrServerClosed)
	assert.Positive(t, closes.Load())
	assert.Equal(t, closes.Load(), closesWhileDraining.Load(), "Draining must be true before the listener closes")
	select {
	case <-core.Done():
	default:
		t.Fatal("Done must be closed once shutdown began")
	}
}

// TestMaxConns: with a limit of 1, a second client completes its handshake
// (the kernel queues it) but is not served until the first one leaves; the
// limit is logged once per episode, not per client.
func TestMaxConns(t *testing.T) {
	var logs bytes.Buffer
	core := New(Config{MaxConns: 1, Log: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))})
	ln := listen(t)
	wait := served(t, core, ln)

	first := dial(t, ln.Addr().String())
	roundTrip(t, first, "first")
	second := dial(t, ln.Addr().String())
	third := dial(t, ln.Addr().String())
	_, err := second.Write([]byte("second"))
	require.NoError(t, err)
	require.NoError(t, second.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = second.Read(make([]byte, 1))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "the second client must wait while the first is served")

	first.Close() // a slot frees: the second is served, then the third
	require.NoError(t, second.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, len("second"))
	_, err = io.ReadFull(second, got)
	require.NoError(t, err)
	second.Close()
	roundTrip(t, third, "third")
	third.Close()

	require.NoError(t, core.Shutdown(bounded(t)))
	require.ErrorIs(t, wait(), ErrServerClosed)
	n := strings.Count(logs.String(), "connection limit reached")
	assert.GreaterOrEqual(t, n, 1)
	assert.LessOrEqual(t, n, 3, "one line per time the limit is reached:\n%s", logs.String())
}

func TestShutdownWhileWaitingForASlot(t *testing.T) {
	core := New(Config{MaxConns: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln := listen(t)
	wait := served(t, core, ln)
	c := dial(t, ln.Addr().String())
	roundTrip(t, c, "hold the only slot")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, core.Shutdown(ctx), context.DeadlineExceeded)
	require.ErrorIs(t, wait(), ErrServerClosed)
}

func TestTemporary(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		assert.True(t, Temporary(acceptErr(errno)), errno.Error())
	}
	assert.True(t, Temporary(&net.OpError{Op: "accept", Err: timeoutErr{}}), "a listener deadline")
	assert.False(t, Temporary(net.ErrClosed))
	assert.False(t, Temporary(acceptErr(syscall.EINVAL)))
	assert.False(t, Temporary(errors.New("boom")))
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// syncWriter lets a slog handler and the test share a buffer safely.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// countingObserver counts the Observer calls the tests care about.
type countingObserver struct {
	mu                      sync.Mutex
	accepted, drainTimedOut int
	draining                int
	reasons                 []string
}

func (o *countingObserver) add(n *int) { o.mu.Lock(); *n++; o.mu.Unlock() }
func (o *countingObserver) Accepted()  { o.add(&o.accepted) }
func (o *countingObserver) Closed(reason string) {
	o.mu.Lock()
	o.reasons = append(o.reasons, reason)
	o.mu.Unlock()
}
func (o *countingObserver) AcceptFailed(bool) {}
func (o *countingObserver) LimitReached()     {}
func (o *countingObserver) Draining()         { o.add(&o.draining) }
func (o *countingObserver) DrainTimedOut()    { o.add(&o.drainTimedOut) }

// TestObserverSeesDrainTimeout: the Observer hears DrainTimedOut only when
// Shutdown's context ends with connections still open, not after a clean
// drain (the telemetry's drain-timeout counter relies on it).
func TestObserverSeesDrainTimeout(t *testing.T) {
	for _, straggler := range []bool{false, true} {
		obs := &countingObserver{}
		core := New(Config{Observer: obs, Log: slog.New(slog.DiscardHandler)})
		ln := listen(t)
		wait := served(t, core, ln)
		c := dial(t, ln.Addr().String())
		roundTrip(t, c, "x")
		if !straggler {
			c.Close()
			require.Eventually(t, func() bool { return core.OpenConns() == 0 }, 10*time.Second, time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := core.Shutdown(ctx)
		cancel()
		require.ErrorIs(t, wait(), ErrServerClosed)
		c.Close()
		obs.mu.Lock()
		if straggler {
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 1, obs.drainTimedOut, "a drain that ran out is reported")
		} else {
			assert.NoError(t, err)
			assert.Equal(t, 0, obs.drainTimedOut, "a clean drain is not a timeout")
		}
		assert.Equal(t, 1, obs.accepted)
		assert.Equal(t, 1, obs.draining)
		obs.mu.Unlock()
	}
}

// TestShutdownRacesServe: Shutdown may run before, during or after Serve's
// start (a signal can come at any time); with every field set at
// construction, the race detector must see no conflict, and Serve returns
// ErrServerClosed either way.
func TestShutdownRacesServe(t *testing.T) {
	for range 20 {
		obs := &countingObserver{}
		core := New(Config{MaxConns: 2, Observer: obs, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ln := listen(t)
		wait := served(t, core, ln)
		require.NoError(t, core.Shutdown(bounded(t)))
		require.ErrorIs(t, wait(), ErrServerClosed)
		obs.mu.Lock()
		assert.Equal(t, 1, obs.draining)
		obs.mu.Unlock()
	}
}
