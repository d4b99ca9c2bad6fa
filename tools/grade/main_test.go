package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tools/stub"
)

func TestParseGo(t *testing.T) {
	data, err := os.ReadFile("testdata/go-test.json")
	require.NoError(t, err)
	r := parseGo(data, "example.com/c")
	byName := map[string]*testResult{}
	for _, tr := range r.tests {
		byName[tr.id()] = tr
	}
	done := byName["ch01-x: TestDone"]
	require.NotNil(t, done)
	assert.True(t, done.passed)
	assert.True(t, done.grades["exercise-done"])

	todo := byName["ch01-x: TestTodo"]
	assert.False(t, todo.passed)
	assert.Equal(t, "exercise-todo: not done yet — see docs/src/ch01-x.md#exercise-todo", todo.reason,
		"a stub's message says all there is to say")

	sub := byName["ch01-x: TestSuite/case"]
	assert.True(t, sub.grades["exercise-wrong"], "a subtest grades what its parent grades")
	assert.Equal(t, "TestSuite/case: the reply: Not equal: expected: 1, actual: 2", sub.reason)
	assert.False(t, byName["ch01-x: TestSuite"].failedOwn, "the parent failed only through its subtest")

	assert.Equal(t, "TestOther: connection refused", byName["ch01-x: TestOther"].reason)
	assert.Equal(t, "package failed: ch02-y/a.go:3:2: undefined: foo", r.pkgFailure["ch02-y"])
	assert.Equal(t, "did not finish: grading timed out", r.pkgFailure["ch03-z"])
	assert.NotContains(t, r.pkgFailure, "ch01-x", "its failure is explained by its tests")
}

func TestReasonOf(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"a server's log lines before the assertion", "want 1 line"},
		{"the helpers' own logs", "the reply is wrong"},
		{"a panic", "panic: runtime error: index out of range [3] with length 3"},
		{"testify with a message", "the reply: Should be true"},
	} {
		lines := map[string][]string{
			"a server's log lines before the assertion": {
				"    time=2026-01-01T00:00:00Z level=INFO msg=accepted peer=127.0.0.1:1",
				"    level=WARN msg=closed peer=127.0.0.1:1 reason=too_long",
				"    x_test.go:10: want 1 line",
			},
			"the helpers' own logs": {
				"    grading.go:32: grading the server at CH01_ADDR=127.0.0.1:1",
				"    x_test.go:10: the reply is wrong",
				"    testutil.go:270: stderr of ch01-overview:",
			},
			"a panic": {
				"panic: runtime error: index out of range [3] with length 3 [recovered]",
				"\tpanic: runtime error: index out of range [3] with length 3",
			},
			"testify with a message": {
				"    x_test.go:33: ",
				"        \tError Trace:\tx_test.go:33",
				"        \tError:      \tShould be true",
				"        \tTest:       \tTestX",
				"        \tMessages:   \tthe reply",
			},
		}[tc.name]
		got := reasonOf(lines)
		if tc.name == "a panic" {
			assert.True(t, strings.HasPrefix(got, tc.want), "%s: %q", tc.name, got)
			continue
		}
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// recorded reads the go test -json output recorded from a run of a chapter's
// grading tests with a wrong solution in place (how each was made is in
// testdata/recorded/README.md).
func recorded(t *testing.T, name string) results {
	t.Helper()
	data, err := os.ReadFile("testdata/recorded/" + name)
	require.NoError(t, err)
	return parseGo(data, "github.com/tcp-in-go/course")
}

func find(t *testing.T, r results, id string) *testResult {
	t.Helper()
	for _, tr := range r.tests {
		if tr.id() == id {
			return tr
		}
	}
	t.Fatalf("no test %s in the recording", id)
	return nil
}

// A wrong (not stub) solution's failure is explained by its assertion,
// never by the log lines the server wrote before it.
func TestReasonOfRecordedWrongSolutions(t *testing.T) {
	// ch01, exercise-line-limit without the +1 for the newline: the test
	// output starts with the server's log records.
	r := recorded(t, "ch01-line-limit-off-by-one.json")
	limit := find(t, r, "ch01-overview: TestLineLimit")
	assert.False(t, limit.passed)
	assert.Equal(t, `TestLineLimit: want 1 printed lines, have [""]`, limit.reason)
	assert.InDelta(t, 10.01, limit.seconds, 0.001)
	assert.True(t, find(t, r, "ch01-overview: TestConformance/LongLineRefused").passed)

	// ch05, exercise-names refusing C0 controls only: testify's report in a
	// table test's subtest.
	r = recorded(t, "ch05-names-c0-only.json")
	del := find(t, r, "ch05-filexfer: TestVectors/name/DEL")
	assert.Equal(t, `TestVectors/name/DEL: Not equal: expected: "BAD_NAME", actual: ""`, del.reason)
	assert.Contains(t, r.output(find(t, r, "ch05-filexfer: TestVectors")), "--- FAIL: TestVectors/name/DEL",
		"a test's output holds its subtests'")

	// The Python twin's exercise-check-name-py, C0 controls only: pytest's
	// assertion, with the parametrised case's id.
	data, err := os.ReadFile("testdata/recorded/ch05-check-name-py-c0-only.pytest.json")
	require.NoError(t, err)
	var recs []pyRecord
	require.NoError(t, json.Unmarshal(data, &recs))
	py := parsePython(recs)
	hostile := find(t, py, "python: tests/test_ch05_filexfer.py::test_hostile[frames3-want3]")
	assert.Equal(t, `test_hostile[frames3-want3]: assert ['READY'] == ['BAD_NAME']`, hostile.reason)
	assert.Greater(t, hostile.seconds, 0.0)
	nel := find(t, py, "python: tests/test_ch05_vectors.py::test_name[C1 control NEL (U+0085)]")
	assert.True(t, strings.HasPrefix(nel.reason, "test_name[C1 control NEL (U+0085)]: "), nel.reason)
}

func TestPyReason(t *testing.T) {
	msg := "def test_x():\n>       f()\nE       Failed: exercise-y: not done yet — see docs/src/ch01-overview.md#exercise-y\n"
	assert.Equal(t, "exercise-y: not done yet — see docs/src/ch01-overview.md#exercise-y", pyReason(msg))
	assert.Equal(t, "assert 1 == 2", pyReason(">   assert f() == 2\nE   assert 1 == 2\n"))
	assert.Equal(t, "the reply: assert 1 == 2",
		pyReason(">   assert f() == 2, \"the reply\"\nE   AssertionError: the reply\nE   assert 1 == 2\n"))
}

// board grades the recorded runs as Grade would: three exercises, one
// passing, two with a wrong solution.
func board(t *testing.T) *Board {
	t.Helper()
	exs := []stub.Info{
		{Exercise: stub.Exercise{Name: "exercise-line-limit", File: "ch01-overview/server.go", Lang: "go", Page: "docs/src/ch01-overview.md"},
			Title: "Refuse a line over the limit", Points: 2, Pointer: "docs/src/ch01-overview.md#exercise-line-limit"},
		{Exercise: stub.Exercise{Name: "exercise-names", File: "ch05-filexfer/names.go", Lang: "go", Page: "docs/src/ch05-filexfer.md"},
			Title: "Refuse hostile names", Points: 3},
		{Exercise: stub.Exercise{Name: "exercise-check-name-py", File: "python/ch05_filexfer.py", Lang: "python", Page: "docs/src/ch05-filexfer.md"},
			Title: "Refuse hostile names, in Python", Points: 1},
	}
	goRes := recorded(t, "ch01-line-limit-off-by-one.json")
	ch05 := recorded(t, "ch05-names-c0-only.json")
	goRes.tests = append(goRes.tests, ch05.tests...)
	data, err := os.ReadFile("testdata/recorded/ch05-check-name-py-c0-only.pytest.json")
	require.NoError(t, err)
	var recs []pyRecord
	require.NoError(t, json.Unmarshal(data, &recs))
	// exercise-line-limit passes here: drop its failed test.
	var kept []*testResult
	for _, tr := range goRes.tests {
		if tr.Name != "TestLineLimit" {
			kept = append(kept, tr)
		}
	}
	goRes.tests = kept
	b := score(exs, goRes, parsePython(recs), "graded")
	b.Seconds = 12.4
	return b
}

// Graded with wrong solutions, the scoreboard, JUnit, Gradescope's
// results.json and -json all show the assertion that failed.
func TestBoardOutputs(t *testing.T) {
	b := board(t)
	require.Len(t, b.Exercises, 3)
	assert.Equal(t, 1, b.Passed)
	assert.Equal(t, 3, b.Total)
	assert.Equal(t, 2, b.Score)
	assert.Equal(t, 6, b.MaxScore)
	assert.False(t, b.AllPassed())
	names := b.Exercises[1]
	assert.Equal(t, `TestVectors/name/DEL: Not equal: expected: "BAD_NAME", actual: ""`, names.Reason)
	assert.Equal(t, "ch05-filexfer: TestVectors/name/DEL", names.Test)
	assert.Contains(t, names.Output, `expected: "BAD_NAME"`)
	py := b.Exercises[2]
	assert.Equal(t, `test_hostile[frames3-want3]: assert ['READY'] == ['BAD_NAME']`, py.Reason)
	assert.Greater(t, py.Seconds, 0.0)

	var out bytes.Buffer
	b.Print(&out)
	table := out.String()
	t.Logf("the scoreboard:\n%s", table)
	for _, want := range []string{
		"CHAPTER  EXERCISE                LANG    POINTS  RESULT  TITLE\n",
		"ch01     exercise-line-limit     go      2/2     pass    Refuse a line over the limit\n",
		"ch05     exercise-names          go      0/3     FAIL    Refuse hostile names\n" +
			`         TestVectors/name/DEL: Not equal: expected: "BAD_NAME", actual: ""` + "\n",
		"1/3 exercises done, 2/6 points; graded in 12s.",
	} {
		assert.Contains(t, table, want)
	}
	assert.NotContains(t, table, "level=")

	var doc junitSuites
	require.NoError(t, xml.Unmarshal(b.JUnit(), &doc))
	assert.Equal(t, 3, doc.Tests)
	assert.Equal(t, 2, doc.Failures)
	assert.Equal(t, "12.400", doc.Time)
	require.Len(t, doc.Suites, 2)
	ch05 := doc.Suites[1]
	assert.Equal(t, "ch05", ch05.Name)
	assert.NotEmpty(t, ch05.Time)
	require.Len(t, ch05.Cases, 2)
	assert.Equal(t, "exercise-names (go): Refuse hostile names", ch05.Cases[0].Name)
	assert.Equal(t, names.Reason, ch05.Cases[0].Failure.Message)
	assert.Contains(t, ch05.Cases[0].SystemOut, "--- FAIL: TestVectors/name/DEL", "the failing test's output")
	timeRE := regexp.MustCompile(`^\d+\.\d{3}$`)
	for _, c := range ch05.Cases {
		assert.Regexp(t, timeRE, c.Time, "%s: the case's time, in seconds", c.Name)
	}
	assert.NotEqual(t, "0.000", ch05.Cases[1].Time, "the Python exercise's tests took time")
	assert.Regexp(t, timeRE, ch05.Time)

	var gs map[string]any
	require.NoError(t, json.Unmarshal(b.Gradescope(), &gs))
	assert.EqualValues(t, 2, gs["score"])
	assert.EqualValues(t, 12, gs["execution_time"])
	tests := gs["tests"].([]any)
	require.Len(t, tests, 3)
	first, second := tests[0].(map[string]any), tests[1].(map[string]any)
	assert.EqualValues(t, 2, first["score"])
	assert.EqualValues(t, 2, first["max_score"])
	assert.Equal(t, "passed", first["status"])
	assert.Equal(t, "ch01 exercise-line-limit (go): Refuse a line over the limit", first["name"])
	assert.Equal(t, "visible", first["visibility"])
	assert.Contains(t, first["output"], "Taught in docs/src/ch01-overview.md#exercise-line-limit.")
	assert.EqualValues(t, 0, second["score"])
	assert.EqualValues(t, 3, second["max_score"])
	assert.Equal(t, "failed", second["status"])
	assert.True(t, strings.HasPrefix(second["output"].(string), names.Reason+"\n\n"))

	var asJSON bytes.Buffer
	require.NoError(t, json.NewEncoder(&asJSON).Encode(b))
	assert.Contains(t, asJSON.String(), `"reason":"TestVectors/name/DEL: Not equal: expected: \"BAD_NAME\", actual: \"\""`)
}

func TestRetryableAndMerge(t *testing.T) {
	data, err := os.ReadFile("testdata/go-test.json")
	require.NoError(t, err)
	r := parseGo(data, "example.com/c")
	// "not done yet" is no reason to retry; the others are, by top-level name.
	assert.Equal(t, map[string][]string{"ch01-x": {"TestSuite", "TestOther"}}, r.retryable())

	again := results{tests: []*testResult{
		{Dir: "ch01-x", Name: "TestSuite", passed: true},
		{Dir: "ch01-x", Name: "TestSuite/case", passed: true},
		{Dir: "ch01-x", Name: "TestOther", reason: "connection refused"},
	}}
	assert.Equal(t, []string{"ch01-x: TestSuite"}, r.merge(again))
	for _, tr := range r.tests {
		if tr.Name == "TestSuite/case" {
			assert.True(t, tr.passed, "the second run's result replaces the first")
		}
	}
}
