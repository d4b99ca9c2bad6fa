package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigFromEnv: the standard variables, as the OpenTelemetry
// specification defines them, and the mistakes that get a clear error.
func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want OTLPConfig // URL "": tracing off
		err  string
	}{
		{name: "nothing set: off", env: nil, want: OTLPConfig{}},
		{name: "base endpoint gets /v1/traces",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
			want: OTLPConfig{URL: "http://127.0.0.1:4318/v1/traces"}},
		{name: "base endpoint with a slash and a path",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example/otlp/"},
			want: OTLPConfig{URL: "https://collector.example/otlp/v1/traces"}},
		{name: "the traces endpoint is used as it is, and wins",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"},
			want: OTLPConfig{URL: "http://b:4318/custom"}},
		{name: "service name, timeout and delay",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SERVICE_NAME": "receiver-7",
				"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_BSP_SCHEDULE_DELAY": "100"},
			want: OTLPConfig{URL: "http://c:4318/v1/traces", Service: "receiver-7", Timeout: 2500 * time.Millisecond, Interval: 100 * time.Millisecond}},
		{name: "the traces timeout wins",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
				"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "700"},
			want: OTLPConfig{URL: "http://c:4318/v1/traces", Timeout: 700 * time.Millisecond}},
		{name: "http/protobuf goes to the same URL",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			want: OTLPConfig{URL: "http://c:4318/v1/traces"}},
		{name: "disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"},
			want: OTLPConfig{}},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
			want: OTLPConfig{}},
		{name: "grpc refused", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			err: "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: this program speaks OTLP over HTTP"},
		{name: "another exporter refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"},
			err: "OTEL_TRACES_EXPORTER=zipkin"},
		{name: "not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"},
			err: `OTLP endpoint "127.0.0.1:4318/v1/traces": want an http:// or https:// URL`},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "5s"},
			err: "OTEL_EXPORTER_OTLP_TIMEOUT=5s: want a positive number of milliseconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := configFromEnv(func(k string) string { return tc.env[k] }, "prog", "scope")
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			if tc.want.Service == "" {
				tc.want.Service = "prog"
			}
			tc.want.Scope = "scope"
			assert.Equal(t, tc.want, cfg)
		})
	}
}

// TestFromEnv: with an endpoint set, FromEnv's tracer sends its spans
// there, and stop flushes them; without one the tracer is nil.
func TestFromEnv(t *testing.T) {
	tr, stop, err := FromEnv("prog", "scope", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Nil(t, tr, "no endpoint: off")
	stop()

	c := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	var logs bytes.Buffer
	tr, stop, err = FromEnv("prog", "scope", slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	require.NotNil(t, tr)
	assert.Contains(t, logs.String(), `msg="tracing on" otlp_endpoint=`+c.url()+" service=from-env")
	_, s := tr.Start(context.Background(), "s", KindInternal)
	s.End()
	stop()
	assert.Len(t, c.spans(t), 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Equal(t, "from-env", *c.reqs[0].ResourceSpans[0].Resource.Attributes[0].Value.StringValue)
}
