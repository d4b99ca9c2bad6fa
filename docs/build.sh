#!/bin/sh
# Builds both editions of the book (`make docs`):
#   book/html          English, the source of truth
#   book/html/zh-CN    Simplified Chinese, from po/zh-CN.po (mdbook-gettext)
# Each build runs every backend of book.toml: the HTML, the link check, the
# copy of mermaid's bundle and the Pagefind index, so each edition has its
# own search index, and only that one (Pagefind splits Chinese text into
# words). `mdbook build docs` alone builds the English edition.
set -eu
cd "$(dirname "$0")"
if [ ! -x node_modules/.bin/pagefind ] && [ -z "${CI:-}" ]; then
  # No Pagefind on this machine (pagefind.sh says how to install it): keep
  # mdBook's own search instead, English words only. CI must have Pagefind.
  export MDBOOK_OUTPUT__HTML__SEARCH__COPY_JS=true
fi
mdbook build
# mdBook empties book/html on every build, so the Chinese edition is built
# beside it and then moved in.
rm -rf book/zh-CN
MDBOOK_BOOK__LANGUAGE=zh-CN MDBOOK_BOOK__TITLE="Go 语言 TCP 网络编程" mdbook build -d book/zh-CN
rm -rf book/html/zh-CN
mv book/zh-CN/html book/html/zh-CN
rm -rf book/zh-CN
