package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSleep(t *testing.T) {
	start := time.Now()
	assert.True(t, Sleep(context.Background(), 50*time.Millisecond), "a live context: the whole wait")
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	start = time.Now()
	assert.False(t, Sleep(ctx, time.Hour), "cancelled while waiting")
	assert.Less(t, time.Since(start), 10*time.Second, "…and returns at once")

	assert.False(t, Sleep(ctx, time.Hour), "already cancelled")
	assert.False(t, Sleep(ctx, 0), "no wait, but the context is done")
	assert.True(t, Sleep(context.Background(), 0), "no wait, live context")
	assert.True(t, Sleep(context.Background(), -time.Second), "a negative wait is no wait")
}
