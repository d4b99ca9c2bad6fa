"""Tests of the Python heartbeat counterpart, alone and against the Go program."""

from __future__ import annotations

import json
import queue
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import PYTHON_DIR, Server, start_server

import ch03_heartbeat as hb

SCRIPT = str(PYTHON_DIR / "ch03_heartbeat.py")
VECTORS = PYTHON_DIR.parent / "ch03-listen-accept" / "testdata" / "srtt.json"


def test_reply() -> None:
    assert hb.reply("PING") == "PONG"
    assert hb.reply("PING 42") == "PONG 42"
    assert hb.reply("PING 42\r") == "PONG 42"
    assert hb.reply("ping") == "ERR unknown command"
    assert hb.reply("") == "ERR unknown command"


def test_backoff_doubles_caps_and_jitters() -> None:
    low = [hb.backoff_delay(n, 0.01, 0.08, rand=lambda: 0.0) for n in range(6)]
    assert low == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.04, 0.04])
    assert hb.backoff_delay(10_000, 0.01, 0.08, rand=lambda: 0.999999) == pytest.approx(0.08)
    for _ in range(100):
        assert 0.02 <= hb.backoff_delay(2, 0.01, 0.08) < 0.04


@pytest.mark.exercise("exercise-srtt-py")
@pytest.mark.parametrize("case", json.loads(VECTORS.read_text())["cases"], ids=lambda c: c["about"])
def test_rtt_estimator(case: dict[str, list[float]]) -> None:
    """The vectors Go's TestRTTEstimator reads: RFC 6298's SRTT and RTTVAR."""
    e = hb.RttEstimator()
    for i, sample in enumerate(case["samples_ms"]):
        e.observe(sample / 1000)
        assert e.srtt * 1000 == pytest.approx(case["srtt_ms"][i], abs=1e-5), f"SRTT after {i + 1}"
        assert e.rttvar * 1000 == pytest.approx(case["rttvar_ms"][i], abs=1e-5), (
            f"RTTVAR after {i + 1}"
        )
    assert e.samples == len(case["samples_ms"])


def test_go_duration() -> None:
    """Durations are logged as the Go program prints them."""
    want = {0: "0s", 0.000231: "231µs", 0.099: "99ms", 0.0012345: "1.234ms", 0.6: "600ms"}
    want |= {3: "3s", 1.5: "1.5s", 15: "15s", 90: "1m30s", 3600: "1h0m0s"}
    for seconds, text in want.items():
        assert hb.go_duration(seconds) == text, seconds


def test_classify() -> None:
    assert hb.classify(ConnectionRefusedError()) == "refused"
    assert hb.classify(ConnectionResetError()) == "reset"
    assert hb.classify(hb.PeerDead()) == "timeout"
    assert hb.classify(hb.Closed()) == "eof"
    assert hb.classify(BrokenPipeError()) == "broken-pipe"


def run_client(addr: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-u", SCRIPT, "client", "--addr", addr, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def test_client_against_python_server(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch03_heartbeat.py", "serve", "--interval", "1s")
    done = run_client(srv.addr, "--interval", "20ms", "--count", "3")
    assert done.returncode == 0, done.stderr
    assert "msg=connected" in done.stderr
    assert "msg=stopped" in done.stderr


def test_client_against_go_server(go_server: Callable[..., Server]) -> None:
    srv = go_server("./ch03-listen-accept", "serve", "-interval", "1s")
    done = run_client(srv.addr, "--interval", "20ms", "--count", "3")
    assert done.returncode == 0, done.stderr


def test_server_answers_lines_split_and_joined(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch03_heartbeat.py", "serve")
    with socket.create_connection(srv.host_port, timeout=10) as s:
        s.sendall(b"PING 1\nPI")
        s.sendall(b"NG\nHELLO\n")
        f = s.makefile("rb")
        want = [b"PONG 1\n", b"PONG\n", b"ERR unknown command\n"]
        assert [f.readline() for _ in range(3)] == want


def wait_line(srv: Server, text: str, timeout: float = 10) -> str:
    """The server's first log line holding text; the server logs before it
    closes, and our reader thread may lag behind."""
    deadline = time.monotonic() + timeout
    while True:
        for line in list(srv.lines):
            if text in line:
                return line
        assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(srv.lines)
        time.sleep(0.01)


def test_server_drops_silent_client(python_server: Callable[..., Server]) -> None:
    """Closed once silent for 2 intervals: not before, not an interval later."""
    srv = python_server("ch03_heartbeat.py", "serve", "--interval", "200ms", "--misses", "2")
    start = time.monotonic()
    with socket.create_connection(srv.host_port, timeout=10) as s:
        assert s.recv(1) == b"", "the server must close a client silent for 2 intervals"
    silent = time.monotonic() - start
    assert 0.4 <= silent < 0.5, f"closed after {silent:.3f}s, want 0.4s plus less than 0.1s"
    line = wait_line(srv, "msg=closed")
    assert "silent_for=400ms reason=dead" in line, line


def test_server_logs_like_go(python_server: Callable[..., Server]) -> None:
    """accepted, a warning for a bad line, closed with reason=eof: the Go
    server's lines (CONTRIBUTING's log vocabulary)."""
    srv = python_server("ch03_heartbeat.py", "serve")
    with socket.create_connection(srv.host_port, timeout=10) as s:
        s.sendall(b"PING 1\nHELLO\n")
        s.shutdown(socket.SHUT_WR)
        assert s.makefile("rb").read() == b"PONG 1\nERR unknown command\n"
    assert "msg=accepted peer=127.0.0.1:" in wait_line(srv, "msg=accepted")
    assert "line=HELLO" in wait_line(srv, 'level=WARN msg="bad line"')
    closed = wait_line(srv, "msg=closed")
    assert "level=INFO" in closed and "reason=eof" in closed and "duration=" in closed, closed


def test_server_line_limit(python_server: Callable[..., Server]) -> None:
    """A line of 1024 bytes, its newline included, is answered; one byte
    more closes the connection (as Go's bufio.Scanner with a 1024-byte cap)."""
    srv = python_server("ch03_heartbeat.py", "serve")
    with socket.create_connection(srv.host_port, timeout=10) as s:
        token = "x" * (1024 - len("PING \n"))
        s.sendall(f"PING {token}\n".encode())
        assert s.makefile("rb").readline() == f"PONG {token}\n".encode()
    with socket.create_connection(srv.host_port, timeout=10) as s:
        s.sendall(b"PING " + b"x" * (1024 - len("PING ")) + b"\n")
        assert s.makefile("rb").read() == b"", "a 1025-byte line closes the connection"
    assert "reason=too_long" in wait_line(srv, "reason=too_long")


class _LineServer(socketserver.ThreadingTCPServer):
    """A fake heartbeat server: answer(line) is written back for each line."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answer: Callable[[str], str]) -> None:
        self.answer = answer
        super().__init__(("127.0.0.1", 0), _LineHandler)


class _LineHandler(socketserver.StreamRequestHandler):
    server: _LineServer

    def handle(self) -> None:
        for raw in self.rfile:
            self.wfile.write(self.server.answer(raw.decode().rstrip("\n")).encode())


@pytest.fixture
def line_server() -> Iterator[Callable[[Callable[[str], str]], str]]:
    servers: list[_LineServer] = []

    def start(answer: Callable[[str], str]) -> str:
        srv = _LineServer(answer)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"127.0.0.1:{srv.server_address[1]}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_client_ignores_unsolicited_pongs(
    line_server: Callable[[Callable[[str], str]], str],
) -> None:
    """PONGs that answer no PING (a token never sent, none at all) do not
    keep the server alive: it is dead after 3 intervals; they are counted,
    and the first is a warning."""
    addr = line_server(lambda line: "PONG 999999\nPONG\n" if line.startswith("PING") else "")
    argv = [sys.executable, "-u", SCRIPT, "client", "--addr", addr, "--interval", "50ms"]
    client = subprocess.Popen([*argv, "--max-backoff", "1h"], stderr=subprocess.PIPE, text=True)
    try:
        assert client.stderr is not None
        lines: list[str] = []
        start = time.monotonic()
        for line in client.stderr:
            lines.append(line)
            if "peer dead" in line or time.monotonic() - start > 20:
                break
    finally:
        client.kill()
        client.wait()
    dead = lines[-1]
    assert "peer dead" in dead, "".join(lines)
    assert "pongs=0" in dead and "unsolicited=" in dead, dead
    warnings = [line for line in lines if 'level=WARN msg="unsolicited pong"' in line]
    assert len(warnings) == 1, "".join(lines)
    assert 'line="PONG 999999"' in warnings[0]


def test_client_counts_duplicate_pongs(
    line_server: Callable[[Callable[[str], str]], str],
) -> None:
    """A server answering each PING twice: the first answers count, the
    second are unsolicited, and --count counts only the first."""

    def twice(line: str) -> str:
        token = line.removeprefix("PING ")
        return f"PONG {token}\nPONG {token}\n"

    c = hb.Client(line_server(twice), interval=0.01, misses=3, count=3, cap=1)
    c.run(threading.Event())
    assert c.pongs == 3
    assert c.unsolicited == 2


def test_client_waits_for_server_restart() -> None:
    # A free port with nobody listening: the client's dials are refused and
    # it backs off until a server appears on that port.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    addr = f"127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    argv = [sys.executable, "-u", SCRIPT, "client", "--addr", addr]
    argv += ["--interval", "50ms", "--count", "1", "--max-backoff", "200ms"]
    client = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        assert client.stderr is not None
        for line in client.stderr:
            lines.put(line)

    threading.Thread(target=reader, daemon=True).start()
    server = None
    try:
        refused = 0
        while refused < 2:
            line = lines.get(timeout=20)
            refused += "reason=refused" in line and "waiting to reconnect" in line
        server = start_server([sys.executable, "-u", SCRIPT, "serve", "--addr", addr])
        assert client.wait(timeout=20) == 0
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        if server is not None:
            server.stop()
