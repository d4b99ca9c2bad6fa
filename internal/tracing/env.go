package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ANCHOR: from-env
// FromEnv starts tracing as OpenTelemetry's standard variables say
// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/), or
// returns a nil Tracer (tracing off) when no endpoint is set:
//
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the URL to POST spans to, as it is
//	OTEL_EXPORTER_OTLP_ENDPOINT         a base URL: spans go to <base>/v1/traces
//	OTEL_SERVICE_NAME                   service.name (default: program)
//	OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT one POST's bound, in milliseconds
//	OTEL_BSP_SCHEDULE_DELAY             the longest a span waits, in milliseconds
//	OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none   tracing off
//
// Spans go as OTLP/HTTP JSON, which every collector's HTTP port (4318)
// takes. stop sends the spans still queued, waiting at most 5 s.
func FromEnv(program, scope string, log *slog.Logger) (t *Tracer, stop func(), err error) {
	cfg, err := configFromEnv(os.Getenv, program, scope)
	if err != nil || cfg.URL == "" {
		return nil, func() {}, err
	}
	if log == nil {
		log = slog.Default()
	}
	cfg.Log = log
	exp := NewOTLP(cfg)
	log.Info("tracing on", "otlp_endpoint", cfg.URL, "service", cfg.Service)
	return New(exp), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = exp.Shutdown(ctx) // a failure was logged by the exporter
	}, nil
}

// ANCHOR_END: from-env

// configFromEnv reads the variables through getenv; URL "" means off.
func configFromEnv(getenv func(string) string, program, scope string) (OTLPConfig, error) {
	cfg := OTLPConfig{Service: program, Scope: scope}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return cfg, nil
	}
	switch e := getenv("OTEL_TRACES_EXPORTER"); e {
	case "", "otlp":
	case "none":
		return cfg, nil
	default:
		return cfg, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: this program exports only otlp (or none)", e)
	}
	raw := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") // the full URL, used as it is
	if raw == "" {
		if raw = getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); raw == "" {
			return cfg, nil // no collector named: tracing off
		}
		raw = strings.TrimSuffix(raw, "/") + "/v1/traces"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("OTLP endpoint %q: want an http:// or https:// URL, such as http://127.0.0.1:4318", raw)
	}
	cfg.URL = u.String()
	if p := first(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"); p == "grpc" {
		return cfg, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=grpc: this program speaks OTLP over HTTP (http/json); use the collector's HTTP port (4318)")
	} // http/protobuf, the default, goes to the same URL: collectors take JSON there too
	if s := getenv("OTEL_SERVICE_NAME"); s != "" {
		cfg.Service = s
	}
	if cfg.Timeout, err = millis(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); err != nil {
		return cfg, err
	}
	if cfg.Interval, err = millis(getenv, "OTEL_BSP_SCHEDULE_DELAY"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// first returns the first of the variables that is set.
func first(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// millis reads the first set variable of names as milliseconds (0: unset,
// the default).
func millis(getenv func(string) string, names ...string) (time.Duration, error) {
	for _, n := range names {
		v := getenv(n)
		if v == "" {
			continue
		}
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return 0, fmt.Errorf("%s=%s: want a positive number of milliseconds", n, v)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	return 0, nil
}
