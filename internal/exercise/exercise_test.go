package exercise

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeT records what Graded does to a test.
type fakeT struct {
	logs, errors []string
	fatal        string
	cleanups     []func()
}

func (f *fakeT) Helper() {}
func (f *fakeT) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	panic(f) // as runtime.Goexit stops a real test
}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// graded runs Graded in dir and then its cleanups.
func graded(t *testing.T, dir string, names ...string) *fakeT {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	require.NoError(t, os.Chdir(dir))
	defer func() { require.NoError(t, os.Chdir(wd)) }()
	f := &fakeT{}
	func() {
		defer func() {
			if r := recover(); r != nil && r != any(f) {
				panic(r)
			}
		}()
		Graded(f, names...)
	}()
	for _, c := range f.cleanups {
		c()
	}
	return f
}

func TestGradedFailsWhileTheStubIsThere(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ch04-echo")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "docs", "src", "ch04-echo"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "docs", "src", "ch04-echo", "deeper.md"),
		[]byte("## Exercises\n\n<a id=\"exercise-x\"></a>\n### Exercise x\n"), 0o644))
	stub := "package main\n\nfunc f() {\n\t// ANCHOR: exercise-x\n\texercise.TODO(\"exercise-x\")\n\t// ANCHOR_END: exercise-x\n}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f.go"), []byte(stub), 0o644))
	// A test file's mention does not count.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f_test.go"), []byte("package main\n\n// exercise.TODO(\"exercise-y\")\n"), 0o644))

	f := graded(t, dir, "exercise-x")
	assert.Equal(t, "exercise-x: not done yet — see docs/src/ch04-echo/deeper.md#exercise-x", f.fatal,
		"the pointer is the page that holds the exercise's anchor")
	assert.Equal(t, []string{"grades exercise-x"}, f.logs)

	f = graded(t, dir, "exercise-y")
	assert.Empty(t, f.fatal)
	assert.Empty(t, f.errors)
	assert.Equal(t, []string{"grades exercise-y"}, f.logs)
}

// A stub that runs during a grading test fails it, even when the static
// check missed it.
func TestGradedFailsWhenAStubRuns(t *testing.T) {
	dir := t.TempDir()
	TODO("exercise-ran")
	t.Cleanup(func() { mu.Lock(); delete(reached, "exercise-ran"); mu.Unlock() })
	f := graded(t, dir, "exercise-ran")
	assert.Empty(t, f.fatal)
	require.Len(t, f.errors, 1)
	assert.Contains(t, f.errors[0], "exercise-ran: not done yet")
}

// Without the exercise's anchor on any page, the message names the
// chapter's page if it exists, and no page if not: never a page that does
// not exist.
func TestNotDoneNamesOnlyPagesThatExist(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"docs/src/solutions", "ch04-echo", "internal/serve"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "docs/src/solutions/ch04.md"), []byte(`<a id="exercise-y"></a>`), 0o644))
	assert.Equal(t, "exercise-y: not done yet", NotDone("exercise-y", filepath.Join(root, "ch04-echo")),
		"a Solutions page solves an exercise, it does not teach it")
	require.NoError(t, os.WriteFile(filepath.Join(root, "docs/src/ch04-echo.md"), []byte("# Echo\n"), 0o644))
	assert.Equal(t, "exercise-z: not done yet — see docs/src/ch04-echo.md", NotDone("exercise-z", filepath.Join(root, "ch04-echo")))
	assert.Equal(t, "exercise-z: not done yet", NotDone("exercise-z", filepath.Join(root, "internal/serve")),
		"docs/src/ch03-listen-accept.md does not exist here")
	assert.Equal(t, "exercise-z: not done yet", NotDone("exercise-z", t.TempDir()), "no book at all")
}

func TestPage(t *testing.T) {
	assert.Equal(t, "docs/src/ch03-listen-accept.md", Page("serve"), "the accept loop is taught in chapter 3")
	assert.Equal(t, "docs/src/ch04-echo.md", Page("ch04-echo"))
	assert.Equal(t, "docs/src/ch04-echo.md", Page("ch04_echo.py"))
	assert.Equal(t, "docs/src/ch02-tcp-basics.md", Page("ch02_tcp_server.py"))
}
