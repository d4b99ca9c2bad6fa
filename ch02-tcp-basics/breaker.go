package main

import (
	"sync"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState int

// The three states of a circuit breaker.
const (
	BreakerClosed   BreakerState = iota // calls go through; failures are counted
	BreakerOpen                         // calls fail at once, for a cooldown
	BreakerHalfOpen                     // one trial call goes through to test the water
)

func (s BreakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// ANCHOR: breaker
// Breaker is a circuit breaker for dialing. When the server is down, every
// dial waits for a timeout (or an RST) and hundreds of callers pile up behind
// it. After Threshold failures in a row the breaker opens: callers are turned
// away at once with ErrCircuitOpen. After Cooldown it lets one trial dial
// through (half-open): success closes it, failure opens it for another cooldown.
type Breaker struct {
	Threshold int              // failures in a row that open the breaker (0: never)
	Cooldown  time.Duration    // how long it stays open before a trial (0: none)
	Now       func() time.Time // the clock; tests replace it

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	trial    bool // a half-open trial call is under way
}

// ANCHOR_END: breaker

// ANCHOR: breaker-allow
// Allow reports whether a call may go ahead. A caller that is allowed must
// report the outcome with Success or Failure.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if b.Now().Sub(b.openedAt) < b.Cooldown {
			return false
		}
		b.state, b.trial = BreakerHalfOpen, true // let exactly one trial through
		return true
	case BreakerHalfOpen:
		if b.trial {
			return false // the trial is under way: the others still wait outside
		}
		b.trial = true
		return true
	default:
		return true
	}
}

// ANCHOR_END: breaker-allow

// ANCHOR: breaker-outcome
// Success records a call that worked: the breaker closes.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state, b.failures, b.trial = BreakerClosed, 0, false
}

// Failure records a call that failed. The Threshold-th failure in a row,
// or a failed trial, opens the breaker.
func (b *Breaker) Failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.state == BreakerHalfOpen || (b.Threshold > 0 && b.failures >= b.Threshold) {
		b.state, b.openedAt, b.trial = BreakerOpen, b.Now(), false
	}
}

// ANCHOR_END: breaker-outcome

// State returns the breaker's state, as the next Allow would find it: an
// open breaker whose cooldown is over reads as half-open.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && b.Now().Sub(b.openedAt) >= b.Cooldown {
		return BreakerHalfOpen
	}
	return b.state
}
