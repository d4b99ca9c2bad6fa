#!/usr/bin/env bash
# Runs chapter 6's benchmarks (TLS handshakes per second, full and resumed;
# echo throughput over TLS vs plain TCP, in the same run) and writes the
# table the book includes: ch06-tls/testdata/bench.md.
#
#   scripts/ch06-bench.sh                 # BENCHTIME=1s COUNT=3
#   BENCHTIME=300ms COUNT=1 scripts/ch06-bench.sh
#
# Run it on a quiet machine: other load on the CPUs lowers every figure.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}
OUT=ch06-tls/testdata/bench.md
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

go test -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" ./ch06-tls | tee "$raw" >&2

cpu=$(sed -n 's/^cpu: //p' "$raw" | head -1)
{
  echo "Measured by \`scripts/ch06-bench.sh\` (\`go test -bench . -benchtime $BENCHTIME -count $COUNT ./ch06-tls\`)"
  echo "on $(date -u +%Y-%m-%d), $(go env GOVERSION) $(go env GOOS)/$(go env GOARCH), CPU: ${cpu:-unknown}, $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores;"
  echo "client and server in one process over loopback. Median of the runs."
  echo
  echo "| benchmark | result | time per operation |"
  echo "|---|---|---|"
  # Benchmark lines: name N ns/op [value unit]... ; keep the median per name.
  awk '
    /^Benchmark/ {
      name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
      ns=""; val=""; unit=""
      for (i=3; i<NF; i++) {
        if ($(i+1)=="ns/op") ns=$i
        if ($(i+1)=="MB/s" || $(i+1)=="handshakes/s") { val=$i; unit=$(i+1) }
      }
      n[name]++; v[name, n[name]]=val; t[name, n[name]]=ns; u[name]=unit
      if (!(name in order)) { order[name]=++k; names[k]=name }
    }
    function median(arr, name, cnt,   i, j, tmp, a) {
      for (i=1; i<=cnt; i++) a[i]=arr[name, i]+0
      for (i=1; i<=cnt; i++) for (j=i+1; j<=cnt; j++) if (a[j]<a[i]) { tmp=a[i]; a[i]=a[j]; a[j]=tmp }
      return a[int((cnt+1)/2)]
    }
    END {
      for (i=1; i<=k; i++) {
        nm=names[i]
        printf "| %s | %.0f %s | %.1f µs |\n", nm, median(v, nm, n[nm]), u[nm], median(t, nm, n[nm])/1000
      }
    }' "$raw"
} > "$OUT"
echo "wrote $OUT" >&2
cat "$OUT"
