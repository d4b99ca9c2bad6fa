package stub

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGoStubKeepsAnchorsAndDropsUnusedImports(t *testing.T) {
	src := `package p

import (
	"fmt"
	"strings"
)

func f(s string) string {
	fmt.Println(s)
	// ANCHOR: exercise-trim
	s = strings.TrimSpace(s)
	// ANCHOR_END: exercise-trim
	return s
}
`
	got, names, err := Go([]byte(src))
	require.NoError(t, err)
	assert.Equal(t, []string{"exercise-trim"}, names)
	assert.Equal(t, `package p

import (
	"fmt"

	"github.com/tcp-in-go/course/internal/exercise"
)

func f(s string) string {
	fmt.Println(s)
	// ANCHOR: exercise-trim
	exercise.TODO("exercise-trim")
	// ANCHOR_END: exercise-trim
	return s
}

// The starter's stubs call exercise.TODO. This line keeps the import in use
// once you have replaced them all; then delete both.
var _ = exercise.TODO
`, string(got))
}

// A region that ends a function with results becomes a return of zero
// values, never a panic: an unsolved exercise must not stop other tests.
func TestGoStubReturnsZeroValues(t *testing.T) {
	src := `package p

import "time"

type State int

func g(n int) (d time.Duration, s State, b []byte, ok bool, err error) {
	// ANCHOR: exercise-g
	return time.Duration(n), 1, nil, true, nil
	// ANCHOR_END: exercise-g
}
`
	got, _, err := Go([]byte(src))
	require.NoError(t, err)
	assert.Contains(t, string(got), "\texercise.TODO(\"exercise-g\")\n\treturn 0, *new(State), nil, false, nil\n")
	assert.Contains(t, string(got), `"time"`, "the signature still uses it")
	assert.NotContains(t, string(got), "panic")
}

func TestGoWithoutExercisesIsUnchanged(t *testing.T) {
	src := []byte("package p\n\nfunc f() {}\n")
	got, names, err := Go(src)
	require.NoError(t, err)
	assert.Empty(t, names)
	assert.Equal(t, src, got)
}

func TestPythonStubIsATODO(t *testing.T) {
	src := "def f(x: int) -> int:\n    # ANCHOR: exercise-double\n    x *= 2\n    # ANCHOR_END: exercise-double\n    return x\n"
	got, names := Python([]byte(src))
	assert.Equal(t, []string{"exercise-double"}, names)
	assert.Equal(t, "def f(x: int) -> int:\n    # ANCHOR: exercise-double\n"+
		"    pass  # TODO(exercise-double): not done yet\n"+
		"    # ANCHOR_END: exercise-double\n    return x\n", string(got))
}

// Only chapter code holds exercises: a test's fixtures (like the ones above)
// are not counted.
func TestHolds(t *testing.T) {
	for file, want := range map[string]bool{
		"ch04-echo/server.go":         true,
		"ch04-echo/server_test.go":    false,
		"python/ch04_echo.py":         true,
		"python/common.py":            false,
		"python/tests/test_ch04.py":   false,
		"tools/stub/x.go":             false,
		"internal/serve/temporary.go": true,
		"tools/starter/main_test.go":  false,
	} {
		assert.Equal(t, want, Holds(file), file)
	}
}

func TestPage(t *testing.T) {
	assert.Equal(t, "docs/src/ch04-echo.md", Page("ch04-echo/server.go"))
	assert.Equal(t, "docs/src/ch03-listen-accept.md", Page("internal/serve/temporary.go"))
	assert.Equal(t, "docs/src/ch02-tcp-basics.md", Page("python/ch02_tcp_server.py"))
}

func TestImportName(t *testing.T) {
	assert.Equal(t, "progressbar", importName("github.com/schollz/progressbar/v3"))
	assert.Equal(t, "yaml", importName("gopkg.in/yaml.v3"))
	assert.Equal(t, "http", importName("net/http"))
}

// The course's own exercises: every chapter has some, each once, and every
// chapter file stubs into code that still parses.
func TestCourseExercises(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	exs, err := Find(root)
	require.NoError(t, err)
	seen := map[string]bool{}
	chapters := map[string]int{}
	for _, e := range exs {
		assert.False(t, seen[e.Name], "%s is used twice", e.Name)
		seen[e.Name] = true
		chapters[e.Chapter()]++
	}
	for _, ch := range []string{"ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07"} {
		assert.GreaterOrEqual(t, chapters[ch], 2, "%s has fewer than two exercises", ch)
	}
}

// Every neutral stub names an exercise of the course.
func TestNeutralStubsNameExercises(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	exs, err := Find(root)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, e := range exs {
		names[e.Name] = true
	}
	for name := range neutral {
		assert.True(t, names[name], "neutral stub for %s, which is no exercise", name)
	}
	for name := range neutralPython {
		assert.True(t, names[name], "neutral stub for %s, which is no exercise", name)
	}
}
