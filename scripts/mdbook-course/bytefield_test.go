package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcp-in-go/course/tests/testutil"
)

// header is ch05's header frame, as a page would write it.
const header = "Before.\n\n```bytefield\n" + `"Header (sender → receiver)"
4 magic "FXF1"
1 version "1"
1 flags
2 name length n
8 file size
4 chunk size
n name, UTF-8
4 ` + "`CRC-32C`" + ` of the bytes before
` + "```\nAfter.\n"

// TestBytefieldFigure: the block becomes one HTML block, a list of fields
// with their offsets and sizes; the Markdown around it is left alone.
func TestBytefieldFigure(t *testing.T) {
	out, err := bytefields(header, nil, "en")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, "Before.\n\n<figure class=\"bytefield\">\n"), out)
	assert.True(t, strings.HasSuffix(out, "</figure>\n\nAfter.\n"), "a blank line ends the HTML block, so After. stays Markdown:\n%s", out)
	assert.NotContains(t, out, "```")

	fig := out[strings.Index(out, "<figure"):strings.Index(out, "</figure>")]
	assert.NotContains(t, fig, "\n\n", "a blank line would end the HTML block early")
	assert.Contains(t, fig, `<figcaption>Header (sender → receiver) <span class="bf-total">24 + n bytes</span></figcaption>`)
	assert.Contains(t, fig, `<li class="bf-field" style="--bytes: 4"><span class="bf-offset">0</span>`+
		`<span class="bf-box"><span class="bf-label">magic</span> <code class="bf-value">"FXF1"</code></span>`+
		`<span class="bf-size">4 B</span></li>`)
	assert.Contains(t, fig, `<li class="bf-field bf-variable" style="--bytes: 6"><span class="bf-offset">20</span>`+
		`<span class="bf-box"><span class="bf-label">name, UTF-8</span></span><span class="bf-size">n B</span></li>`)
	assert.Contains(t, fig, `<span class="bf-offset">20+n</span><span class="bf-box"><span class="bf-label"><code>CRC-32C</code> of the bytes before</span>`,
		"offsets after a variable field name its length; `code` in a label is code")
	var offsets []string
	for _, m := range regexp.MustCompile(`bf-offset">([^<]*)<`).FindAllStringSubmatch(fig, -1) {
		offsets = append(offsets, m[1])
	}
	assert.Equal(t, []string{"0", "4", "5", "6", "8", "16", "20", "20+n"}, offsets)
	assert.Contains(t, fig, `style="--bytes: 8"><span class="bf-offset">8</span>`, "an 8-byte field")

	zh, err := bytefields(header, nil, "zh-CN")
	require.NoError(t, err)
	assert.Contains(t, zh, `<span class="bf-total">共 24 + n 字节</span>`)
}

// TestBytefieldLayout: widths are capped at 8 bytes, several blocks on a
// page are all drawn, an indented block (in a list item) stays indented, and
// HTML in a label is text.
func TestBytefieldLayout(t *testing.T) {
	page := "```bytefield\n\"End\"\n4 length \"0\"\n32 SHA-256 of the file\n```\n\n" +
		"- item\n\n  ```bytefield\n  \"Reply <b>\"\n  1 status & <i>\n  ```\n"
	out, err := bytefields(page, nil, "en")
	require.NoError(t, err)
	assert.Contains(t, out, `style="--bytes: 8"><span class="bf-offset">4</span>`)
	assert.Contains(t, out, `36 bytes`)
	assert.Contains(t, out, "\n  <figure class=\"bytefield\">\n  <figcaption>Reply &lt;b&gt; ")
	assert.Contains(t, out, `<span class="bf-label">status &amp; &lt;i&gt;</span>`)
	assert.Equal(t, 2, strings.Count(out, "<figure"))
}

// TestBytefieldErrors: a block the preprocessor cannot draw fails the build
// with the line and what to write instead.
func TestBytefieldErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"no caption", "4 magic\n", "the first line must be the figure's caption in quotes"},
		{"caption without quotes", "Header\n4 magic\n", "mdbook-xgettext extracts a block for translation only when it holds a quote"},
		{"empty", "\n", "empty"},
		{"no fields", `"Header"` + "\n", "no fields"},
		{"no label", `"H"` + "\n4\n", `want "SIZE LABEL"`},
		{"quote in a label", `"H"` + "\n4 the \"magic\" bytes\n", "a label holds no quote"},
		{"zero bytes", `"H"` + "\n0 nothing\n", "a field is 1 to"},
		{"bad size", `"H"` + "\n4-n tail\n", "the size must be a number of bytes or the name of a length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bytefields("# P\n\n```bytefield\n"+tc.body+"```\n", nil, "en")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "bytefield at line 3")
		})
	}
	_, err := bytefields("```bytefield\n\"H\"\n4 magic\n", nil, "en")
	assert.ErrorContains(t, err, "no closing ```")
}

// TestBytefieldTranslation: a translation may change the caption and the
// labels, never a size, a value or the number of fields.
func TestBytefieldTranslation(t *testing.T) {
	english := "```bytefield\n\"Chunk\"\n4 length\n4 CRC-32C\nlen data\n```\n"
	good := "```bytefield\n\"数据块\"\n4 长度\n4 CRC-32C 校验和\nlen 数据\n```\n"
	out, err := bytefields(good, &english, "zh-CN")
	require.NoError(t, err)
	assert.Contains(t, out, `<span class="bf-label">长度</span>`)
	assert.Contains(t, out, `<figcaption>数据块 <span class="bf-total">共 8 + len 字节</span>`)

	for name, bad := range map[string]string{
		"a size":   "```bytefield\n\"数据块\"\n2 长度\n4 校验和\nlen 数据\n```\n",
		"a value":  "```bytefield\n\"数据块\"\n4 长度 \"0\"\n4 校验和\nlen 数据\n```\n",
		"a length": "```bytefield\n\"数据块\"\n4 长度\n4 校验和\nn 数据\n```\n",
		"a field":  "```bytefield\n\"数据块\"\n4 长度\nlen 数据\n```\n",
		"a block":  good + good,
	} {
		_, err := bytefields(bad, &english, "zh-CN")
		if assert.Error(t, err, "a translation that changes %s", name) && name != "a block" {
			assert.Contains(t, err.Error(), "translate the caption and the labels only")
		}
	}
}

// TestRunChecksTheTranslation: in a translated edition, run compares each
// figure with the page as written in English, read from the book's src.
func TestRunChecksTheTranslation(t *testing.T) {
	docs := filepath.Join(t.TempDir(), "docs")
	require.NoError(t, os.MkdirAll(filepath.Join(docs, "src"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(docs, "src", "frames.md"),
		[]byte("# Frames\n\n```bytefield\n\"Reply\"\n1 status\n8 value\n```\n"), 0o644))
	book := func(content string) []byte {
		input, err := json.Marshal([]any{
			map[string]any{"root": docs, "renderer": "html", "mdbook_version": "0.5.4",
				"config": map[string]any{"book": map[string]any{"language": "zh-CN", "src": "src"}}},
			map[string]any{"items": []any{map[string]any{"Chapter": map[string]any{
				"name": "Frames", "content": content, "number": []int{1},
				"path": "frames.md", "source_path": "frames.md", "sub_items": []any{},
			}}}},
		})
		require.NoError(t, err)
		return input
	}
	var out bytes.Buffer
	require.NoError(t, run(bytes.NewReader(book("# 帧\n\n```bytefield\n\"应答\"\n1 状态\n8 值\n```\n")), &out))
	assert.Contains(t, out.String(), `\u003cspan class=\"bf-label\"\u003e状态\u003c/span\u003e`)

	err := run(bytes.NewReader(book("# 帧\n\n```bytefield\n\"应答\"\n1 状态\n4 值\n```\n")), &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `frames.md: bytefield at line 3, field 2 (值): size "4" value "", the English one has size "8"`)
}

// TestBytefieldThroughGettext builds a small book with the real tools: the
// block is extracted for translation as one message (mdbook-xgettext), the
// zh-CN build draws the translated labels (mdbook-gettext, then this
// preprocessor), and a translation that changes a size fails the build.
func TestBytefieldThroughGettext(t *testing.T) {
	mdbook := testutil.RequireTool(t, "mdbook")
	testutil.RequireTool(t, "mdbook-gettext")
	testutil.RequireTool(t, "mdbook-xgettext")
	goTool := testutil.RequireTool(t, "go")

	dir := t.TempDir()
	docs := filepath.Join(dir, "docs")
	bin := filepath.Join(dir, "mdbook-course")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(docs, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	}
	write("book.toml", `[book]
title = "Frames"
language = "en"
src = "src"

[preprocessor.gettext]
command = "mdbook-gettext"
before = ["links"]
po-dir = "po"

[preprocessor.course]
command = `+strconv.Quote(bin)+`
before = ["links"]
after = ["gettext"]

[output.html]
`)
	write("src/SUMMARY.md", "# Summary\n\n- [Frames](frames.md)\n")
	block := "```bytefield\n\"Chunk (sender → receiver)\"\n4 length\n4 CRC-32C\nlen data\n```"
	write("src/frames.md", "# Frames\n\nA chunk:\n\n"+block+"\n")

	mdbookRun := func(env ...string) (string, error) {
		cmd := exec.Command(mdbook, "build", "-d", filepath.Join(dir, "out"))
		cmd.Dir = docs
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := mdbookRun(`MDBOOK_OUTPUT={"xgettext": {"pot-file": "messages.pot"}}`, "MDBOOK_BUILD__USE_DEFAULT_PREPROCESSORS=false")
	require.NoError(t, err, out)
	// With one backend, mdBook writes its output in -d itself (po.sh).
	pot, err := os.ReadFile(filepath.Join(dir, "out", "messages.pot"))
	require.NoError(t, err)
	msgid := poMessage(t, string(pot), "bytefield")
	assert.Equal(t, block, msgid, "the whole block is one message")

	po := func(msgstr string) {
		// The header fields mdbook-gettext's .po reader requires.
		header := ""
		for _, h := range []string{"Project-Id-Version: Frames", "POT-Creation-Date: 2026-01-01T00:00:00Z",
			"PO-Revision-Date: 2026-01-01T00:00:00Z", "Language-Team: zh-CN", "Language: zh_CN", "MIME-Version: 1.0",
			"Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: 8bit", "Plural-Forms: nplurals=1; plural=0;"} {
			header += strconv.Quote(h+"\n") + "\n"
		}
		write("po/zh-CN.po", "msgid \"\"\nmsgstr \"\"\n"+header+"\n"+
			"msgid "+strconv.Quote(msgid)+"\nmsgstr "+strconv.Quote(msgstr)+"\n")
	}
	po(strings.NewReplacer("Chunk (sender → receiver)", "数据块（发送方 → 接收方）", "4 length", "4 长度", "len data", "len 数据").Replace(msgid))
	out, err = mdbookRun("MDBOOK_BOOK__LANGUAGE=zh-CN")
	require.NoError(t, err, out)
	page, err := os.ReadFile(filepath.Join(dir, "out", "frames.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), `<figcaption>数据块（发送方 → 接收方） <span class="bf-total">共 8 + len 字节</span></figcaption>`)
	assert.Contains(t, string(page), `<span class="bf-label">长度</span>`)
	assert.Contains(t, string(page), `<span class="bf-label">CRC-32C</span>`, "a label left as it is stays English")

	po(strings.Replace(msgid, "4 length", "2 长度", 1))
	out, err = mdbookRun("MDBOOK_BOOK__LANGUAGE=zh-CN")
	require.Error(t, err, "a translation that changes a size must fail the build")
	assert.Contains(t, out, "translate the caption and the labels only")
}

// poMessage returns the msgid of the one entry of a .po file that contains
// the text.
func poMessage(t *testing.T, po, contains string) string {
	t.Helper()
	var found []string
	for _, entry := range strings.Split(po, "\n\n") {
		var id strings.Builder
		in := false
		for _, line := range strings.Split(entry, "\n") {
			switch {
			case strings.HasPrefix(line, "msgid "):
				in, line = true, strings.TrimPrefix(line, "msgid ")
			case strings.HasPrefix(line, "msgstr"):
				in = false
			}
			if in && strings.HasPrefix(line, `"`) {
				s, err := strconv.Unquote(line)
				require.NoError(t, err, line)
				id.WriteString(s)
			}
		}
		if strings.Contains(id.String(), contains) {
			found = append(found, id.String())
		}
	}
	require.Len(t, found, 1, "entries holding %q in:\n%s", contains, po)
	return found[0]
}
