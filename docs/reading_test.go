package docs

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reading time. Every page says how long it takes to read, in a comment
// right under its title that the book's preprocessor (scripts/mdbook-
// exercises) turns into a small label, with the source text's section for
// a chapter:
//
//	# 4. The echo server
//	<!-- minutes: 25 | source: 第四章 4.1 实现一个Echo TCP服务器 -->
//
// The estimate is computed, not guessed: prose at 200 words a minute, and
// every line of a listing, transcript or diagram counted as five words
// (about 40 lines a minute, the pace of reading code one already follows).
const (
	wordsPerMinute = 200
	wordsPerLine   = 5
	// maxChapterMinutes is the most a page of a chapter may ask: one
	// sitting. Depth goes to a "Going further" page of its own.
	maxChapterMinutes = 30
)

var updateMinutes = flag.Bool("update-minutes", false, "rewrite each page's reading time (go test ./docs -run ReadingTime -update-minutes)")

var pageMetaRE = regexp.MustCompile(`^<!-- minutes: (\d+)(?: \| source: (.+?))? -->$`)

// pageMeta is what a page's meta comment says.
type pageMeta struct {
	minutes int
	source  string // the source text's section, for a chapter page
	line    int    // 1-based line of the comment; 0 when missing
}

func readMeta(text string) pageMeta {
	lines := strings.Split(text, "\n")
	for i, l := range lines[:min(len(lines), 4)] {
		if m := pageMetaRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			return pageMeta{minutes: n, source: m[2], line: i + 1}
		}
	}
	return pageMeta{}
}

var (
	fenceRE       = regexp.MustCompile("^\\s*(```|~~~)")
	htmlCommentRE = regexp.MustCompile(`(?s)<!--.*?-->`)
)

// readingMinutes estimates a page from its prose words and the lines of
// its fenced blocks, with each {{#include}} counted as the lines it brings.
func readingMinutes(page, text string) (minutes, words, lines int, err error) {
	text = htmlCommentRE.ReplaceAllString(text, "")
	in := false
	for _, l := range strings.Split(text, "\n") {
		if fenceRE.MatchString(l) {
			in = !in
			continue
		}
		if m := includeRE.FindStringSubmatch(l); m != nil {
			file := filepath.Join("src", filepath.Dir(page), m[2])
			region, rerr := regionLines(file, m[3])
			if rerr != nil {
				return 0, 0, 0, rerr
			}
			lines += len(region) - exerciseBodyLines(rawRegion(file, m[3]), m[3])
			continue
		}
		if in {
			lines++
			continue
		}
		words += len(strings.Fields(l))
	}
	total := words + wordsPerLine*lines
	return max(1, (total+wordsPerMinute-1)/wordsPerMinute), words, lines, nil
}

// exerciseBodyLines counts the lines of a listing that are an exercise's
// body (between its ANCHOR and ANCHOR_END, or the whole listing when it is
// an exercise region itself). The reading time leaves them out: in a
// student's starter copy they are a stub of another length, and the page's
// number must hold in both.
func exerciseBodyLines(raw []string, anchor string) int {
	if strings.HasPrefix(anchor, "exercise-") {
		n := 0
		for _, l := range raw {
			if !strings.Contains(l, "ANCHOR") {
				n++
			}
		}
		return n
	}
	n, depth := 0, 0
	for _, l := range raw {
		switch {
		case strings.Contains(l, "ANCHOR: exercise-"):
			depth++
		case strings.Contains(l, "ANCHOR_END: exercise-"):
			depth--
		case depth > 0 && !strings.Contains(l, "ANCHOR"):
			n++
		}
	}
	return n
}

func metaLine(minutes int, source string) string {
	if source == "" {
		return fmt.Sprintf("<!-- minutes: %d -->", minutes)
	}
	return fmt.Sprintf("<!-- minutes: %d | source: %s -->", minutes, source)
}

// chapterPart reports whether page is in the book's Chapters part (a
// chapter, a deep dive, or a page under one), where one sitting is the
// limit; the solutions, contributor notes and glossary are reference.
func chapterPart(t *testing.T) map[string]bool {
	data, err := os.ReadFile("src/SUMMARY.md")
	require.NoError(t, err)
	part, in := map[string]bool{}, false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "# "):
			in = l == "# Chapters"
		case in:
			if m := summaryLinkRE.FindStringSubmatch(l); m != nil {
				part[m[1]] = true
			}
		}
	}
	return part
}

// TestReadingTime: every page carries its reading time under its title,
// the number is the one the formula gives, and no page of the Chapters
// part needs more than 30 minutes.
func TestReadingTime(t *testing.T) {
	inChapters := chapterPart(t)
	for _, page := range pages(t) {
		data, err := os.ReadFile(filepath.Join("src", page))
		require.NoError(t, err)
		got, words, lines, err := readingMinutes(page, string(data))
		if !assert.NoError(t, err, page) {
			continue
		}
		meta := readMeta(string(data))
		if *updateMinutes && meta.line > 0 && meta.minutes != got {
			lines := strings.Split(string(data), "\n")
			lines[meta.line-1] = metaLine(got, meta.source)
			require.NoError(t, os.WriteFile(filepath.Join("src", page), []byte(strings.Join(lines, "\n")), 0o644))
			meta.minutes = got
		}
		want := metaLine(got, "")
		if !assert.NotZero(t, meta.line, "%s: add %s on the line under the title", page, want) {
			continue
		}
		assert.Equal(t, got, meta.minutes, "%s:%d: %d prose words and %d listing lines make %d minutes: write %d",
			page, meta.line, words, lines, got, got)
		if inChapters[page] {
			assert.LessOrEqual(t, got, maxChapterMinutes,
				"%s: %d minutes is more than one sitting; move depth to a \"Going further\" page linked from it", page, got)
		}
	}
}

// TestReadingTimeFormula pins the estimate: 400 words and 40 listing lines
// are 2 + 1 = 3 minutes, and an include counts the lines it brings.
func TestReadingTimeFormula(t *testing.T) {
	text := strings.Repeat("word ", 400) + "\n```go\n" + strings.Repeat("x := 1\n", 40) + "```\n<!-- not counted, not even these words -->\n"
	m, words, lines, err := readingMinutes("x.md", text)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 400, 40}, []int{m, words, lines})
	m, _, lines, err = readingMinutes("x.md", "```go\n{{#include ../../ch01-overview/naive.go:naive}}\n```\n")
	require.NoError(t, err)
	region, err := regionLines("../ch01-overview/naive.go", "naive")
	require.NoError(t, err)
	assert.Equal(t, len(region), lines)
	assert.Equal(t, 1, m)
}
