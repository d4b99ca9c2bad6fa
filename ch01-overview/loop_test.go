package main

// The accept loop's own promises: errors waited out with a growing wait,
// Shutdown ending the loop whatever it is doing, no connection slipping
// past Shutdown.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// errEMFILE is what Accept returns when the process is out of file
// descriptors ("accept tcp 127.0.0.1:9000: accept4: too many open files").
var errEMFILE = &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}

// flakyListener fails its Accept calls as its script says (true: fail with
// errEMFILE; after the script, every call fails if failAfter is set), and
// otherwise accepts for real.
type flakyListener struct {
	net.Listener
	mu        sync.Mutex
	script    []bool
	failAfter bool
	calls     int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	i := l.calls
	l.calls++
	l.mu.Unlock()
	if (i < len(l.script) && l.script[i]) || (i >= len(l.script) && l.failAfter) {
		return nil, errEMFILE
	}
	return l.Listener.Accept()
}

// listen returns a loopback listener on port 0, closed at cleanup.
func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveIn starts srv.Serve(ln) and returns where its result arrives; at
// cleanup it shuts srv down and waits for Serve, bounded.
func serveIn(t *testing.T, srv *Server, ln net.Listener) <-chan error {
	served, returned := make(chan error, 1), make(chan struct{})
	go func() { served <- srv.Serve(ln); close(returned) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		select {
		case <-returned:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return served
}

// within waits for Serve's result, failing after d.
func within(t *testing.T, served <-chan error, d time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-served:
		return err
	case <-time.After(d):
		t.Fatalf("Serve did not return within %s %s", d, what)
		return nil
	}
}

func loggedServer(t *testing.T) (*Server, *lines, *testutil.LogBuffer) {
	out, logs := newLines(), &testutil.LogBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil))
	return NewServer(Config{MaxLine: 100, Out: out, Log: log}), out, logs
}

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	for last, want := range map[time.Duration]time.Duration{
		0: 5 * ms, 5 * ms: 10 * ms, 10 * ms: 20 * ms, 320 * ms: 640 * ms,
		640 * ms: time.Second, time.Second: time.Second,
	} {
		assert.Equal(t, want, backoff(last), "after a wait of %s", last)
	}
}

var retryRE = regexp.MustCompile(`retry_in=(\S+)`)

// TestAcceptErrorsAreWaitedOut: Accept fails three times (out of file
// descriptors), then accepts a client, fails once more, then accepts
// another. Both clients are served, each failure is logged with its wait,
// and the wait doubles in a run of failures and starts again at 5 ms after
// a success.
func TestAcceptErrorsAreWaitedOut(t *testing.T) {
	srv, out, logs := loggedServer(t)
	ln := &flakyListener{Listener: listen(t), script: []bool{true, true, true, false, true, false}}
	serveIn(t, srv, ln)

	a := testutil.Dial(t, ln.Addr().String()) // waits in the accept queue meanwhile
	_, err := io.WriteString(a, "first\n")
	require.NoError(t, err)
	out.waitFor(t, 1)
	b := testutil.Dial(t, ln.Addr().String())
	_, err = io.WriteString(b, "second\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"Received: first", "Received: second"}, out.waitFor(t, 2))

	var waits []string
	for _, m := range retryRE.FindAllStringSubmatch(logs.String(), -1) {
		waits = append(waits, m[1])
	}
	assert.Equal(t, []string{"5ms", "10ms", "20ms", "5ms"}, waits)
	assert.Contains(t, logs.String(), `msg="accept failed; backing off" err="accept tcp: accept4: too many open files"`)
}

// TestShutdownInterruptsBackoff: Shutdown ends Serve at once, even in the
// middle of a wait after a failed Accept. Accept fails until the wait has
// grown to 640 ms; Serve must return within half of it.
func TestShutdownInterruptsBackoff(t *testing.T) {
	srv, _, logs := loggedServer(t)
	served := serveIn(t, srv, &flakyListener{Listener: listen(t), failAfter: true})
	logs.WaitFor(t, "retry_in=640ms", 10*time.Second)
	require.NoError(t, srv.Shutdown(t.Context()))
	err := within(t, served, 320*time.Millisecond, "of Shutdown, in a 640 ms wait: Shutdown must end the wait")
	assert.ErrorIs(t, err, ErrServerClosed)
}

// TestServeAfterShutdown: Serve on a server already shut down returns
// ErrServerClosed at once and closes the listener; a second Shutdown is
// harmless.
func TestServeAfterShutdown(t *testing.T) {
	srv, _, _ := loggedServer(t)
	require.NoError(t, srv.Shutdown(t.Context()))
	require.NoError(t, srv.Shutdown(t.Context()), "a second Shutdown")
	ln := listen(t)
	err := within(t, serveIn(t, srv, ln), 5*time.Second, "after Shutdown")
	assert.ErrorIs(t, err, ErrServerClosed)
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "Serve closed the listener")
}

// hookListener runs hook after the Accept underneath returned a
// connection and before handing it to Serve.
type hookListener struct {
	net.Listener
	hook func()
}

func (l *hookListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.hook()
	}
	return c, err
}

// TestConnAcceptedAsShutdownBegins: a connection that Accept returns just
// after Shutdown began (and ended: it had nothing to wait for) is not
// served behind its back: Serve closes it and returns ErrServerClosed.
func TestConnAcceptedAsShutdownBegins(t *testing.T) {
	srv, out, logs := loggedServer(t)
	shut := make(chan error, 1)
	ln := &hookListener{Listener: listen(t), hook: func() { shut <- srv.Shutdown(context.Background()) }}
	served := serveIn(t, srv, ln)

	c := testutil.Dial(t, ln.Addr().String())
	_, err := io.WriteString(c, "too late\n")
	require.NoError(t, err)
	assert.ErrorIs(t, within(t, served, 5*time.Second, "after Shutdown"), ErrServerClosed)
	assert.NoError(t, <-shut)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(make([]byte, 1))
	assert.True(t, errors.Is(err, io.EOF) || isReset(err), "the connection is closed, not served: %v", err)
	assert.NotContains(t, logs.String(), "msg=accepted", "no handler ran")
	assert.Equal(t, []string{""}, out.all(), "nothing printed")
}

// TestListenerClosedElsewhereEndsServe: a listener closed by someone else
// than Shutdown is a permanent error: Serve returns it, not ErrServerClosed,
// and does not retry.
func TestListenerClosedElsewhereEndsServe(t *testing.T) {
	srv, _, logs := loggedServer(t)
	ln := listen(t)
	served := serveIn(t, srv, ln)
	require.NoError(t, ln.Close())
	err := within(t, served, 5*time.Second, "after its listener was closed")
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.NotErrorIs(t, err, ErrServerClosed)
	assert.NotContains(t, logs.String(), "backing off")
}
