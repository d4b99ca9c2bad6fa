#!/usr/bin/env bash
# Two concurrency models side by side, in one run (issue 23): the chapter 4
# echo server as a goroutine per connection (plain, and -tuned), as a
# hand-written epoll event loop (ch04-echo eventloop), and the C epoll
# reference (ch04-echo/cref/epoll_echo.c, built with cc -O2), all measured
# by the same client, the chapter 7 generator (ch07-bench -json):
#
#   - ping-pong: 50 connections, 64-byte messages, one in flight on each
#     (echoes/s, p50 and p99 latency);
#   - bulk: one connection streaming 64 KiB chunks (MiB/s echoed);
#   - memory: RSS per idle connection with 10,000 connections held (ch07-bench
#     idle mode with -pid reads the server's /proc; each server is started
#     afresh for it, so earlier rounds' garbage is not counted).
#
# Rounds are interleaved (every server once per round, in turn), so a busy
# moment on the shared machine hits all of them alike; the table gives the
# median of the rounds and their spread (min-max), and each figure against
# the C reference's in the same round (the median of those ratios).
# The speed goals of issue 23 are printed PASS or FAIL:
#   - the event loop: <= 1 KiB RSS per idle connection, ping-pong >= 1.0x C;
#   - plain Go: ping-pong and bulk >= 1.0x C.
#
# Usage: scripts/ch04-models.sh [output.md]  (default ch04-echo/testdata/models.md)
# ROUNDS=5 speed rounds, IDLE_ROUNDS=3 memory rounds, DURATION=3s each run,
# IDLE_CONNS=10000. Linux only. Exits 1 if a goal is missed (the file is
# written either way).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-ch04-echo/testdata/models.md}
ROUNDS=${ROUNDS:-5}
IDLE_ROUNDS=${IDLE_ROUNDS:-3}
DURATION=${DURATION:-3s}
IDLE_CONNS=${IDLE_CONNS:-10000}
[ -r /proc/self/status ] || { echo "ch04-models: needs Linux /proc" >&2; exit 1; }
command -v cc >/dev/null || { echo "ch04-models: cc not found (the C reference)" >&2; exit 1; }
ulimit -n $((IDLE_CONNS + 200)) 2>/dev/null || true

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

go build -o "$TMP/ch04-echo" ./ch04-echo
go build -o "$TMP/ch07-bench" ./ch07-bench
cc -O2 -o "$TMP/epoll_echo" ch04-echo/cref/epoll_echo.c
SERVERS=(go go-tuned eventloop c)

# start NAME: starts that server on a free port; sets PID and ADDR.
start() {
  local log="$TMP/$1.log"
  case $1 in
  go) "$TMP/ch04-echo" serve -addr 127.0.0.1:0 -max-conns 0 2>"$log" & ;;
  go-tuned) "$TMP/ch04-echo" serve -addr 127.0.0.1:0 -max-conns 0 -tuned 2>"$log" & ;;
  eventloop) "$TMP/ch04-echo" eventloop -addr 127.0.0.1:0 -max-conns 0 2>"$log" & ;;
  c) "$TMP/epoll_echo" 127.0.0.1 0 2>"$log" & ;;
  esac
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 300); do
    if ADDR=$(grep -m1 -o 'msg=listening addr=[^ ]*' "$log" 2>/dev/null | cut -d= -f3) && [ -n "$ADDR" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "ch04-models: $1 did not start:" >&2; cat "$log" >&2; exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

declare -A SADDR SPID
for s in "${SERVERS[@]}"; do start "$s"; SADDR[$s]=$ADDR; SPID[$s]=$PID; done
for round in $(seq "$ROUNDS"); do
  for s in "${SERVERS[@]}"; do
    echo "ch04-models: round $round/$ROUNDS, $s" >&2
    "$TMP/ch07-bench" run -addr "${SADDR[$s]}" -conns 50 -size 64 -duration "$DURATION" -warmup 500ms -json \
      >"$TMP/pp-$s-$round.json" 2>/dev/null
    "$TMP/ch07-bench" run -addr "${SADDR[$s]}" -mode stream -conns 1 -size 65536 -duration "$DURATION" -warmup 500ms -json \
      >"$TMP/bulk-$s-$round.json" 2>/dev/null
  done
done
for s in "${SERVERS[@]}"; do stop "${SPID[$s]}"; done

for round in $(seq "$IDLE_ROUNDS"); do
  for s in "${SERVERS[@]}"; do
    echo "ch04-models: idle round $round/$IDLE_ROUNDS, $s, $IDLE_CONNS connections" >&2
    start "$s"
    "$TMP/ch07-bench" run -addr "$ADDR" -mode idle -conns "$IDLE_CONNS" -duration 2s -warmup 0s -timeout 30s \
      -pid "$PID" -json >"$TMP/idle-$s-$round.json" 2>/dev/null
    stop "$PID"
  done
done

rc=0
python3 - "$TMP" "$OUT" "$ROUNDS" "$IDLE_ROUNDS" "$DURATION" "$IDLE_CONNS" "${SERVERS[@]}" <<'PY' || rc=$?
import json, platform, statistics, subprocess, sys
tmp, out, rounds, idle_rounds, duration, idle_conns, *servers = sys.argv[1:]
rounds, idle_rounds = int(rounds), int(idle_rounds)
NAMES = {"go": "Go, goroutine per connection", "go-tuned": "Go, `-tuned`",
         "eventloop": "Go, epoll event loop", "c": "C epoll reference"}

def load(kind, s, r):
    return json.load(open(f"{tmp}/{kind}-{s}-{r}.json"))

def figures(kind, key):
    """{server: [figure of each round]}"""
    return {s: [key(load(kind, s, r)) for r in range(1, (idle_rounds if kind == "idle" else rounds) + 1)]
            for s in servers}

pp = figures("pp", lambda j: j["req_per_s"])
p50 = figures("pp", lambda j: j["latency"]["p50_us"])
p99 = figures("pp", lambda j: j["latency"]["p99_us"])
bulk = figures("bulk", lambda j: j["bytes"] / j["elapsed_s"] / (1 << 20))
rss = figures("idle", lambda j: j["server"]["rss_bytes_per_conn"] / 1024)
held = figures("idle", lambda j: j["held_conns"])
errs = figures("pp", lambda j: j["error_total"])

def ratio(fig, s):  # the median over rounds of s's figure / C's figure in the same round
    return statistics.median(a / b for a, b in zip(fig[s], fig["c"]))

def spread(v, fmt):
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"

rows = []
for s in servers:
    rows.append(f"| {NAMES[s]} | {spread(pp[s], '{:,.0f}')} | {ratio(pp, s):.2f}× "
                f"| {statistics.median(p50[s]):,.0f} / {statistics.median(p99[s]):,.0f} µs "
                f"| {spread(bulk[s], '{:,.0f}')} | {ratio(bulk, s):.2f}× "
                f"| {spread(rss[s], '{:.2f}')} KiB |")

goals = [  # (what, measured, goal, met)
    ("event loop: RSS per idle connection <= 1 KiB", f"{statistics.median(rss['eventloop']):.2f} KiB",
     statistics.median(rss["eventloop"]) <= 1.0),
    ("event loop: ping-pong >= 1.0x C", f"{ratio(pp, 'eventloop'):.2f}x", ratio(pp, "eventloop") >= 1.0),
    ("plain Go: ping-pong >= 1.0x C", f"{ratio(pp, 'go'):.2f}x", ratio(pp, "go") >= 1.0),
    ("plain Go: bulk >= 1.0x C", f"{ratio(bulk, 'go'):.2f}x", ratio(bulk, "go") >= 1.0),
]
go_version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
goal_lines = "\n".join(f"- {'PASS' if ok else 'FAIL'}: {what}: {got}" for what, got, ok in goals)
text = f"""| Server | Ping-pong, 50 × 64 B (echoes/s) | vs C | p50 / p99 | Bulk, 1 stream (MiB/s) | vs C | RSS per idle connection ({int(idle_conns):,} held) |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Speed goals (issue 23):

{goal_lines}

Made by `scripts/ch04-models.sh` on Linux {platform.release()}, {cores} cores
(shared with the client), {go_version}: {rounds} interleaved rounds of
{duration} each (after 0.5 s of warm-up) for ping-pong and bulk, {idle_rounds}
for memory, each with the server started afresh. A figure is the median of the
rounds, with their spread (min–max) in brackets; "vs C" is the median of the
ratios to the C reference measured in the same round. Latency is the
generator's p50 / p99 round trip (median over rounds). Ping-pong errors: {sum(map(sum, errs.values()))};
connections held in the memory rounds: {min(min(v) for v in held.values()):,} at least.
"""
open(out, "w").write(text)
print(text)
sys.exit(0 if all(ok for *_, ok in goals) else 1)
PY
echo "ch04-models: wrote $OUT" >&2
exit "$rc"
