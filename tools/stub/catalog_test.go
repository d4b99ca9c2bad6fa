package stub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// course writes a small course into a temporary directory: files maps a
// slash-separated path to its content.
func course(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	return root
}

const limitGo = `package main

import (
	"errors"
	"fmt"
)

func check(n, limit int) error {
	// ANCHOR: exercise-limit
	if n > limit {
		return errors.New("too long")
	}
	// ANCHOR_END: exercise-limit
	fmt.Print()
	return nil
}
`

func TestCatalog(t *testing.T) {
	root := course(t, map[string]string{
		"ch01-x/x.go": limitGo,
		"ch01-x/testdata/exercises/exercise-limit/exercise.json":  `{"title": "Refuse a long line", "points": 3}`,
		"ch01-x/testdata/exercises/exercise-limit/wrong-off.go":   "// Wrong: off by one\nif n > limit+1 {\n\treturn errors.New(\"too long\")\n}\n",
		"ch01-x/testdata/exercises/exercise-limit/wrong-never.go": "// Wrong: never refuses\n_ = limit\n",
		"ch01-x/testdata/exercises/exercise-gone/exercise.json":   `{"title": "Renamed", "points": 1}`,
		"docs/src/ch01-x.md":                                  "## Exercises\n\n<a id=\"exercise-limit\"></a>\n",
		"docs/src/solutions/ch01.md":                          "<a id=\"exercise-py\"></a>\n",
		"python/ch01_x.py":                                    "def f() -> None:\n    # ANCHOR: exercise-py\n    print()\n    # ANCHOR_END: exercise-py\n",
		"ch01-x/testdata/exercises/exercise-py/exercise.json": `{"title": "", "points": 0}`,
		"ch01-x/testdata/exercises/exercise-py/wrong-a.py":    "print()  # no description\n",
		"ch01-x/testdata/exercises/exercise-py/wrong-b.go":    "// Wrong: Go for a Python exercise\n",
	})
	infos, orphans, err := Catalog(root)
	require.NoError(t, err)
	require.Len(t, infos, 2)
	byName := map[string]Info{}
	for _, in := range infos {
		byName[in.Name] = in
	}

	limit := byName["exercise-limit"]
	assert.Empty(t, limit.Problems)
	assert.Empty(t, limit.Missing)
	assert.Equal(t, "Refuse a long line", limit.Title)
	assert.Equal(t, 3, limit.Points)
	assert.Equal(t, "docs/src/ch01-x.md#exercise-limit", limit.Pointer)
	assert.Equal(t, "ch01-x/testdata/exercises/exercise-limit", limit.Dir)
	require.Len(t, limit.Wrong, 2)
	assert.Equal(t, "never", limit.Wrong[0].Slug)
	assert.Equal(t, "never refuses", limit.Wrong[0].Description)

	py := byName["exercise-py"]
	assert.Equal(t, "exercise-py", py.Title, "an invalid exercise.json leaves the name as the title")
	assert.Equal(t, 1, py.Points)
	assert.Empty(t, py.Pointer, "a Solutions page does not teach the exercise")
	problems := strings.Join(py.Problems, "\n")
	for _, want := range []string{
		"exercise.json: no title",
		`wrong-a.py: the first line must say what is wrong: "# Wrong: ..."`,
		"wrong-b.go: not a file an exercise directory holds",
	} {
		assert.Contains(t, problems, want)
	}
	missing := strings.Join(py.Missing, "\n")
	for _, want := range []string{
		`no page of docs/src holds <a id="exercise-py"></a>`,
		"0 wrong solutions in ch01-x/testdata/exercises/exercise-py",
	} {
		assert.Contains(t, missing, want)
	}
	assert.Equal(t, []string{"ch01-x/testdata/exercises/exercise-gone names no exercise of ch01-x (no ANCHOR: exercise-gone region)"}, orphans)
}

func TestCatalogRefusesAWrongSolutionThatDoesNotParse(t *testing.T) {
	root := course(t, map[string]string{
		"ch01-x/x.go": limitGo,
		"ch01-x/testdata/exercises/exercise-limit/exercise.json": `{"title": "T", "points": 1}`,
		"ch01-x/testdata/exercises/exercise-limit/wrong-a.go":    "// Wrong: a brace short\nif n > limit {\n",
	})
	infos, _, err := Catalog(root)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Contains(t, strings.Join(infos[0].Problems, "\n"), "wrong-a.go: does not parse in place of the region")
	assert.Contains(t, strings.Join(infos[0].Missing, "\n"), "no page of docs/src holds", "no docs/src at all")
}

func TestReplace(t *testing.T) {
	// A wrong solution written flush left goes in at the anchor's
	// indentation; imports only the solution used are dropped.
	got, err := Replace("ch01-x/x.go", []byte(limitGo), "exercise-limit", "// Wrong: never refuses\n_ = limit\n")
	require.NoError(t, err)
	assert.Equal(t, `package main

import (
	"fmt"
)

func check(n, limit int) error {
	// ANCHOR: exercise-limit
	// Wrong: never refuses
	_ = limit
	// ANCHOR_END: exercise-limit
	fmt.Print()
	return nil
}
`, string(got))

	py := "def f(x: int) -> int:\n    # ANCHOR: exercise-a\n    x += 1\n    # ANCHOR_END: exercise-a\n    # ANCHOR: exercise-b\n    x *= 2\n    # ANCHOR_END: exercise-b\n    return x\n"
	got, err = Replace("python/ch01_x.py", []byte(py), "exercise-b", "    # Wrong: triples\n    x *= 3\n\n    x += 0\n")
	require.NoError(t, err)
	assert.Equal(t, "def f(x: int) -> int:\n    # ANCHOR: exercise-a\n    x += 1\n    # ANCHOR_END: exercise-a\n"+
		"    # ANCHOR: exercise-b\n    # Wrong: triples\n    x *= 3\n\n    x += 0\n    # ANCHOR_END: exercise-b\n    return x\n", string(got),
		"the other region stays as it was")

	_, err = Replace("python/ch01_x.py", []byte(py), "exercise-c", "x")
	assert.ErrorContains(t, err, "python/ch01_x.py has no region exercise-c")
}
