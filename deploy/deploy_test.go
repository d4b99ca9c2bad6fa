package deploy

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/tcp-in-go/course/tests/testutil"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	tool := testutil.RequireTool(t, name)
	out, err := exec.Command(tool, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func TestPrometheusConfigAndRules(t *testing.T) {
	run(t, "promtool", "check", "config", "prometheus/prometheus.yml")
	out := run(t, "promtool", "check", "rules", "prometheus/rules/tcp-servers.yml")
	assert.Contains(t, out, "SUCCESS: 5 rules found")
}

// TestAlertRules runs the rules' unit tests: series in, alerts out. Its
// output is the transcript the operations chapter shows.
func TestAlertRules(t *testing.T) {
	out := run(t, "promtool", "test", "rules", "prometheus/rules/tcp-servers.test.yml")
	assert.Contains(t, out, "SUCCESS")
	testutil.Golden(t, "testdata/promtool-test-rules.txt", "$ cd deploy && promtool test rules prometheus/rules/tcp-servers.test.yml\n"+out)
}

func TestAlertmanagerConfig(t *testing.T) {
	run(t, "amtool", "check-config", "alertmanager/alertmanager.yml")
}

// manifests renders the chart and decodes each document strictly into its
// Kubernetes API type: an unknown or misspelt field is an error, as the API
// server's strict field validation would make it.
type manifests struct {
	deployment appsv1.Deployment
	service    corev1.Service
	pdb        policyv1.PodDisruptionBudget
}

func render(t *testing.T, set ...string) (manifests, error) {
	t.Helper()
	tool := testutil.RequireTool(t, "helm")
	args := []string{"template", "demo", "helm/echo"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		return manifests{}, &renderError{string(out)}
	}
	var m manifests
	for _, doc := range strings.Split(string(out), "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var head struct{ Kind string }
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
		js, err := yaml.YAMLToJSON([]byte(doc))
		require.NoError(t, err)
		var into any
		switch head.Kind {
		case "Deployment":
			into = &m.deployment
		case "Service":
			into = &m.service
		case "PodDisruptionBudget":
			into = &m.pdb
		default:
			t.Fatalf("unexpected kind %q in the chart", head.Kind)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(into), "%s does not decode strictly:\n%s", head.Kind, doc)
	}
	return m, nil
}

type renderError struct{ out string }

func (e *renderError) Error() string { return e.out }

func TestHelmLint(t *testing.T) {
	run(t, "helm", "lint", "--strict", "helm/echo")
}

func TestHelmChart(t *testing.T) {
	m, err := render(t)
	require.NoError(t, err)
	require.Equal(t, "demo-echo", m.deployment.Name)
	require.Equal(t, "demo-echo", m.service.Name)
	require.Equal(t, "demo-echo", m.pdb.Name)

	pod := m.deployment.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	flags := map[string]string{}
	for _, a := range c.Args {
		if k, v, ok := strings.Cut(a, "="); ok {
			flags[k] = v
		}
	}

	// The shutdown sequence fits: preStop, then SIGTERM and the drain, all
	// inside the grace period, or Kubernetes kills a draining server.
	drain, err := time.ParseDuration(flags["-drain-timeout"])
	require.NoError(t, err)
	require.NotNil(t, c.Lifecycle.PreStop.Sleep, "preStop sleeps (no shell in the image)")
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	assert.Greater(t, grace, preStop+drain, "terminationGracePeriodSeconds must exceed preStop + -drain-timeout")
	assert.Positive(t, preStop)

	// Probes: alive on /healthz, ready on /readyz, on the -metrics-addr port.
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	metricsPort := portNamed(t, c, c.ReadinessProbe.HTTPGet.Port.String())
	assert.Equal(t, metricsPort, portNamed(t, c, c.LivenessProbe.HTTPGet.Port.String()))
	assert.Equal(t, ":"+metricsPort, flags["-metrics-addr"])
	assert.Equal(t, metricsPort, m.deployment.Spec.Template.Annotations["prometheus.io/port"])
	assert.Equal(t, ":"+portNamed(t, c, "echo"), flags["-addr"])

	// Hardening: not root, nothing written to the image, no privileges.
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.NotNil(t, c.Resources.Requests.Memory())
	assert.False(t, c.Resources.Limits.Memory().IsZero())

	// The Service and the budget select the Deployment's pods.
	assert.Equal(t, m.deployment.Spec.Selector.MatchLabels, m.service.Spec.Selector)
	assert.Equal(t, m.deployment.Spec.Selector.MatchLabels, m.pdb.Spec.Selector.MatchLabels)
	for k, v := range m.deployment.Spec.Selector.MatchLabels {
		assert.Equal(t, v, m.deployment.Spec.Template.Labels[k])
	}
}

// TestHelmRefusesShortGracePeriod: values that would let Kubernetes kill a
// draining server do not render.
func TestHelmRefusesShortGracePeriod(t *testing.T) {
	_, err := render(t, "shutdown.terminationGracePeriodSeconds=20")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must exceed preStopSeconds + drainTimeoutSeconds")
}

func portNamed(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return strconv.Itoa(int(p.ContainerPort))
		}
	}
	t.Fatalf("no container port named %q", name)
	return ""
}
