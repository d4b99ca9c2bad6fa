package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStripGo(t *testing.T) {
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
	got, n, err := stripGo([]byte(src))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.NotContains(t, string(got), "strings", "the import only the solution used is gone")
	assert.Contains(t, string(got), "// ANCHOR: exercise-trim\n\t// TODO(exercise-trim): see the chapter's Exercises\n\t// ANCHOR_END: exercise-trim")
	assert.Contains(t, string(got), `"fmt"`)

	// A region that ends a function with results must leave a return: a panic.
	src = "package p\n\nfunc g() int {\n\t// ANCHOR: exercise-g\n\treturn 1\n\t// ANCHOR_END: exercise-g\n}\n"
	got, _, err = stripGo([]byte(src))
	require.NoError(t, err)
	assert.Contains(t, string(got), "\tpanic(\"TODO(exercise-g): see the chapter's Exercises\")\n")
}

func TestImportName(t *testing.T) {
	assert.Equal(t, "progressbar", importName("github.com/schollz/progressbar/v3"))
	assert.Equal(t, "yaml", importName("gopkg.in/yaml.v3"))
	assert.Equal(t, "http", importName("net/http"))
}

func TestStripPython(t *testing.T) {
	src := "def f(x: int) -> int:\n    # ANCHOR: exercise-double\n    x *= 2\n    # ANCHOR_END: exercise-double\n    return x\n"
	got, n := strip([]byte(src), "#", "pass  # TODO(%s)")
	assert.Equal(t, 1, n)
	assert.Equal(t, "def f(x: int) -> int:\n    # ANCHOR: exercise-double\n    pass  # TODO(exercise-double)\n    # ANCHOR_END: exercise-double\n    return x\n", string(got))
}

// TestStarterCompilesAndFailsItsTests writes the starter copy of the whole
// course, checks that it builds, and that chapter 1's exercise tests fail
// on it: the same tests grade the student's solution.
func TestStarterCompilesAndFailsItsTests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the course")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "starter")
	n, changed, err := Write(root, out)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 2)
	assert.Contains(t, changed, "ch01-overview")

	run := func(args ...string) (string, error) {
		cmd := exec.Command("go", args...)
		cmd.Dir = out
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	var goDirs []string
	for _, d := range changed {
		if m, _ := filepath.Glob(filepath.Join(out, d, "*.go")); len(m) > 0 {
			goDirs = append(goDirs, "./"+d)
		}
	}
	// Compile the code and its tests (go vet would also flag the code left
	// unreachable after a TODO panic, which is expected in a starter).
	outp, err := run(append([]string{"test", "-count=1", "-run", "^$"}, goDirs...)...)
	require.NoError(t, err, "the starter must compile:\n%s", outp)

	outp, err = run("test", "./ch01-overview", "-run", "^(TestLineLimit|TestIdleClientIsDisconnected)$")
	require.Error(t, err, "ch01's exercise tests must fail on the starter:\n%s", outp)
	for _, name := range []string{"TestLineLimit", "TestIdleClientIsDisconnected"} {
		assert.True(t, strings.Contains(outp, "--- FAIL: "+name), "%s should fail on the starter:\n%s", name, outp)
	}
}
