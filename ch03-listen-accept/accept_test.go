package main

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
)

// scriptedListener returns the errors (or, for nil, a connection) of its
// script from Accept, one per call, then net.ErrClosed.
type scriptedListener struct {
	net.Listener
	script []error
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	if len(l.script) == 0 {
		return nil, net.ErrClosed
	}
	err := l.script[0]
	l.script = l.script[1:]
	if err != nil {
		return nil, err
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

func acceptErr(errno error) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

func TestAcceptLoopBacksOffOnTemporaryErrors(t *testing.T) {
	exercise.Graded(t, "exercise-temporary-errors")
	l := &scriptedListener{script: []error{
		acceptErr(syscall.EMFILE), acceptErr(syscall.EMFILE), acceptErr(syscall.ENFILE),
		nil, // a success resets the delay
		acceptErr(syscall.ECONNABORTED),
		acceptErr(syscall.EINVAL), // permanent: the loop must end with it
	}}
	var delays []time.Duration
	handled := 0
	err := acceptLoop(l, nil, discard,
		func(_ error, d time.Duration) { delays = append(delays, d) },
		func(c net.Conn) { handled++; c.Close() })
	assert.ErrorIs(t, err, syscall.EINVAL)
	assert.Equal(t, 1, handled)
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{5 * ms, 10 * ms, 20 * ms, 5 * ms}, delays)
}

func TestAcceptLoopDelayIsCapped(t *testing.T) {
	d := time.Duration(0)
	for range 20 {
		d = min(max(2*d, acceptMinDelay), acceptMaxDelay)
	}
	assert.Equal(t, acceptMaxDelay, d)
}

func TestAcceptLoopStopsDuringBackoff(t *testing.T) {
	exercise.Graded(t, "exercise-temporary-errors")
	var script []error
	for range 1000 {
		script = append(script, acceptErr(syscall.EMFILE))
	}
	stop := make(chan struct{})
	retries := make(chan time.Duration, 1000)
	done := make(chan error, 1)
	go func() {
		done <- acceptLoop(&scriptedListener{script: script}, stop, discard,
			func(_ error, d time.Duration) { retries <- d }, func(net.Conn) {})
	}()
	for range 3 {
		select {
		case <-retries: // the loop is backing off, not spinning
		case err := <-done:
			t.Fatalf("acceptLoop returned on EMFILE instead of backing off: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("acceptLoop did not back off")
		}
	}
	close(stop)
	select {
	case err := <-done:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("acceptLoop did not return after stop")
	}
}

func TestServeEndsCleanlyWhenListenerCloses(t *testing.T) {
	exercise.Graded(t, "exercise-temporary-errors") // its last assertions
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := NewServer(time.Minute, 3, discard)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	require.NoError(t, srv.Shutdown(t.Context()))
	select {
	case err := <-done:
		assert.NoError(t, err, "Serve must return nil after Shutdown")
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	assert.False(t, temporaryAcceptError(net.ErrClosed))
	assert.True(t, temporaryAcceptError(acceptErr(syscall.EMFILE)))
	assert.False(t, temporaryAcceptError(errors.New("boom")))
}
