#!/usr/bin/env bash
# Memory per idle connection of the chapter 4 echo server: start the server,
# open N connections from a second process (`ch04-echo hold`; each side needs
# N file descriptors, so one process could not hold both ends of 10,000), and
# compare the server's resident memory (VmRSS) before and after. The Go
# runtime's own view (heap and stacks, from /debug/vars) is reported too.
#
# The server runs with its default flags (idle timeout on), no connection limit.
# Usage: scripts/ch04-idle-mem.sh [N] [output.md]
#        (default 10000 and ch04-echo/testdata/idle-mem.md). Linux only (/proc).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
OUT=${2:-ch04-echo/testdata/idle-mem.md}
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

"$TMP/ch04-echo" serve -addr 127.0.0.1:0 -max-conns 0 -debug-addr 127.0.0.1:0 2>"$TMP/server.log" &
SERVER=$!
PIDS+=("$SERVER")
addr=$(field addr "$(wait_for "$TMP/server.log" 'msg=listening')")
dbg=$(field addr "$(wait_for "$TMP/server.log" 'msg="debug listening"')")
read -r heap_before stack_before _ < <(vars "$dbg")
rss_before=$(rss_kib "$SERVER")

echo "ch04-idle-mem: opening $N connections to $addr" >&2
"$TMP/ch04-echo" hold -addr "$addr" -conns "$N" 2>"$TMP/hold.log" &
PIDS+=($!)
wait_for "$TMP/hold.log" 'msg=holding' >/dev/null
read -r heap_after stack_after open < <(vars "$dbg")
rss_after=$(rss_kib "$SERVER")
[ "$open" = "$N" ] || { echo "ch04-idle-mem: server reports $open open connections, want $N" >&2; exit 1; }

python3 - "$N" "$rss_before" "$rss_after" "$heap_before" "$heap_after" "$stack_before" "$stack_after" "$OUT" <<'PY'
import os, platform, subprocess, sys
n, rss0, rss1, heap0, heap1, stack0, stack1 = (int(x) for x in sys.argv[1:8])
out = sys.argv[8]
per_rss = (rss1 - rss0) * 1024 / n
per_heap = (heap1 - heap0) / n
per_stack = (stack1 - stack0) / n
go_version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
text = f"""| Idle connections | Server RSS before | Server RSS after | RSS per connection | Go heap per connection | Goroutine stacks per connection |
|---|---|---|---|---|---|
| {n:,} | {rss0 / 1024:,.1f} MiB | {rss1 / 1024:,.1f} MiB | {per_rss / 1024:,.1f} KiB | {per_heap / 1024:,.1f} KiB | {per_stack / 1024:,.1f} KiB |

Measured by `scripts/ch04-idle-mem.sh {n}` on Linux {platform.release()}, {go_version}.
Each connection has echoed one byte and waits in `Read`. Kernel socket
buffers are not part of the process's RSS.
"""
open(out, "w").write(text)
print(text)
PY
echo "ch04-idle-mem: wrote $OUT" >&2
