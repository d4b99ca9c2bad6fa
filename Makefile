# The course's checks. `make check` is the full check CI runs; each target is
# plain enough to run on its own. Tools: scripts/install-tools.sh.

GO       ?= go
PYTHON   ?= python3
GOBIN    := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(HOME)/.cargo/bin:$(PATH)

BENCH_COUNT ?= 6
FUZZTIME    ?= 30s

.PHONY: check fmt-check vet staticcheck test test-race pytest lint-python docs docs-serve bench fuzz tools clean starter grade

check: fmt-check vet staticcheck test-race pytest lint-python docs

tools:
	bash scripts/install-tools.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# vet for Linux, and for macOS and Windows: students use all three, and the
# Linux-only lessons must have portable fallbacks.
vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

staticcheck:
	staticcheck ./...

test:
	$(GO) test ./...

test-race:
	$(GO) test -race ./...

pytest:
	cd python && $(PYTHON) -m pytest -q

lint-python:
	cd python && $(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check . && $(PYTHON) -m mypy

# Builds the book (docs/book/html) and checks every link (mdbook-linkcheck2).
docs:
	RUST_LOG=warn mdbook-mermaid install docs
	mdbook build docs

docs-serve:
	RUST_LOG=warn mdbook-mermaid install docs
	mdbook serve docs --open

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

clean:
	rm -rf docs/book python/build bench.txt grade.xml

# A student's starting copy: exercise solutions replaced by stubs.
STARTER_DIR ?= ../tcp-course-starter
starter:
	$(GO) run ./scripts/starter -out $(STARTER_DIR)

# The scoreboard of a copy of the course (GRADE_DIR: a student's; default
# this one), with JUnit XML for autograders: make grade GRADE_DIR=../alice
GRADE_DIR ?= .
grade:
	$(GO) run ./scripts/grade -junit grade.xml $(GRADE_DIR)
