#!/bin/sh
# `make po`: regenerates po/messages.pot from the English pages and merges it
# into po/zh-CN.po. After it, new and changed messages of zh-CN.po are
# untranslated or marked fuzzy (with the old English as "#| msgid"); a
# translator fixes those, and `go test ./docs -run Translation` says what is
# left. See CONTRIBUTING.md, "Translating the book".
#
# mdbook-xgettext reads the pages as written: the default preprocessors
# (links, index) are off, so {{#include}} lines stay lines and no code or
# transcript becomes a message (book.toml's gettext preprocessor also runs
# before the links). docs/po_test.go runs the same extraction to check that
# the committed messages.pot is current.
set -eu
cd "$(dirname "$0")"
for tool in mdbook mdbook-xgettext msgmerge; do
  command -v "$tool" >/dev/null || {
    echo "po.sh: $tool is not installed (run scripts/install-tools.sh)" >&2
    exit 1
  }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
MDBOOK_OUTPUT='{"xgettext": {"pot-file": "messages.pot"}}' \
  MDBOOK_BUILD__USE_DEFAULT_PREPROCESSORS=false \
  mdbook build -d "$out" 2>/dev/null || {
  echo "po.sh: mdbook-xgettext failed; run it by hand to see why:" >&2
  echo "  cd docs && MDBOOK_OUTPUT='{\"xgettext\": {}}' MDBOOK_BUILD__USE_DEFAULT_PREPROCESSORS=false mdbook build -d /tmp/pot" >&2
  exit 1
}
cp "$out/messages.pot" po/messages.pot
if [ ! -f po/zh-CN.po ]; then
  msginit --no-translator --locale=zh_CN.UTF-8 --input=po/messages.pot --output-file=po/zh-CN.po
fi
# --previous keeps the old msgid of a fuzzy entry, so the translator sees
# what changed in the English.
msgmerge --quiet --update --backup=none --previous po/zh-CN.po po/messages.pot
# Translated headings keep their English ids, so links into a page work in
# both editions (po_heading_ids.py).
python3 po_heading_ids.py po/zh-CN.po
msgfmt --check-format --statistics --output-file=/dev/null po/zh-CN.po
