package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: a server that leaks one per
// connection would leak thousands in production.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
