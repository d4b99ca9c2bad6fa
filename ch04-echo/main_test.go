package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// connection a server or a test opens must be closed and its goroutine gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
