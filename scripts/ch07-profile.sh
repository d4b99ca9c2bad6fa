#!/usr/bin/env bash
# Produces the figures of the pprof walkthrough in docs/src/ch07-bench.md:
# the reference echo server runs in its own process with -debug-addr, the
# generator loads it for a few seconds while pprof takes a CPU profile of the
# server over HTTP and the generator writes its own with -cpuprofile.
#
#   scripts/ch07-profile.sh [OUTDIR]     (default docs/src/ch07-bench)
#
# Everything listens on 127.0.0.1 port 0; nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/src/ch07-bench}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/ch07-bench" ./ch07-bench
"$tmp/ch07-bench" echo -addr 127.0.0.1:0 -debug-addr 127.0.0.1:0 2>"$tmp/server.log" &
srv=$!
for _ in $(seq 100); do grep -q 'msg=listening' "$tmp/server.log" && break; sleep 0.1; done
addr=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$tmp/server.log")
debug=$(sed -n 's/.*msg="debug listening" addr=\([^ ]*\).*/\1/p' "$tmp/server.log")
[ -n "$addr" ] && [ -n "$debug" ] || { cat "$tmp/server.log"; echo "server did not start" >&2; exit 1; }

# The server's profile is taken over HTTP while the load runs (4 s inside 6 s).
curl -s -o "$tmp/server.prof" "http://$debug/debug/pprof/profile?seconds=4" &
prof=$!
"$tmp/ch07-bench" run -addr "$addr" -mode pingpong -conns 50 -size 64 -warmup 1s -duration 5s \
  -pid "$srv" -cpuprofile "$tmp/client.prof" >"$tmp/run.txt"
wait $prof

strip() { grep -v -E '^(File|Build ID|Time|Type):' | sed "s#$PWD/##g"; }
{
  echo "\$ ch07-bench run -addr $addr -mode pingpong -conns 50 -size 64 -warmup 1s -duration 5s -pid PID -cpuprofile client.prof"
  cat "$tmp/run.txt"
} | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g' >"$out/pprof-run.txt"
go tool pprof -top -nodecount 15 "$tmp/ch07-bench" "$tmp/server.prof" 2>/dev/null | strip >"$out/pprof-server-top.txt"
go tool pprof -top -nodecount 15 "$tmp/ch07-bench" "$tmp/client.prof" 2>/dev/null | strip >"$out/pprof-client-top.txt"
go tool pprof -list 'EchoServer..handle$' "$tmp/ch07-bench" "$tmp/server.prof" 2>/dev/null | strip >"$out/pprof-server-list.txt"
echo "ch07-profile: wrote pprof-run.txt, pprof-server-top.txt, pprof-client-top.txt, pprof-server-list.txt in $out" >&2
