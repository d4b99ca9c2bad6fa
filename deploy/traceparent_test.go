package deploy

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tcp-in-go/course/internal/tracing"
)

// otelTC is the official OpenTelemetry Go propagator for W3C Trace
// Context, the one a service traced with the OpenTelemetry SDK uses.
var otelTC = propagation.TraceContext{}

// otelExtract reads a traceparent as that propagator does.
func otelExtract(tp string) trace.SpanContext {
	ctx := otelTC.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp})
	return trace.SpanContextFromContext(ctx)
}

// otelStricter are the vectors the official propagator refuses and
// internal/tracing accepts, with why. OpenTelemetry Go follows Trace
// Context Level 2 (https://www.w3.org/TR/trace-context-2/), which defines
// a second flag (random, 0x02) and, in that implementation, refuses a
// version 00 value with any higher bit set. Level 1
// (https://www.w3.org/TR/trace-context/), which internal/tracing follows,
// defines only the sampled bit and says to send the others as zero, not to
// refuse them: so it reads the sampled bit and clears the rest. Both send
// only 00 or 01 themselves, so their own traceparents always agree
// (TestTraceParentOursToTheirs, TestTraceParentTheirsToOurs).
var otelStricter = map[string]string{
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09": "reserved flag bit 0x08 set",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe": "reserved flag bits 0x04-0x80 set",
}

// TestTraceParentAgreesWithOpenTelemetry: every traceparent of
// internal/tracing's vectors (the spec's examples, later versions, each
// way of being invalid) means the same to internal/tracing and to the
// official propagator: both accept it or both ignore it, with the same
// ids and sampled flag; the only exceptions are otelStricter's, and the
// propagator must still refuse those (else the list is out of date).
func TestTraceParentAgreesWithOpenTelemetry(t *testing.T) {
	b, err := os.ReadFile("../internal/tracing/testdata/traceparent.json")
	require.NoError(t, err)
	var vectors struct{ Valid, Invalid []struct{ Why, Value string } }
	require.NoError(t, json.Unmarshal(b, &vectors))
	require.NotEmpty(t, vectors.Valid)
	require.NotEmpty(t, vectors.Invalid)
	for _, v := range append(vectors.Valid, vectors.Invalid...) {
		t.Run(v.Why, func(t *testing.T) {
			ours, err := tracing.ParseTraceParent(v.Value)
			theirs := otelExtract(v.Value)
			if why, ok := otelStricter[v.Value]; ok {
				require.NoError(t, err, "%q: internal/tracing accepts it (%s)", v.Value, why)
				require.False(t, theirs.IsValid(), "%q: OpenTelemetry now accepts it: remove it from otelStricter", v.Value)
				return
			}
			require.Equal(t, theirs.IsValid(), err == nil, "%q: OpenTelemetry valid=%v, ours err=%v", v.Value, theirs.IsValid(), err)
			if err != nil {
				return
			}
			assert.Equal(t, [16]byte(theirs.TraceID()), [16]byte(ours.TraceID))
			assert.Equal(t, [8]byte(theirs.SpanID()), [8]byte(ours.SpanID))
			assert.Equal(t, theirs.IsSampled(), ours.IsSampled())
			assert.True(t, theirs.IsRemote())
		})
	}
}

// TestTraceParentOursToTheirs: a span started with internal/tracing
// injects a traceparent the official propagator extracts to the same span
// context; sampled and not sampled.
func TestTraceParentOursToTheirs(t *testing.T) {
	tr := tracing.New(&tracing.Recorder{})
	for _, parent := range []string{"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"} {
		ctx, span := tr.Start(tracing.Extract(context.Background(), parent), "filexfer.send", tracing.KindClient)
		sc := span.SpanContext()
		theirs := otelExtract(tracing.TraceParent(ctx))
		require.True(t, theirs.IsValid(), "parent %q", parent)
		assert.Equal(t, [16]byte(sc.TraceID), [16]byte(theirs.TraceID()))
		assert.Equal(t, [8]byte(sc.SpanID), [8]byte(theirs.SpanID()))
		assert.Equal(t, sc.IsSampled(), theirs.IsSampled())
		span.End()
	}
}

// TestTraceParentTheirsToOurs: a span context injected by the official
// propagator, as an OpenTelemetry-traced service would send it, parses
// with internal/tracing to the same ids, and a span started from it is its
// child.
func TestTraceParentTheirsToOurs(t *testing.T) {
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			TraceFlags: flags,
		})
		carrier := propagation.MapCarrier{}
		otelTC.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
		tp := carrier.Get("traceparent")

		ours, err := tracing.ParseTraceParent(tp)
		require.NoError(t, err, tp)
		assert.Equal(t, [16]byte(sc.TraceID()), [16]byte(ours.TraceID))
		assert.Equal(t, [8]byte(sc.SpanID()), [8]byte(ours.SpanID))
		assert.Equal(t, sc.IsSampled(), ours.IsSampled())

		rec := &tracing.Recorder{}
		_, span := tracing.New(rec).Start(tracing.Extract(context.Background(), tp), "filexfer.receive", tracing.KindServer)
		assert.Equal(t, [16]byte(sc.TraceID()), [16]byte(span.SpanContext().TraceID), "the same trace")
		span.End()
		if sc.IsSampled() {
			require.Len(t, rec.Spans(), 1)
			assert.Equal(t, [8]byte(sc.SpanID()), [8]byte(rec.Spans()[0].Parent.SpanID), "its child")
		} else {
			assert.Empty(t, rec.Spans(), "the caller did not sample: not recorded")
		}
	}
}
