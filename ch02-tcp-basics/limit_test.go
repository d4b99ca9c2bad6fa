package main

import (
	"bufio"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
)

// TestLimitListener runs the chapter's stream handler, unchanged, behind a
// limit of two connections, over TCP and over a Unix socket. A third client
// connects (its kernel completes the handshake) but gets no reply until one
// of the first two leaves.
func TestLimitListener(t *testing.T) {
	exercise.Graded(t, "exercise-limit-listener")
	for _, tc := range []struct{ network, addr string }{
		{"tcp", "127.0.0.1:0"},
		{"unix", filepath.Join(shortTempDir(t), "limit.sock")},
	} {
		t.Run(tc.network, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			require.NoError(t, err)
			limited := LimitListener(ln, 2)
			served := make(chan struct{})
			go func() { serveStream(limited); close(served) }()
			dial := func() net.Conn {
				c, err := net.DialTimeout(tc.network, ln.Addr().String(), 5*time.Second)
				require.NoError(t, err)
				require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
				return c
			}
			a, b := dial(), dial()
			for _, c := range []net.Conn{a, b} {
				replies, err := exchange(c, []string{"in"})
				require.NoError(t, err)
				require.Equal(t, []string{"echo: in"}, replies)
			}
			c := dial()
			_, err = c.Write([]byte("waiting\n"))
			require.NoError(t, err)
			r := bufio.NewReader(c)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
			_, err = r.ReadString('\n')
			var ne net.Error
			require.True(t, errors.As(err, &ne) && ne.Timeout(), "a third connection was served at once: %v", err)

			require.NoError(t, a.Close()) // its handler sees EOF and closes: a slot is free
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			reply, err := r.ReadString('\n')
			require.NoError(t, err, "the third connection is served once the first leaves")
			assert.Equal(t, "echo: waiting\n", reply)

			require.NoError(t, limited.Close())
			b.Close()
			c.Close()
			select {
			case <-served:
			case <-time.After(10 * time.Second):
				t.Fatal("serveStream did not return after the listener was closed")
			}
		})
	}
}

// pipeListener is a net.Listener of in-memory connections (net.Pipe): the
// test decides what each Accept returns, an error or a connection.
type pipeListener struct {
	next chan error // nil: a connection; else Accept returns this error
	done chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{next: make(chan error, 10), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case err := <-l.next:
		if err != nil {
			return nil, err
		}
		a, b := net.Pipe()
		b.Close()
		return a, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { close(l.done); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// within runs f and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// TestLimitListenerSlots: a connection closed twice frees one slot, not two
// (nor blocks); an Accept that fails gives its slot back; Close wakes an
// Accept that waits for a slot.
func TestLimitListenerSlots(t *testing.T) {
	exercise.Graded(t, "exercise-limit-listener")
	inner := newPipeListener()
	l := LimitListener(inner, 1)
	accept := func() (c net.Conn, err error) {
		within(t, 5*time.Second, "Accept, with a slot free,", func() { c, err = l.Accept() })
		return c, err
	}

	inner.next <- errors.New("accept failed (simulated)")
	_, err := accept()
	require.Error(t, err)
	inner.next <- nil
	c, err := accept() // the failed Accept gave its slot back
	require.NoError(t, err)
	within(t, 5*time.Second, "a second Close of one connection", func() {
		c.Close()
		c.Close()
	})
	inner.next <- nil
	c, err = accept() // the one slot is free again
	require.NoError(t, err)
	defer c.Close()

	inner.next <- nil // a connection is there, but the slot is taken
	waiting := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			c.Close()
		}
		waiting <- err
	}()
	require.Never(t, func() bool { return len(waiting) > 0 }, 100*time.Millisecond, time.Millisecond,
		"Accept returned while the one slot was taken: the double Close freed two")
	require.NoError(t, l.Close())
	select {
	case err := <-waiting:
		assert.ErrorIs(t, err, net.ErrClosed, "Close wakes a waiting Accept")
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the Accept waiting for a slot")
	}
}
