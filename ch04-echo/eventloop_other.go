//go:build !linux

package main

import (
	"context"
	"errors"
	"runtime"
)

// eventLoopCmd: the event-loop server is written on Linux's epoll(7) (see
// eventloop_linux.go); elsewhere it is unavailable, and the goroutine per
// connection server (serve, or serve -tuned) is the one to run. Go's own
// netpoller uses kqueue, IOCP or poll there: the portable event loop.
func eventLoopCmd(context.Context, []string) error {
	return errors.New("eventloop: the event-loop server uses Linux epoll and is unavailable on " +
		runtime.GOOS + "; run `ch04-echo serve` (a goroutine per connection on Go's netpoller) instead")
}
