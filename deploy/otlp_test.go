package deploy

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tcp-in-go/course/tests/testutil"
)

// The course's tracer (internal/tracing) writes OTLP/JSON itself, so that
// the student's module needs no OpenTelemetry packages. These tests hold
// what it writes to OpenTelemetry's own definition of the protocol: the
// generated protobuf types of go.opentelemetry.io/proto/otlp, decoded
// strictly (an unknown or misspelt field is an error).

// TestOTLPFromTheRealPrograms runs the ch05 receiver and sender as
// processes, both exporting to one collector (httptest), sends a file, and
// decodes every request the collector got into the official
// ExportTraceServiceRequest. Together they must form one trace: the
// receiver's span a child of the sender's, with the attributes an operator
// reads, the service and scope named, times and kinds as the protocol
// defines them.
func TestOTLPFromTheRealPrograms(t *testing.T) {
	var col otlpCollector
	srv := httptest.NewServer(&col)
	defer srv.Close()
	env := append(withoutOTEL(os.Environ()), "OTEL_EXPORTER_OTLP_ENDPOINT="+srv.URL)

	bin := testutil.BuildGo(t, "../ch05-filexfer")
	recv := exec.Command(bin, "serve", "-dir", t.TempDir(), "-addr", "127.0.0.1:0")
	recv.Env = env
	p := testutil.StartProcess(t, recv)
	file := filepath.Join(t.TempDir(), "report.pdf")
	require.NoError(t, os.WriteFile(file, bytes.Repeat([]byte("x"), 100_000), 0o644))
	send := exec.Command(bin, "send", "-addr", p.Addr, file)
	send.Env = env
	_, stderr, err := testutil.RunWithTimeout(t, 30*time.Second, send, "")
	require.NoError(t, err, stderr)
	require.NoError(t, p.Signal(os.Interrupt, 10*time.Second)) // the receiver sends its spans as it stops

	reqs := col.decoded(t)
	require.Len(t, reqs, 2, "one request from each process")
	spans := map[string]*tracepb.Span{}
	for _, req := range reqs {
		require.Len(t, req.ResourceSpans, 1)
		rs := req.ResourceSpans[0]
		assert.Equal(t, "ch05-filexfer", attrs(rs.Resource.Attributes)["service.name"].GetStringValue())
		require.Len(t, rs.ScopeSpans, 1)
		assert.Equal(t, "github.com/tcp-in-go/course/ch05-filexfer", rs.ScopeSpans[0].Scope.GetName())
		for _, s := range rs.ScopeSpans[0].Spans {
			spans[s.Name] = s
		}
	}
	sendSpan, recvSpan := spans["filexfer.send"], spans["filexfer.receive"]
	require.NotNil(t, sendSpan, "the sender's span")
	require.NotNil(t, recvSpan, "the receiver's span")

	assert.Len(t, sendSpan.TraceId, 16)
	assert.Len(t, sendSpan.SpanId, 8)
	assert.Empty(t, sendSpan.ParentSpanId, "the sender's span starts the trace")
	assert.Equal(t, sendSpan.TraceId, recvSpan.TraceId, "one trace")
	assert.Equal(t, sendSpan.SpanId, recvSpan.ParentSpanId, "the receiver's span is the sender's child")
	assert.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, sendSpan.Kind)
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, recvSpan.Kind)
	remote := uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	assert.Equal(t, remote|1, recvSpan.Flags, "sampled, its parent in another process")
	for _, s := range []*tracepb.Span{sendSpan, recvSpan} {
		assert.Equal(t, tracepb.Status_STATUS_CODE_UNSET, s.Status.GetCode(), s.Name)
		assert.NotZero(t, s.StartTimeUnixNano, s.Name)
		assert.GreaterOrEqual(t, s.EndTimeUnixNano, s.StartTimeUnixNano, s.Name)
		assert.WithinDuration(t, time.Now(), time.Unix(0, int64(s.EndTimeUnixNano)), time.Minute, s.Name)
		a := attrs(s.Attributes)
		assert.Equal(t, "report.pdf", a["filexfer.name"].GetStringValue(), s.Name)
		assert.Equal(t, int64(100_000), a["filexfer.size"].GetIntValue(), s.Name)
		assert.Equal(t, "ok", a["filexfer.result"].GetStringValue(), s.Name)
		assert.NotEmpty(t, a["network.peer.address"].GetStringValue(), s.Name)
		require.NotNil(t, a["filexfer.resumed_at"], s.Name)
		assert.Equal(t, int64(0), a["filexfer.resumed_at"].GetIntValue(), s.Name)
	}
	assert.Equal(t, p.Addr, attrs(sendSpan.Attributes)["network.peer.address"].GetStringValue())
	assert.Equal(t, int64(2), attrs(recvSpan.Attributes)["filexfer.version"].GetIntValue(), "the traced header")
}

// otlpCollector keeps the body of every POST to /v1/traces.
type otlpCollector struct {
	mu     sync.Mutex
	bodies [][]byte
	bad    []string
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.bad = append(c.bad, err.Error())
	case r.Method != http.MethodPost || r.URL.Path != "/v1/traces":
		c.bad = append(c.bad, r.Method+" "+r.URL.Path)
	case r.Header.Get("Content-Type") != "application/json":
		c.bad = append(c.bad, "Content-Type: "+r.Header.Get("Content-Type"))
	default:
		c.bodies = append(c.bodies, body)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{}")
}

// decoded decodes every body received into the official request type.
func (c *otlpCollector) decoded(t *testing.T) []*coltracepb.ExportTraceServiceRequest {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Empty(t, c.bad, "requests that are not OTLP/HTTP JSON")
	var out []*coltracepb.ExportTraceServiceRequest
	for _, b := range c.bodies {
		req, err := decodeOTLP(b)
		require.NoError(t, err, "%s", b)
		out = append(out, req)
	}
	return out
}

// decodeOTLP decodes an OTLP/JSON request with the official types. OTLP's
// JSON differs from protobuf's standard JSON mapping in one place: ids
// (traceId, spanId, parentSpanId) are hex, where protobuf writes bytes as
// base64 (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
// So, as a collector does, the ids are turned from hex into base64 first;
// an id that is not hex of the right length is an error. Everything else
// is decoded by protojson as it is, with unknown fields refused.
func decodeOTLP(body []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	if err := hexIDsToBase64(doc); err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// idLen is the byte length of each id field of a span.
var idLen = map[string]int{"traceId": 16, "spanId": 8, "parentSpanId": 8}

func hexIDsToBase64(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if n, ok := idLen[k]; ok {
				s, _ := x.(string)
				raw, err := hex.DecodeString(s)
				if err != nil || len(raw) != n || s != hex.EncodeToString(raw) {
					return fmt.Errorf("%s %q: not %d bytes in lowercase hex", k, s, n)
				}
				v[k] = base64.StdEncoding.EncodeToString(raw)
				continue
			}
			if err := hexIDsToBase64(x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := hexIDsToBase64(x); err != nil {
				return err
			}
		}
	}
	return nil
}

func attrs(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestDecodeOTLPIsStrict: the decoding above refuses what a collector
// would: a misspelt field, base64 ids, an enum by a name that does not
// exist. (Without this, the test above could pass on anything.)
func TestDecodeOTLPIsStrict(t *testing.T) {
	const good = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736",` +
		`"spanId":"00f067aa0ba902b7","name":"x","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
	req, err := decodeOTLP([]byte(good))
	require.NoError(t, err)
	s := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", hex.EncodeToString(s.TraceId))
	assert.Equal(t, uint64(2), s.EndTimeUnixNano)
	for name, bad := range map[string]string{
		"misspelt field":  `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736"}]}]}]}`,
		"base64 id":       `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"S/kvNXezTaajzpKdDg5HNg=="}]}]}]}`,
		"uppercase hex":   `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736"}]}]}]}`,
		"unknown enum":    `{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SIDEWAYS"}]}]}]}`,
		"time not a time": `{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}`,
	} {
		_, err := decodeOTLP([]byte(bad))
		assert.Error(t, err, name)
	}
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
