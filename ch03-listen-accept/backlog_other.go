//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

type backlogResult struct{ Queued, Dropped, Accepted int }

// backlogLesson needs Linux: it reads the accept queue from /proc/net/tcp.
// On macOS, `netstat -Lan` shows listen queues (qlen/incqlen/maxqlen); on
// Windows there is no simple equivalent.
func backlogLesson(context.Context, io.Writer, int, int) (backlogResult, error) {
	return backlogResult{}, errors.New("the backlog lesson reads the kernel's accept queue from /proc/net/tcp and runs on Linux only (on macOS try: netstat -Lan)")
}
