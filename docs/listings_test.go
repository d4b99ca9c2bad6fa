package docs

import (
	"bufio"
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

// maxListingLines is the longest listing a page may show: a student reads a
// listing at a glance, and a longer function is walked through in named
// pieces with prose between them.
const maxListingLines = 40

// listingsPending are the pages whose listings are being split and
// captioned in this redesign. It must end empty: remove a page as soon as
// its listings pass.
var listingsPending = map[string]bool{}

var (
	captionRE     = regexp.MustCompile("^\\*\\*Listing (S?[0-9.]+)\\*\\* — `([^`]+)`: \\S.*$")
	anchorLineRE  = regexp.MustCompile(`^\s*(//|#)\s*ANCHOR(_END)?:`)
	lineRangeRE   = regexp.MustCompile(`^(\d*)(:\d*)?$`)
	summaryItemRE = regexp.MustCompile(`^( *)- \[[^\]]+\]\(([^)#]+\.md)\)`)
)

// sidebarNumbers returns each page's number in the sidebar, as mdBook
// prints it: "4" for a chapter, "2.1" for a page under chapter 2. Pages
// before the first part title and after the separator are unnumbered.
func sidebarNumbers(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("src/SUMMARY.md")
	require.NoError(t, err)
	defer f.Close()
	nums := map[string]string{}
	var top, sub int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := summaryItemRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if m[1] == "" {
			top, sub = top+1, 0
			nums[m[2]] = fmt.Sprint(top)
		} else {
			sub++
			nums[m[2]] = fmt.Sprintf("%d.%d", top, sub)
		}
	}
	return nums
}

// regionLines returns the lines mdBook includes for file:anchor (a whole
// file when anchor is empty), without the anchor comments it strips.
func regionLines(file, anchor string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if anchor == "" {
		return lines, nil
	}
	if m := lineRangeRE.FindStringSubmatch(anchor); m != nil {
		// mdBook's line ranges: "2" is line 2 to the end, ":10" the first
		// ten lines, "2:10" lines 2 to 10 (1-based, inclusive).
		from, to := 1, len(lines)
		if m[1] != "" {
			from, _ = strconv.Atoi(m[1])
		}
		if m[2] != "" {
			to, _ = strconv.Atoi(m[2][1:])
		}
		if from < 1 || to > len(lines) || from > to {
			return nil, fmt.Errorf("%s: line range %q outside its %d lines", file, anchor, len(lines))
		}
		return lines[from-1 : to], nil
	}
	begin := regexp.MustCompile(`ANCHOR:[ \t]*` + regexp.QuoteMeta(anchor) + `[ \t]*$`)
	end := regexp.MustCompile(`ANCHOR_END:[ \t]*` + regexp.QuoteMeta(anchor) + `[ \t]*$`)
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case !in && begin.MatchString(l):
			in = true
		case in && end.MatchString(l):
			return out, nil
		case in && !anchorLineRE.MatchString(l):
			out = append(out, l)
		}
	}
	return nil, fmt.Errorf("%s: no region %q", file, anchor)
}

// TestListings: every code listing on a page (an {{#include}} in a fenced
// block that is not a transcript) is at most 40 lines, and carries a caption
// on the line above its fence, numbered as the sidebar numbers the page:
//
//	**Listing 4.2** — `ch04-echo/server.go`: the accept loop
func TestListings(t *testing.T) {
	nums := sidebarNumbers(t)
	for _, page := range pages(t) {
		t.Run(page, func(t *testing.T) {
			if listingsPending[page] {
				t.Skipf("%s: listings not yet split and captioned (remove it from listingsPending once they are)", page)
			}
			data, err := os.ReadFile(filepath.Join("src", page))
			require.NoError(t, err)
			lines := strings.Split(string(data), "\n")
			n := 0
			for i := 0; i < len(lines); i++ {
				fence := strings.TrimSpace(lines[i])
				if !strings.HasPrefix(fence, "```") {
					continue
				}
				lang := strings.TrimPrefix(fence, "```")
				j := i + 1
				for j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), "```") {
					j++
				}
				start := i
				i = j
				if lang == "" || lang == "console" || lang == "text" || lang == "mermaid" {
					continue // transcripts and diagrams are not listings
				}
				for _, l := range lines[start+1 : min(j, len(lines))] {
					m := includeRE.FindStringSubmatch(l)
					if m == nil {
						continue
					}
					n++
					target := filepath.Join("src", filepath.Dir(page), m[2])
					rel, err := filepath.Rel("..", target)
					require.NoError(t, err)
					rel = filepath.ToSlash(rel)
					region, err := regionLines(target, m[3])
					if !assert.NoError(t, err) {
						continue
					}
					assert.LessOrEqual(t, len(region), maxListingLines,
						"%s: listing %s:%s is %d lines; split it into named steps", page, rel, m[3], len(region))
					want := fmt.Sprintf("%s.%d", listingPrefix(page, nums), n)
					caption := lineAbove(lines, start)
					cm := captionRE.FindStringSubmatch(caption)
					if !assert.NotNil(t, cm, "%s: listing %s:%s needs a caption on the line above its fence, like "+
						"**Listing %s** — `%s`: what it shows (got %q)", page, rel, m[3], want, rel, caption) {
						continue
					}
					assert.Equal(t, want, cm[1], "%s: listings are numbered in order, after the page's sidebar number", page)
					assert.Equal(t, rel, cm[2], "%s: the caption names the included file", page)
				}
			}
		})
	}
}

// listingPrefix is how a page's listings are numbered: after its sidebar
// number (4.2 for a page under chapter 4), or S4 for the solutions of
// chapter 4, which the sidebar does not number.
func listingPrefix(page string, nums map[string]string) string {
	if m := regexp.MustCompile(`^solutions/ch0*(\d+)\.md$`).FindStringSubmatch(page); m != nil {
		return "S" + m[1]
	}
	return nums[page]
}

// lineAbove returns the nearest non-blank line above line i.
func lineAbove(lines []string, i int) string {
	for i--; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}
