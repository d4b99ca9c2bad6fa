package tracing

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Vector is one traceparent of testdata/traceparent.json.
type vector struct {
	Why     string `json:"why"`
	Value   string `json:"value"`
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	Sampled bool   `json:"sampled"`
}

func vectors(t *testing.T) (valid, invalid []vector) {
	t.Helper()
	b, err := os.ReadFile("testdata/traceparent.json")
	require.NoError(t, err)
	var v struct{ Valid, Invalid []vector }
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Valid)
	require.NotEmpty(t, v.Invalid)
	return v.Valid, v.Invalid
}

// TestParseTraceParentValid: the spec's examples and the rules for later
// versions give the ids and the sampled flag; the result is remote.
func TestParseTraceParentValid(t *testing.T) {
	valid, _ := vectors(t)
	for _, v := range valid {
		t.Run(v.Why, func(t *testing.T) {
			sc, err := ParseTraceParent(v.Value)
			require.NoError(t, err, v.Value)
			assert.Equal(t, v.TraceID, sc.TraceID.String())
			assert.Equal(t, v.SpanID, sc.SpanID.String())
			assert.Equal(t, v.Sampled, sc.IsSampled())
			assert.True(t, sc.Remote)
			assert.True(t, sc.IsValid())
		})
	}
}

// TestParseTraceParentInvalid: every value the spec says to ignore is
// refused with ErrTraceParent and a reason.
func TestParseTraceParentInvalid(t *testing.T) {
	_, invalid := vectors(t)
	for _, v := range invalid {
		t.Run(v.Why, func(t *testing.T) {
			sc, err := ParseTraceParent(v.Value)
			require.Error(t, err, "%q was accepted as %+v", v.Value, sc)
			assert.True(t, errors.Is(err, ErrTraceParent))
			assert.Equal(t, SpanContext{}, sc)
		})
	}
}

// TestTraceParentRoundTrip: what TraceParent writes parses back to the
// same ids; it is always version 00 with only the sampled bit, whatever
// version and flags came in; an invalid span context writes "".
func TestTraceParentRoundTrip(t *testing.T) {
	valid, _ := vectors(t)
	for _, v := range valid {
		sc, err := ParseTraceParent(v.Value)
		require.NoError(t, err)
		out := sc.TraceParent()
		flags := "00"
		if v.Sampled {
			flags = "01"
		}
		assert.Equal(t, "00-"+v.TraceID+"-"+v.SpanID+"-"+flags, out)
		back, err := ParseTraceParent(out)
		require.NoError(t, err)
		assert.Equal(t, sc, back)
	}
	assert.Empty(t, SpanContext{}.TraceParent())
	assert.Empty(t, SpanContext{TraceID: TraceID{1}}.TraceParent(), "no span id")
	assert.Empty(t, SpanContext{SpanID: SpanID{1}}.TraceParent(), "no trace id")
}

// TestNewIDs: ids are random, so a thousand of them are all valid and all
// different.
func TestNewIDs(t *testing.T) {
	traces, spans := map[TraceID]bool{}, map[SpanID]bool{}
	for range 1000 {
		tid, sid := newTraceID(), newSpanID()
		require.True(t, tid.IsValid())
		require.True(t, sid.IsValid())
		traces[tid], spans[sid] = true, true
	}
	assert.Len(t, traces, 1000)
	assert.Len(t, spans, 1000)
}

func FuzzParseTraceParent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("cc-12345678901234567890123456789012-1234567890123456-01-x")
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseTraceParent(s)
		if err != nil {
			return
		}
		// Whatever parses is valid, and writes a version 00 value that
		// parses to the same thing.
		if !sc.IsValid() {
			t.Fatalf("%q parsed to an invalid %+v", s, sc)
		}
		back, err := ParseTraceParent(sc.TraceParent())
		if err != nil || back != sc {
			t.Fatalf("%q: round trip gave %+v, %v", s, back, err)
		}
	})
}
