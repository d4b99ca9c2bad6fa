#!/usr/bin/env bash
# Regenerates every figure of chapter 7 (docs/src/ch07-bench/): the results
# matrix (tables + SVG charts, including C10K, by scripts/report), the
# pprof walkthrough and Locust vs the Go generator. Run it on a quiet
# machine; it takes a few minutes. Extra arguments go to scripts/report
# (e.g. -idle-conns 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./scripts/report "$@"
bash scripts/ch07-profile.sh
bash scripts/ch07-locust-vs-go.sh
