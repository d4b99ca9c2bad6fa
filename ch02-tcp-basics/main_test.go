package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the chapter must leave no goroutine behind: a server that
// forgets a connection, or a pool that forgets its reaper, fails here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
