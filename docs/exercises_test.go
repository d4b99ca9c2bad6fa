package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tools/stub"
)

// render returns a page as the book shows it: exercise listings through the
// book's preprocessor (scripts/mdbook-course), then every other include
// expanded as mdBook does.
func render(t *testing.T, page string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("src", page))
	require.NoError(t, err)
	out, err := stub.ChapterPage("..", page, string(data))
	require.NoError(t, err)
	return stub.IncludeRE.ReplaceAllStringFunc(out, func(directive string) string {
		m := stub.IncludeRE.FindStringSubmatch(directive)
		src, err := os.ReadFile(filepath.Join("src", filepath.Dir(page), m[1]))
		require.NoError(t, err, "%s: %s", page, directive)
		anchor := m[2]
		if regexp.MustCompile(`^\d`).MatchString(anchor) {
			anchor = "" // a line range: the whole file is a superset
		}
		region, err := stub.Region(src, anchor)
		require.NoError(t, err, "%s: %s", page, directive)
		return region
	})
}

// squash drops blank lines and indentation, so a solution is found however a
// page indents it.
func squash(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func exercises(t *testing.T) []stub.Exercise {
	t.Helper()
	exs, err := stub.Find("..")
	require.NoError(t, err)
	require.NotEmpty(t, exs)
	return exs
}

// TestChapterPagesHideSolutions: no page but the solutions pages shows a
// solution; where a listing holds an exercise, the page shows its stub.
func TestChapterPagesHideSolutions(t *testing.T) {
	exs := exercises(t)
	for _, page := range pages(t) {
		if strings.HasPrefix(page, "solutions/") {
			continue
		}
		shown := squash(render(t, page))
		for _, e := range exs {
			sol, err := stub.Solution("..", e)
			require.NoError(t, err)
			if isStub(t, e, sol) {
				continue // a starter copy: nothing to hide
			}
			assert.NotContains(t, shown, squash(sol), "%s shows the solution of %s (%s)", page, e.Name, e.File)
		}
	}
}

// isStub reports whether an exercise's region is already its stub.
func isStub(t *testing.T, e stub.Exercise, region string) bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", e.File))
	require.NoError(t, err)
	stubbed, _, err := stub.File(e.File, src)
	require.NoError(t, err)
	s, err := stub.Region(stubbed, e.Name)
	require.NoError(t, err)
	return s == region
}

// TestSolutionsPages: each chapter's exercises are named in its Exercises
// section (so the book counts what the code and the grader count), and each
// solution is included on the chapter's solutions page, linked from there.
func TestSolutionsPages(t *testing.T) {
	byPage := map[string][]stub.Exercise{}
	for _, e := range exercises(t) {
		byPage[e.Page] = append(byPage[e.Page], e)
	}
	nameRE := regexp.MustCompile(`exercise-[a-z0-9-]*[a-z0-9]`)
	for page, exs := range byPage {
		chapter := strings.TrimPrefix(page, "docs/src/")
		data, err := os.ReadFile(filepath.Join("src", chapter))
		require.NoError(t, err)
		_, section, ok := strings.Cut(string(data), "\n## Exercises\n")
		require.True(t, ok, "%s has no Exercises section", chapter)
		named := map[string]bool{}
		for _, n := range nameRE.FindAllString(section, -1) {
			named[n] = true
		}
		solutions := "solutions/" + chapter[:4] + ".md"
		assert.Contains(t, section, "]("+solutions+")", "%s: the Exercises section links its solutions page", chapter)
		sol, err := os.ReadFile(filepath.Join("src", solutions))
		require.NoError(t, err)
		for _, e := range exs {
			assert.True(t, named[e.Name], "%s: the Exercises section does not name %s (%s)", chapter, e.Name, e.File)
			delete(named, e.Name)
			assert.Contains(t, string(sol), "{{#include ../../../"+e.File+":"+e.Name+"}}", "%s lacks %s", solutions, e.Name)
		}
		assert.Empty(t, named, "%s names exercises the code does not have", chapter)
	}
}

// TestLessonsShowTheirCode: an exercise extends a lesson, it never hides
// the code a page explains. So on the pages of the Chapters part, a
// listing that holds an exercise region (shown to the reader as a stub)
// may only appear under the page's "## Exercises" heading: everywhere
// else, listings show the lesson's code whole.
func TestLessonsShowTheirCode(t *testing.T) {
	for page := range chapterPart(t) {
		if strings.HasPrefix(page, "solutions/") {
			continue // a solutions page shows the exercise regions on purpose
		}
		data, err := os.ReadFile(filepath.Join("src", page))
		require.NoError(t, err)
		section := ""
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "## ") {
				section = line
			}
			m := includeRE.FindStringSubmatch(line)
			if m == nil || section == "## Exercises" {
				continue
			}
			for _, l := range rawRegion(filepath.Join("src", filepath.Dir(page), m[2]), m[3]) {
				if strings.Contains(l, "ANCHOR: exercise-") || strings.Contains(l, "exercise.TODO(") {
					t.Errorf("%s:%d: the listing %s:%s (under %q) holds an exercise: the reader would see a stub where the lesson's code should be; move the exercise into new code shown under ## Exercises",
						page, i+1, m[2], m[3], section)
					break
				}
			}
		}
	}
}

// rawRegion is the lines of file:anchor with the anchor comments nested in
// it kept (regionLines drops them, as mdBook does); nil if it has none.
func rawRegion(file, anchor string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil // TestIncludesResolve reports it
	}
	lines := strings.Split(string(data), "\n")
	if anchor == "" || lineRangeRE.MatchString(anchor) {
		return lines // a line range: the whole file is a superset
	}
	begin := regexp.MustCompile(`ANCHOR:[ \t]*` + regexp.QuoteMeta(anchor) + `[ \t]*$`)
	end := regexp.MustCompile(`ANCHOR_END:[ \t]*` + regexp.QuoteMeta(anchor) + `[ \t]*$`)
	for i, l := range lines {
		if begin.MatchString(l) {
			for j := i + 1; j < len(lines); j++ {
				if end.MatchString(lines[j]) {
					return lines[i+1 : j]
				}
			}
		}
	}
	return nil
}
