package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tcp-in-go/course/tests/testutil"
)

// memTracer is a tracer provider that keeps every ended span in memory.
func memTracer(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

// spansNamed returns the ended spans called name, in the order they ended.
func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestTraceGoToGo: the sender's span and the receiver's span of one file
// are one trace, the receiver's the child of the sender's, carried by the
// header's traceparent; each has what an operator needs.
func TestTraceGoToGo(t *testing.T) {
	tp, exp := memTracer(t)
	addr, _, _ := startServer(t, func(s *Server) { s.Tracer = tp })
	src, _ := randomFile(t, t.TempDir(), "a.bin", 3000, 1)
	snd := sender(addr, &bytes.Buffer{})
	snd.Tracer = tp
	_, err := snd.Send(t.Context(), []string{src})
	require.NoError(t, err)

	sends, recvs := spansNamed(exp, "filexfer.send"), spansNamed(exp, "filexfer.receive")
	require.Len(t, sends, 1)
	require.Len(t, recvs, 1, "the receiver's span ends before it replies OK")
	send, recv := sends[0], recvs[0]
	assert.Equal(t, send.SpanContext.TraceID(), recv.SpanContext.TraceID(), "one trace")
	assert.Equal(t, send.SpanContext.SpanID(), recv.Parent.SpanID(), "the receiver's span is the sender's child")
	assert.True(t, recv.Parent.IsRemote())
	assert.Equal(t, trace.SpanKindClient, send.SpanKind)
	assert.Equal(t, trace.SpanKindServer, recv.SpanKind)
	a := attrs(send)
	assert.Equal(t, "a.bin", a[attrName].AsString())
	assert.Equal(t, int64(3000), a[attrSize].AsInt64())
	assert.Equal(t, int64(0), a[attrOffset].AsInt64())
	assert.Equal(t, "ok", a[attrResult].AsString())
	assert.Equal(t, addr, a[attrPeer].AsString())
	a = attrs(recv)
	assert.Equal(t, "a.bin", a[attrName].AsString())
	assert.Equal(t, int64(3000), a[attrSize].AsInt64())
	assert.Equal(t, int64(0), a[attrOffset].AsInt64())
	assert.Equal(t, "ok", a[attrResult].AsString())
	assert.Equal(t, int64(VersionTrace), a[attrVersion].AsInt64())
	assert.NotEmpty(t, a[attrPeer].AsString())
}

// TestTraceOldReceiver: a receiver from before version 2 refuses the traced
// header with BAD_VERSION; the sender sends the file again as version 1,
// and it arrives, in a trace of its own on the receiver's side.
func TestTraceOldReceiver(t *testing.T) {
	tp, exp := memTracer(t)
	addr, dir, _ := startServer(t, func(s *Server) { s.Tracer = tp; s.oldVersion = true })
	src, sum := randomFile(t, t.TempDir(), "a.bin", 3000, 2)
	snd := sender(addr, &bytes.Buffer{})
	snd.Tracer = tp
	snd.Retries = 0 // the downgrade is not a retry
	_, err := snd.Send(t.Context(), []string{src})
	require.NoError(t, err)
	assert.Equal(t, sum, fileSum(t, dir+"/a.bin"))

	sends, recvs := spansNamed(exp, "filexfer.send"), spansNamed(exp, "filexfer.receive")
	require.Len(t, sends, 2)
	assert.Equal(t, "bad_version", attrs(sends[0])[attrResult].AsString())
	assert.Equal(t, "ok", attrs(sends[1])[attrResult].AsString())
	require.Len(t, recvs, 1)
	assert.Equal(t, int64(Version), attrs(recvs[0])[attrVersion].AsInt64())
	assert.False(t, recvs[0].Parent.IsValid(), "version 1 carries no trace context")
}

// TestTracingOffSendsVersion1: without a tracer provider (no
// OTEL_EXPORTER_OTLP_ENDPOINT) the sender's spans are no-ops and its
// headers stay version 1, as before tracing existed.
func TestTracingOffSendsVersion1(t *testing.T) {
	tp, exp := memTracer(t)
	addr, _, _ := startServer(t, func(s *Server) { s.Tracer = tp })
	src, _ := randomFile(t, t.TempDir(), "a.bin", 10, 3)
	_, err := sender(addr, &bytes.Buffer{}).Send(t.Context(), []string{src}) // global provider: no-op
	require.NoError(t, err)
	recvs := spansNamed(exp, "filexfer.receive")
	require.Len(t, recvs, 1)
	assert.Equal(t, int64(Version), attrs(recvs[0])[attrVersion].AsInt64())
	assert.Empty(t, spansNamed(exp, "filexfer.send"))
}

var loggedTraceparent = regexp.MustCompile(`msg=received .*traceparent=00-([0-9a-f]{32})-([0-9a-f]{16})-01`)

// TestTraceGoToPython: the Python receiver takes the Go sender's
// traceparent (and logs it): the trace crosses into Python.
func TestTraceGoToPython(t *testing.T) {
	tp, exp := memTracer(t)
	py := testutil.StartPython(t, "ch05_filexfer.py", "serve", "--dir", t.TempDir())
	src, _ := randomFile(t, t.TempDir(), "a.bin", 100, 4)
	snd := sender(py.Addr, &bytes.Buffer{})
	snd.Tracer = tp
	_, err := snd.Send(t.Context(), []string{src})
	require.NoError(t, err)
	sends := spansNamed(exp, "filexfer.send")
	require.Len(t, sends, 1)
	m := loggedTraceparent.FindStringSubmatch(py.WaitOutput(t, "msg=received", 10*time.Second))
	require.NotNil(t, m, py.Output())
	assert.Equal(t, sends[0].SpanContext.TraceID().String(), m[1])
	assert.Equal(t, sends[0].SpanContext.SpanID().String(), m[2])
}

// TestTracePythonToGo: the Python sender, given a trace context in the
// TRACEPARENT variable, sends it in a version 2 header; the Go receiver's
// span joins that trace. Python without an SDK configured (or without
// opentelemetry at all) passes the parent on unchanged.
func TestTracePythonToGo(t *testing.T) {
	tp, exp := memTracer(t)
	addr, _, _ := startServer(t, func(s *Server) { s.Tracer = tp })
	src, _ := randomFile(t, t.TempDir(), "a.bin", 100, 5)
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	cmd := testutil.PythonCmd(t, "ch05_filexfer.py", "send", "--addr", addr, src)
	cmd.Env = append(os.Environ(), "TRACEPARENT=00-"+traceID+"-"+spanID+"-01")
	stdout, stderr, err := testutil.RunWithTimeout(t, time.Minute, cmd, "")
	require.NoError(t, err, "%s%s", stdout, stderr)
	recvs := spansNamed(exp, "filexfer.receive")
	require.Len(t, recvs, 1)
	assert.Equal(t, traceID, recvs[0].SpanContext.TraceID().String())
	assert.Equal(t, spanID, recvs[0].Parent.SpanID().String())
	assert.Equal(t, int64(VersionTrace), attrs(recvs[0])[attrVersion].AsInt64())
}
