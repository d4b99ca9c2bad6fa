package main

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/exercise"
	"github.com/tcp-in-go/course/internal/faultproxy"
)

// srttVectors are testdata/srtt.json: samples, and SRTT and RTTVAR after
// each, shared with the Python twin's tests.
type srttVectors struct {
	Cases []struct {
		About   string    `json:"about"`
		Samples []float64 `json:"samples_ms"`
		SRTT    []float64 `json:"srtt_ms"`
		RTTVAR  []float64 `json:"rttvar_ms"`
	} `json:"cases"`
}

// TestRTTEstimator: SRTT and RTTVAR follow RFC 6298 section 2 after every
// sample (the first sets them, the later ones smooth them, RTTVAR first).
func TestRTTEstimator(t *testing.T) {
	exercise.Graded(t, "exercise-srtt")
	data, err := os.ReadFile("testdata/srtt.json")
	require.NoError(t, err)
	var v srttVectors
	require.NoError(t, json.Unmarshal(data, &v))
	require.NotEmpty(t, v.Cases)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, c := range v.Cases {
		var e rttEstimator
		for i, sample := range c.Samples {
			e.Observe(time.Duration(sample * float64(time.Millisecond)))
			assert.InDelta(t, c.SRTT[i], ms(e.srtt), 1e-5, "%s: SRTT after sample %d", c.About, i+1)
			assert.InDelta(t, c.RTTVAR[i], ms(e.rttvar), 1e-5, "%s: RTTVAR after sample %d", c.About, i+1)
		}
		assert.Equal(t, len(c.Samples), e.samples, "%s: samples counted", c.About)
	}
}

// TestClientLogsSmoothedRTT: a session that had answers ends with its
// smoothed round trip on the disconnected line (here after a reset).
func TestClientLogsSmoothedRTT(t *testing.T) {
	exercise.Graded(t, "exercise-srtt")
	p := faultproxy.Start(t, startHeartbeat(t, time.Minute, 3), faultproxy.Options{})
	rec, _ := startClient(t, &Client{Addr: p.Addr(), Interval: 10 * time.Millisecond, Misses: 3,
		Backoff: Backoff{Base: time.Hour, Max: time.Hour}})
	rec.waitPongs(t, 3, time.Time{}, 10*time.Second)
	p.ResetAll()
	_, ev := rec.waitEvent(t, 0, 10*time.Second, is(StateDisconnected))
	assert.Positive(t, ev.SRTT, "the session's SRTT")
	assert.Less(t, ev.SRTT, time.Second, "a loopback round trip")
	assert.Regexp(t, `msg=disconnected .*srtt=\S+`, rec.log())
}
