package tracing

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	keyName = Key("filexfer.name")
	keySize = Key("filexfer.size")
	keyOK   = Key("ok")
)

func recorder() (*Tracer, *Recorder) {
	r := &Recorder{}
	return New(r), r
}

// TestStartNewTrace: a span started from a context without one begins a
// trace of its own: fresh ids, no parent, sampled, with its attributes.
func TestStartNewTrace(t *testing.T) {
	tr, rec := recorder()
	ctx, span := tr.Start(context.Background(), "work", KindClient, keyName.String("a.bin"))
	require.NotNil(t, span)
	assert.Same(t, span, SpanFromContext(ctx))
	assert.True(t, span.IsRecording())
	span.End()
	assert.False(t, span.IsRecording(), "ended")

	got := rec.Spans()
	require.Len(t, got, 1)
	d := got[0]
	assert.Equal(t, "work", d.Name)
	assert.Equal(t, KindClient, d.Kind)
	assert.True(t, d.SpanContext.IsValid())
	assert.True(t, d.SpanContext.IsSampled())
	assert.False(t, d.SpanContext.Remote)
	assert.False(t, d.Parent.IsValid(), "the first span of a trace has no parent")
	assert.False(t, d.End.Before(d.Start))
	v, ok := d.Attr(keyName)
	assert.True(t, ok)
	assert.Equal(t, "a.bin", v.AsString())
}

// TestStartChild: a span started from a context holding a span is its
// child, in the same trace, with an id of its own.
func TestStartChild(t *testing.T) {
	tr, rec := recorder()
	ctx, parent := tr.Start(context.Background(), "parent", KindServer)
	_, child := tr.Start(ctx, "child", KindInternal)
	child.End()
	parent.End()
	c := rec.Named("child")
	require.Len(t, c, 1)
	assert.Equal(t, parent.SpanContext().TraceID, c[0].SpanContext.TraceID)
	assert.Equal(t, parent.SpanContext().SpanID, c[0].Parent.SpanID)
	assert.NotEqual(t, parent.SpanContext().SpanID, c[0].SpanContext.SpanID)
	assert.False(t, c[0].Parent.Remote)
	assert.Equal(t, []string{"child", "parent"}, names(rec.Spans()), "in the order they ended")
}

// TestStartRemoteParent: Extract puts another process's traceparent in
// the context; the next span joins its trace as its child, and
// TraceParent gives that span's context to send on.
func TestStartRemoteParent(t *testing.T) {
	tr, rec := recorder()
	const in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := Extract(context.Background(), in)
	assert.Equal(t, in, TraceParent(ctx), "a remote context passes through unchanged")
	ctx, span := tr.Start(ctx, "receive", KindServer)
	out := TraceParent(ctx)
	span.End()

	d := rec.Spans()[0]
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", d.SpanContext.TraceID.String())
	assert.Equal(t, "00f067aa0ba902b7", d.Parent.SpanID.String())
	assert.True(t, d.Parent.Remote)
	assert.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-"+d.SpanContext.SpanID.String()+"-01", out)
}

// TestExtractInvalid: an invalid traceparent is ignored, as the spec
// says: the context is unchanged and the next span starts a new trace.
func TestExtractInvalid(t *testing.T) {
	tr, rec := recorder()
	ctx := context.Background()
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		assert.Equal(t, ctx, Extract(ctx, bad), bad)
	}
	_, span := tr.Start(Extract(ctx, "garbage"), "receive", KindServer)
	span.End()
	assert.False(t, rec.Spans()[0].Parent.IsValid())
}

// TestNotSampledParent: a child of a parent that was not sampled is not
// recorded (the caller decided), but its context still travels, with the
// flag clear, so the processes after it agree.
func TestNotSampledParent(t *testing.T) {
	tr, rec := recorder()
	ctx := Extract(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	ctx, span := tr.Start(ctx, "receive", KindServer)
	assert.False(t, span.IsRecording())
	span.End()
	assert.Empty(t, rec.Spans())
	sc, err := ParseTraceParent(TraceParent(ctx))
	require.NoError(t, err)
	assert.False(t, sc.IsSampled())
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID.String())
}

// TestSpanSetters: attributes accumulate (a key set again keeps its last
// value), SetError sets an error status and ignores nil, a status other
// than error has no message, and nothing changes after End, which
// exports once.
func TestSpanSetters(t *testing.T) {
	tr, rec := recorder()
	_, span := tr.Start(context.Background(), "s", KindInternal, keySize.Int64(1))
	span.SetAttributes(keySize.Int64(3000), keyOK.Bool(true))
	span.SetError(nil)
	span.SetStatus(StatusOK, "ignored")
	span.End()
	span.End()
	span.SetAttributes(keyName.String("late"))
	span.SetError(errors.New("late"))

	got := rec.Spans()
	require.Len(t, got, 1, "End exports once")
	d := got[0]
	v, _ := d.Attr(keySize)
	assert.Equal(t, int64(3000), v.AsInt64())
	v, _ = d.Attr(keyOK)
	assert.True(t, v.AsBool())
	_, late := d.Attr(keyName)
	assert.False(t, late)
	assert.Equal(t, Status{Code: StatusOK}, d.Status)

	_, span = tr.Start(context.Background(), "failed", KindInternal)
	span.SetError(errors.New("disk full"))
	span.End()
	assert.Equal(t, Status{Code: StatusError, Message: "disk full"}, rec.Named("failed")[0].Status)
}

// TestValueKinds: each kind reads back as itself, and as the zero value
// of the others.
func TestValueKinds(t *testing.T) {
	s, n, b := keyName.String("x").Value, keySize.Int(7).Value, keyOK.Bool(true).Value
	assert.Equal(t, []Type{TypeString, TypeInt64, TypeBool}, []Type{s.Type(), n.Type(), b.Type()})
	assert.Equal(t, "x", s.AsString())
	assert.Equal(t, int64(7), n.AsInt64())
	assert.True(t, b.AsBool())
	assert.Equal(t, int64(0), b.AsInt64())
	assert.False(t, n.AsBool())
	assert.Equal(t, []string{"x", "7", "true"}, []string{s.Emit(), n.Emit(), b.Emit()})
}

// TestOff: a nil Tracer returns the context unchanged and a nil Span,
// whose methods all do nothing; no traceparent comes out of it.
func TestOff(t *testing.T) {
	var tr *Tracer
	ctx := context.Background()
	got, span := tr.Start(ctx, "x", KindClient, keyName.String("a"))
	assert.Equal(t, ctx, got)
	assert.Nil(t, span)
	span.SetAttributes(keySize.Int64(1))
	span.SetStatus(StatusError, "x")
	span.SetError(errors.New("x"))
	span.End()
	assert.False(t, span.IsRecording())
	assert.Equal(t, SpanContext{}, span.SpanContext())
	assert.Empty(t, TraceParent(got))
}

// TestOffAllocatesNothing: tracing off costs no allocation on the traced
// path: Start, the setters and End on a nil Tracer and its nil Span.
func TestOffAllocatesNothing(t *testing.T) {
	var tr *Tracer
	ctx := context.Background()
	err := errors.New("x")
	allocs := testing.AllocsPerRun(1000, func() { offPath(ctx, tr, err) })
	assert.Zero(t, allocs)
}

// offPath is what a traced function does, with tracing off.
func offPath(ctx context.Context, tr *Tracer, err error) {
	ctx, span := tr.Start(ctx, "filexfer.send", KindClient, keyName.String("a.bin"), keySize.Int64(3000))
	_ = TraceParent(ctx)
	span.SetAttributes(keySize.Int64(3000), keyOK.Bool(true))
	span.SetError(err)
	span.End()
}

// BenchmarkOff is the whole traced path with tracing off (a few ns, no
// allocation); BenchmarkOn the same with a span recorded, for scale.
func BenchmarkOff(b *testing.B) {
	var tr *Tracer
	ctx, err := context.Background(), errors.New("x")
	b.ReportAllocs()
	for b.Loop() {
		offPath(ctx, tr, err)
	}
}

func BenchmarkOn(b *testing.B) {
	tr := New(discard{})
	ctx, err := context.Background(), errors.New("x")
	b.ReportAllocs()
	for b.Loop() {
		offPath(ctx, tr, err)
	}
}

type discard struct{}

func (discard) ExportSpan(SpanData) {}

// TestSpanConcurrent: a span may be set from several goroutines at once
// (go test -race checks it).
func TestSpanConcurrent(t *testing.T) {
	tr, rec := recorder()
	_, span := tr.Start(context.Background(), "s", KindInternal)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			span.SetAttributes(keySize.Int(i))
			span.SetError(errors.New("x"))
			_ = span.IsRecording()
		})
	}
	wg.Go(span.End)
	wg.Wait()
	span.End()
	require.Len(t, rec.Spans(), 1)
}

func names(spans []SpanData) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

var _ = time.Second
