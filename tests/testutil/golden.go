package testutil

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Update is set by "go test ... -update": golden files are rewritten from
// what the program printed instead of compared with it.
var Update = flag.Bool("update", false, "rewrite golden files (transcripts shown in the book)")

var (
	timeRE = regexp.MustCompile(`time=\S+ `)
	portRE = regexp.MustCompile(`(127\.0\.0\.1|\[::1\]|localhost):(\d+)`)
	durRE  = regexp.MustCompile(`(duration|elapsed|rtt|latency)=[0-9.]+(ns|µs|us|ms|s)`)
)

// Normalize makes a program transcript stable across runs: log timestamps are
// dropped, durations become "…=<dur>", and each distinct loopback port is
// numbered in order of appearance (":PORT1", ":PORT2", ...), except the
// chapter's well-known ports listed in keep.
func Normalize(s string, keep ...string) string {
	s = timeRE.ReplaceAllString(s, "")
	s = durRE.ReplaceAllString(s, "$1=<dur>")
	seen := map[string]string{}
	return portRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := portRE.FindStringSubmatch(m)
		for _, k := range keep {
			if sub[2] == k {
				return m
			}
		}
		n, ok := seen[sub[2]]
		if !ok {
			n = fmt.Sprintf("PORT%d", len(seen)+1)
			seen[sub[2]] = n
		}
		return sub[1] + ":" + n
	})
}

// Golden compares got with the golden file at path (relative to the test's
// package directory), or rewrites it when -update is given. Golden files are
// what the book includes as program transcripts.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("transcript %s changed (-want +got); if the change is intended, rerun with -update:\n%s", path, diff)
	}
}
