package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClaimsRegister checks docs/claims.md: every page of the book has a
// section, every row names tests that exist (a `func TestName(` in a
// _test.go file of the named directory), and a row without a test says why:
// a chapter under redesign (ch04, ch07 only) or background the page cites.
func TestClaimsRegister(t *testing.T) {
	data, err := os.ReadFile("claims.md")
	require.NoError(t, err)
	sections := map[string]int{} // page -> rows
	page := ""
	funcs := map[string]map[string]bool{} // dir -> test names
	for i, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "## "); ok {
			page = p
			sections[page] = 0
			continue
		}
		if page == "" || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| claim ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		require.Len(t, cells, 2, "claims.md:%d: want | claim | backed by |", i+1)
		sections[page]++
		backed := cells[1]
		switch {
		case strings.HasPrefix(backed, "pending: chapter under redesign"):
			assert.Contains(t, []string{"ch04-echo.md", "ch07-bench.md"}, page, "claims.md:%d: only ch04 and ch07 may be pending", i+1)
			continue
		case strings.HasPrefix(backed, "background: "):
			assert.Greater(t, len(backed), len("background: ")+10, "claims.md:%d: say where the fact comes from", i+1)
			continue
		}
		groups := strings.Split(backed, "; ")
		for _, g := range groups {
			m := groupRE.FindStringSubmatch(g)
			if !assert.NotNil(t, m, "claims.md:%d: want `dir` TestA, TestB in %q", i+1, g) {
				continue
			}
			dir := m[1]
			if courseOnly[dir] {
				if _, err := os.Stat(filepath.Join("..", dir)); err != nil {
					continue // a student's starter copy leaves the course's tooling out
				}
			}
			if funcs[dir] == nil {
				funcs[dir] = testFuncs(t, filepath.Join("..", dir))
			}
			for _, name := range strings.Split(m[2], ", ") {
				assert.True(t, funcs[dir][name], "claims.md:%d: no test %s in %s", i+1, name, dir)
			}
		}
	}
	for _, p := range bookPages(t) {
		assert.Positive(t, sections[p], "claims.md has no claims for %s", p)
	}
}

// courseOnly are directories of the course's own tooling that a student's
// starter copy (make starter) does not have: rows citing them are checked
// where the directory exists.
var courseOnly = map[string]bool{"tools/starter": true}

var (
	groupRE    = regexp.MustCompile("^`([a-z0-9/-]+)` ((?:Test|test_)[A-Za-z0-9_]+(?:, (?:Test|test_)[A-Za-z0-9_]+)*)$")
	testFuncRE = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)
	pyTestRE   = regexp.MustCompile(`(?m)^def (test_[A-Za-z0-9_]*)\(`)
	pageLinkRE = regexp.MustCompile(`\]\(([a-z0-9-]+\.md)\)`)
)

// testFuncs returns the names of the Test functions in dir's _test.go files
// (for python/tests, the pytest functions of its test_*.py files).
func testFuncs(t *testing.T, dir string) map[string]bool {
	pattern, re := "*_test.go", testFuncRE
	if filepath.ToSlash(dir) == "../python/tests" {
		pattern, re = "test_*.py", pyTestRE
	}
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	require.NoError(t, err)
	require.NotEmpty(t, files, "%s has no tests", dir)
	names := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
	}
	return names
}

// bookPages lists the chapter and topic pages of SUMMARY.md (not the
// contributor notes, which make no claims about the course's programs).
func bookPages(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join("src", "SUMMARY.md"))
	require.NoError(t, err)
	var pages []string
	for _, m := range pageLinkRE.FindAllStringSubmatch(string(b), -1) {
		pages = append(pages, m[1])
	}
	require.NotEmpty(t, pages)
	return pages
}
