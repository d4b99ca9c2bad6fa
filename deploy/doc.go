// Package deploy holds what an operator runs the course's servers with: a
// Prometheus scrape config and alert rules (prometheus/), an Alertmanager
// routing example (alertmanager/), a Helm chart for the ch04 echo server
// (helm/echo/) and a Dockerfile. Its tests check each with the real tool
// (promtool, amtool, helm) and decode the rendered Kubernetes manifests into
// the API's own Go types, offline.
package deploy
