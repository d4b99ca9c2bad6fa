package main

import (
	"io"
	"log/slog"
	"testing"

	"go.uber.org/goleak"
)

// Every test of the chapter must leave no goroutine behind: a server that
// forgets a connection, or a pool that forgets its reaper, fails here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quietLog discards log lines; tests that check logs use their own handler.
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
