#!/usr/bin/env bash
# Runs chapter 6's benchmarks (ch06-tls/bench_test.go) and writes the tables
# the book includes, ch06-tls/testdata/bench.md:
#   - handshakes per second, full and resumed, for each key exchange (Go's
#     default hybrid X25519MLKEM768, and X25519 alone): a resumed handshake
#     is compared with a full one of the same key exchange;
#   - echo throughput over TLS against plain TCP, in the same run.
# TestBenchTableConsistent (ch06-tls) checks the page's statements against
# what this writes.
#
#   scripts/ch06-bench.sh                         # BENCHTIME=1s COUNT=3
#   BENCHTIME=300ms COUNT=1 OUT=/tmp/bench.md scripts/ch06-bench.sh
#
# Run it on a quiet machine: other load on the CPUs lowers every figure.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}
OUT=${OUT:-ch06-tls/testdata/bench.md}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

go test -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" ./ch06-tls | tee "$raw" >&2

cpu=$(sed -n 's/^cpu: //p' "$raw" | head -1)
{
  echo "Measured by \`scripts/ch06-bench.sh\` (\`go test -bench . -benchtime $BENCHTIME -count $COUNT ./ch06-tls\`)"
  echo "on $(date -u +%Y-%m-%d), $(go env GOVERSION) $(go env GOOS)/$(go env GOARCH), CPU: ${cpu:-unknown}, $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores;"
  echo "client and server in one process over loopback (both ends' CPU). Median of the runs."
  echo
  # Benchmark lines: name N ns/op [value unit]...; the median of each name's
  # handshakes/s or MB/s, then the two tables.
  awk '
    /^Benchmark/ {
      name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
      for (i=3; i<NF; i++) if ($(i+1)=="MB/s" || $(i+1)=="handshakes/s") val=$i
      v[name, ++n[name]]=val
    }
    function median(name,   i, j, tmp, a, cnt) {
      cnt=n[name]
      if (!cnt) return ""
      for (i=1; i<=cnt; i++) a[i]=v[name, i]+0
      for (i=1; i<=cnt; i++) for (j=i+1; j<=cnt; j++) if (a[j]<a[i]) { tmp=a[i]; a[i]=a[j]; a[j]=tmp }
      return a[int((cnt+1)/2)]
    }
    function cell(x) { if (x=="") { missing=1; return "—" }; return sprintf("%.0f", x) }
    function ratio(a, b) { return (a=="" || b=="" || b==0) ? "—" : sprintf("%.2f×", a/b) }
    END {
      print "| key exchange | full handshakes/s | resumed handshakes/s | resumed ÷ full |"
      print "|---|---|---|---|"
      split("X25519MLKEM768 X25519", groups, " ")
      for (g=1; g<=2; g++) {
        full=median("Handshake/full/" groups[g]); res=median("Handshake/resumed/" groups[g])
        label=groups[g]; if (g==1) label=label " (Go'"'"'s default)"
        printf "| %s | %s | %s | %s |\n", label, cell(full), cell(res), ratio(res, full)
      }
      print ""
      plain=median("Echo/plain"); tls=median("Echo/tls")
      print "| echo, 64 KiB writes | MB/s | ÷ plain TCP |"
      print "|---|---|---|"
      printf "| plain TCP | %s | 1.00× |\n", cell(plain)
      printf "| TLS 1.3 | %s | %s |\n", cell(tls), ratio(tls, plain)
      if (missing) { print ""; print "—: no figure in this run." }
    }' "$raw"
} > "$OUT"
echo "wrote $OUT" >&2
cat "$OUT"
