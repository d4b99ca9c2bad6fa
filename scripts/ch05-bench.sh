#!/usr/bin/env bash
# Benchmark of chapter 5, in one run, on this machine:
#   - the Go sender -> Go receiver, SIZE_MB (default 1024) into a tmpfs dir;
#   - iperf3 single-stream loopback throughput, the ceiling for one TCP stream;
#   - the Python sender -> Python receiver, PY_MB (default SIZE_MB).
# It writes the table the book includes: ch05-filexfer/testdata/bench.md
#
#   bash scripts/ch05-bench.sh            # SIZE_MB=64 for a quick run
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
PY_MB=${PY_MB:-$SIZE_MB}
OUT=ch05-filexfer/testdata/bench.md
TMP=$(mktemp -d /dev/shm/ch05-bench.XXXXXX 2>/dev/null || mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# wait_listen LOG: print the address a server logged with msg=listening.
wait_listen() {
  for _ in $(seq 300); do
    if grep -q 'msg=listening' "$1" 2>/dev/null; then
      grep -o 'msg=listening addr=[^ ]*' "$1" | head -1 | cut -d= -f3; return
    fi
    sleep 0.1
  done
  echo "server did not start:" >&2; cat "$1" >&2; exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# mib_s BYTES SECONDS: throughput in MiB/s.
mib_s() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

go build -o "$TMP/filexfer" ./ch05-filexfer
head -c $((SIZE_MB << 20)) /dev/urandom > "$TMP/big.bin"
if [ "$PY_MB" = "$SIZE_MB" ]; then ln "$TMP/big.bin" "$TMP/py.bin"; else head -c $((PY_MB << 20)) /dev/urandom > "$TMP/py.bin"; fi

# Go -> Go
"$TMP/filexfer" serve -dir "$TMP/recv-go" -addr 127.0.0.1:0 2> "$TMP/go.log" & PIDS+=($!)
addr=$(wait_listen "$TMP/go.log")
start=$(date +%s.%N)
"$TMP/filexfer" send -addr "$addr" "$TMP/big.bin" > "$TMP/go.out"
go_s=$(echo "$(date +%s.%N) - $start" | bc)
cmp "$TMP/big.bin" "$TMP/recv-go/big.bin"
go_rate=$(mib_s $((SIZE_MB << 20)) "$go_s")

# iperf3, one stream, 5 s
port=$(free_port)
iperf3 -s -p "$port" > /dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 50); do ss -ltn | grep -q ":$port " && break; sleep 0.1; done
iperf3 -c 127.0.0.1 -p "$port" -t 5 -J > "$TMP/iperf.json"
iperf_rate=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["end"]["sum_received"]["bits_per_second"]/8/1048576))' "$TMP/iperf.json")

# Python -> Python
python3 -u python/ch05_filexfer.py serve --dir "$TMP/recv-py" --addr 127.0.0.1:0 2> "$TMP/py.log" & PIDS+=($!)
paddr=$(wait_listen "$TMP/py.log")
start=$(date +%s.%N)
python3 python/ch05_filexfer.py send --addr "$paddr" "$TMP/py.bin" > "$TMP/py.out"
py_s=$(echo "$(date +%s.%N) - $start" | bc)
cmp "$TMP/py.bin" "$TMP/recv-py/py.bin"
py_rate=$(mib_s $((PY_MB << 20)) "$py_s")

{
  echo "| transfer | size | time | throughput |"
  echo "|---|---|---|---|"
  printf '| Go sender → Go receiver (tmpfs, fsync, SHA-256 + CRC-32C) | %d MiB | %.2f s | %s MiB/s |\n' "$SIZE_MB" "$go_s" "$go_rate"
  printf '| iperf3, one TCP stream over loopback, 5 s | — | 5 s | %s MiB/s |\n' "$iperf_rate"
  printf '| Python sender → Python receiver (CRC-32C in pure Python) | %d MiB | %.2f s | %s MiB/s |\n' "$PY_MB" "$py_s" "$py_rate"
  echo
  echo "Measured by \`bash scripts/ch05-bench.sh\` (SIZE_MB=$SIZE_MB PY_MB=$PY_MB) on $(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(go env GOVERSION), Python $(python3 -c 'import platform; print(platform.python_version())')."
} > "$OUT"
cat "$OUT"
