#!/bin/sh
# mdBook backend ([output.pagefind] in book.toml): indexes the HTML book that
# the html backend has just written (book/html) into book/html/pagefind/, so
# the book's search box can use Pagefind. mdBook runs this from book/pagefind
# and sends the book's RenderContext on stdin, which we do not need.
set -eu
cat >/dev/null
docs=$(cd "$(dirname "$0")" && pwd)
pagefind="$docs/node_modules/.bin/pagefind"
if [ ! -x "$pagefind" ]; then
  echo "pagefind is not installed (run scripts/install-tools.sh, or: npm ci --prefix docs)" >&2
  exit 1
fi
# Index only the page's text (<main>), not the sidebar or the diagrams' source.
exec "$pagefind" --site "$docs/book/html" --root-selector main \
  --exclude-selectors "pre.mermaid" --quiet
