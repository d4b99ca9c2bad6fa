#!/usr/bin/env bash
# Benchmarks of the chapter 4 echo server beside their references, in one run,
# written as the Markdown table the book includes:
#
#   - iperf3, one stream over loopback (if installed): the ceiling for bulk;
#   - the Go benchmarks (go test -bench) against the Go server in-process,
#     buffered and splice, with allocations per echo;
#   - the same benchmark client against servers in their own processes: the
#     Go program (plain and -tuned), the C epoll reference
#     (ch04-echo/cref/epoll_echo.c, built with cc -O2 when cc is present) and
#     each Python model. Rounds are interleaved (every server once per round),
#     so that a busy moment on the machine hits all of them alike.
#
# It prints PASS or FAIL for each target the page states (Go server against
# the C reference, 2 cores): ping-pong 64 B over 50 connections at >= 1.2x the
# C reference's echoes/s, bulk echo at >= 1.0x its throughput.
#
# It also measures where the CPU goes in the 50-connection ping-pong (each
# server's and the client's cores, and CPU per echo) into OUTPUT-cpu.md:
# the client shares the 2 cores, which caps every server's rate.
#
# Usage: scripts/ch04-bench.sh [output.md]   (default ch04-echo/testdata/bench.md)
# BENCHTIME=1s sets each benchmark's duration and COUNT=5 the rounds; the
# table shows medians. Run it on an otherwise idle machine. Exits 1 if a
# target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-ch04-echo/testdata/bench.md}
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-5}
IPERF_SECONDS=${IPERF_SECONDS:-3}
command -v python3 >/dev/null || { echo "ch04-bench: python3 not found" >&2; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

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

if command -v iperf3 >/dev/null; then
  echo "ch04-bench: iperf3, one stream, ${IPERF_SECONDS}s" >&2
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  iperf3 -s -1 -B 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
  PIDS+=($!)
  # Wait until it listens (a probing connection would use up the one-off server).
  HEXPORT=$(printf '%04X' "$PORT")
  for _ in $(seq 100); do grep -q ":$HEXPORT 00000000:0000 0A" /proc/net/tcp && break; sleep 0.1; done
  iperf3 -c 127.0.0.1 -p "$PORT" -t "$IPERF_SECONDS" -J >"$TMP/iperf.json" \
    || { echo "ch04-bench: iperf3 failed:" >&2; cat "$TMP/iperf.json" >&2; exit 1; }
else
  echo "ch04-bench: iperf3 not found (scripts/install-tools.sh installs it): no iperf3 row" >&2
fi

echo "ch04-bench: Go benchmarks, in-process server, -benchtime $BENCHTIME" >&2
go test ./ch04-echo -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" | tee "$TMP/inproc.txt" >&2

# The servers in their own processes, all started before the first round.
go build -o "$TMP/ch04-echo" ./ch04-echo
go test -c -o "$TMP/ch04.test" ./ch04-echo
SERVERS=(go go-tuned)
declare -A SPID # server -> its process id, for its CPU time
"$TMP/ch04-echo" serve -addr 127.0.0.1:0 2>"$TMP/go.log" &
PIDS+=($!); SPID[go]=$!
"$TMP/ch04-echo" serve -addr 127.0.0.1:0 -tuned 2>"$TMP/go-tuned.log" &
PIDS+=($!); SPID[go-tuned]=$!
if command -v cc >/dev/null; then
  cc -O2 -o "$TMP/epoll_echo" ch04-echo/cref/epoll_echo.c
  "$TMP/epoll_echo" 127.0.0.1 0 2>"$TMP/c.log" &
  PIDS+=($!); SPID[c]=$!
  SERVERS+=(c)
else
  echo "ch04-bench: cc not found: skipping the C reference (and the targets against it)" >&2
fi
for model in threads selectors asyncio; do
  python3 -u python/ch04_echo.py serve --model "$model" --addr 127.0.0.1:0 2>"$TMP/py-$model.log" &
  PIDS+=($!); SPID[py-$model]=$!
  SERVERS+=("py-$model")
done
declare -A ADDR
for s in "${SERVERS[@]}"; do ADDR[$s]=$(wait_listening "$TMP/$s.log"); done

# The servers log every connection: the benchmark opens few, so it measures
# echoing, not logging.
for round in $(seq "$COUNT"); do
  for s in "${SERVERS[@]}"; do
    echo "ch04-bench: round $round/$COUNT, server $s" >&2
    ECHO_ADDR=${ADDR[$s]} "$TMP/ch04.test" -test.run '^$' -test.bench 'PingPong64|Bulk/copy=buffer' \
      -test.benchtime "$BENCHTIME" | tee -a "$TMP/$s.txt" >&2
  done
done

# Where the CPU goes in the 50-connection ping-pong: the client and the
# server share the 2 cores, so a server's rate also depends on how much CPU
# it leaves the client. cpu.py runs the client alone on that benchmark and
# writes the cores each side used (CPU seconds / wall seconds).
cat >"$TMP/cpu.py" <<'CPU'
import json, os, resource, subprocess, sys, time
out, pid, addr, test, benchtime = sys.argv[1:]
def ticks():  # the server's user + system CPU time, in clock ticks
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
t0, w0 = ticks(), time.monotonic()
bench = subprocess.run([test, "-test.run", "^$", "-test.bench", "PingPong64/conns=50", "-test.benchtime", benchtime],
                       env={**os.environ, "ECHO_ADDR": addr}, capture_output=True, text=True, check=True).stdout
wall = time.monotonic() - w0
server = (ticks() - t0) / os.sysconf("SC_CLK_TCK")
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
rate = float(bench.split(" echoes/s")[0].split()[-1])
with open(out, "a") as f:
    f.write(json.dumps({"server_cores": server / wall, "client_cores": (ru.ru_utime + ru.ru_stime) / wall, "echoes": rate}) + "\n")
CPU
for round in $(seq "$COUNT"); do
  for s in go go-tuned c py-selectors; do
    [ -n "${SPID[$s]:-}" ] || continue
    echo "ch04-bench: CPU round $round/$COUNT, server $s" >&2
    python3 "$TMP/cpu.py" "$TMP/$s.cpu" "${SPID[$s]}" "${ADDR[$s]}" "$TMP/ch04.test" "$BENCHTIME"
  done
done

rc=0
python3 - "$TMP" "$OUT" "$BENCHTIME" "$COUNT" "$IPERF_SECONDS" "${SERVERS[@]}" <<'PY' || rc=$?
import json, os, platform, re, statistics, subprocess, sys
tmp, out, benchtime, count, iperf_s, *servers = sys.argv[1:]
TARGETS = [  # (benchmark, unit, at least this times the C reference's figure)
    ("PingPong64/conns=50", "echoes/s", 1.2),
    ("Bulk/copy=buffer", "MB/s", 1.0),
]
NAMES = {"go": "Go", "go-tuned": "Go, -tuned", "c": "C epoll reference",
         "py-threads": "Python threads", "py-selectors": "Python selectors", "py-asyncio": "Python asyncio"}

def runs_of(path):
    """Each benchmark's figures, run by run (round by round, in order)."""
    runs = {}
    for line in open(path):
        m = re.match(r"Benchmark(\S+?)(-\d+)?\s+\d+\s+(.*)", line)
        if not m:
            continue
        for num, unit in re.findall(r"([\d.]+) (\S+)", m.group(3)):
            runs.setdefault(m.group(1), {}).setdefault(unit, []).append(float(num))
    return runs

def parse(path):
    """Median of each benchmark's figures over its runs."""
    return {name: {u: statistics.median(v) for u, v in units.items()} for name, units in runs_of(path).items()}

def mib_s(mb_s):  # go test reports MB/s = 10^6 bytes/s
    return mb_s * 1e6 / (1 << 20)

iperf_mib = None
if os.path.exists(os.path.join(tmp, "iperf.json")):
    iperf = json.load(open(os.path.join(tmp, "iperf.json")))
    iperf_mib = iperf["end"]["sum_received"]["bits_per_second"] / 8 / (1 << 20)

def bulk(r):
    pct = f" ({100 * mib_s(r['MB/s']) / iperf_mib:.0f}% of iperf3)" if iperf_mib else ""
    return f"{mib_s(r['MB/s']):,.0f} MiB/s{pct}"

lines = ["| Benchmark | Server | Result | vs C |", "|---|---|---|---|"]
if iperf_mib:
    lines.append(f"| Bulk, one stream (reference) | iperf3 over loopback, {iperf_s} s | {iperf_mib:,.0f} MiB/s | |")
inproc = parse(os.path.join(tmp, "inproc.txt"))
for mode in ("buffer", "splice"):
    if r := inproc.get(f"Bulk/copy={mode}"):
        lines.append(f"| Bulk echo, 64 KiB writes | Go, in-process, copy={mode} | {bulk(r)} | |")
for conns in (1, 50):
    if r := inproc.get(f"PingPong64/conns={conns}"):
        lines.append(f"| Ping-pong 64 B, {conns} conn{'s' if conns > 1 else ''} | Go, in-process "
                     f"| {r['echoes/s']:,.0f} echoes/s, {r['allocs/op']:.0f} allocs/op | |")
own = {s: parse(os.path.join(tmp, f"{s}.txt")) for s in servers}
c = own.get("c", {})
ratios = {}
for bench, label, unit in (("PingPong64/conns=1", "Ping-pong 64 B, 1 conn", "echoes/s"),
                           ("PingPong64/conns=50", "Ping-pong 64 B, 50 conns", "echoes/s"),
                           ("Bulk/copy=buffer", "Bulk echo, 64 KiB writes", "MB/s")):
    for s in servers:
        r = own[s].get(bench)
        if not r:
            continue
        result = f"{r[unit]:,.0f} echoes/s" if unit == "echoes/s" else bulk(r)
        vs = ""
        if bench in c:
            ratios[(bench, s)] = r[unit] / c[bench][unit]
            vs = f"{ratios[(bench, s)]:.2f}×"
        lines.append(f"| {label} | {NAMES[s]} | {result} | {vs} |")

# How much a ratio moves from round to round: each round ran every server
# once, so round i of a server is compared with round i of the C reference.
# The ratio of the medians always lies within the rounds' range.
def round_range(bench, s, unit):
    mine = runs_of(os.path.join(tmp, f"{s}.txt"))[bench][unit]
    ref = runs_of(os.path.join(tmp, "c.txt"))[bench][unit]
    per_round = [a / b for a, b in zip(mine, ref)]
    return min(per_round), max(per_round)

verdicts, failed = [], False
for bench, unit, want in TARGETS:
    if "c" not in servers:
        verdicts.append(f"- {bench}: no C reference (cc not found), not checked")
        continue
    for s in ("go", "go-tuned"):
        got = ratios[(bench, s)]
        ok = round(got, 2) >= want
        failed |= s == "go" and not ok
        lo, hi = round_range(bench, s, unit)
        verdicts.append(f"- {NAMES[s]}, {bench}: ≥ {want:.1f}× the C reference: {got:.2f}× "
                        f"(rounds {lo:.2f}×–{hi:.2f}×), {'PASS' if ok else 'FAIL'}")

go_version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
text = ("\n".join(lines) + "\n\nTargets, on 2 cores (the script checks them on the `Go` server; `-tuned` is shown for comparison). "
        "In brackets, the lowest and the highest of the rounds' ratios: each round runs every server once, "
        "and a verdict whose range straddles the target is noise, not a ranking.\n\n"
        + "\n".join(verdicts) + "\n\n"
        f"Made by `COUNT={count} BENCHTIME={benchtime} scripts/ch04-bench.sh`: medians of {count} interleaved rounds, "
        f"on {os.cpu_count()} CPUs, Linux {platform.release()}, {go_version}, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f} when it finished. The client shares the machine with the servers, "
        "so it takes part of the CPU it measures.\n")
open(out, "w").write(text)
print(text)

# Where the CPU goes, from cpu.py's runs: medians per server.
cpu = {}
for s in servers:
    path = os.path.join(tmp, f"{s}.cpu")
    if os.path.exists(path):
        runs = [json.loads(l) for l in open(path)]
        cpu[s] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
if cpu:
    # Four narrow columns: the table must fit a phone's width.
    rows = ["| Server | Echoes/s | Server µs/echo | Client µs/echo |", "|---|---|---|---|"]
    for s, m in cpu.items():
        rows.append(f"| {NAMES[s]} | {m['echoes']:,.0f} | {1e6 * m['server_cores'] / m['echoes']:.1f} "
                    f"| {1e6 * m['client_cores'] / m['echoes']:.1f} |")
    ncpu = os.cpu_count()
    # The client's cheapest echo: even a server that cost nothing leaves the
    # client at most all the cores.
    best = min(cpu, key=lambda s: cpu[s]["client_cores"] / cpu[s]["echoes"])
    per_echo = cpu[best]["client_cores"] / cpu[best]["echoes"]
    ceiling = ncpu / per_echo
    note = (f"\nThe client's cheapest echo (against {NAMES[best]}) cost {1e6 * per_echo:.1f} µs of CPU: "
            f"on {ncpu} cores it can drive at most {ceiling:,.0f} echoes/s, however little the server costs")
    if "c" in cpu:
        note += f", {ceiling / cpu['c']['echoes']:.2f}× the C reference's {cpu['c']['echoes']:,.0f}"
    busiest = max(m["server_cores"] + m["client_cores"] for m in cpu.values())
    note += (f". Client and server together used at most {busiest:.2f} of the {ncpu} cores. "
             f"Made by the same run of `scripts/ch04-bench.sh`: the 50-connection ping-pong alone, "
             f"{count} interleaved rounds, medians; a process's CPU is its user + system time, per echo.\n")
    cpu_text = "\n".join(rows) + "\n" + note
    cpu_out = out[:-3] + "-cpu.md" if out.endswith(".md") else out + "-cpu"
    open(cpu_out, "w").write(cpu_text)
    print(cpu_text)
sys.exit(1 if failed else 0)
PY
echo "ch04-bench: wrote $OUT" >&2
exit "$rc"
