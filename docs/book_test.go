// Package docs holds the book (mdBook, in src/) and this test, which keeps it
// honest without needing mdbook installed: every page in SUMMARY.md exists,
// every {{#include}} names an existing file and anchor, no Go or Python
// listing is typed into a page by hand, and every chapter page carries its
// source-text subtitle and exercises whose solutions are marked in the code.
package docs

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	summaryLinkRE = regexp.MustCompile(`\]\(([^)#]+\.md)\)`)
	includeRE     = regexp.MustCompile(`\{\{#(include|rustdoc_include) ([^}:]+)(?::([^}]+))?\}\}`)
	chapterPageRE = regexp.MustCompile(`^(ch\d\d-[a-z0-9-]+)\.md$`)
	sourceTitleRE = regexp.MustCompile(`^第.+$`)
)

func pages(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("src/SUMMARY.md")
	require.NoError(t, err)
	var out []string
	for _, m := range summaryLinkRE.FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	require.NotEmpty(t, out)
	return out
}

func TestSummaryListsEveryPage(t *testing.T) {
	listed := map[string]bool{}
	for _, p := range pages(t) {
		listed[p] = true
		assert.FileExists(t, filepath.Join("src", p), "SUMMARY.md links a page that does not exist")
	}
	files, err := filepath.Glob("src/*.md")
	require.NoError(t, err)
	for _, f := range files {
		name := filepath.Base(f)
		if name != "SUMMARY.md" {
			assert.True(t, listed[name], "%s is not linked from SUMMARY.md", name)
		}
	}
}

// hasAnchor reports whether file marks the region name with ANCHOR: and
// ANCHOR_END: comments (// in Go, # in Python, both work for mdBook). The
// name must match exactly: "handshake" does not match "handshake-failed".
func hasAnchor(file, name string) (begin, end bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return false, false
	}
	s := string(data)
	begin = regexp.MustCompile(`(?m)ANCHOR:[ \t]*` + regexp.QuoteMeta(name) + `[ \t]*$`).MatchString(s)
	end = regexp.MustCompile(`(?m)ANCHOR_END:[ \t]*` + regexp.QuoteMeta(name) + `[ \t]*$`).MatchString(s)
	return begin, end
}

func TestIncludesResolve(t *testing.T) {
	for _, page := range pages(t) {
		data, err := os.ReadFile(filepath.Join("src", page))
		require.NoError(t, err)
		for _, m := range includeRE.FindAllStringSubmatch(string(data), -1) {
			target := filepath.Join("src", filepath.Dir(page), m[2])
			if !assert.FileExists(t, target, "%s includes a missing file", page) {
				continue
			}
			anchor := m[3]
			if anchor == "" || regexp.MustCompile(`^\d`).MatchString(anchor) {
				continue // whole file or a line range
			}
			b, e := hasAnchor(target, anchor)
			assert.True(t, b && e, "%s includes %s:%s, but the file lacks ANCHOR: / ANCHOR_END: %s", page, m[2], anchor, anchor)
		}
	}
}

// TestNoHandTypedListings: a fenced block of Go or Python must be nothing but
// {{#include}} lines, so the book cannot drift from the code.
func TestNoHandTypedListings(t *testing.T) {
	for _, page := range pages(t) {
		f, err := os.Open(filepath.Join("src", page))
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		inCode, lang, line := false, "", 0
		for sc.Scan() {
			line++
			text := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(text, "```") {
				if inCode {
					inCode = false
				} else {
					inCode, lang = true, strings.Fields(strings.TrimPrefix(text, "```") + " x")[0]
				}
				continue
			}
			if inCode && (lang == "go" || lang == "python") && text != "" {
				assert.Regexp(t, `^\{\{#(include|rustdoc_include) `, text,
					"%s:%d: a %s listing must be included from a tested file, not typed", page, line, lang)
			}
		}
		f.Close()
	}
}

// TestChapterPages: each chapter page carries the source text's section title
// as its subtitle; once the chapter's program exists, the page ends with
// exercises whose solutions are marked exercise-… in the chapter's code.
func TestChapterPages(t *testing.T) {
	for _, page := range pages(t) {
		m := chapterPageRE.FindStringSubmatch(page)
		if m == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("src", page))
		require.NoError(t, err)
		assert.Regexp(t, sourceTitleRE, readMeta(string(data)).source,
			"%s: the meta line under the title must name the source text's section: <!-- minutes: N | source: 第…章 … -->", page)

		dir := filepath.Join("..", m[1])
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			continue // chapter not written yet
		}
		assert.Contains(t, string(data), "\n## Exercises\n", "%s has no Exercises section", page)
		solutions := 0
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(path)
				solutions += strings.Count(string(b), "ANCHOR: exercise-")
			}
			return nil
		})
		assert.GreaterOrEqual(t, solutions, 2, "%s: want at least two exercise-… anchors in %s", page, dir)
	}
}
