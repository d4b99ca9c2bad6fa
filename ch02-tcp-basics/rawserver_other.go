//go:build !linux

package main

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// The raw-syscall server (rawserver_linux.go) uses Linux system calls
// through golang.org/x/sys/unix. On this system the net package version is
// the one that runs; read rawserver_linux.go to see the calls.

const rawSupported = false

func serveRaw(context.Context, *slog.Logger, string, int, time.Duration) error {
	return errors.New("-raw (the raw-syscall server) is Linux-only; run without -raw for the net package version")
}
