package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/internal/tracing"
	"github.com/tcp-in-go/course/tests/testutil"
)

// memTracer is a tracer that keeps every ended span in memory.
func memTracer() (*tracing.Tracer, *tracing.Recorder) {
	rec := &tracing.Recorder{}
	return tracing.New(rec), rec
}

// discardSpans is an exporter that drops every span (benchmarks).
type discardSpans struct{}

func (discardSpans) ExportSpan(tracing.SpanData) {}

func str(t *testing.T, s tracing.SpanData, k tracing.Key) string {
	t.Helper()
	v, ok := s.Attr(k)
	require.True(t, ok, "span %s has no %s", s.Name, k)
	return v.AsString()
}

func num(t *testing.T, s tracing.SpanData, k tracing.Key) int64 {
	t.Helper()
	v, ok := s.Attr(k)
	require.True(t, ok, "span %s has no %s", s.Name, k)
	return v.AsInt64()
}

// TestTraceGoToGo: the sender's span and the receiver's span of one file
// are one trace, the receiver's the child of the sender's, carried by the
// header's traceparent; each has what an operator needs.
func TestTraceGoToGo(t *testing.T) {
	tr, rec := memTracer()
	addr, _, _ := startServer(t, func(s *Server) { s.Tracer = tr })
	src, _ := randomFile(t, t.TempDir(), "a.bin", 3000, 1)
	snd := sender(addr, &bytes.Buffer{})
	snd.Tracer = tr
	_, err := snd.Send(t.Context(), []string{src})
	require.NoError(t, err)

	sends, recvs := rec.Named("filexfer.send"), rec.Named("filexfer.receive")
	require.Len(t, sends, 1)
	require.Len(t, recvs, 1, "the receiver's span ends before it replies OK")
	send, recv := sends[0], recvs[0]
	assert.Equal(t, send.SpanContext.TraceID, recv.SpanContext.TraceID, "one trace")
	assert.Equal(t, send.SpanContext.SpanID, recv.Parent.SpanID, "the receiver's span is the sender's child")
	assert.True(t, recv.Parent.Remote)
	assert.False(t, send.Parent.IsValid(), "the sender's span starts the trace")
	assert.Equal(t, tracing.KindClient, send.Kind)
	assert.Equal(t, tracing.KindServer, recv.Kind)
	assert.Equal(t, tracing.StatusUnset, send.Status.Code)
	assert.Equal(t, tracing.StatusUnset, recv.Status.Code)
	assert.Equal(t, "a.bin", str(t, send, attrName))
	assert.Equal(t, int64(3000), num(t, send, attrSize))
	assert.Equal(t, int64(0), num(t, send, attrOffset))
	assert.Equal(t, "ok", str(t, send, attrResult))
	assert.Equal(t, addr, str(t, send, attrPeer))
	assert.Equal(t, "a.bin", str(t, recv, attrName))
	assert.Equal(t, int64(3000), num(t, recv, attrSize))
	assert.Equal(t, int64(0), num(t, recv, attrOffset))
	assert.Equal(t, "ok", str(t, recv, attrResult))
	assert.Equal(t, int64(VersionTrace), num(t, recv, attrVersion))
	assert.NotEmpty(t, str(t, recv, attrPeer))
}

// TestTraceRefusedAndResumed: a refusal marks both spans failed, with the
// status as the result; a resumed file's spans say where its data started,
// on both sides.
func TestTraceRefusedAndResumed(t *testing.T) {
	tr, rec := memTracer()
	addr, dir, _ := startServer(t, func(s *Server) { s.Tracer = tr })
	src, sum := randomFile(t, t.TempDir(), "a.bin", 100_000, 7)
	partial := partialName("a.bin", 100_000)
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	part := filepath.Join(dir, filepath.FromSlash(partial))
	require.NoError(t, os.MkdirAll(filepath.Dir(part), 0o700))
	require.NoError(t, os.WriteFile(part, b[:40_000], 0o600)) // a cut-off earlier try
	snd := sender(addr, &bytes.Buffer{})
	snd.Tracer, snd.Resume = tr, true
	_, err = snd.Send(t.Context(), []string{src})
	require.NoError(t, err)
	assert.Equal(t, sum, fileSum(t, dir+"/a.bin"))
	_, err = snd.Send(t.Context(), []string{src}) // again: EXISTS
	require.Error(t, err)

	sends, recvs := rec.Named("filexfer.send"), rec.Named("filexfer.receive")
	require.Len(t, sends, 2)
	require.Len(t, recvs, 2)
	for _, s := range []tracing.SpanData{sends[0], recvs[0]} {
		assert.Equal(t, int64(40_000), num(t, s, attrOffset), s.Name)
		assert.Equal(t, "ok", str(t, s, attrResult), s.Name)
	}
	for _, s := range []tracing.SpanData{sends[1], recvs[1]} {
		assert.Equal(t, "exists", str(t, s, attrResult), s.Name)
		assert.Equal(t, tracing.StatusError, s.Status.Code, s.Name)
		assert.Contains(t, s.Status.Message, "exists", s.Name)
	}
}

// TestTraceInvalidParent: a header whose traceparent is not valid W3C
// Trace Context (an all-zero trace id) still delivers the file; the
// receiver's span ignores it and starts a trace of its own.
func TestTraceInvalidParent(t *testing.T) {
	tr, rec := memTracer()
	addr, dir, _ := startServer(t, func(s *Server) { s.Tracer = tr })
	r := dialRaw(t, addr)
	h := Header{Version: VersionTrace, Name: "x.txt", Size: 2, ChunkSize: 2,
		TraceParent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}
	hb, err := h.MarshalBinary()
	require.NoError(t, err)
	data := []byte("hi")
	r.write(hb, chunk(data), AppendEnd(nil, sha256.Sum256(data)))
	assert.Equal(t, StatusReady, r.reply().Status)
	assert.Equal(t, StatusOK, r.reply().Status)
	got, err := os.ReadFile(dir + "/x.txt")
	require.NoError(t, err)
	assert.Equal(t, "hi", string(got))
	recvs := rec.Named("filexfer.receive")
	require.Len(t, recvs, 1)
	assert.False(t, recvs[0].Parent.IsValid(), "an invalid traceparent is ignored")
	assert.True(t, recvs[0].SpanContext.IsValid(), "the span starts a new trace")
}

// TestTraceOldReceiver: a receiver from before version 2 refuses the traced
// header with BAD_VERSION; the sender sends the file again as version 1,
// and it arrives, in a trace of its own on the receiver's side.
func TestTraceOldReceiver(t *testing.T) {
	tr, rec := memTracer()
	addr, dir, _ := startServer(t, func(s *Server) { s.Tracer = tr; s.oldVersion = true })
	src, sum := randomFile(t, t.TempDir(), "a.bin", 3000, 2)
	snd := sender(addr, &bytes.Buffer{})
	snd.Tracer = tr
	snd.Retries = 0 // the downgrade is not a retry
	_, err := snd.Send(t.Context(), []string{src})
	require.NoError(t, err)
	assert.Equal(t, sum, fileSum(t, dir+"/a.bin"))

	sends, recvs := rec.Named("filexfer.send"), rec.Named("filexfer.receive")
	require.Len(t, sends, 2)
	assert.Equal(t, "bad_version", str(t, sends[0], attrResult))
	assert.Equal(t, "ok", str(t, sends[1], attrResult))
	require.Len(t, recvs, 1)
	assert.Equal(t, int64(Version), num(t, recvs[0], attrVersion))
	assert.False(t, recvs[0].Parent.IsValid(), "version 1 carries no trace context")
}

// TestTracingOffSendsVersion1: a sender without a tracer (no
// OTEL_EXPORTER_OTLP_ENDPOINT) makes no spans, and its headers stay
// version 1, as before tracing existed.
func TestTracingOffSendsVersion1(t *testing.T) {
	tr, rec := memTracer()
	addr, _, _ := startServer(t, func(s *Server) { s.Tracer = tr })
	src, _ := randomFile(t, t.TempDir(), "a.bin", 10, 3)
	_, err := sender(addr, &bytes.Buffer{}).Send(t.Context(), []string{src}) // Tracer nil: off
	require.NoError(t, err)
	recvs := rec.Named("filexfer.receive")
	require.Len(t, recvs, 1)
	assert.Equal(t, int64(Version), num(t, recvs[0], attrVersion))
	assert.Empty(t, rec.Named("filexfer.send"))
}

var loggedTraceparent = regexp.MustCompile(`msg=received .*traceparent=00-([0-9a-f]{32})-([0-9a-f]{16})-01`)

// TestTraceGoToPython: the Python receiver takes the Go sender's
// traceparent (and logs it): the trace crosses into Python.
func TestTraceGoToPython(t *testing.T) {
	tr, rec := memTracer()
	py := testutil.StartPython(t, "ch05_filexfer.py", "serve", "--dir", t.TempDir())
	src, _ := randomFile(t, t.TempDir(), "a.bin", 100, 4)
	snd := sender(py.Addr, &bytes.Buffer{})
	snd.Tracer = tr
	_, err := snd.Send(t.Context(), []string{src})
	require.NoError(t, err)
	sends := rec.Named("filexfer.send")
	require.Len(t, sends, 1)
	m := loggedTraceparent.FindStringSubmatch(py.WaitOutput(t, "msg=received", 10*time.Second))
	require.NotNil(t, m, py.Output())
	assert.Equal(t, sends[0].SpanContext.TraceID.String(), m[1])
	assert.Equal(t, sends[0].SpanContext.SpanID.String(), m[2])
}

// TestTracePythonToGo: the Python sender, given a trace context in the
// TRACEPARENT variable, sends it in a version 2 header; the Go receiver's
// span joins that trace. Python without an SDK configured (or without
// opentelemetry at all) passes the parent on unchanged.
func TestTracePythonToGo(t *testing.T) {
	tr, rec := memTracer()
	addr, _, _ := startServer(t, func(s *Server) { s.Tracer = tr })
	src, _ := randomFile(t, t.TempDir(), "a.bin", 100, 5)
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	cmd := testutil.PythonCmd(t, "ch05_filexfer.py", "send", "--addr", addr, src)
	cmd.Env = append(os.Environ(), "TRACEPARENT=00-"+traceID+"-"+spanID+"-01")
	stdout, stderr, err := testutil.RunWithTimeout(t, time.Minute, cmd, "")
	require.NoError(t, err, "%s%s", stdout, stderr)
	recvs := rec.Named("filexfer.receive")
	require.Len(t, recvs, 1)
	assert.Equal(t, traceID, recvs[0].SpanContext.TraceID.String())
	assert.Equal(t, spanID, recvs[0].Parent.SpanID.String())
	assert.Equal(t, int64(VersionTrace), num(t, recvs[0], attrVersion))
}

// TestTraceExported: the programs themselves, run with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector, export their spans
// there as OTLP/JSON, one trace across the two processes. (deploy/ decodes
// the same requests with OpenTelemetry's own protobuf types.)
func TestTraceExported(t *testing.T) {
	type span struct {
		TraceID, SpanID, ParentSpanID, Name string
	}
	var (
		mu    sync.Mutex
		spans []span
	)
	coll := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ResourceSpans []struct {
				ScopeSpans []struct{ Spans []span }
			}
		}
		if r.URL.Path != "/v1/traces" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
	}))
	defer coll.Close()
	env := append(withoutOTEL(os.Environ()), "OTEL_EXPORTER_OTLP_ENDPOINT="+coll.URL)

	bin := testutil.BuildGo(t, ".")
	srv := exec.Command(bin, "serve", "-dir", t.TempDir(), "-addr", "127.0.0.1:0")
	srv.Env = env
	p := testutil.StartProcess(t, srv)
	assert.Contains(t, p.Output(), `msg="tracing on" otlp_endpoint=`+coll.URL+"/v1/traces service=ch05-filexfer")
	snd := exec.Command(bin, "send", "-addr", p.Addr, writeTemp(t, "hello.txt", "hello"))
	snd.Env = env
	_, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, snd, "")
	require.NoError(t, err, stderr)
	require.NoError(t, p.Signal(os.Interrupt, 10*time.Second)) // stop flushes the receiver's spans

	mu.Lock()
	defer mu.Unlock()
	byName := map[string]span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	require.Len(t, spans, 2, "%+v", spans)
	send, recv := byName["filexfer.send"], byName["filexfer.receive"]
	assert.Regexp(t, "^[0-9a-f]{32}$", send.TraceID)
	assert.Equal(t, send.TraceID, recv.TraceID)
	assert.Equal(t, send.SpanID, recv.ParentSpanID)
	assert.Empty(t, send.ParentSpanID)
}

// withoutOTEL drops the OTEL_* variables of the test's own environment (a
// developer's collector, a service name), so that only the test's apply.
func withoutOTEL(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OTEL_") {
			out = append(out, kv)
		}
	}
	return out
}
