package testutil

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEventually(t *testing.T) {
	var calls atomic.Int32
	assert.True(t, Eventually(5*time.Second, func() bool { return calls.Add(1) >= 3 }),
		"a condition that turns true is seen")
	assert.Equal(t, int32(3), calls.Load(), "checked until it holds, then no more")

	calls.Store(0)
	assert.True(t, Eventually(0, func() bool { return calls.Add(1) == 1 }),
		"a condition already true needs no wait, even with no time at all")

	start := time.Now()
	assert.False(t, Eventually(30*time.Millisecond, func() bool { return false }),
		"a condition that never holds is reported false")
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "…after the whole timeout")
}
