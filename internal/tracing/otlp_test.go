package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The OTLP/JSON request as a collector reads it, written here from the
// protocol's description (not from the encoder's types), and decoded with
// DisallowUnknownFields: a misspelt field fails the test. deploy/ decodes
// the same with the official protobuf types.
type (
	gotRequest struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []gotKV `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Scope struct {
					Name string `json:"name"`
				} `json:"scope"`
				Spans []gotSpan `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	gotSpan struct {
		TraceID           string  `json:"traceId"`
		SpanID            string  `json:"spanId"`
		ParentSpanID      string  `json:"parentSpanId"`
		Flags             uint32  `json:"flags"`
		Name              string  `json:"name"`
		Kind              int     `json:"kind"`
		StartTimeUnixNano string  `json:"startTimeUnixNano"`
		EndTimeUnixNano   string  `json:"endTimeUnixNano"`
		Attributes        []gotKV `json:"attributes"`
		Status            struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
	}
	gotKV struct {
		Key   string `json:"key"`
		Value struct {
			StringValue *string `json:"stringValue"`
			IntValue    *string `json:"intValue"` // int64: a decimal string
			BoolValue   *bool   `json:"boolValue"`
		} `json:"value"`
	}
)

// collector is an httptest OTLP/HTTP receiver that keeps every request.
type collector struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []gotRequest
	status int           // the answer; 0: 200
	reply  string        // the body of the answer
	hold   chan struct{} // if not nil, requests wait for it to close
	errs   []error
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(c.handle))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) url() string { return c.srv.URL + "/v1/traces" }

func (c *collector) handle(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	hold, status, reply := c.hold, c.status, c.reply
	c.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	var req gotRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v1/traces":
		err = errors.New("not POST /v1/traces: " + r.Method + " " + r.URL.Path)
	case r.Header.Get("Content-Type") != "application/json":
		err = errors.New("Content-Type " + r.Header.Get("Content-Type"))
	}
	c.mu.Lock()
	if err != nil {
		c.errs = append(c.errs, err)
	} else {
		c.reqs = append(c.reqs, req)
	}
	c.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if reply == "" {
		reply = "{}"
	}
	_, _ = io.WriteString(w, reply)
}

// spans returns every span received so far, and fails on a bad request.
func (c *collector) spans(t *testing.T) []gotSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Empty(t, c.errs)
	var out []gotSpan
	for _, r := range c.reqs {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

func (c *collector) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

func shutdown(t *testing.T, e *OTLP) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return e.Shutdown(ctx)
}

// TestOTLPEncoding: a parent and a child, ended and shut down, arrive in
// one request as OTLP/JSON: the service and scope, ids in hex, the parent
// link, kinds and status codes as numbers, times and integers as decimal
// strings, the remote-parent bits in flags.
func TestOTLPEncoding(t *testing.T) {
	c := newCollector(t)
	e := NewOTLP(OTLPConfig{URL: c.url(), Service: "ch05-filexfer", Scope: "example.com/scope"})
	tr := New(e)
	ctx := Extract(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	before := time.Now()
	ctx, recv := tr.Start(ctx, "filexfer.receive", KindServer, keyName.String("a.bin"), keySize.Int64(3000))
	_, child := tr.Start(ctx, "commit", KindInternal, keyOK.Bool(false))
	child.End()
	recv.SetError(errors.New("disk full"))
	recv.End()
	require.NoError(t, shutdown(t, e))

	require.Equal(t, 1, c.requests(), "one batch, sent at Shutdown")
	c.mu.Lock()
	req := c.reqs[0]
	c.mu.Unlock()
	require.Len(t, req.ResourceSpans, 1)
	rs := req.ResourceSpans[0]
	require.Len(t, rs.Resource.Attributes, 1)
	assert.Equal(t, "service.name", rs.Resource.Attributes[0].Key)
	assert.Equal(t, "ch05-filexfer", *rs.Resource.Attributes[0].Value.StringValue)
	require.Len(t, rs.ScopeSpans, 1)
	assert.Equal(t, "example.com/scope", rs.ScopeSpans[0].Scope.Name)

	spans := c.spans(t)
	require.Len(t, spans, 2)
	commit, server := spans[0], spans[1]
	assert.Equal(t, "filexfer.receive", server.Name)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", server.TraceID)
	assert.Equal(t, recv.SpanContext().SpanID.String(), server.SpanID)
	assert.Regexp(t, "^[0-9a-f]{16}$", server.SpanID)
	assert.Equal(t, "00f067aa0ba902b7", server.ParentSpanID)
	assert.Equal(t, 2, server.Kind, "SPAN_KIND_SERVER")
	assert.Equal(t, 2, server.Status.Code, "STATUS_CODE_ERROR")
	assert.Equal(t, "disk full", server.Status.Message)
	assert.Equal(t, uint32(0x301), server.Flags, "sampled, remote parent known, remote")
	assert.Equal(t, "a.bin", *attr(t, server, "filexfer.name").StringValue)
	assert.Equal(t, "3000", *attr(t, server, "filexfer.size").IntValue)
	start, end := nanos(t, server.StartTimeUnixNano), nanos(t, server.EndTimeUnixNano)
	assert.False(t, start.Before(before.Truncate(time.Microsecond)))
	assert.False(t, end.Before(start))
	assert.WithinDuration(t, time.Now(), end, time.Minute)

	assert.Equal(t, "commit", commit.Name)
	assert.Equal(t, server.TraceID, commit.TraceID)
	assert.Equal(t, server.SpanID, commit.ParentSpanID)
	assert.Equal(t, 1, commit.Kind, "SPAN_KIND_INTERNAL")
	assert.Equal(t, 0, commit.Status.Code, "STATUS_CODE_UNSET")
	assert.Equal(t, uint32(0x101), commit.Flags, "sampled, local parent")
	assert.False(t, *attr(t, commit, "ok").BoolValue)
}

// TestOTLPRootSpan: a trace's first span has no parentSpanId at all.
func TestOTLPRootSpan(t *testing.T) {
	c := newCollector(t)
	e := NewOTLP(OTLPConfig{URL: c.url(), Service: "s", Scope: "x"})
	_, span := New(e).Start(context.Background(), "root", KindClient)
	span.End()
	require.NoError(t, shutdown(t, e))
	spans := c.spans(t)
	require.Len(t, spans, 1)
	assert.Empty(t, spans[0].ParentSpanID)
	assert.Equal(t, 3, spans[0].Kind, "SPAN_KIND_CLIENT")
	assert.Equal(t, uint32(0x101), spans[0].Flags)
}

func attr(t *testing.T, s gotSpan, key string) *struct {
	StringValue *string `json:"stringValue"`
	IntValue    *string `json:"intValue"`
	BoolValue   *bool   `json:"boolValue"`
} {
	t.Helper()
	for i := range s.Attributes {
		if s.Attributes[i].Key == key {
			return &s.Attributes[i].Value
		}
	}
	t.Fatalf("span %s has no attribute %s", s.Name, key)
	return nil
}

func nanos(t *testing.T, s string) time.Time {
	t.Helper()
	var n int64
	require.NoError(t, json.Unmarshal([]byte(s), &n), "unix nanos %q", s)
	return time.Unix(0, n)
}

// TestOTLPBatches: a full batch goes at once, without waiting for the
// timer; the rest waits for the interval, or for Shutdown.
func TestOTLPBatches(t *testing.T) {
	c := newCollector(t)
	e := NewOTLP(OTLPConfig{URL: c.url(), Service: "s", Scope: "x", BatchSize: 3, Interval: time.Hour})
	tr := New(e)
	for range 7 {
		_, s := tr.Start(context.Background(), "s", KindInternal)
		s.End()
	}
	require.Eventually(t, func() bool { return c.requests() == 2 }, 10*time.Second, 5*time.Millisecond,
		"two full batches of 3, sent at once")
	assert.Len(t, c.spans(t), 6)
	require.NoError(t, shutdown(t, e))
	assert.Equal(t, 3, c.requests())
	assert.Len(t, c.spans(t), 7, "the last span, sent at Shutdown")
}

// TestOTLPInterval: a span that does not fill a batch is sent when the
// interval has passed, without Shutdown.
func TestOTLPInterval(t *testing.T) {
	c := newCollector(t)
	e := NewOTLP(OTLPConfig{URL: c.url(), Service: "s", Scope: "x", Interval: 20 * time.Millisecond})
	defer shutdown(t, e)
	_, s := New(e).Start(context.Background(), "s", KindInternal)
	s.End()
	require.Eventually(t, func() bool { return c.requests() == 1 }, 10*time.Second, 5*time.Millisecond)
}

// TestOTLPNeverBlocks: with the collector hanging, ending spans never
// waits: past the queue's bound they are dropped (and counted), and
// Shutdown returns at its deadline.
func TestOTLPNeverBlocks(t *testing.T) {
	c := newCollector(t)
	c.hold = make(chan struct{})
	defer close(c.hold)
	logs := &syncWriter{w: &bytes.Buffer{}}
	e := NewOTLP(OTLPConfig{URL: c.url(), Service: "s", Scope: "x", BatchSize: 1, QueueSize: 4,
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	tr := New(e)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			_, s := tr.Start(context.Background(), "s", KindInternal)
			s.End()
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ending spans blocked on a hanging collector")
	}
	assert.GreaterOrEqual(t, e.Dropped(), int64(100-4-2), "at most the queue, the batch and the one being sent are kept")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "Shutdown kept its deadline")
	assert.Equal(t, 1, strings.Count(logs.String(), "trace queue full"), "dropping is logged once:\n%s", logs.String())
}

// TestOTLPErrorsLoggedOnce: a collector that refuses every batch costs the
// log one line, with the status and the collector's words; a partial
// success counts as a failure too.
func TestOTLPErrorsLoggedOnce(t *testing.T) {
	for _, tc := range []struct {
		name, reply, want string
		status            int
	}{
		{"refused", `{"code":3,"message":"bad span"}`, "collector answered 400 Bad Request: {\"code\":3,\"message\":\"bad span\"}", http.StatusBadRequest},
		{"partial", `{"partialSuccess":{"rejectedSpans":"1","errorMessage":"too old"}}`, "collector rejected 1 of 1 spans: too old", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector(t)
			c.status, c.reply = tc.status, tc.reply
			logs := &syncWriter{w: &bytes.Buffer{}}
			e := NewOTLP(OTLPConfig{URL: c.url(), Service: "s", Scope: "x", BatchSize: 1,
				Log: slog.New(slog.NewTextHandler(logs, nil))})
			tr := New(e)
			for range 3 {
				_, s := tr.Start(context.Background(), "s", KindInternal)
				s.End()
			}
			require.Eventually(t, func() bool { return c.requests() == 3 }, 10*time.Second, 5*time.Millisecond)
			require.NoError(t, shutdown(t, e), "nothing left to send")
			out := logs.String()
			assert.Equal(t, 1, strings.Count(out, "trace export failed"), out)
			assert.Contains(t, out, tc.want[:20])
			assert.Contains(t, out, "spans=1")
		})
	}
}

// TestOTLPCollectorDown: no collector at the URL; the spans are lost,
// Shutdown says why, the log says it once.
func TestOTLPCollectorDown(t *testing.T) {
	ln := closedPort(t)
	logs := &syncWriter{w: &bytes.Buffer{}}
	e := NewOTLP(OTLPConfig{URL: "http://" + ln + "/v1/traces", Service: "s", Scope: "x",
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	for range 2 {
		_, s := New(e).Start(context.Background(), "s", KindInternal)
		s.End()
	}
	err := shutdown(t, e)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Equal(t, 1, strings.Count(logs.String(), "trace export failed"), logs.String())
}

// TestOTLPAfterShutdown: a span ended after Shutdown is dropped, without
// blocking or panicking; a second Shutdown returns at once.
func TestOTLPAfterShutdown(t *testing.T) {
	c := newCollector(t)
	e := NewOTLP(OTLPConfig{URL: c.url(), Service: "s", Scope: "x", QueueSize: 1,
		Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, shutdown(t, e))
	for range 3 {
		_, s := New(e).Start(context.Background(), "s", KindInternal)
		s.End()
	}
	require.NoError(t, shutdown(t, e))
	assert.Zero(t, c.requests())
}

// syncWriter lets the exporter's goroutine and the test share a buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// closedPort is a loopback address nobody listens on (one just closed).
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
