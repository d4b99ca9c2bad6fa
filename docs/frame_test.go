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

var (
	glossaryAnchorRE = regexp.MustCompile(`^\| <a id="([a-z0-9-]+)"></a>([^|]+?) \|`)
	glossaryLinkRE   = regexp.MustCompile(`\]\(glossary\.md#([a-z0-9-]+)\)`)
)

// glossaryIDs returns the glossary's anchors, term by term, checking that
// every row of its table has one.
func glossaryIDs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("src/glossary.md")
	require.NoError(t, err)
	ids := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| English") {
			continue
		}
		m := glossaryAnchorRE.FindStringSubmatch(line)
		if !assert.NotNil(t, m, "glossary.md:%d: a term needs an anchor: | <a id=\"term\"></a>term |", i+1) {
			continue
		}
		_, dup := ids[m[1]]
		assert.False(t, dup, "glossary.md:%d: anchor %q is used twice", i+1, m[1])
		ids[m[1]] = m[2]
	}
	return ids
}

// TestGlossary: every term has an anchor to link to, and the terms the
// chapters rely on are there.
func TestGlossary(t *testing.T) {
	ids := glossaryIDs(t)
	for _, id := range []string{"deadline", "back-pressure", "rst", "ephemeral-port", "close-wait"} {
		assert.Contains(t, ids, id, "glossary.md lacks the term #%s", id)
	}
}

// TestChapterFrame: each chapter page opens with "What you'll learn" (3 to 5
// bullets) before its first section, ends with a Summary right before the
// Exercises, and links a few of its key terms to the glossary.
func TestChapterFrame(t *testing.T) {
	ids := glossaryIDs(t)
	for _, page := range pages(t) {
		if !chapterPageRE.MatchString(page) {
			continue
		}
		data, err := os.ReadFile(filepath.Join("src", page))
		require.NoError(t, err)
		var headings []string
		var learn []string
		inLearn := false
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "## ") {
				headings = append(headings, line)
				inLearn = line == "## What you'll learn"
				continue
			}
			if inLearn && strings.HasPrefix(line, "- ") {
				learn = append(learn, line)
			}
		}
		if !assert.NotEmpty(t, headings, page) {
			continue
		}
		assert.Equal(t, "## What you'll learn", headings[0], "%s: the first section must be \"What you'll learn\"", page)
		assert.True(t, len(learn) >= 3 && len(learn) <= 5, "%s: \"What you'll learn\" has %d bullets, want 3 to 5", page, len(learn))
		n := len(headings)
		if assert.GreaterOrEqual(t, n, 3, page) {
			assert.Equal(t, "## Exercises", headings[n-1], "%s: the last section must be Exercises", page)
			assert.Equal(t, "## Summary", headings[n-2], "%s: a Summary must come right before the Exercises", page)
		}
		links := glossaryLinkRE.FindAllStringSubmatch(string(data), -1)
		assert.GreaterOrEqual(t, len(links), 2, "%s: link the first use of a few key terms to the glossary", page)
		for _, l := range links {
			assert.Contains(t, ids, l[1], "%s links glossary.md#%s, which does not exist", page, l[1])
		}
	}
}
