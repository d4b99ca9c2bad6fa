#!/usr/bin/env bash
# Regenerates every figure of chapter 7 (docs/src/ch07-bench/): the compare
# matrix (tables + SVG charts, including C10K), the pprof walkthrough and
# Locust vs the Go generator. Run it on a quiet machine; it takes a few
# minutes. Extra arguments go to `ch07-bench compare` (e.g. -idle 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./ch07-bench compare "$@"
bash scripts/ch07-profile.sh
bash scripts/ch07-locust-vs-go.sh
