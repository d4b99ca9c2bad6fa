package docs

// The zh-CN edition's checks (issue 15). The Chinese book is built from
// po/zh-CN.po by mdbook-gettext; these tests keep that file honest:
//
//   - po/messages.pot is what mdbook-xgettext extracts from the English
//     pages today (a page changed and `make po` was not run: fail);
//   - po/zh-CN.po has been merged with that template (same messages);
//   - on the pages listed in translatedPages, every message is translated
//     and none is fuzzy, glossary terms use the glossary's Chinese, and
//     anchors and link targets survive the translation.
//
// Only the first needs mdbook; the others read the files.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// translatedPages are the pages whose translation is complete: every message
// that occurs on one of them must be translated and not fuzzy. The zh-CN
// edition is complete: every page of SUMMARY.md is here, and
// TestTranslationCovers fails if a new page is not. (A new page is added
// here once translated; until then the edition is incomplete, and CI says so.)
var translatedPages = map[string]bool{
	"SUMMARY.md":                         true,
	"introduction.md":                    true,
	"ch01-overview.md":                   true,
	"wire/ch01.md":                       true,
	"ch02-tcp-basics.md":                 true,
	"handshake.md":                       true,
	"state-machine.md":                   true,
	"ch02-tcp-basics/pool.md":            true,
	"ch02-tcp-basics/breaker.md":         true,
	"wire/ch02.md":                       true,
	"ch03-listen-accept.md":              true,
	"ch03-listen-accept/backlog.md":      true,
	"ch03-listen-accept/accept-loop.md":  true,
	"ch03-listen-accept/small-writes.md": true,
	"buffering.md":                       true,
	"ch03-listen-accept/errors.md":       true,
	"ch03-listen-accept/faults.md":       true,
	"wire/ch03.md":                       true,
	"ch04-echo.md":                       true,
	"ch04-echo/python-models.md":         true,
	"ch04-echo/idle-memory.md":           true,
	"ch04-echo/tuned.md":                 true,
	"ch04-echo/benchmarks.md":            true,
	"wire/ch04.md":                       true,
	"ch05-filexfer.md":                   true,
	"ch05-filexfer/protocol.md":          true,
	"ch05-filexfer/zero-copy.md":         true,
	"ch05-filexfer/python.md":            true,
	"ch05-filexfer/security.md":          true,
	"ch06-tls.md":                        true,
	"ch06-tls/certificates.md":           true,
	"ch06-tls/mutual-tls.md":             true,
	"ch06-tls/nginx.md":                  true,
	"ch06-tls/costs.md":                  true,
	"wire/ch06.md":                       true,
	"ch07-bench.md":                      true,
	"ch07-bench/coordinated-omission.md": true,
	"ch07-bench/pprof.md":                true,
	"ch07-bench/c10k.md":                 true,
	"ch07-bench/locust.md":               true,
	"operations.md":                      true,
	"solutions/ch01.md":                  true,
	"solutions/ch02.md":                  true,
	"solutions/ch03.md":                  true,
	"solutions/ch04.md":                  true,
	"solutions/ch05.md":                  true,
	"solutions/ch06.md":                  true,
	"solutions/ch07.md":                  true,
	"glossary.md":                        true,
	"contributing/mutation.md":           true,
}

// poEntry is one message of a PO or POT file.
type poEntry struct {
	refs   []string // "src/page.md:12" references (#:)
	fuzzy  bool
	msgid  string
	msgstr string
	line   int // where the entry's msgid starts
}

// pages returns the pages (below src/) the entry occurs on.
func (e poEntry) pages() []string {
	var out []string
	for _, r := range e.refs {
		page := strings.TrimPrefix(r, "src/")
		if i := strings.LastIndexByte(page, ':'); i >= 0 {
			page = page[:i]
		}
		out = append(out, page)
	}
	return out
}

func (e poEntry) onTranslatedPage() bool {
	for _, p := range e.pages() {
		if translatedPages[p] {
			return true
		}
	}
	return false
}

// readPO parses the subset of the PO format that mdbook-xgettext and
// msgmerge write: comments, msgid and msgstr with continuation lines.
// Obsolete entries (#~) and previous msgids (#|) are skipped; the header
// (msgid "") is not returned.
func readPO(t *testing.T, path string) []poEntry {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	var (
		out   []poEntry
		cur   poEntry
		field *string // the string the next continuation line extends
		n     int
	)
	flush := func() {
		if cur.msgid != "" {
			out = append(out, cur)
		}
		cur, field = poEntry{}, nil
	}
	unquote := func(s string) string {
		u, err := strconv.Unquote(s)
		require.NoError(t, err, "%s:%d: not a PO string: %s", path, n, s)
		return u
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "#:"):
			cur.refs = append(cur.refs, strings.Fields(line[2:])...)
		case strings.HasPrefix(line, "#,"):
			cur.fuzzy = cur.fuzzy || strings.Contains(line, "fuzzy")
		case strings.HasPrefix(line, "#"):
			// translator comments, #| previous msgid, #~ obsolete entries
		case strings.HasPrefix(line, "msgid "):
			cur.line = n
			cur.msgid = unquote(line[len("msgid "):])
			field = &cur.msgid
		case strings.HasPrefix(line, "msgstr "):
			cur.msgstr = unquote(line[len("msgstr "):])
			field = &cur.msgstr
		case strings.HasPrefix(line, `"`) && field != nil:
			*field += unquote(line)
		default:
			t.Fatalf("%s:%d: unexpected line %q", path, n, line)
		}
	}
	require.NoError(t, sc.Err())
	flush()
	return out
}

// TestTranslationTemplateCurrent: po/messages.pot is exactly what
// mdbook-xgettext extracts from the pages now (the same command as
// po.sh), apart from its creation date. When it fails, run `make po`.
func TestTranslationTemplateCurrent(t *testing.T) {
	testutil.RequireTool(t, "mdbook")
	testutil.RequireTool(t, "mdbook-xgettext")
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "mdbook", "build", "-d", out)
	cmd.Env = append(os.Environ(),
		`MDBOOK_OUTPUT={"xgettext": {"pot-file": "messages.pot"}}`,
		"MDBOOK_BUILD__USE_DEFAULT_PREPROCESSORS=false")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "mdbook-xgettext:\n%s", msg)

	fresh, err := os.ReadFile(filepath.Join(out, "messages.pot"))
	require.NoError(t, err)
	committed, err := os.ReadFile("po/messages.pot")
	require.NoError(t, err)
	creation := regexp.MustCompile(`(?m)^"POT-Creation-Date: .*\\n"\n`)
	if creation.ReplaceAllString(string(committed), "") != creation.ReplaceAllString(string(fresh), "") {
		// Name the first differing message, not the whole file.
		old := map[string]bool{}
		for _, e := range readPO(t, "po/messages.pot") {
			old[e.msgid] = true
		}
		now := map[string]bool{}
		for _, e := range readPO(t, filepath.Join(out, "messages.pot")) {
			now[e.msgid] = true
		}
		t.Fatalf("po/messages.pot is stale: the pages changed; run `make po` and translate what it marks "+
			"(CONTRIBUTING.md, \"Translating the book\").\n%s", diffKeys(old, now))
	}
}

// diffKeys describes, briefly, how two sets of messages differ.
func diffKeys(old, now map[string]bool) string {
	var gone, added []string
	for k := range old {
		if !now[k] {
			gone = append(gone, k)
		}
	}
	for k := range now {
		if !old[k] {
			added = append(added, k)
		}
	}
	sort.Strings(gone)
	sort.Strings(added)
	short := func(s []string) string {
		if len(s) > 3 {
			s = append(s[:3:3], fmt.Sprintf("... (%d more)", len(s)-3))
		}
		return fmt.Sprintf("%q", s)
	}
	if len(gone)+len(added) == 0 {
		return "same messages, other order or references"
	}
	return fmt.Sprintf("new in the pages: %s\nno longer in the pages: %s", short(added), short(gone))
}

// TestTranslationMerged: zh-CN.po holds exactly the template's messages, so
// nothing new in the English waits unseen (make po merges them).
func TestTranslationMerged(t *testing.T) {
	pot := map[string]bool{}
	for _, e := range readPO(t, "po/messages.pot") {
		pot[e.msgid] = true
	}
	po := map[string]bool{}
	for _, e := range readPO(t, "po/zh-CN.po") {
		po[e.msgid] = true
	}
	assert.Equal(t, len(pot), len(po), "message counts differ")
	if len(pot) != len(po) || diffKeys(po, pot) != "same messages, other order or references" {
		t.Errorf("po/zh-CN.po is not merged with po/messages.pot: run `make po`.\n%s", diffKeys(po, pot))
	}
}

// TestTranslationComplete: on the pages of translatedPages every message is
// translated and none is fuzzy (mdbook-gettext shows the English for both).
func TestTranslationComplete(t *testing.T) {
	all := pages(t)
	listed := map[string]bool{"SUMMARY.md": true}
	for _, p := range all {
		listed[p] = true
	}
	for p := range translatedPages {
		assert.True(t, listed[p], "translatedPages names %s, which SUMMARY.md does not list", p)
	}

	done := map[string]int{}
	for _, e := range readPO(t, "po/zh-CN.po") {
		if !e.onTranslatedPage() {
			continue
		}
		where := fmt.Sprintf("po/zh-CN.po:%d (%s)", e.line, strings.Join(e.refs, " "))
		switch {
		case e.msgstr == "":
			t.Errorf("%s: untranslated: %.60q", where, e.msgid)
		case e.fuzzy:
			t.Errorf("%s: fuzzy (the English changed; check the translation, then remove the fuzzy flag): %.60q",
				where, e.msgid)
		}
		for _, p := range e.pages() {
			done[p]++
		}
	}
	for p := range translatedPages {
		assert.Positive(t, done[p], "po/zh-CN.po has no message of %s", p)
	}
}

// TestTranslationCovers reports the pages still waiting for a translator.
// The edition is complete when translatedPages lists every page; until the
// translation pass is over this only logs, so that a half-translated
// edition can be merged page by page.
func TestTranslationCovers(t *testing.T) {
	var missing []string
	for _, p := range append([]string{"SUMMARY.md"}, pages(t)...) {
		if !translatedPages[p] {
			missing = append(missing, p)
		}
	}
	assert.Empty(t, missing, "zh-CN: pages not translated (translate them, then add each to translatedPages)")
}

// headingRE is an h2-h6 heading of an English page.
var headingRE = regexp.MustCompile(`^#{2,6}\s+(.+?)\s*$`)

// TestTranslationHeadingIDs: every translated heading keeps the id of its
// English heading ({#id}, added by po_heading_ids.py in `make po`), so that
// links into a page (ch03-listen-accept.md#the-accept-loop-contract) land in
// the zh-CN edition too; mdBook would otherwise make the id from the
// Chinese text.
func TestTranslationHeadingIDs(t *testing.T) {
	// "src/page.md:LINE" of every h2-h6 heading outside code blocks.
	headings := map[string]bool{}
	for _, p := range append([]string{"SUMMARY.md"}, pages(t)...) {
		data, err := os.ReadFile(filepath.Join("src", p))
		require.NoError(t, err)
		fence := false
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				fence = !fence
			} else if !fence && headingRE.MatchString(line) {
				headings[fmt.Sprintf("src/%s:%d", p, i+1)] = true
			}
		}
	}
	n := 0
	for _, e := range readPO(t, "po/zh-CN.po") {
		all := len(e.refs) > 0 && e.msgstr != ""
		for _, r := range e.refs {
			all = all && headings[r]
		}
		if all { // a heading wherever it occurs (not also a sidebar title)
			n++
			assert.Regexp(t, `\{#[a-z0-9_-]+\}$`, e.msgstr, "po/zh-CN.po:%d: heading %q lost its English id: run `make po`", e.line, e.msgid)
		}
	}
	assert.Greater(t, n, 50, "headings found in po/zh-CN.po")
}

var (
	glossaryRowRE = regexp.MustCompile(`(?m)^\| <a id="([^"]+)"></a>([^|]+?) \| ([^|]+?) \|`)
	codeSpanRE    = regexp.MustCompile("`[^`]*`")
	anchorRE      = regexp.MustCompile(`<a id="[^"]+"></a>`)
	linkTargetRE  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// glossaryTerm is one row of the glossary: the English term, and the Chinese
// renderings the glossary allows for it.
type glossaryTerm struct {
	english string
	chinese []string
	match   *regexp.Regexp
}

// glossary reads glossary.md's table. "A / B" in the English column pairs
// with "甲 / 乙" in the Chinese one (SYN queue / accept queue); otherwise
// "甲 / 乙" are alternatives. "(CA)" after a term is an aside.
func glossary(t *testing.T) []glossaryTerm {
	data, err := os.ReadFile("src/glossary.md")
	require.NoError(t, err)
	var out []glossaryTerm
	for _, m := range glossaryRowRE.FindAllStringSubmatch(string(data), -1) {
		english, chinese := m[2], strings.Split(m[3], " / ")
		if i := strings.Index(english, " ("); i > 0 {
			english = english[:i]
		}
		parts := strings.Split(english, " / ")
		if len(parts) > 1 {
			require.Len(t, chinese, len(parts), "glossary row %s: pair each English term with its Chinese", m[1])
		}
		for i, en := range parts {
			zh := chinese
			if len(parts) > 1 {
				zh = chinese[i : i+1]
			}
			// The term as a word, in any case, plural too.
			re := regexp.MustCompile(`(?i)(^|[^\w-])` + regexp.QuoteMeta(en) + `(s|es)?($|[^\w-])`)
			out = append(out, glossaryTerm{english: en, chinese: zh, match: re})
		}
	}
	require.Greater(t, len(out), 40, "glossary.md's table was not read")
	return out
}

// keepsEnglish: acronyms and state names (TLS, RST, TIME_WAIT, C10K) are
// written in Latin letters in Chinese text too, so keeping them passes.
func keepsEnglish(term string) bool {
	return strings.ToUpper(term) == term
}

// TestTranslationGlossary: on translated pages, wherever a glossary term
// occurs in the English (outside `code`), the Chinese uses the glossary's
// rendering of it. The glossary's own English column stays English.
func TestTranslationGlossary(t *testing.T) {
	terms := glossary(t)
	englishCell := map[string]bool{}
	for _, m := range glossaryRowRE.FindAllStringSubmatch(mustRead(t, "src/glossary.md"), -1) {
		englishCell[`<a id="`+m[1]+`"></a>`+m[2]] = true
	}
	for _, e := range readPO(t, "po/zh-CN.po") {
		if !e.onTranslatedPage() || e.msgstr == "" || englishCell[e.msgid] {
			continue
		}
		english := codeSpanRE.ReplaceAllString(e.msgid, "")
		for _, term := range terms {
			if !term.match.MatchString(english) {
				continue
			}
			ok := keepsEnglish(term.english) && strings.Contains(e.msgstr, term.english)
			for _, zh := range term.chinese {
				ok = ok || strings.Contains(e.msgstr, zh)
			}
			assert.True(t, ok, "po/zh-CN.po:%d: %q is in the English, so the Chinese should say %s:\n  %.80q\n  %.80q",
				e.line, term.english, strings.Join(term.chinese, " or "), e.msgid, e.msgstr)
		}
	}
}

// TestTranslationKeepsLinks: a translation keeps the glossary's anchors and
// every link target of the English, so that links into and across the
// Chinese edition land where the English ones do.
func TestTranslationKeepsLinks(t *testing.T) {
	for _, e := range readPO(t, "po/zh-CN.po") {
		if e.msgstr == "" {
			continue
		}
		for _, a := range anchorRE.FindAllString(e.msgid, -1) {
			assert.Contains(t, e.msgstr, a, "po/zh-CN.po:%d: the translation lost an anchor", e.line)
		}
		for _, m := range linkTargetRE.FindAllStringSubmatch(e.msgid, -1) {
			assert.Contains(t, e.msgstr, "]("+m[1]+")", "po/zh-CN.po:%d: the translation lost a link", e.line)
		}
	}
}

// TestDiagramsTranslatable: mdbook-xgettext extracts a code block it has no
// syntax for (mermaid) only when it holds a quote or "//", so a diagram
// without one would stay English in the Chinese book. Such a diagram needs
// a comment line: %% i18n: "mdbook-xgettext extracts a diagram only if it holds a quote"
func TestDiagramsTranslatable(t *testing.T) {
	for _, p := range pages(t) {
		for _, m := range mermaidBlockRE.FindAllStringSubmatch(mustRead(t, filepath.Join("src", p)), -1) {
			assert.True(t, strings.ContainsAny(m[1], `"`) || strings.Contains(m[1], "//"),
				"%s: this diagram has no quote, so mdbook-xgettext skips it; add the line\n"+
					"    %%%% i18n: \"mdbook-xgettext extracts a diagram only if it holds a quote\"\n%s", p, m[1])
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}
