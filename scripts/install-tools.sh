#!/usr/bin/env bash
# Installs the tools the full check (`make check`) and the benchmarks need.
# Idempotent: each tool is installed only when missing or at another version,
# and every version is pinned here. Re-running it is cheap.
#
#   Go:     staticcheck, benchstat, helm, gremlins    (go install)
#   Rust:   mdbook, mdbook-mermaid, mdbook-linkcheck2,
#           mdbook-i18n-helpers (the zh-CN edition)  (cargo install --locked)
#   npm:    pagefind, the book's search index       (npm ci, docs/package-lock.json)
#   Python: pytest, ruff, mypy, locust, selenium     (pip, python/requirements-dev.txt)
#   Debian: nginx + stream module, iperf3, openssl, tcpdump, netcat-openbsd (nc),
#           prometheus + alertmanager (promtool, amtool),
#           chromium + chromium-driver (the book's browser test),
#           gettext (msgmerge, msgfmt: `make po`), fonts-noto-cjk   (apt-get)
#
# `install-tools.sh --book` installs only what building the book needs
# (mdBook, its plugins and Pagefind): the Pages workflow uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
BOOK_ONLY=false
[ "${1:-}" = --book ] && BOOK_ONLY=true

STATICCHECK_VERSION=v0.8.2              # staticcheck 2026.1.x, supports Go 1.26
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da   # golang.org/x/perf
HELM_VERSION=v3.22.0
GREMLINS_VERSION=v0.6.0                # mutation testing (make mutate); keep in step with scripts/mutate.sh
MDBOOK_VERSION=0.5.4
MDBOOK_MERMAID_VERSION=0.17.1
MDBOOK_LINKCHECK2_VERSION=0.13.0
MDBOOK_I18N_HELPERS_VERSION=0.4.0       # mdbook-xgettext, mdbook-gettext
APT_PACKAGES=(nginx libnginx-mod-stream iperf3 openssl tcpdump netcat-openbsd prometheus prometheus-alertmanager)
# The zh-CN edition: msgmerge/msgfmt for `make po`, and a CJK font so that the
# browser test (and a reader's browser) draws Chinese text, not boxes.
BOOK_APT_PACKAGES=(gettext fonts-noto-cjk)
# Debian's Chromium and its WebDriver, unless a Chrome and a chromedriver are
# already there (GitHub's Ubuntu runners have both; Ubuntu packages Chromium
# only as a snap).
BROWSER_PACKAGES=(chromium chromium-driver)

fail() { echo "install-tools: $*" >&2; exit 1; }
step() { echo "install-tools: $*" >&2; }

command -v go >/dev/null || fail "go is not installed; install Go 1.26 from https://go.dev/dl/ first."
GOBIN=$(go env GOPATH)/bin
export PATH="$GOBIN:$HOME/.cargo/bin:$PATH"

# --- Go tools -----------------------------------------------------------------
if ! $BOOK_ONLY && ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  step "installing staticcheck $STATICCHECK_VERSION"
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" \
    || fail "could not install staticcheck (is the Go module proxy reachable?)"
fi
if ! $BOOK_ONLY && ! command -v benchstat >/dev/null; then
  step "installing benchstat"
  go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" \
    || fail "could not install benchstat (is the Go module proxy reachable?)"
fi
# A helm built by go install reports only "v3.22"; its module version is exact.
if ! $BOOK_ONLY && ! go version -m "$(command -v helm 2>/dev/null || echo /nonexistent)" 2>/dev/null | grep -q "helm.sh/helm/v3[[:space:]]*$HELM_VERSION"; then
  step "building helm $HELM_VERSION (a minute or two the first time)"
  # Outside the course's module, so helm's dependencies stay out of go.mod.
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") \
    || fail "could not build helm $HELM_VERSION (is the Go module proxy reachable?)"
fi
# gremlins, like helm, is stamped with its module version only.
if ! $BOOK_ONLY && ! go version -m "$GOBIN/gremlins" 2>/dev/null | grep -q "github.com/go-gremlins/gremlins[[:space:]]*$GREMLINS_VERSION"; then
  step "installing gremlins $GREMLINS_VERSION"
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION") \
    || fail "could not install gremlins $GREMLINS_VERSION (is the Go module proxy reachable?)"
fi
$BOOK_ONLY || go mod download

# --- mdBook and its plugins -----------------------------------------------------
cargo_install() { # crate version binary
  if ! "$3" --version 2>/dev/null | grep -q "$2"; then
    command -v cargo >/dev/null || fail "cargo is needed to build $1; install Rust from https://rustup.rs."
    step "building $1 $2 with cargo (a few minutes the first time)"
    # One shared target directory lets the three crates reuse compiled dependencies.
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tcpcourse-cargo}" \
      cargo install --locked --quiet "$1@$2" || fail "could not build $1 $2 with cargo (is crates.io reachable?)"
  fi
}
cargo_install mdbook "$MDBOOK_VERSION" mdbook

# Builds a crate's crates.io release with our own Cargo.lock
# (scripts/CRATE-VERSION.Cargo.lock): crate version
cargo_install_with_lock() {
  command -v cargo >/dev/null || fail "cargo is needed to build $1; install Rust from https://rustup.rs."
  step "building $1 $2 against mdBook $MDBOOK_VERSION (a few minutes)"
  local work src
  work=$(mktemp -d)
  mkdir "$work/fetch" "$work/fetch/src"
  : >"$work/fetch/src/lib.rs"
  printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
    "$1" "$1" "$2" >"$work/fetch/Cargo.toml"
  cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml" \
    || fail "could not download $1 $2 (is crates.io reachable?)"
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$1-$2" | head -n 1)
  cp -R "$src" "$work/$1"
  cp "scripts/$1-$2.Cargo.lock" "$work/$1/Cargo.lock"
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tcpcourse-cargo}" \
    cargo install --locked --quiet --force --path "$work/$1" \
    || fail "could not build $1 $2 with cargo"
  rm -rf "$work"
}

# A preprocessor's answer to an empty book, called as mdBook $MDBOOK_VERSION
# calls it: a binary built against another mdBook prints a warning first.
quiet_preprocessor() { # binary
  local out
  out=$(printf '[{"root":"/","config":{},"renderer":"html","mdbook_version":"%s"},{"items":[]}]' \
    "$MDBOOK_VERSION" | "$1" 2>&1) || return 1
  [ "$out" = '{"items":[]}' ]
}

# mdbook-mermaid: no release is built against mdBook 0.5.4. The newest,
# 0.17.1, ships a Cargo.lock with mdbook-preprocessor 0.5.0, so the binary
# `cargo install --locked` makes warns on every build ("built against version
# 0.5.0 of mdbook, but we're being called from version 0.5.4"); and mdBook
# 0.5.0 itself is not an option, since every mdbook-linkcheck2 needs >= 0.5.1.
# So we build the 0.17.1 release with scripts/mdbook-mermaid-0.17.1.Cargo.lock:
# the release's own lock with mdbook-preprocessor moved to 0.5.4 (cargo update
# -p mdbook-preprocessor --precise 0.5.4). The check below asks the installed
# binary itself whether it warns.
mermaid_matches() {
  mdbook-mermaid --version 2>/dev/null | grep -q "$MDBOOK_MERMAID_VERSION" && quiet_preprocessor mdbook-mermaid
}
if ! mermaid_matches; then
  cargo_install_with_lock mdbook-mermaid "$MDBOOK_MERMAID_VERSION"
  mermaid_matches || fail "mdbook-mermaid still warns under mdBook $MDBOOK_VERSION"
fi

# mdbook-i18n-helpers: the same story. 0.4.0, the only release for mdBook
# 0.5, locks mdbook-preprocessor and mdbook-renderer 0.5.0, and mdbook-gettext
# then warns on every zh-CN build. scripts/mdbook-i18n-helpers-0.4.0.Cargo.lock
# is the release's lock after `cargo update -p mdbook-preprocessor --precise
# 0.5.4` and `cargo update -p mdbook-renderer --precise 0.5.4`. The binaries
# have no --version: cargo's install list names the version.
i18n_matches() {
  cargo install --list 2>/dev/null | grep -q "^mdbook-i18n-helpers v$MDBOOK_I18N_HELPERS_VERSION" \
    && command -v mdbook-xgettext >/dev/null && quiet_preprocessor mdbook-gettext
}
if ! i18n_matches; then
  cargo_install_with_lock mdbook-i18n-helpers "$MDBOOK_I18N_HELPERS_VERSION"
  i18n_matches || fail "mdbook-gettext still warns under mdBook $MDBOOK_VERSION"
fi
cargo_install mdbook-linkcheck2 "$MDBOOK_LINKCHECK2_VERSION" mdbook-linkcheck2

# --- Pagefind: the book's search index (segments Chinese) ----------------------
# Pinned with its platform binary in docs/package-lock.json; book.toml's
# pagefind backend runs docs/node_modules/.bin/pagefind.
if ! docs/node_modules/.bin/pagefind --version 2>/dev/null \
    | grep -q "$(sed -n 's/.*"pagefind": "\(.*\)".*/\1/p' docs/package.json)"; then
  command -v npm >/dev/null || fail "npm is needed to install Pagefind (the book's search); install Node.js 18 or newer."
  step "installing Pagefind (npm ci in docs/)"
  npm ci --prefix docs --no-audit --no-fund --loglevel=error >/dev/null \
    || fail "npm ci could not install Pagefind (is the npm registry reachable?)"
fi
if $BOOK_ONLY; then
  step "book tools present"
  exit 0
fi

# --- Python dev tools -----------------------------------------------------------
command -v python3 >/dev/null || fail "python3 is not installed; the Python counterparts need Python 3.11 or newer."
if ! python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r python/requirements-dev.txt; then
  fail "could not install python/requirements-dev.txt with pip (is PyPI reachable?)"
fi

# --- Debian packages: nginx (ch06), iperf3 (benchmarks), openssl (ch06), nc (the
# pages' examples), chromium + chromium-driver (docs/browser/test_book.py) ----
if ! { command -v chromium || command -v google-chrome; } >/dev/null \
    || ! { command -v chromedriver || [ -x "${CHROMEWEBDRIVER:-/nonexistent}/chromedriver" ]; } >/dev/null; then
  APT_PACKAGES+=("${BROWSER_PACKAGES[@]}")
fi
APT_PACKAGES+=("${BOOK_APT_PACKAGES[@]}")
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || fail "apt-get not found: install ${missing[*]} with your system's package manager."
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || fail "installing ${missing[*]} needs root (or sudo)."
    SUDO=sudo
  fi
  step "installing ${missing[*]} from Debian packages"
  $SUDO apt-get update -qq || fail "apt-get update failed (are Debian's package mirrors reachable?)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get could not install ${missing[*]}."
fi
step "all tools present"
