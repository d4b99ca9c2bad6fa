#!/usr/bin/env bash
# Installs the tools the full check (`make check`) and the benchmarks need.
# Idempotent: each tool is installed only when missing or at another version,
# and every version is pinned here. Re-running it is cheap.
#
#   Go:     staticcheck, benchstat, helm, gremlins    (go install)
#   Rust:   mdbook, mdbook-mermaid, mdbook-linkcheck2 (cargo install --locked)
#   Python: pytest, ruff, mypy, locust               (pip, python/requirements-dev.txt)
#   Debian: nginx + stream module, iperf3, openssl, tcpdump,
#           prometheus + alertmanager (promtool, amtool)   (apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2              # staticcheck 2026.1.x, supports Go 1.26
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da   # golang.org/x/perf
HELM_VERSION=v3.22.0
GREMLINS_VERSION=v0.6.0                # mutation testing (make mutate); keep in step with scripts/mutate.sh
MDBOOK_VERSION=0.5.4
MDBOOK_MERMAID_VERSION=0.17.1
MDBOOK_LINKCHECK2_VERSION=0.13.0
APT_PACKAGES=(nginx libnginx-mod-stream iperf3 openssl tcpdump prometheus prometheus-alertmanager)

fail() { echo "install-tools: $*" >&2; exit 1; }
step() { echo "install-tools: $*" >&2; }

command -v go >/dev/null || fail "go is not installed; install Go 1.26 from https://go.dev/dl/ first."
GOBIN=$(go env GOPATH)/bin
export PATH="$GOBIN:$HOME/.cargo/bin:$PATH"

# --- Go tools -----------------------------------------------------------------
if ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  step "installing staticcheck $STATICCHECK_VERSION"
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" \
    || fail "could not install staticcheck (is the Go module proxy reachable?)"
fi
if ! command -v benchstat >/dev/null; then
  step "installing benchstat"
  go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" \
    || fail "could not install benchstat (is the Go module proxy reachable?)"
fi
# A helm built by go install reports only "v3.22"; its module version is exact.
if ! go version -m "$(command -v helm 2>/dev/null || echo /nonexistent)" 2>/dev/null | grep -q "helm.sh/helm/v3[[:space:]]*$HELM_VERSION"; then
  step "building helm $HELM_VERSION (a minute or two the first time)"
  # Outside the course's module, so helm's dependencies stay out of go.mod.
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") \
    || fail "could not build helm $HELM_VERSION (is the Go module proxy reachable?)"
fi
# gremlins, like helm, is stamped with its module version only.
if ! go version -m "$GOBIN/gremlins" 2>/dev/null | grep -q "github.com/go-gremlins/gremlins[[:space:]]*$GREMLINS_VERSION"; then
  step "installing gremlins $GREMLINS_VERSION"
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION") \
    || fail "could not install gremlins $GREMLINS_VERSION (is the Go module proxy reachable?)"
fi
go mod download

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
cargo_install mdbook-mermaid "$MDBOOK_MERMAID_VERSION" mdbook-mermaid
cargo_install mdbook-linkcheck2 "$MDBOOK_LINKCHECK2_VERSION" mdbook-linkcheck2

# --- Python dev tools -----------------------------------------------------------
command -v python3 >/dev/null || fail "python3 is not installed; the Python counterparts need Python 3.11 or newer."
if ! python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r python/requirements-dev.txt; then
  fail "could not install python/requirements-dev.txt with pip (is PyPI reachable?)"
fi

# --- Debian packages: nginx (ch06), iperf3 (benchmarks), openssl (ch06) --------------
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
