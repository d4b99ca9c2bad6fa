// Package deploy holds what an operator runs the course's servers with: a
// Prometheus scrape config and alert rules (prometheus/), an Alertmanager
// routing example (alertmanager/), a Helm chart for the ch04 echo server
// (helm/echo/) and a Dockerfile. Its tests check each with the real tool
// (promtool, amtool, helm) and decode the rendered Kubernetes manifests into
// the API's own Go types, offline.
//
// Its tests also check what the course's module writes by itself, so that
// a student's download stays lean, against the real libraries, which only
// this module downloads: the Prometheus text format of internal/telemetry
// (Prometheus's parser and linter, and a real Prometheus scraping it), and
// the OTLP/JSON and traceparents of internal/tracing (OpenTelemetry's
// protobuf types and its Go propagator).
package deploy
