package stub

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// IncludeRE matches mdBook's {{#include FILE}} and {{#include FILE:ANCHOR}}.
var IncludeRE = regexp.MustCompile(`\{\{#include ([^}:]+)(?::([^}]+))?\}\}`)

var anchorLineRE = regexp.MustCompile(`^\s*(//|#)\s*ANCHOR(_END)?:`)

// ChapterPage returns a book page's markdown with every {{#include}} whose
// listing holds an exercise region replaced by that listing with the
// exercise's stub: a chapter page shows the student's starting point, never
// the solution. Other includes are left for mdBook. Pages under solutions/
// come back unchanged: they show the solutions. page is relative to the
// book's src directory (docs/src), root is the repository root.
func ChapterPage(root, page, markdown string) (string, error) {
	if strings.HasPrefix(page, "solutions/") {
		return markdown, nil
	}
	var firstErr error
	out := IncludeRE.ReplaceAllStringFunc(markdown, func(directive string) string {
		m := IncludeRE.FindStringSubmatch(directive)
		file := filepath.Join(root, "docs", "src", filepath.Dir(page), strings.TrimSpace(m[1]))
		rel, err := filepath.Rel(root, file)
		if err != nil || !Holds(filepath.ToSlash(rel)) {
			return directive
		}
		src, err := os.ReadFile(file)
		if err != nil {
			return directive // mdBook reports the missing file
		}
		stubbed, names, err := File(filepath.ToSlash(rel), src)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", rel, err)
			}
			return directive
		}
		if len(names) == 0 {
			return directive
		}
		anchor := strings.TrimSpace(m[2])
		orig, err := Region(src, anchor)
		if err != nil {
			return directive
		}
		shown, err := Region(stubbed, anchor)
		if err != nil || shown == orig {
			return directive // no exercise in this listing
		}
		return strings.TrimSuffix(shown, "\n")
	})
	return out, firstErr
}

// Region returns the lines mdBook includes for anchor (the whole file when
// anchor is empty or a line range, which this package does not use), without
// the anchor comments mdBook strips.
func Region(src []byte, anchor string) (string, error) {
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	var out []string
	if anchor == "" {
		for _, l := range lines {
			if !anchorLineRE.MatchString(l) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n") + "\n", nil
	}
	begin := regexp.MustCompile(`ANCHOR:[ \t]*` + regexp.QuoteMeta(anchor) + `[ \t]*$`)
	end := regexp.MustCompile(`ANCHOR_END:[ \t]*` + regexp.QuoteMeta(anchor) + `[ \t]*$`)
	in := false
	for _, l := range lines {
		switch {
		case !in && begin.MatchString(l):
			in = true
		case in && end.MatchString(l):
			return strings.Join(out, "\n") + "\n", nil
		case in && !anchorLineRE.MatchString(l):
			out = append(out, l)
		}
	}
	return "", fmt.Errorf("no region %q", anchor)
}

// Solution is an exercise region's text as in the course (anchors removed).
func Solution(root string, e Exercise) (string, error) {
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(e.File)))
	if err != nil {
		return "", err
	}
	return Region(src, e.Name)
}
