package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OTLPConfig configures an OTLP exporter. FromEnv fills it from the
// standard OTEL_* variables.
type OTLPConfig struct {
	URL     string       // where to POST, e.g. http://127.0.0.1:4318/v1/traces
	Service string       // the resource's service.name
	Scope   string       // the instrumentation scope: the traced package's path
	Log     *slog.Logger // export failures, once; nil: slog.Default()
	// Timeout bounds one POST (default 10 s, OTLP's default).
	Timeout time.Duration
	// Interval is the longest a finished span waits in the queue before it
	// is sent (default 5 s, the SDK's OTEL_BSP_SCHEDULE_DELAY).
	Interval time.Duration
	// BatchSize is the most spans one POST carries (default 512); a full
	// batch is sent at once.
	BatchSize int
	// QueueSize bounds the spans waiting (default 2048): past it a span is
	// dropped, never waited for, so a slow collector cannot slow the
	// traced program.
	QueueSize int
}

// OTLP batches finished spans and POSTs them to a collector as OTLP/HTTP
// JSON (https://opentelemetry.io/docs/specs/otlp/#otlphttp). One goroutine
// does the sending; ExportSpan only queues. A batch the collector refuses,
// or cannot be reached for, is dropped: a trace is for diagnosis, so
// losing one is better than holding the program up. The first failure is
// logged, the later ones are not.
type OTLP struct {
	cfg      OTLPConfig
	client   *http.Client
	queue    chan SpanData
	shutdown chan context.Context // Shutdown's request to the loop
	stopped  chan struct{}        // closed when the loop has returned
	once     sync.Once            // one Shutdown
	dropped  atomic.Int64         // spans lost to a full queue
	warned   atomic.Bool          // the first failure was logged
	lastErr  error                // the final flush's error (read after stopped)
}

// NewOTLP starts an exporter; Shutdown stops it.
func NewOTLP(cfg OTLPConfig) *OTLP {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 512
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 2048
	}
	tr := http.DefaultTransport.(*http.Transport).Clone() // its own idle connections, closed by Shutdown
	e := &OTLP{
		cfg:      cfg,
		client:   &http.Client{Transport: tr, Timeout: cfg.Timeout},
		queue:    make(chan SpanData, cfg.QueueSize),
		shutdown: make(chan context.Context, 1),
		stopped:  make(chan struct{}),
	}
	go e.loop()
	return e
}

// ExportSpan queues d for the next batch, or drops it if the queue is full
// (or the exporter has shut down). It never blocks.
func (e *OTLP) ExportSpan(d SpanData) {
	select {
	case e.queue <- d:
	default:
		if e.dropped.Add(1) == 1 {
			e.cfg.Log.Warn("trace queue full; dropping spans", "queue", e.cfg.QueueSize)
		}
	}
}

// Dropped is the number of spans lost to a full queue.
func (e *OTLP) Dropped() int64 { return e.dropped.Load() }

// ANCHOR: loop
// loop collects spans into a batch and sends it when it is full, when the
// oldest span has waited Interval, and on Shutdown.
func (e *OTLP) loop() {
	defer close(e.stopped)
	defer e.client.CloseIdleConnections()
	tick := time.NewTicker(e.cfg.Interval)
	defer tick.Stop()
	batch := make([]SpanData, 0, e.cfg.BatchSize)
	send := func(ctx context.Context) error {
		err := e.post(ctx, batch)
		batch = batch[:0]
		return err
	}
	for {
		select {
		case d := <-e.queue:
			if batch = append(batch, d); len(batch) == e.cfg.BatchSize {
				e.withTimeout(send)
			}
		case <-tick.C:
			if len(batch) > 0 {
				e.withTimeout(send)
			}
		case ctx := <-e.shutdown: // send what is queued, then stop
			var errs []error
			for more := true; more; {
				select {
				case d := <-e.queue:
					batch = append(batch, d)
				default:
					more = false
				}
				if len(batch) == e.cfg.BatchSize || !more && len(batch) > 0 {
					errs = append(errs, send(ctx))
				}
			}
			e.lastErr = errors.Join(errs...)
			return
		}
	}
}

// ANCHOR_END: loop

func (e *OTLP) withTimeout(send func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	_ = send(ctx) // logged by post
}

// Shutdown sends the spans still queued and stops the exporter, within
// ctx's deadline. It returns the final send's error, or ctx's if the
// deadline came first. Spans ended after Shutdown are dropped.
func (e *OTLP) Shutdown(ctx context.Context) error {
	err := ctx.Err()
	e.once.Do(func() {
		e.shutdown <- ctx // buffered: the loop takes it after the batch it may be sending
		select {
		case <-e.stopped:
			err = e.lastErr
		case <-ctx.Done():
			err = ctx.Err() // the loop stops once its sends fail on ctx
		}
	})
	return err
}

// post sends one batch. A failure is logged the first time only, so that
// a collector that is down costs the log one line, not one per batch.
func (e *OTLP) post(ctx context.Context, batch []SpanData) error {
	if len(batch) == 0 {
		return nil
	}
	err := e.postErr(ctx, batch)
	if err != nil && e.warned.CompareAndSwap(false, true) {
		e.cfg.Log.Warn("trace export failed; later failures are not logged",
			"url", e.cfg.URL, "spans", len(batch), "err", err)
	}
	return err
}

func (e *OTLP) postErr(ctx context.Context, batch []SpanData) error {
	body, err := json.Marshal(encodeRequest(e.cfg.Service, e.cfg.Scope, batch))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("collector answered %s: %s", resp.Status, strings.TrimSpace(string(reply[:min(len(reply), 200)])))
	}
	// A 200 may still say that some spans were refused (partialSuccess).
	var r struct {
		PartialSuccess struct {
			RejectedSpans json.RawMessage `json:"rejectedSpans"` // int64: a string, or a number
			ErrorMessage  string          `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if json.Unmarshal(reply, &r) == nil {
		n, _ := strconv.ParseInt(strings.Trim(string(r.PartialSuccess.RejectedSpans), `"`), 10, 64)
		if n > 0 {
			return fmt.Errorf("collector rejected %d of %d spans: %s", n, len(batch), r.PartialSuccess.ErrorMessage)
		}
	}
	return nil
}

// The OTLP/JSON request: protobuf's JSON mapping of
// ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1),
// with OTLP's own rules on top: field names in lowerCamelCase, trace and
// span ids as hex (not base64, as protobuf's mapping of bytes would have
// it), enums as their numbers, and 64-bit integers (times, intValue) as
// decimal strings.
type (
	otlpRequest struct {
		ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
	}
	otlpResourceSpans struct {
		Resource   otlpResource     `json:"resource"`
		ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
	}
	otlpResource struct {
		Attributes []otlpKeyValue `json:"attributes"`
	}
	otlpScopeSpans struct {
		Scope otlpScope  `json:"scope"`
		Spans []otlpSpan `json:"spans"`
	}
	otlpScope struct {
		Name string `json:"name"`
	}
	otlpSpan struct {
		TraceID           string         `json:"traceId"`
		SpanID            string         `json:"spanId"`
		ParentSpanID      string         `json:"parentSpanId,omitempty"`
		Flags             uint32         `json:"flags"`
		Name              string         `json:"name"`
		Kind              Kind           `json:"kind"`
		StartTimeUnixNano string         `json:"startTimeUnixNano"`
		EndTimeUnixNano   string         `json:"endTimeUnixNano"`
		Attributes        []otlpKeyValue `json:"attributes,omitempty"`
		Status            otlpStatus     `json:"status"`
	}
	otlpKeyValue struct {
		Key   string       `json:"key"`
		Value otlpAnyValue `json:"value"`
	}
	otlpAnyValue struct { // one field set: AnyValue is a oneof
		StringValue *string `json:"stringValue,omitempty"`
		IntValue    string  `json:"intValue,omitempty"`
		BoolValue   *bool   `json:"boolValue,omitempty"`
	}
	otlpStatus struct {
		Code    StatusCode `json:"code,omitempty"`
		Message string     `json:"message,omitempty"`
	}
)

// Span.flags (OTLP): the low byte holds the W3C trace flags; bit 8 says
// whether bit 9 is known, bit 9 whether the parent was remote.
const (
	otlpHasIsRemote = 0x100
	otlpIsRemote    = 0x200
)

// encodeRequest turns a batch into one request: one resource (the
// service), one scope (the traced package).
func encodeRequest(service, scope string, batch []SpanData) otlpRequest {
	spans := make([]otlpSpan, len(batch))
	for i, d := range batch {
		s := otlpSpan{
			TraceID:           d.SpanContext.TraceID.String(),
			SpanID:            d.SpanContext.SpanID.String(),
			Flags:             uint32(d.SpanContext.Flags) | otlpHasIsRemote,
			Name:              d.Name,
			Kind:              d.Kind,
			StartTimeUnixNano: strconv.FormatInt(d.Start.UnixNano(), 10),
			EndTimeUnixNano:   strconv.FormatInt(d.End.UnixNano(), 10),
			Attributes:        encodeAttrs(d.Attributes),
			Status:            otlpStatus{Code: d.Status.Code, Message: d.Status.Message},
		}
		if d.Parent.IsValid() {
			s.ParentSpanID = d.Parent.SpanID.String()
			if d.Parent.Remote {
				s.Flags |= otlpIsRemote
			}
		}
		spans[i] = s
	}
	return otlpRequest{ResourceSpans: []otlpResourceSpans{{
		Resource:   otlpResource{Attributes: encodeAttrs([]KeyValue{Key("service.name").String(service)})},
		ScopeSpans: []otlpScopeSpans{{Scope: otlpScope{Name: scope}, Spans: spans}},
	}}}
}

// encodeAttrs writes attributes, a key set twice once (its last value).
func encodeAttrs(attrs []KeyValue) []otlpKeyValue {
	out := make([]otlpKeyValue, 0, len(attrs))
	index := make(map[Key]int, len(attrs))
	for _, kv := range attrs {
		var v otlpAnyValue
		switch kv.Value.Type() {
		case TypeInt64:
			v.IntValue = strconv.FormatInt(kv.Value.AsInt64(), 10)
		case TypeBool:
			b := kv.Value.AsBool()
			v.BoolValue = &b
		default:
			s := kv.Value.AsString()
			v.StringValue = &s
		}
		if i, ok := index[kv.Key]; ok {
			out[i].Value = v
			continue
		}
		index[kv.Key] = len(out)
		out = append(out, otlpKeyValue{Key: string(kv.Key), Value: v})
	}
	return out
}
