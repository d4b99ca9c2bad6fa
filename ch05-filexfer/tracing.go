package main

// Tracing with OpenTelemetry: a span per file, on both sides, joined into
// one trace across the network. The sender puts its span's context in the
// header as a W3C traceparent (protocol version 2); the receiver starts its
// span as that span's child. An operator then sees one trace per file:
// how long the sender waited for READY, how long the data took, and why it
// failed, with the receiver's view nested inside.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/tcp-in-go/course/ch05-filexfer"

// ANCHOR: attributes
// The attributes of a transfer's span: what an operator asks about a file
// that was slow or failed.
var (
	attrPeer    = attribute.Key("network.peer.address") // the other side
	attrName    = attribute.Key("filexfer.name")        // the file's name on the receiver
	attrSize    = attribute.Key("filexfer.size")        // its size in bytes
	attrOffset  = attribute.Key("filexfer.resumed_at")  // where the data started (resume)
	attrResult  = attribute.Key("filexfer.result")      // ok, or why not (as in the metrics)
	attrVersion = attribute.Key("filexfer.version")     // the header's protocol version
)

// ANCHOR_END: attributes

// traceContext is the W3C Trace Context format: the traceparent header.
var traceContext = propagation.TraceContext{}

// traceParent returns ctx's span as a traceparent, or "" when ctx has no
// recording span (tracing off): the header then stays version 1.
func traceParent(ctx context.Context) string {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

func tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(tracerName)
}

// ANCHOR: traced-send
// tracedSend is sendFile in a span of its own, one per attempt.
func (s *Sender) tracedSend(ctx context.Context, c net.Conn, j job, buf []byte, resume bool) Result {
	ctx, span := tracer(s.Tracer).Start(ctx, "filexfer.send", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrPeer.String(c.RemoteAddr().String()), attrName.String(j.name)))
	defer span.End()
	r := s.sendFile(ctx, c, j, buf, resume)
	span.SetAttributes(attrSize.Int64(r.Size), attrOffset.Int64(int64(r.Offset)), attrResult.String(result(r.Err)))
	if r.Err != nil {
		span.SetStatus(codes.Error, r.Err.Error())
	}
	return r
}

// ANCHOR_END: traced-send

// downgrade reports whether err is an old receiver's refusal of version 2:
// then this Sender sends version 1 from now on, and the file again.
func (s *Sender) downgrade(err error) bool {
	var pe *ProtoError
	if s.plain || !errors.As(err, &pe) || pe.Status != StatusBadVersion {
		return false
	}
	s.plain = true
	return true
}

// ANCHOR: transfer
// transfer is receive, traced and measured. Its span is a child of the
// sender's when the header carries a traceparent; an invalid one is
// ignored (the span starts a new trace), as W3C Trace Context asks.
func (s *Server) transfer(c net.Conn, h Header, log *slog.Logger) (Reply, error) {
	start := time.Now()
	ctx := traceContext.Extract(context.Background(), propagation.MapCarrier{"traceparent": h.TraceParent})
	ctx, span := tracer(s.Tracer).Start(ctx, "filexfer.receive", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attrPeer.String(c.RemoteAddr().String()), attrName.String(h.Name),
			attrSize.Int64(int64(h.Size)), attrVersion.Int(int(h.Version))))
	defer span.End()
	rep, err := s.receive(ctx, c, h, log)
	s.xfer.done(h.Size, time.Since(start), err)
	span.SetAttributes(attrResult.String(result(err)))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return rep, err
}

// ANCHOR_END: transfer

// ANCHOR: setup
// setupTracing exports spans with OTLP over HTTP when the standard
// OTEL_EXPORTER_OTLP_ENDPOINT variable is set (e.g. http://127.0.0.1:4318),
// and does nothing otherwise: the global provider stays a no-op, which
// costs a few nanoseconds per span. The returned stop flushes the spans
// still buffered.
func setupTracing(ctx context.Context, service string, log *slog.Logger) (stop func(), err error) {
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" {
		return func() {}, nil
	}
	exp, err := otlptracehttp.New(ctx) // reads the OTEL_EXPORTER_OTLP_* variables itself
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	log.Info("tracing on", "otlp_endpoint", endpoint)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}, nil
}

// ANCHOR_END: setup
