package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
	"github.com/tcp-in-go/course/tools/stub"
)

// sampleRE finds a sample block of the README: the marker comment, then a
// fenced block, which the test rewrites.
func sampleRE(name string) *regexp.Regexp {
	return regexp.MustCompile("(?s)(<!-- sample: " + regexp.QuoteMeta(name) + " [^>]*-->\n```\\w*\n)(?:.*?\n)?```")
}

// TestReadmeSamples regenerates the sample output the README's Grading
// section shows, as real output: a fresh starter copy in which one Go and
// one Python exercise are solved (the course's solutions put back) and,
// where the course has a wrong solution, one exercise holds it; graded with
// -gradescope; and the classroom file. The exercises change as chapters
// land, so it runs only when asked:
//
//	STARTER_E2E=1 go test ./tools/starter -run ReadmeSamples -update
func TestReadmeSamples(t *testing.T) {
	root, _ := course(t)
	if !*testutil.Update { // -update, as for the golden files
		t.Skip("run with -update to rewrite the README's grading samples")
	}
	infos, _, err := stub.Catalog(root)
	require.NoError(t, err)
	// Exercises alone in their file: the course's file is then the solved
	// one, imports included.
	perFile := map[string]int{}
	for _, in := range infos {
		perFile[in.File]++
	}
	pick := func(ok func(stub.Info) bool, prefer string) *stub.Info {
		var found *stub.Info
		for i, in := range infos {
			if perFile[in.File] == 1 && ok(in) && (found == nil || in.Name == prefer) {
				found = &infos[i]
			}
		}
		return found
	}
	solvedGo := pick(func(in stub.Info) bool { return in.Lang == "go" }, "exercise-backoff")
	solvedPy := pick(func(in stub.Info) bool { return in.Lang == "python" }, "exercise-backoff-py")
	wrong := pick(func(in stub.Info) bool {
		return len(in.Wrong) > 0 && in.Lang == "go" && in.Name != solvedGo.Name
	}, "")

	out := filepath.Join(t.TempDir(), "starter")
	_, err = Write(root, out, false)
	require.NoError(t, err)
	var solved []string
	for _, in := range []*stub.Info{solvedGo, solvedPy} {
		if in == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, in.File))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, in.File), data, 0o644))
		solved = append(solved, in.Name)
	}
	caption := "Graded after solving " + strings.Join(solved, " and ")
	if wrong != nil {
		data, err := os.ReadFile(filepath.Join(root, wrong.File))
		require.NoError(t, err)
		w := wrong.Wrong[0]
		data, err = stub.Replace(wrong.File, data, wrong.Name, w.Text)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, wrong.File), data, 0o644))
		caption += fmt.Sprintf(", and %s with its wrong solution %s (%s)", wrong.Name, w.Slug, w.Description)
	}

	cmd := exec.Command("go", "run", "./tools/grade", "-gradescope", "results.json")
	cmd.Dir = out
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	require.Error(t, err, "the starter passes?\n%s", stdout.String())
	scoreboard := strings.TrimRight(stdout.String(), "\n") + "\nexit status 1"
	require.Contains(t, scoreboard, "exercises done", stderr.String())

	results, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	gradescope := excerptGradescope(t, results, wrong, solvedGo)

	classroom, err := os.ReadFile(filepath.Join(root, ".github", "classroom", "autograding.json"))
	require.NoError(t, err)
	var tests struct{ Tests []json.RawMessage }
	require.NoError(t, json.Unmarshal(classroom, &tests))
	require.NotEmpty(t, tests.Tests)
	first, err := json.MarshalIndent(json.RawMessage(tests.Tests[0]), "    ", "  ")
	require.NoError(t, err)
	classroomSample := fmt.Sprintf("{\n  \"tests\": [\n    %s,\n    … %d more, one per exercise\n  ]\n}", first, len(tests.Tests)-1)

	readmePath := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	text := string(readme)
	for name, sample := range map[string]string{
		"scoreboard": scoreboard,
		"gradescope": gradescope,
		"classroom":  classroomSample,
	} {
		re := sampleRE(name)
		require.Regexp(t, re, text, "README.md has no sample %q", name)
		text = re.ReplaceAllStringFunc(text, func(block string) string {
			m := re.FindStringSubmatch(block)
			return m[1] + sample + "\n```"
		})
	}
	text = regexp.MustCompile(`(?m)^Graded after solving [^\n]*\(real output\):$`).ReplaceAllLiteralString(text, caption+" (real output):")
	require.NoError(t, os.WriteFile(readmePath, []byte(text), 0o644))
	t.Logf("rewrote the README's samples: %s", caption)
}

// excerptGradescope shows results.json's top-level fields and two of its
// tests: the wrong solution's (or a stub's) and the solved exercise's.
func excerptGradescope(t *testing.T, results []byte, wrong, solved *stub.Info) string {
	t.Helper()
	var doc map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(results, &doc))
	var tests []map[string]any
	require.NoError(t, json.Unmarshal(doc["tests"], &tests))
	var shown []map[string]any
	for _, name := range []string{nameOf(wrong), nameOf(solved)} {
		i := slices.IndexFunc(tests, func(m map[string]any) bool {
			extra, _ := m["extra_data"].(map[string]any)
			return extra["exercise"] == name
		})
		if i >= 0 {
			shown = append(shown, tests[i])
		}
	}
	if len(shown) < 2 && len(tests) > 0 {
		shown = append([]map[string]any{tests[0]}, shown...)
	}
	var b strings.Builder
	b.WriteString("{\n")
	for _, k := range []string{"score", "execution_time", "output", "visibility", "stdout_visibility"} {
		fmt.Fprintf(&b, "  %q: %s,\n", k, doc[k])
	}
	b.WriteString("  \"tests\": [\n")
	for _, m := range shown {
		if out, ok := m["output"].(string); ok && len(out) > 400 {
			m["output"] = out[:400] + "…"
		}
		data, err := json.MarshalIndent(m, "    ", "  ")
		require.NoError(t, err)
		fmt.Fprintf(&b, "    %s,\n", data)
	}
	fmt.Fprintf(&b, "    … %d more, one per exercise\n  ]\n}", len(tests)-len(shown))
	return b.String()
}

func nameOf(in *stub.Info) string {
	if in == nil {
		return ""
	}
	return in.Name
}
