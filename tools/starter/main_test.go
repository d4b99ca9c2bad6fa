package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tools/stub"
)

// board is the part of tools/grade's -json output these tests read.
type board struct {
	Exercises []struct {
		Exercise, Lang, Reason string
		Passed                 bool
	}
	Passed, Total int
	Other         []struct{ Test, Reason string } `json:"other_failures"`
	Flaky         []string
	Python        string
}

// grade runs the copy's own grader on it, as a student or an instructor
// would, and returns its scoreboard. With "-all" it runs every test, not
// only those that grade an exercise.
func grade(t *testing.T, dir string, flags ...string) (board, time.Duration) {
	t.Helper()
	start := time.Now()
	args := append([]string{"run", "./tools/grade", "-json", "-timeout", "12m"}, flags...) // minutes on a loaded 2-core machine
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	elapsed := time.Since(start)
	var b board
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &b), "grade: %v\n%s", err, stderr.String())
	return b, elapsed
}

// course returns the course's root and exercises. The end-to-end tests
// below grade two whole copies of the course (minutes on a 2-core machine),
// so they run only when asked: STARTER_E2E=1 (.ci/run sets it).
func course(t *testing.T) (root string, exercises []stub.Exercise) {
	t.Helper()
	if os.Getenv("STARTER_E2E") == "" {
		t.Skip("set STARTER_E2E=1 to write and grade copies of the course")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	exs, err := stub.Find(root)
	require.NoError(t, err)
	return root, exs
}

// TestStarterFailsExactlyTheExercises writes the student's starter copy and
// grades it: every exercise fails as "not done yet", every other test passes,
// and the counts agree with the course's exercise regions.
func TestStarterFailsExactlyTheExercises(t *testing.T) {
	root, exs := course(t)
	out := filepath.Join(t.TempDir(), "starter")
	names, err := Write(root, out, false)
	require.NoError(t, err)
	require.Len(t, names, len(exs), "the starter stubs every exercise the course has")

	// A repository of its own, without the course's tooling, with the
	// student's README.
	_, err = os.Stat(filepath.Join(out, ".git"))
	require.NoError(t, err, "the starter is a git repository")
	assert.NoDirExists(t, filepath.Join(out, "scripts", "starter"))
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	require.NoError(t, err)
	assert.Equal(t, studentREADME, readme)

	// An instructor's grading run: only the tests that grade an exercise.
	quick, took := grade(t, out)
	t.Logf("graded the unsolved starter's exercises in %s", took.Round(time.Second))
	// The whole suite, as go test ./... and pytest run it.
	b, took := grade(t, out, "-all")
	t.Logf("graded the unsolved starter with every test in %s (flaky, passed on a second run: %v)", took.Round(time.Second), b.Flaky)
	assert.Empty(t, b.Other, "only exercise tests may fail in the starter")
	total := 0
	for _, e := range exs {
		if e.Lang == "go" || b.Python == "graded" {
			total++
		}
	}
	infos, _, err := stub.Catalog(root)
	require.NoError(t, err)
	pointers := map[string]string{}
	for _, in := range infos {
		pointers[in.Name] = in.Pointer
	}
	for _, run := range []board{quick, b} {
		assert.Zero(t, run.Passed)
		assert.Equal(t, total, run.Total, "the grader counts what the course has")
		for _, r := range run.Exercises {
			assert.False(t, r.Passed, "%s passes in the starter", r.Exercise)
			assert.True(t, strings.HasPrefix(r.Reason, r.Exercise+": not done yet — see docs/src/"),
				"%s fails for another reason: %s", r.Exercise, r.Reason)
			if p := pointers[r.Exercise]; p != "" {
				assert.Equal(t, r.Exercise+": not done yet — see "+p, r.Reason, "the reason points where the exercise is taught")
			}
		}
	}
}

// TestStarterWithSolutionsPasses writes the copy with its solutions kept:
// graded, it is all green.
func TestStarterWithSolutionsPasses(t *testing.T) {
	root, exs := course(t)
	out := filepath.Join(t.TempDir(), "solved")
	names, err := Write(root, out, true)
	require.NoError(t, err)
	require.Len(t, names, len(exs))
	b, took := grade(t, out, "-all")
	t.Logf("graded the solved copy in %s (flaky, passed on a second run: %v)", took.Round(time.Second), b.Flaky)
	assert.Empty(t, b.Other)
	assert.Equal(t, b.Total, b.Passed, "every exercise passes with its solution: %+v", b.Exercises)
}
