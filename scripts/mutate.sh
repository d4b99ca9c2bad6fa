#!/usr/bin/env bash
# Mutation check of the lesson packages (make mutate): gremlins changes one
# operator at a time (+ to -, < to <=, == to !=, ...) and runs the package's
# tests; a mutant the tests still pass is a line no test really checks.
# Not part of `go test ./...`. Scores: docs/src/contributing/mutation.md.
#
#   scripts/mutate.sh                      # every lesson package
#   scripts/mutate.sh ./ch05-filexfer      # one or more packages
#   WORKERS=1 TIMEOUT_COEFFICIENT=4 scripts/mutate.sh
#
# Two things gremlins v0.6.0 needs help with:
#  - It derives a package's import path from its directory name, which fails
#    for our `package main` chapters (ch01-overview is not named "main"): it
#    would test the module root, fail at setup, and count every mutant as
#    killed. So it runs from inside each package directory, with a `go`
#    shim on PATH that replaces that wrong import path with ".".
#  - It cannot pass test flags. The shim adds -short, and skips the tests
#    that build and run whole programs (the chapter binaries, Python, nginx,
#    openssl): each would rebuild a binary for every mutant. Their lesson
#    code is covered by the in-process tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

GREMLINS_VERSION=v0.6.0 # keep in step with scripts/install-tools.sh
GOBIN=$(go env GOPATH)/bin
# go install does not stamp --version ("dev"); the module version is exact.
if ! go version -m "$GOBIN/gremlins" 2>/dev/null | grep -q "github.com/go-gremlins/gremlins[[:space:]]*$GREMLINS_VERSION"; then
  echo "mutate: installing gremlins $GREMLINS_VERSION" >&2
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION")
fi

PKGS=("$@")
((${#PKGS[@]})) || PKGS=(./ch01-overview ./ch02-tcp-basics ./ch03-listen-accept ./ch05-filexfer ./ch06-tls ./internal/serve)
WORKERS=${WORKERS:-2}
TIMEOUT_COEFFICIENT=${TIMEOUT_COEFFICIENT:-3}
SKIP='^(TestTranscript|TestSIGTERMDrainsAndExitsZero|TestExitCodes|TestCommands?.*|Test.*Python.*|TestInterop.*|TestSignalShutdown|TestSoak.*|TestNginx.*|TestOpenSSL.*|TestAcceptSurvivesEMFILE)$'
module=$(go list -m)
out=${MUTATE_OUT:-$root/mutate-out}
mkdir -p "$out"

shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
cat >"$shim/go" <<SHIM
#!/usr/bin/env bash
# go test shim for gremlins: see scripts/mutate.sh.
args=()
for a in "\$@"; do
  [ "\$a" = "$module" ] && a=.
  args+=("\$a")
done
if [ "\${args[0]}" = test ]; then
  exec "$(command -v go)" test -short -skip '$SKIP' "\${args[@]:1}"
fi
exec "$(command -v go)" "\${args[@]}"
SHIM
chmod +x "$shim/go"

for pkg in "${PKGS[@]}"; do
  name=$(basename "$pkg")
  echo "mutate: $pkg" >&2
  start=$SECONDS
  (cd "$pkg" && PATH="$shim:$PATH" "$GOBIN/gremlins" unleash --workers "$WORKERS" \
    --timeout-coefficient "$TIMEOUT_COEFFICIENT" -o "$out/$name.json" "$root/${pkg#./}" >"$out/$name.txt" 2>&1) || true
  echo "mutate: $pkg done in $((SECONDS - start)) s" >&2
done
go run ./scripts/mutate-report "$out"/*.json
