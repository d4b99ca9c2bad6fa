# The course's checks. `make check` is the full check CI runs; each target is
# plain enough to run on its own. Tools: scripts/install-tools.sh.

GO       ?= go
PYTHON   ?= python3
GOBIN    := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(HOME)/.cargo/bin:$(PATH)

BENCH_COUNT ?= 6
FUZZTIME    ?= 30s

.PHONY: check fmt-check vet staticcheck test test-race pytest lint-python docs docs-serve bench fuzz soak mutate tools clean starter

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

# The reliability suite (internal/soak, and every test named Soak*): floods,
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
	rm -rf docs/book python/build bench.txt mutate-out

# A student's starting copy: exercise solutions replaced by TODOs.
STARTER_DIR ?= ../tcp-course-starter
starter:
	$(GO) run ./scripts/starter -out $(STARTER_DIR)
