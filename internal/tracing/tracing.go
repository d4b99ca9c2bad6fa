// Package tracing is the course's own small tracer: spans shaped like
// OpenTelemetry's (a Tracer starts them from a context, a Span takes
// attributes and a status, End finishes it), trace context carried as a W3C
// traceparent (https://www.w3.org/TR/trace-context/), and an exporter that
// sends finished spans to any OpenTelemetry collector as OTLP/HTTP JSON
// (https://opentelemetry.io/docs/specs/otlp/#otlphttp).
//
// It uses the standard library only. The official OpenTelemetry Go SDK and
// its OTLP exporter bring gRPC, protobuf and their dependencies, about
// 100 MiB in a student's module cache, for what a lesson needs a page of;
// deploy/ checks what this package writes against the official packages
// (their protobuf types, their propagator), so the two cannot drift apart.
//
// Tracing off is a nil *Tracer: Start returns the context unchanged and a
// nil *Span, and every Span method does nothing on nil, without allocating.
package tracing

import (
	"context"
	"sync"
	"time"
)

// Kind says what a span does, with the numbers of OTLP's SpanKind enum.
type Kind int

// The kinds of span.
const (
	KindUnspecified Kind = 0
	KindInternal    Kind = 1 // work inside a process
	KindServer      Kind = 2 // serving a remote caller's request
	KindClient      Kind = 3 // a request to a remote server
	KindProducer    Kind = 4
	KindConsumer    Kind = 5
)

// StatusCode is a span's outcome, with the numbers of OTLP's
// Status.StatusCode enum.
type StatusCode int

// The status codes.
const (
	StatusUnset StatusCode = 0 // the default: nothing said
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

// Status is a span's outcome, with a message for an error.
type Status struct {
	Code    StatusCode
	Message string
}

// Tracer starts spans and hands each finished one to its Exporter. A nil
// *Tracer is tracing off.
type Tracer struct {
	exp Exporter
	now func() time.Time
}

// Exporter receives every span a Tracer ends. ExportSpan must not block:
// it runs on the traced program's own path (OTLP queues it; Recorder keeps
// it in memory).
type Exporter interface {
	ExportSpan(SpanData)
}

// New returns a Tracer that ends its spans into exp.
func New(exp Exporter) *Tracer { return &Tracer{exp: exp, now: time.Now} }

// SpanData is a finished span, as an Exporter receives it.
type SpanData struct {
	Name        string
	Kind        Kind
	SpanContext SpanContext // this span's
	Parent      SpanContext // invalid for a trace's first span
	Start, End  time.Time
	Attributes  []KeyValue
	Status      Status
}

// Attr returns the value of the attribute key (the last one set) and
// whether there is one.
func (d SpanData) Attr(key Key) (Value, bool) {
	for i := len(d.Attributes) - 1; i >= 0; i-- {
		if d.Attributes[i].Key == key {
			return d.Attributes[i].Value, true
		}
	}
	return Value{}, false
}

// Span is one timed step of a trace. Its methods are safe for concurrent
// use, and do nothing on a nil *Span (tracing off) or after End.
type Span struct {
	mu     sync.Mutex
	t      *Tracer
	data   SpanData
	ended  bool
	record bool // false when the parent was not sampled: propagate only
}

// ANCHOR: start
// Start starts a span called name, a child of the span or remote span
// context in ctx (a new trace when there is none), and returns a context
// holding it, for the spans and traceparents made below. On a nil Tracer
// it returns ctx and a nil *Span.
func (t *Tracer) Start(ctx context.Context, name string, kind Kind, attrs ...KeyValue) (context.Context, *Span) {
	if t == nil {
		return ctx, nil
	}
	parent := SpanContextFromContext(ctx)
	sc := SpanContext{TraceID: parent.TraceID, SpanID: newSpanID(), Flags: FlagSampled}
	if parent.IsValid() {
		sc.Flags = parent.Flags & FlagSampled // the parent's sampling decision
	} else {
		sc.TraceID, parent = newTraceID(), SpanContext{}
	}
	s := &Span{t: t, record: sc.IsSampled(), data: SpanData{
		Name: name, Kind: kind, SpanContext: sc, Parent: parent, Start: t.now(),
		Attributes: append([]KeyValue(nil), attrs...),
	}}
	return context.WithValue(ctx, spanKey{}, s), s
}

// ANCHOR_END: start

// SpanContext returns the span's context (the zero SpanContext on nil).
func (s *Span) SpanContext() SpanContext {
	if s == nil {
		return SpanContext{}
	}
	return s.data.SpanContext // set once, in Start
}

// IsRecording reports whether the span will be exported when it ends.
func (s *Span) IsRecording() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.record && !s.ended
}

// SetAttributes adds attributes; a key set again keeps its last value.
func (s *Span) SetAttributes(attrs ...KeyValue) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.data.Attributes = append(s.data.Attributes, attrs...)
	}
}

// SetStatus sets the span's outcome; the message is kept only for an
// error, as OpenTelemetry's API does.
func (s *Span) SetStatus(code StatusCode, msg string) {
	if s == nil {
		return
	}
	if code != StatusError {
		msg = ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.data.Status = Status{Code: code, Message: msg}
	}
}

// SetError marks the span failed with err's text; a nil err changes
// nothing, so that a caller can pass whatever its work returned.
func (s *Span) SetError(err error) {
	if s == nil || err == nil {
		return
	}
	s.SetStatus(StatusError, err.Error())
}

// End finishes the span and hands it to the Tracer's Exporter (once; a
// second End does nothing).
func (s *Span) End() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.data.End = s.t.now()
	d := s.data
	s.mu.Unlock()
	if s.record && s.t.exp != nil {
		s.t.exp.ExportSpan(d)
	}
}

type spanKey struct{}
type remoteKey struct{}

// ContextWithSpan returns ctx holding s, as the parent of the spans
// started from it.
func ContextWithSpan(ctx context.Context, s *Span) context.Context {
	return context.WithValue(ctx, spanKey{}, s)
}

// SpanFromContext returns the span in ctx, or nil.
func SpanFromContext(ctx context.Context) *Span {
	s, _ := ctx.Value(spanKey{}).(*Span)
	return s
}

// ContextWithRemoteSpanContext returns ctx holding sc, a span of another
// process, as the parent of the spans started from it.
func ContextWithRemoteSpanContext(ctx context.Context, sc SpanContext) context.Context {
	sc.Remote = true
	return context.WithValue(ctx, remoteKey{}, sc)
}

// SpanContextFromContext returns the parent a span started from ctx gets:
// the span in ctx if any, else the remote span context, else the zero one.
func SpanContextFromContext(ctx context.Context) SpanContext {
	if s := SpanFromContext(ctx); s != nil {
		return s.SpanContext()
	}
	sc, _ := ctx.Value(remoteKey{}).(SpanContext)
	return sc
}

// ANCHOR: propagate
// Extract returns ctx with the span context of traceparent as the remote
// parent, or ctx unchanged when traceparent is empty or invalid: the spec
// says to ignore an invalid one, so the next span starts a new trace.
func Extract(ctx context.Context, traceparent string) context.Context {
	sc, err := ParseTraceParent(traceparent)
	if err != nil {
		return ctx
	}
	return ContextWithRemoteSpanContext(ctx, sc)
}

// TraceParent returns the traceparent of the span (or remote span context)
// in ctx, to send to the next process, or "" when ctx holds none.
func TraceParent(ctx context.Context) string {
	return SpanContextFromContext(ctx).TraceParent()
}

// ANCHOR_END: propagate
