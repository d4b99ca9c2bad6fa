#!/usr/bin/env bash
# Benchmarks of the chapter 4 echo server, side by side in one run with their
# references, written as a Markdown table that the book includes:
#
#   - iperf3, one stream over loopback: the ceiling for bulk throughput;
#   - the Go benchmarks (go test -bench) against the Go server in-process;
#   - the same Go benchmark client against each Python counterpart.
#
# Usage: scripts/ch04-bench.sh [output.md]   (default ch04-echo/testdata/bench.md)
# BENCHTIME=1s sets each benchmark's duration and COUNT=5 how many times it
# runs; the table shows the median, as loopback figures on a busy machine vary.
# It installs nothing: iperf3 comes from scripts/install-tools.sh. Run it on an
# otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-ch04-echo/testdata/bench.md}
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-5}
IPERF_SECONDS=${IPERF_SECONDS:-3}

command -v iperf3 >/dev/null || { echo "ch04-bench: iperf3 not found; run scripts/install-tools.sh" >&2; exit 1; }
command -v python3 >/dev/null || { echo "ch04-bench: python3 not found" >&2; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_listening LOG: prints the addr= of the first "msg=listening" line in LOG.
wait_listening() {
  for _ in $(seq 300); do
    if addr=$(grep -m1 -o 'msg=listening addr=[^ ]*' "$1" 2>/dev/null | cut -d= -f3) && [ -n "$addr" ]; then
      echo "$addr"; return 0
    fi
    sleep 0.1
  done
  echo "ch04-bench: server did not start:" >&2; cat "$1" >&2; return 1
}

echo "ch04-bench: iperf3, one stream, ${IPERF_SECONDS}s" >&2
PORT=$(free_port)
iperf3 -s -1 -B 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
PIDS+=($!)
# Wait until it listens (probing with a connection would use up the one-off
# server), then run one client.
HEXPORT=$(printf '%04X' "$PORT")
for _ in $(seq 100); do grep -q ":$HEXPORT 00000000:0000 0A" /proc/net/tcp && break; sleep 0.1; done
iperf3 -c 127.0.0.1 -p "$PORT" -t "$IPERF_SECONDS" -J >"$TMP/iperf.json" \
  || { echo "ch04-bench: iperf3 failed:" >&2; cat "$TMP/iperf.json" >&2; exit 1; }

echo "ch04-bench: Go benchmarks, in-process server, -benchtime $BENCHTIME" >&2
go test ./ch04-echo -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" | tee "$TMP/go.txt" >&2

# The same client against servers in their own process: the Go program as
# built, then each Python model. (In-process, client and server share one Go
# scheduler; here every server gets the same treatment.)
go build -o "$TMP/ch04-echo" ./ch04-echo
for model in go threads selectors asyncio; do
  echo "ch04-bench: server $model in its own process" >&2
  if [ "$model" = go ]; then
    "$TMP/ch04-echo" serve -addr 127.0.0.1:0 2>"$TMP/py-$model.log" &
  else
    python3 -u python/ch04_echo.py serve --model "$model" --addr 127.0.0.1:0 2>"$TMP/py-$model.log" &
  fi
  pid=$!
  PIDS+=($pid)
  addr=$(wait_listening "$TMP/py-$model.log")
  # The servers log every connection: the benchmark opens few, so it
  # measures echoing, not logging.
  ECHO_ADDR=$addr go test ./ch04-echo -run '^$' -bench 'PingPong64|Bulk/copy=buffer' -benchtime "$BENCHTIME" -count "$COUNT" \
    | tee "$TMP/py-$model.txt" >&2
  kill "$pid"
done

python3 - "$TMP" "$OUT" "$BENCHTIME" "$IPERF_SECONDS" "$COUNT" <<'PY'
import json, os, platform, re, statistics, subprocess, sys
tmp, out, benchtime, iperf_s, count = sys.argv[1:6]

def parse(path):
    """Median of each benchmark's figures over its runs."""
    runs = {}
    for line in open(path):
        m = re.match(r"Benchmark(\S+?)(-\d+)?\s+\d+\s+(.*)", line)
        if not m:
            continue
        for num, unit in re.findall(r"([\d.]+) (\S+)", m.group(3)):
            runs.setdefault(m.group(1), {}).setdefault(unit, []).append(float(num))
    return {name: {u: statistics.median(v) for u, v in units.items()} for name, units in runs.items()}

def mib_s(mb_s):  # go test reports MB/s = 10^6 bytes/s
    return mb_s * 1e6 / (1 << 20)

iperf = json.load(open(os.path.join(tmp, "iperf.json")))
iperf_bps = iperf["end"]["sum_received"]["bits_per_second"]
iperf_mib = iperf_bps / 8 / (1 << 20)

go = parse(os.path.join(tmp, "go.txt"))
lines = [
    "| Benchmark | Server | Result |",
    "|---|---|---|",
    f"| Bulk, one stream (reference) | iperf3 over loopback, {iperf_s} s | {iperf_mib:,.0f} MiB/s |",
]
for mode in ("buffer", "splice"):
    r = go.get(f"Bulk/copy={mode}")
    if r:
        pct = 100 * mib_s(r["MB/s"]) / iperf_mib
        lines.append(f"| Bulk echo, 64 KiB writes | Go, in-process, copy={mode} | {mib_s(r['MB/s']):,.0f} MiB/s ({pct:.0f}% of iperf3) |")
for conns in (1, 50):
    r = go.get(f"PingPong64/conns={conns}")
    if r:
        lines.append(f"| Ping-pong 64 B, {conns} conn{'s' if conns > 1 else ''} | Go, in-process | {r['echoes/s']:,.0f} echoes/s, {r.get('allocs/op', 0):.0f} allocs/op |")
names = {"go": "Go, own process", "threads": "Python threads", "selectors": "Python selectors", "asyncio": "Python asyncio"}
for model in ("go", "threads", "selectors", "asyncio"):
    py = parse(os.path.join(tmp, f"py-{model}.txt"))
    for conns in (1, 50):
        r = py.get(f"PingPong64/conns={conns}")
        if r:
            lines.append(f"| Ping-pong 64 B, {conns} conn{'s' if conns > 1 else ''} | {names[model]} | {r['echoes/s']:,.0f} echoes/s |")
    r = py.get("Bulk/copy=buffer")
    if r:
        pct = 100 * mib_s(r["MB/s"]) / iperf_mib
        lines.append(f"| Bulk echo, 64 KiB writes | {names[model]} | {mib_s(r['MB/s']):,.0f} MiB/s ({pct:.0f}% of iperf3) |")

go_version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
load = os.getloadavg()[0]
note = (f"\nMeasured by `scripts/ch04-bench.sh` (medians of {count} runs of `-benchtime {benchtime}`) on {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}, {go_version}, Python {platform.python_version()}; "
        f"load average {load:.1f} when it finished. Client and server share the machine, "
        "so each benchmark's client takes part of the CPU it measures.\n")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n" + note)
print(open(out).read())
PY
echo "ch04-bench: wrote $OUT" >&2
