# The course's checks. `make check` is the full check CI runs; each target is
# plain enough to run on its own. Tools: scripts/install-tools.sh.

GO       ?= go
PYTHON   ?= python3
GOBIN    := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(HOME)/.cargo/bin:$(PATH)

# The course's module (what a student downloads) and the modules of its
# tooling, each with its own go.mod so that their dependencies stay out of
# the student's: deploy/ (Helm, Kubernetes, Prometheus, OpenTelemetry
# checks), scripts/report/ (ch07's tables and charts), tools/wire/ (packet
# captures of the lessons; gopacket), tools/wasi/ (wazero, the host that
# runs ch04 as a WebAssembly module). Every Go target runs in each of them.
MODULES := . deploy scripts/report tools/wire tools/wasi
each = set -e; for m in $(MODULES); do (cd $$m && echo "== $$m: $(1)" && $(1)); done

BENCH_COUNT ?= 6
FUZZTIME    ?= 30s

.PHONY: check fmt-check vet staticcheck test test-race pytest lint-python docs docs-browser docs-serve po bench fuzz soak tools clean mutate starter grade

check: fmt-check vet staticcheck test-race pytest lint-python docs docs-browser

tools:
	bash scripts/install-tools.sh

# Wrong solutions (chNN-*/testdata/exercises/*/wrong-*.go) are fragments of
# a function body, not Go files: gofmt cannot read them.
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' ':!:*/testdata/exercises/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# vet for Linux, and for macOS and Windows: students use all three, and the
# Linux-only lessons must have portable fallbacks.
vet:
	$(call each,$(GO) vet ./...)
	$(call each,GOOS=darwin $(GO) vet ./...)
	$(call each,GOOS=windows $(GO) vet ./...)

staticcheck:
	$(call each,staticcheck ./...)

test:
	$(call each,$(GO) test ./...)

test-race:
	$(call each,$(GO) test -race ./...)

pytest:
	cd python && $(PYTHON) -m pytest -q

lint-python:
	cd python && $(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check . && $(PYTHON) -m mypy
	$(PYTHON) -m ruff check --config python/pyproject.toml docs/browser
	$(PYTHON) -m ruff format --config python/pyproject.toml --check docs/browser
	$(PYTHON) -m mypy --strict --python-version 3.11 docs/browser/test_book.py

# Builds both editions of the book: English in docs/book/html, Chinese
# (docs/po/zh-CN.po) in docs/book/html/zh-CN. Each build checks every link
# (mdbook-linkcheck2) and gets its own search index (Pagefind,
# docs/pagefind.sh), and no other. The mermaid assets are committed in
# docs/theme, so the English half is exactly the README's `mdbook build
# docs`. See docs/build.sh.
docs:
	sh docs/build.sh

# After a page changed: regenerates docs/po/messages.pot from the English
# pages and merges it into docs/po/zh-CN.po (msgmerge), so that new and
# changed messages wait there for a translator. CONTRIBUTING.md, "Translating
# the book", says what to do next.
po:
	sh docs/po.sh

# Reads the built book in headless Chromium at 1280 and 390 px, both
# editions: diagrams render and are legible, nothing scrolls sideways and a
# box that does shows it, code is monospace, no table cell breaks a word,
# charts are legible on a phone, the language switch keeps the section,
# mermaid loads only where there is a diagram, search finds English and
# Chinese. -rxX lists the charts awaiting their redraw
# (CHARTS_AWAITING_REDRAW in the test). Screenshots: docs/browser/screenshots/.
docs-browser:
	$(PYTHON) -m pytest -q -rxX -p no:cacheprovider --timeout 900 docs/browser/test_book.py

# Serves the book with live reload. mdbook serve runs every backend of
# book.toml, Pagefind's index included, so search works as in the built book.
# Without Pagefind installed it keeps mdBook's own search instead (English
# words only): book.toml copies no mdBook index, so this turns it back on
# with MDBOOK_OUTPUT__HTML__SEARCH__COPY_JS=true, as docs/build.sh does.
# The Chinese edition:
# MDBOOK_BOOK__LANGUAGE=zh-CN mdbook serve docs -d book/zh-CN --open
docs-serve:
	@if [ -x docs/node_modules/.bin/pagefind ]; then mdbook serve docs --open; \
	else MDBOOK_OUTPUT__HTML__SEARCH__COPY_JS=true mdbook serve docs --open; fi

# All testing.B benchmarks, repeated, summarised by benchstat. Save bench.txt
# before a change and compare: benchstat old.txt bench.txt
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./... | tee bench.txt
	benchstat bench.txt

# Every fuzz target of the course, FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 200x $$pkg || exit 1; \
	  done; \
	done

# The reliability suite (tests/soak, and every test named Soak*): floods,
# silent and non-reading clients, servers out of file descriptors, against Go
# and Python. Loopback only; prints a table of figures. SOAK=full (default)
# or SOAK=short (under a minute, run by CI). Never part of `go test ./...`.
SOAK ?= full
soak:
	SOAK=$(SOAK) $(GO) test -run Soak -count=1 -timeout 20m -v ./...

# Mutation check of the lesson packages (gremlins, pinned): one operator
# changed at a time, the package's tests run; prints the score per package
# and every surviving mutant. Slow (tens of minutes on 2 cores): pass
# PKGS="./ch05-filexfer" for one package. Never part of `go test ./...`.
# Results: docs/src/contributing/mutation.md.
PKGS ?=
mutate:
	bash scripts/mutate.sh $(PKGS)

clean:
	rm -rf docs/book python/build bench.txt grade.xml mutate-out

# A student's starting copy: exercise solutions replaced by stubs.
STARTER_DIR ?= ../tcp-course-starter
starter:
	$(GO) run ./tools/starter -out $(STARTER_DIR)

# The scoreboard of a copy of the course (GRADE_DIR: a student's; default
# this one), with JUnit XML for autograders: make grade GRADE_DIR=../alice
GRADE_DIR ?= .
grade:
	$(GO) run ./tools/grade -junit grade.xml $(GRADE_DIR)
