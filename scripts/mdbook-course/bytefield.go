package main

// Byte-field figures: a protocol frame's layout, drawn from a fenced block
//
//	```bytefield
//	"Header (sender → receiver)"
//	4 magic "FXF1"
//	1 version
//	2 name length n
//	n name, UTF-8
//	4 CRC-32C
//	```
//
// The first line is the figure's caption, in quotes; then one field a line:
// its size (a number of bytes, or the name of a length given by an earlier
// field, like n), its label, and optionally its fixed value in quotes. The
// preprocessor turns the block into an HTML figure: a row of boxes, each as
// wide as its field (up to 8 bytes), with the field's offset above it and its
// size below, which wraps onto further rows on a narrow screen instead of
// scrolling like an 80-column drawing (theme/custom.css, .bytefield).
//
// Translation: mdbook-gettext runs before this preprocessor and sees the
// block as a code block. It extracts a code block in an unknown language only
// when the block holds a quote, so the quoted caption is required: with it,
// the whole block is one message of po/zh-CN.po, whose translation rewrites
// the caption and the labels. Sizes and values must stay as they are: in a
// translated edition the preprocessor compares each figure with the English
// page's and fails the build if a size or value differs.

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
)

// bytefieldFenceRE opens a byte-field block; the block ends at the next line
// that is a bare fence.
var bytefieldFenceRE = regexp.MustCompile("^(\\s*)```bytefield\\s*$")

var (
	captionRE = regexp.MustCompile(`^"([^"]+)"$`)
	fieldRE   = regexp.MustCompile(`^(\S+)\s+([^"]*?)(?:\s+"([^"]*)")?$`)
	lengthRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,7}$`)
	codeRE    = regexp.MustCompile("`([^`]+)`")
)

// maxFieldBytes bounds a field's size: a frame drawn byte by byte, not a
// file.
const maxFieldBytes = 1 << 20

type field struct {
	size   string // "4", or the name of a length ("n")
	bytes  int    // the size in bytes, 0 for a named length
	label  string
	value  string // the fixed value, without its quotes; "" if none
	offset string // where the field starts: "0", "20+n"
}

type bytefield struct {
	line    int // the line of the opening fence, 1-based
	caption string
	fields  []field
	total   string // the frame's length: "24+n"
}

// parseBytefield reads a block's lines (between the fences).
func parseBytefield(line int, body []string) (bytefield, error) {
	bf := bytefield{line: line}
	var fixed int
	var named []string
	for i, raw := range body {
		text := strings.TrimSpace(raw)
		if text == "" {
			continue
		}
		where := func(format string, args ...any) error {
			return fmt.Errorf("bytefield at line %d, line %d (%q): %s", line, line+1+i, text, fmt.Sprintf(format, args...))
		}
		if bf.caption == "" {
			m := captionRE.FindStringSubmatch(text)
			if m == nil {
				return bf, where(`the first line must be the figure's caption in quotes, like "Header (sender → receiver)": ` +
					`mdbook-xgettext extracts a block for translation only when it holds a quote`)
			}
			bf.caption = m[1]
			continue
		}
		m := fieldRE.FindStringSubmatch(text)
		if m == nil || strings.TrimSpace(m[2]) == "" {
			return bf, where(`want "SIZE LABEL" or "SIZE LABEL \"VALUE\"" (a label holds no quote)`)
		}
		f := field{size: m[1], label: strings.TrimSpace(m[2]), value: m[3], offset: offset(fixed, named)}
		if n, err := strconv.Atoi(f.size); err == nil {
			if n < 1 || n > maxFieldBytes {
				return bf, where("a field is 1 to %d bytes", maxFieldBytes)
			}
			f.bytes = n
			fixed += n
		} else if lengthRE.MatchString(f.size) {
			named = append(named, f.size)
		} else {
			return bf, where("the size must be a number of bytes or the name of a length (n, len), not %q", f.size)
		}
		bf.fields = append(bf.fields, f)
	}
	if bf.caption == "" {
		return bf, fmt.Errorf("bytefield at line %d: empty (want a caption in quotes, then one field a line)", line)
	}
	if len(bf.fields) == 0 {
		return bf, fmt.Errorf("bytefield at line %d: no fields (one a line: SIZE LABEL [\"VALUE\"])", line)
	}
	bf.total = offset(fixed, named)
	return bf, nil
}

// offset writes fixed + the named lengths: "0", "8", "20+n", "n+m".
func offset(fixed int, named []string) string {
	parts := make([]string, 0, 1+len(named))
	if fixed > 0 || len(named) == 0 {
		parts = append(parts, strconv.Itoa(fixed))
	}
	return strings.Join(append(parts, named...), "+")
}

// findBytefields returns the page's byte-field blocks, each with the range of
// lines it covers (fences included), in order.
func findBytefields(content string) ([]bytefield, [][2]int, []string, error) {
	lines := strings.Split(content, "\n")
	var figs []bytefield
	var spans [][2]int
	var indents []string
	for i := 0; i < len(lines); i++ {
		m := bytefieldFenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		if end == len(lines) {
			return nil, nil, nil, fmt.Errorf("bytefield at line %d: no closing ```", i+1)
		}
		bf, err := parseBytefield(i+1, lines[i+1:end])
		if err != nil {
			return nil, nil, nil, err
		}
		figs = append(figs, bf)
		spans = append(spans, [2]int{i, end})
		indents = append(indents, m[1])
		i = end
	}
	return figs, spans, indents, nil
}

// bytefields replaces every byte-field block of a page with its figure.
// english is the page as written in English (nil in the English edition):
// each translated figure must keep the English sizes and values.
func bytefields(content string, english *string, lang string) (string, error) {
	figs, spans, indents, err := findBytefields(content)
	if err != nil || len(figs) == 0 {
		return content, err
	}
	if english != nil {
		orig, _, _, err := findBytefields(*english)
		if err != nil {
			return content, fmt.Errorf("the English page: %w", err)
		}
		if err := sameLayout(figs, orig); err != nil {
			return content, err
		}
	}
	lines := strings.Split(content, "\n")
	var out []string
	next := 0
	for k, bf := range figs {
		out = append(out, lines[next:spans[k][0]]...)
		for _, l := range strings.Split(bf.html(lang), "\n") {
			out = append(out, indents[k]+l)
		}
		// A blank line ends the HTML block, so that Markdown right after
		// the fence stays Markdown.
		out = append(out, "")
		next = spans[k][1] + 1
	}
	out = append(out, lines[next:]...)
	return strings.Join(out, "\n"), nil
}

// sameLayout checks a translation against the English figures: the same
// figures, fields, sizes and values; only the caption and labels change.
func sameLayout(translated, english []bytefield) error {
	if len(translated) != len(english) {
		return fmt.Errorf("the translation has %d bytefield blocks, the English page %d", len(translated), len(english))
	}
	for k, t := range translated {
		e := english[k]
		fix := fmt.Sprintf("translate the caption and the labels only (po/zh-CN.po, the English block at line %d)", e.line)
		if len(t.fields) != len(e.fields) {
			return fmt.Errorf("bytefield at line %d: %d fields, the English one %d: %s", t.line, len(t.fields), len(e.fields), fix)
		}
		for i, f := range t.fields {
			g := e.fields[i]
			if f.size != g.size || f.value != g.value {
				return fmt.Errorf("bytefield at line %d, field %d (%s): size %q value %q, the English one has size %q value %q: %s",
					t.line, i+1, f.label, f.size, f.value, g.size, g.value, fix)
			}
		}
	}
	return nil
}

// bytesWord is the unit of the frame's length in the caption.
var bytesWord = map[string]string{"en": "%s bytes", "zh-CN": "共 %s 字节"}

// html draws the figure: one list item a field, in a single HTML block (no
// blank line, so that Markdown passes it through whole).
func (bf bytefield) html(lang string) string {
	unit, ok := bytesWord[lang]
	if !ok {
		unit = bytesWord["en"]
	}
	var b strings.Builder
	b.WriteString(`<figure class="bytefield">` + "\n")
	fmt.Fprintf(&b, `<figcaption>%s <span class="bf-total">%s</span></figcaption>`+"\n",
		inline(bf.caption), html.EscapeString(fmt.Sprintf(unit, strings.ReplaceAll(bf.total, "+", " + "))))
	b.WriteString(`<ol class="bf-fields">` + "\n")
	for _, f := range bf.fields {
		class, width := "bf-field", f.bytes
		if f.bytes == 0 {
			class, width = "bf-field bf-variable", 6
		}
		width = min(width, 8)
		fmt.Fprintf(&b, `<li class="%s" style="--bytes: %d"><span class="bf-offset">%s</span><span class="bf-box"><span class="bf-label">%s</span>`,
			class, width, html.EscapeString(f.offset), inline(f.label))
		if f.value != "" {
			fmt.Fprintf(&b, ` <code class="bf-value">"%s"</code>`, html.EscapeString(f.value))
		}
		fmt.Fprintf(&b, `</span><span class="bf-size">%s B</span></li>`+"\n", html.EscapeString(f.size))
	}
	b.WriteString("</ol>\n</figure>")
	return b.String()
}

// inline escapes text for HTML and turns `code` into <code>.
func inline(s string) string {
	return codeRE.ReplaceAllString(html.EscapeString(s), "<code>$1</code>")
}
