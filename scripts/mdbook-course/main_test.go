package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun feeds the preprocessor what mdBook sends: a chapter page whose
// listing holds an exercise comes back with the stub, a solutions page and
// fields it does not know come back unchanged.
func TestRun(t *testing.T) {
	// A course of one file, so the test holds in a starter copy too.
	root := t.TempDir()
	docs := filepath.Join(root, "docs")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "ch02-tcp-basics"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "ch02-tcp-basics", "breaker.go"), []byte(`package main

// Allow reports whether a call may go ahead.
func (b *Breaker) Allow() bool {
	// ANCHOR: exercise-breaker
	if b.Now().Sub(b.openedAt) < b.Cooldown {
		return false
	}
	return true
	// ANCHOR_END: exercise-breaker
}
`), 0o644))
	include := "```go\n{{#include ../../ch02-tcp-basics/breaker.go:exercise-breaker}}\n```\n"
	solution := "```go\n{{#include ../../../ch02-tcp-basics/breaker.go:exercise-breaker}}\n```\n"
	input, err := json.Marshal([]any{
		map[string]any{"root": docs, "renderer": "html", "mdbook_version": "0.5.4"},
		map[string]any{
			"items": []any{
				map[string]any{"Chapter": map[string]any{
					"name": "TCP basics", "content": include, "number": []int{2},
					"path": "ch02-tcp-basics.md", "source_path": "ch02-tcp-basics.md", "sub_items": []any{},
				}},
				"Separator",
				map[string]any{"Chapter": map[string]any{
					"name": "Solutions", "content": solution, "path": "solutions/ch02.md",
					"source_path": "solutions/ch02.md", "sub_items": []any{},
				}},
			},
			"future_field": 42,
		},
	})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run(bytes.NewReader(input), &out))

	var book struct {
		Items       []json.RawMessage `json:"items"`
		FutureField int               `json:"future_field"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &book))
	assert.Equal(t, 42, book.FutureField, "unknown fields pass through")
	require.Len(t, book.Items, 3)
	var ch struct{ Chapter struct{ Content string } }
	require.NoError(t, json.Unmarshal(book.Items[0], &ch))
	assert.Contains(t, ch.Chapter.Content, `exercise.TODO("exercise-breaker")`)
	assert.Contains(t, ch.Chapter.Content, "return false", "an exercise without a neutral stub returns its zero values")
	assert.NotContains(t, ch.Chapter.Content, "{{#include", "the listing is expanded with its stub")
	assert.NotContains(t, ch.Chapter.Content, "openedAt", "no trace of the solution")

	require.NoError(t, json.Unmarshal(book.Items[2], &ch))
	assert.Equal(t, solution, ch.Chapter.Content, "a solutions page is left to mdBook's include")
	assert.True(t, strings.HasPrefix(string(book.Items[1]), `"Separator"`))
}

// TestMetaLabel: the meta comment under a title becomes the label, in the
// book's language; a page without one is left alone.
func TestMetaLabel(t *testing.T) {
	page := "# 4. The echo server\n<!-- minutes: 25 | source: 第四章 4.1 实现一个Echo TCP服务器 -->\n\nText.\n"
	assert.Equal(t, "# 4. The echo server\n"+
		`<p class="page-meta"><span class="page-meta-time">25 min read</span> · `+
		`<span class="page-meta-source">Source text: 第四章 4.1 实现一个Echo TCP服务器</span></p>`+
		"\n\nText.\n", metaLabel(page, "en"))
	assert.Contains(t, metaLabel(page, "zh-CN"), `<span class="page-meta-time">阅读约 25 分钟</span> · `+
		`<span class="page-meta-source">原文：第四章 4.1 实现一个Echo TCP服务器</span>`)
	assert.Contains(t, metaLabel("# G\n<!-- minutes: 7 -->\n", "en"),
		`<p class="page-meta"><span class="page-meta-time">7 min read</span></p>`)
	assert.Equal(t, "# G\nno meta\n", metaLabel("# G\nno meta\n", "en"))
}
