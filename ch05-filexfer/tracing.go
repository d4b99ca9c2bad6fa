package main

// Tracing: a span per file, on both sides, joined into one trace across the
// network. The sender puts its span's context in the header as a W3C
// traceparent (protocol version 2); the receiver starts its span as that
// span's child. An operator then sees one trace per file: how long the
// sender waited for READY, how long the data took, and why it failed, with
// the receiver's view nested inside.
//
// The spans wrap the transfer from outside: tracedSend around sendFile,
// transfer around receive. Neither sendFile nor receive knows about spans;
// the protocol's only part in it is the traceparent the header carries.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/tcp-in-go/course/internal/tracing"
)

// tracerScope names this package as the spans' instrumentation scope.
const tracerScope = "github.com/tcp-in-go/course/ch05-filexfer"

// ANCHOR: attributes
// The attributes of a transfer's span: what an operator asks about a file
// that was slow or failed.
var (
	attrPeer    = tracing.Key("network.peer.address") // the other side
	attrName    = tracing.Key("filexfer.name")        // the file's name on the receiver
	attrSize    = tracing.Key("filexfer.size")        // its size in bytes
	attrOffset  = tracing.Key("filexfer.resumed_at")  // where the data started (resume)
	attrResult  = tracing.Key("filexfer.result")      // ok, or why not (as in the metrics)
	attrVersion = tracing.Key("filexfer.version")     // the header's protocol version
)

// ANCHOR_END: attributes

// ANCHOR: traced-send
// tracedSend is sendFile in a span of its own, one per attempt. The span
// rides in ctx to offer, which puts its traceparent in the header.
func (s *Sender) tracedSend(ctx context.Context, c net.Conn, j job, buf []byte, resume bool) Result {
	if s.Tracer == nil { // tracing off: not even the attributes are made
		return s.sendFile(ctx, c, j, buf, resume)
	}
	ctx, span := s.Tracer.Start(ctx, "filexfer.send", tracing.KindClient,
		attrPeer.String(c.RemoteAddr().String()), attrName.String(j.name))
	r := s.sendFile(ctx, c, j, buf, resume)
	span.SetAttributes(attrSize.Int64(r.Size), attrOffset.Int64(int64(r.Offset)), attrResult.String(result(r.Err)))
	span.SetError(r.Err)
	span.End()
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
// transfer is receive as an operator sees it: in a span, a child of the
// sender's when the header carries a traceparent (an invalid one is
// ignored, as W3C Trace Context asks: the span starts a new trace), and
// counted in the metrics. receive itself is only the protocol.
func (s *Server) transfer(c net.Conn, h Header, log *slog.Logger) (Reply, error) {
	start := time.Now()
	var span *tracing.Span
	if s.Tracer != nil {
		ctx := tracing.Extract(context.Background(), h.TraceParent)
		_, span = s.Tracer.Start(ctx, "filexfer.receive", tracing.KindServer,
			attrPeer.String(c.RemoteAddr().String()), attrName.String(h.Name),
			attrSize.Int64(int64(h.Size)), attrVersion.Int(int(h.Version)))
	}
	rep, off, err := s.receive(c, h, log)
	s.xfer.done(h.Size, time.Since(start), err)
	span.SetAttributes(attrOffset.Int64(int64(off)), attrResult.String(result(err)))
	span.SetError(err)
	span.End()
	return rep, err
}

// ANCHOR_END: transfer

// ANCHOR: setup
// startTracing exports spans as OTLP/HTTP JSON when the standard
// OTEL_EXPORTER_OTLP_ENDPOINT variable names a collector (for example
// http://127.0.0.1:4318), and returns a nil Tracer otherwise: tracing off,
// which makes no spans and allocates nothing. stop sends the spans still
// queued.
func startTracing(log *slog.Logger) (t *tracing.Tracer, stop func(), err error) {
	return tracing.FromEnv("ch05-filexfer", tracerScope, log)
}

// ANCHOR_END: setup
