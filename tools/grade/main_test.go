package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	assert.Equal(t, "exercise-todo: not done yet — see docs/src/ch01-x.md#exercises", todo.reason)

	sub := byName["ch01-x: TestSuite/case"]
	assert.True(t, sub.grades["exercise-wrong"], "a subtest grades what its parent grades")
	assert.Equal(t, "Not equal:: the reply", sub.reason)
	assert.False(t, byName["ch01-x: TestSuite"].failedOwn, "the parent failed only through its subtest")

	assert.Equal(t, "connection refused", byName["ch01-x: TestOther"].reason)
	assert.Equal(t, "package failed: ch02-y/a.go:3:2: undefined: foo", r.pkgFailure["ch02-y"])
	assert.Equal(t, "did not finish: grading timed out", r.pkgFailure["ch03-z"])
	assert.NotContains(t, r.pkgFailure, "ch01-x", "its failure is explained by its tests")
}

func TestPyReason(t *testing.T) {
	msg := "def test_x():\n>       f()\nE       NotImplementedError: exercise-y: not done yet — see docs/src/ch01-overview.md#exercises\n"
	assert.Equal(t, "exercise-y: not done yet — see docs/src/ch01-overview.md#exercises", pyReason(msg))
	assert.Equal(t, "assert 1 == 2", pyReason(">   assert f() == 2\nE   assert 1 == 2\n"))
}

func TestBoardOutputs(t *testing.T) {
	b := &Board{Passed: 1, Total: 2, Python: "graded", Seconds: 3,
		Exercises: []Row{
			{Chapter: "ch01", Exercise: "exercise-a", Lang: "go", Passed: true, Tests: []string{"TestA"}},
			{Chapter: "ch01", Exercise: "exercise-b", Lang: "python", Reason: "exercise-b: not done yet", Tests: []string{"t.py::test_b"}},
		},
		Other: []Failure{{Test: "ch02-y", Reason: "package failed: undefined: foo"}},
	}
	var out bytes.Buffer
	b.Print(&out)
	assert.Contains(t, out.String(), "ch01     exercise-a  go      pass")
	assert.Contains(t, out.String(), "ch01     exercise-b  python  FAIL    exercise-b: not done yet")
	assert.Contains(t, out.String(), "1/2 exercises done; graded in 3s.")
	assert.Contains(t, out.String(), "  ch02-y: package failed: undefined: foo")
	assert.False(t, b.AllPassed())

	var doc junitSuites
	require.NoError(t, xml.Unmarshal(b.JUnit(), &doc))
	assert.Equal(t, 3, doc.Tests)
	assert.Equal(t, 2, doc.Failures)
	require.Len(t, doc.Suites, 2)
	assert.Equal(t, "ch01", doc.Suites[0].Name)
	assert.Equal(t, "exercise-b: not done yet", doc.Suites[0].Cases[1].Failure.Message)
	assert.Equal(t, "other", doc.Suites[1].Name)
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
