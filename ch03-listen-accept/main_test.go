package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (a connection
// handler, a pinger, a proxy copier...).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
