// Command mdbook-course is the book's mdBook preprocessor. It does three
// things to every page:
//
//   - A listing that holds an exercise region shows the exercise's stub
//     (the same TODO the starter copy has) instead of the solution, except
//     on the solutions pages (docs/src/solutions/).
//   - A ```bytefield block (a protocol frame's layout, one field a line)
//     becomes an HTML figure that wraps to the width of the screen
//     (bytefield.go).
//   - The page's meta comment under its title,
//     <!-- minutes: 25 | source: 第四章 4.1 … -->, becomes a small label
//     with the reading time and the source text's section, in the book's
//     language (docs/reading_test.go checks the number).
//
// docs/book.toml runs it after mdbook-gettext (so that it sees the
// translated page) and before mdBook's own include preprocessor:
//
//	[preprocessor.course]
//	command = "go run ../scripts/mdbook-course"
//	before = ["links"]
//	after = ["gettext"]
//
// mdBook runs it in the book's directory (docs/), first as
// "mdbook-course supports RENDERER" (exit 0: supported, for every
// renderer but xgettext), then with [context, book] as JSON on stdin, expecting the
// book as JSON on stdout. The book is walked generically, so fields this
// program does not know pass through unchanged.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tcp-in-go/course/tools/stub"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "supports" {
		// The stubs are plain markdown, fit for any renderer but one:
		// mdbook-xgettext (make po) must see the pages as written, so
		// that no listing's code becomes a message to translate.
		if len(os.Args) > 2 && os.Args[2] == "xgettext" {
			os.Exit(1)
		}
		return
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mdbook-course:", err)
		os.Exit(1)
	}
}

func run(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	dec.UseNumber()
	var input []json.RawMessage
	if err := dec.Decode(&input); err != nil {
		return fmt.Errorf("reading [context, book]: %w", err)
	}
	if len(input) != 2 {
		return fmt.Errorf("want [context, book] on stdin, got %d values", len(input))
	}
	var ctx struct {
		Root   string `json:"root"`
		Config struct {
			Book struct {
				Language string `json:"language"`
				Src      string `json:"src"`
			} `json:"book"`
		} `json:"config"`
	}
	if err := json.Unmarshal(input[0], &ctx); err != nil {
		return err
	}
	var book any
	bd := json.NewDecoder(bytes.NewReader(input[1]))
	bd.UseNumber()
	if err := bd.Decode(&book); err != nil {
		return err
	}
	b := bookInfo{
		root: filepath.Dir(ctx.Root), // the book lives in docs/ of the repository
		src:  filepath.Join(ctx.Root, cmpOr(ctx.Config.Book.Src, "src")),
		lang: cmpOr(ctx.Config.Book.Language, "en"),
	}
	if err := walk(book, b); err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(book)
}

// bookInfo is what walk needs to know of the book.
type bookInfo struct {
	root string // the repository
	src  string // the pages as written (docs/src)
	lang string // the edition's language: "en", "zh-CN"
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// walk rewrites the content of every chapter in the book's JSON.
func walk(v any, b bookInfo) error {
	switch v := v.(type) {
	case map[string]any:
		if ch, ok := v["Chapter"].(map[string]any); ok {
			content, _ := ch["content"].(string)
			page, _ := ch["source_path"].(string)
			if page == "" {
				page, _ = ch["path"].(string)
			}
			if page != "" {
				out, err := chapter(b, filepath.ToSlash(page), content)
				if err != nil {
					return fmt.Errorf("%s: %w", page, err)
				}
				ch["content"] = out
			}
		}
		for _, x := range v {
			if err := walk(x, b); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := walk(x, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// chapter rewrites one page.
func chapter(b bookInfo, page, content string) (string, error) {
	out, err := stub.ChapterPage(b.root, page, content)
	if err != nil {
		return "", err
	}
	// In a translated edition, the page as written in English, to check
	// that the translation kept each frame's layout.
	var english *string
	if b.lang != "en" {
		if data, err := os.ReadFile(filepath.Join(b.src, filepath.FromSlash(page))); err == nil {
			s := string(data)
			english = &s
		}
	}
	out, err = bytefields(out, english, b.lang)
	if err != nil {
		return "", err
	}
	return metaLabel(out, b.lang), nil
}

// metaRE is a page's meta comment (docs/reading_test.go).
var metaRE = regexp.MustCompile(`(?m)^<!-- minutes: (\d+)(?: \| source: (.+?))? -->$`)

// labels are the meta label's words, by book language.
var labels = map[string]struct{ minutes, source string }{
	"en":    {"%s min read", "Source text: %s"},
	"zh-CN": {"阅读约 %s 分钟", "原文：%s"},
}

// metaLabel turns the first meta comment into the label under the title.
func metaLabel(content, lang string) string {
	l, ok := labels[lang]
	if !ok {
		l = labels["en"]
	}
	loc := metaRE.FindStringSubmatchIndex(content)
	if loc == nil {
		return content
	}
	m := metaRE.FindStringSubmatch(content)
	// Two items, each kept whole when the label wraps (theme/custom.css).
	label := `<p class="page-meta"><span class="page-meta-time">` + fmt.Sprintf(l.minutes, m[1]) + "</span>"
	if m[2] != "" {
		label += ` · <span class="page-meta-source">` + fmt.Sprintf(l.source, html.EscapeString(m[2])) + "</span>"
	}
	label += "</p>"
	return content[:loc[0]] + label + content[loc[1]:]
}
