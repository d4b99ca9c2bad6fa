package conventions

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcp-in-go/course/tests/testutil"
)

// allowedModules are the modules the course's root module may require:
// what a student's `go test ./...` downloads. Each line says why the
// lessons need it. Tooling (Kubernetes' API types, Prometheus's and
// OpenTelemetry's libraries, charts) lives in modules of its own (deploy/,
// scripts/report/), which only a maintainer's `make check` downloads.
// Adding a module here is a decision: it costs every student the download.
var allowedModules = map[string]string{
	// The lessons' own programs.
	"golang.org/x/sys":                        "socket options and kernel TCP state (ch02's _linux.go files)",
	"golang.org/x/net":                        "netutil.LimitListener for the bounded -metrics-addr and -debug-addr (internal/httpserve); nettest in ch02's tests",
	"golang.org/x/term":                       "ch05's sender draws its progress bar only when stderr is a terminal",
	"github.com/schollz/progressbar/v3":       "ch05's sender shows progress on long transfers",
	"github.com/HdrHistogram/hdrhistogram-go": "ch07's load generator records latency percentiles without keeping every sample",
	// The tests.
	"github.com/stretchr/testify": "assertions in every test (require, assert)",
	"github.com/google/go-cmp":    "comparing structures in tests, with a readable diff",
	"go.uber.org/goleak":          "servers' tests check that no goroutine outlives them",
	// Required by the ones above (// indirect).
	"github.com/mitchellh/colorstring": "progressbar's colours",
	"github.com/rivo/uniseg":           "progressbar's text widths",
	"go.yaml.in/yaml/v3":               "testify's YAML assertions",
}

// TestRootModuleDependencies reads the root go.mod's require directives and
// fails on any module not in allowedModules, and on any allowed module no
// longer required (so the list stays true).
func TestRootModuleDependencies(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	required := requiredModules(string(data))
	if len(required) < 3 {
		t.Fatalf("found %d modules in go.mod's require directives: the parse is broken", len(required))
	}
	for _, m := range required {
		if _, ok := allowedModules[m]; !ok {
			t.Errorf("go.mod requires %s, which is not in allowedModules (tests/conventions/deps_test.go): "+
				"a student's `go test ./...` would download it. Move what needs it to a module of its own "+
				"(deploy/, scripts/report/), or add it to the list with why the lessons need it", m)
		}
	}
	for m := range allowedModules {
		if !slices.Contains(required, m) {
			t.Errorf("allowedModules lists %s, which go.mod no longer requires: remove it from the list", m)
		}
	}
}

// requiredModules returns the module paths of go.mod's require directives,
// in both forms: `require path version` and a `require ( ... )` block.
// (A file of another module's go.mod syntax would need x/mod/modfile; the
// root go.mod is written by `go mod tidy`, one requirement a line.)
func requiredModules(gomod string) []string {
	var out []string
	inBlock := false
	for line := range strings.Lines(gomod) {
		line, _, _ = strings.Cut(line, "//")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inBlock && f[0] == ")":
			inBlock = false
		case inBlock:
			out = append(out, f[0])
		case f[0] == "require" && len(f) == 2 && f[1] == "(":
			inBlock = true
		case f[0] == "require" && len(f) >= 3:
			out = append(out, f[1])
		}
	}
	return out
}

// TestRequiredModulesParse: both forms of require, comments and the
// indirect marker.
func TestRequiredModulesParse(t *testing.T) {
	got := requiredModules("module x\n\ngo 1.26\n\nrequire a.example/one v1.0.0\n\nrequire (\n" +
		"\tb.example/two v0.1.0 // a comment\n\t// a whole-line comment\n\tc.example/three v1.2.3 // indirect\n)\n" +
		"replace d.example/four => ../four\n")
	want := []string{"a.example/one", "b.example/two", "c.example/three"}
	if !slices.Equal(got, want) {
		t.Errorf("requiredModules = %q, want %q", got, want)
	}
}
