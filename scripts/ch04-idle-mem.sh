#!/usr/bin/env bash
# Memory per idle connection of the chapter 4 echo server, plain and tuned
# (-tuned, ch04-echo/tuned.go): for each, start the server, open N
# connections from a second process (`ch04-echo hold`; each side needs N file
# descriptors, and a process may have 20,000 here, so one process could not
# hold both ends of 10,000), and compare the server's resident memory (VmRSS)
# before and after. The Go runtime's own view (heap and stacks, from
# /debug/vars) is reported too.
#
# The servers run with their default flags (idle timeout on), no connection
# limit. The script prints pass/fail against the target the page states:
# the tuned server holds at most 4.5 KiB of RSS per idle connection.
# Usage: scripts/ch04-idle-mem.sh [N] [output.md]
#        (default 10000 and ch04-echo/testdata/idle-mem.md). Linux only (/proc).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
OUT=${2:-ch04-echo/testdata/idle-mem.md}
TARGET_KIB=4.5
[ -r /proc/self/status ] || { echo "ch04-idle-mem: needs Linux /proc" >&2; exit 1; }
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 100)) ]; then
  ulimit -n $((N + 100)) 2>/dev/null || { echo "ch04-idle-mem: raise the open files limit (ulimit -n) above $N" >&2; exit 1; }
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

go build -o "$TMP/ch04-echo" ./ch04-echo

# wait_for LOG PATTERN: waits until LOG has a line matching PATTERN, prints it.
wait_for() {
  for _ in $(seq 1200); do
    if line=$(grep -m1 -E "$2" "$1" 2>/dev/null); then echo "$line"; return 0; fi
    sleep 0.1
  done
  echo "ch04-idle-mem: timed out waiting for $2 in:" >&2; cat "$1" >&2; return 1
}
field() { sed -E "s/.*$1=([^ ]+).*/\1/" <<<"$2"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
vars() { python3 -c "
import json, sys, urllib.request
v = json.load(urllib.request.urlopen('http://$1/debug/vars'))
m = v['memstats']
print(m['HeapInuse'], m['StackInuse'], v['echo']['conns_open'])"; }

# measure VARIANT FLAGS...: prints "VARIANT rss_before rss_after heap_before
# heap_after stack_before stack_after" (KiB for RSS, bytes for the rest).
measure() {
  local variant=$1; shift
  "$TMP/ch04-echo" serve -addr 127.0.0.1:0 -max-conns 0 -debug-addr 127.0.0.1:0 "$@" 2>"$TMP/server-$variant.log" &
  local server=$!
  PIDS+=("$server")
  local addr dbg heap0 stack0 rss0 heap1 stack1 rss1 open
  addr=$(field addr "$(wait_for "$TMP/server-$variant.log" 'msg=listening')")
  dbg=$(field addr "$(wait_for "$TMP/server-$variant.log" 'msg="debug listening"')")
  read -r heap0 stack0 _ < <(vars "$dbg")
  rss0=$(rss_kib "$server")
  echo "ch04-idle-mem: $variant: opening $N connections to $addr" >&2
  "$TMP/ch04-echo" hold -addr "$addr" -conns "$N" 2>"$TMP/hold-$variant.log" &
  local holder=$!
  PIDS+=("$holder")
  wait_for "$TMP/hold-$variant.log" 'msg=holding' >/dev/null
  read -r heap1 stack1 open < <(vars "$dbg")
  rss1=$(rss_kib "$server")
  [ "$open" = "$N" ] || { echo "ch04-idle-mem: $variant server reports $open open connections, want $N" >&2; exit 1; }
  kill "$holder" "$server"
  wait "$holder" "$server" 2>/dev/null || true
  echo "$variant $rss0 $rss1 $heap0 $heap1 $stack0 $stack1"
}

{
  measure plain
  measure tuned -tuned
} >"$TMP/figures.txt"

python3 - "$N" "$TARGET_KIB" "$OUT" "$TMP/figures.txt" <<'PY'
import platform, subprocess, sys
n, target, out, figures = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
go_version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
rows, per = [], {}
for line in open(figures):
    variant, *v = line.split()
    rss0, rss1, heap0, heap1, stack0, stack1 = (int(x) for x in v)
    per[variant] = (rss1 - rss0) / n  # KiB
    rows.append(f"| {variant} | {n:,} | {rss0 / 1024:,.1f} MiB | {rss1 / 1024:,.1f} MiB "
                f"| {per[variant]:,.1f} KiB | {(heap1 - heap0) / n / 1024:,.1f} KiB | {(stack1 - stack0) / n / 1024:,.1f} KiB |")
text = f"""| Server | Idle connections | RSS before | RSS after | RSS per connection | Go heap per connection | Goroutine stacks per connection |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Made by `scripts/ch04-idle-mem.sh {n}` on Linux {platform.release()}, {go_version}.
Each connection has echoed one byte and waits in `Read`. Kernel socket
buffers are not part of the process's RSS.
"""
open(out, "w").write(text)
print(text)
ok = round(per["tuned"], 1) <= target
print(f"ch04-idle-mem: tuned RSS per idle connection {per['tuned']:.1f} KiB, target <= {target} KiB: {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
echo "ch04-idle-mem: wrote $OUT" >&2
