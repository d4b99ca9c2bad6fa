package main

// An accept loop done right.
//
// Accept can fail for reasons that go away by themselves: the process (EMFILE)
// or the system (ENFILE) is out of file descriptors, the kernel is short of
// memory (ENOBUFS, ENOMEM), or a client gave up while it waited in the queue
// (ECONNABORTED). A loop that returns on those errors takes the whole server
// down because of one busy moment; a loop that retries at once spins at 100%
// CPU, because the connection that could not be accepted is still waiting in
// the queue. The fix, as in net/http: wait, doubling the wait up to a cap, and
// reset it after the next success. Any other error is permanent and ends the
// loop; a closed listener ends it cleanly (net.ErrClosed).

import (
	"log/slog"
	"net"
	"time"
)

const (
	acceptMinDelay = 5 * time.Millisecond
	acceptMaxDelay = 1 * time.Second
)

// ANCHOR: acceptloop
// acceptLoop accepts connections and passes each to handle (which must not
// block: it starts a goroutine). It returns when the listener is closed
// (an error wrapping net.ErrClosed) or fails permanently. Closing stop
// interrupts a backoff wait. onRetry, if not nil, sees each temporary error
// and the wait chosen for it (tests use it).
func acceptLoop(ln net.Listener, stop <-chan struct{}, log *slog.Logger,
	onRetry func(error, time.Duration), handle func(net.Conn)) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			delay = 0
			handle(c)
			continue
		}
		if !temporaryAcceptError(err) {
			return err // net.ErrClosed after Close, or a permanent failure
		}
		delay = min(max(2*delay, acceptMinDelay), acceptMaxDelay)
		log.Warn("accept failed; retrying", "err", err, "delay", delay)
		if onRetry != nil {
			onRetry(err, delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return net.ErrClosed
		}
	}
}

// ANCHOR_END: acceptloop
