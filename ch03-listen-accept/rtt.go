package main

// The round-trip time of the heartbeat, smoothed (an exercise).
//
// Each PONG that answers one of our PINGs gives a sample: the time from
// the PING to its PONG. One sample says little (a scheduler hiccup, a
// retransmission), so TCP smooths its own samples with two moving
// averages, RFC 6298 section 2: SRTT, the smoothed round-trip time, and
// RTTVAR, how far the samples stray from it. The client does the same for
// its PINGs and logs both. Every PING carries its own token, so a PONG
// names the one request it answers: the ambiguity that makes TCP skip the
// samples of retransmitted segments (Karn's algorithm, RFC 6298 section 3)
// does not arise.

import "time"

// ANCHOR: rtt
// rttEstimator smooths round-trip samples as RFC 6298 (section 2) does:
// the first sample R sets SRTT to R and RTTVAR to R/2; each later sample R'
// sets RTTVAR to 3/4 RTTVAR + 1/4 |SRTT - R'| (with the old SRTT), then
// SRTT to 7/8 SRTT + 1/8 R'. The zero value has seen no sample.
type rttEstimator struct {
	srtt, rttvar time.Duration
	samples      int
}

// Observe adds one round-trip sample.
func (e *rttEstimator) Observe(r time.Duration) {
	// ANCHOR: exercise-srtt
	if e.samples == 0 {
		e.srtt, e.rttvar = r, r/2
	} else {
		// RTTVAR first: RFC 6298 updates it with the SRTT of before.
		e.rttvar = (3*e.rttvar + (e.srtt - r).Abs()) / 4
		e.srtt = (7*e.srtt + r) / 8
	}
	e.samples++
	// ANCHOR_END: exercise-srtt
}

// ANCHOR_END: rtt
