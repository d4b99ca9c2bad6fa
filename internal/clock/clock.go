// Package clock holds the one way the course's programs wait: Sleep, a
// time.Sleep that a cancelled context (Ctrl-C, a caller giving up) cuts
// short. A program that waits with time.Sleep cannot be stopped while it
// waits; one that waits with Sleep stops at once.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends, whichever comes first, and reports
// whether it waited the whole d (false: ctx ended). With d ≤ 0 it does not
// wait, and reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
