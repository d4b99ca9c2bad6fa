package tracing

import (
	"testing"

	"go.uber.org/goleak"
)

// The exporter runs a goroutine and an HTTP client: none may outlive its
// Shutdown.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
