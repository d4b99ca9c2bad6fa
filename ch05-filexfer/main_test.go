package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test in this package must leave no goroutine behind: a receiver
// that forgets a connection handler, or a sender whose reader goroutine
// outlives the file, fails here.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
