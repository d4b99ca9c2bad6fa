#!/bin/sh
# mdBook backend ([output.mermaid-bundle] in book.toml): copies mermaid's
# browser bundle (theme/mermaid.min.js, 2.6 MB) into the HTML book that the
# html backend has just written, as book/html/theme/mermaid.min.js.
# theme/mermaid-init.js loads it from there on the pages that have a diagram
# only; listed in additional-js, it would be loaded by every page. mdBook runs
# this from book/mermaid-bundle (book/zh-CN/mermaid-bundle for the Chinese
# edition, see build.sh), `mdbook serve` too, and sends the book's
# RenderContext on stdin, which we do not need.
set -eu
cat >/dev/null
docs=$(cd "$(dirname "$0")" && pwd)
mkdir -p ../html/theme
cp "$docs/theme/mermaid.min.js" ../html/theme/mermaid.min.js
