#!/bin/sh
# mdBook backend ([output.pagefind] in book.toml): indexes the HTML book that
# the html backend has just written (book/html) into book/html/pagefind/, so
# the book's search box can use Pagefind. mdBook runs this from book/pagefind
# (book/zh-CN/pagefind for the Chinese edition, see build.sh: each edition
# gets its own index, of its own pages) and sends the book's RenderContext on
# stdin, which we do not need.
set -eu
cat >/dev/null
docs=$(cd "$(dirname "$0")" && pwd)
html=$(cd ../html && pwd)
pagefind="$docs/node_modules/.bin/pagefind"
if [ ! -x "$pagefind" ]; then
  # As with every tool the course needs, a laptop without it gets the book
  # and a message; CI must have it. book.toml copies no other search index:
  # docs/build.sh (make docs) and make docs-serve bring mdBook's own back
  # when Pagefind is missing; a bare `mdbook build docs` has no search.
  echo "pagefind is not installed (run scripts/install-tools.sh, or: npm ci --prefix docs): make docs keeps mdBook's own search (English only); mdbook build docs has none" >&2
  if [ -n "${CI:-}" ]; then
    exit 1
  fi
  exit 0
fi
# Index the chapters' pages only: not print.html (the whole book in one
# page, which would match every search), toc.html, 404.html, or index.html
# (a copy of the introduction). Pagefind reads them from a staging copy and
# writes its index next to the real pages.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
(
  cd "$html"
  find . -name '*.html' ! -path './pagefind/*' ! -path './zh-CN/*' ! -name print.html ! -name toc.html \
    ! -name 404.html ! -name index.html | while read -r page; do
    mkdir -p "$stage/$(dirname "$page")"
    cp "$page" "$stage/$page"
  done
)
# Only the page's text (<main>), not the sidebar or the diagrams' source.
"$pagefind" --site "$stage" --output-path "$html/pagefind" \
  --root-selector main --exclude-selectors "pre.mermaid" --quiet
