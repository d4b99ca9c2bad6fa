package testutil

import "time"

// Eventually checks cond at once and then every 5 ms until it holds (true)
// or timeout passes (false). Unlike require.Eventually it takes no
// testing.TB, so a helper goroutine may use it to watch a count change
// while the test's own goroutine runs the code under test. For a count or
// a state, never to order events.
func Eventually(timeout time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-deadline.C:
			return cond()
		}
	}
}
