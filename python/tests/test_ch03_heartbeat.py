"""Tests of the Python heartbeat counterpart, alone and against the Go program."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
from conftest import PYTHON_DIR, Server, start_server

import ch03_heartbeat as hb

SCRIPT = str(PYTHON_DIR / "ch03_heartbeat.py")


def test_reply() -> None:
    assert hb.reply("PING") == "PONG"
    assert hb.reply("PING 42") == "PONG 42"
    assert hb.reply("PING 42\r") == "PONG 42"
    assert hb.reply("ping") == "ERR unknown command"
    assert hb.reply("") == "ERR unknown command"


@pytest.mark.exercise("exercise-backoff-py")
def test_backoff_doubles_caps_and_jitters() -> None:
    low = [hb.backoff_delay(n, 0.01, 0.08, rand=lambda: 0.0) for n in range(6)]
    assert low == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.04, 0.04])
    assert hb.backoff_delay(10_000, 0.01, 0.08, rand=lambda: 0.999999) == pytest.approx(0.08)
    for _ in range(100):
        assert 0.02 <= hb.backoff_delay(2, 0.01, 0.08) < 0.04


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


@pytest.mark.exercise("exercise-reply")  # the Go server answers with reply
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


def test_server_drops_silent_client(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch03_heartbeat.py", "serve", "--interval", "30ms", "--misses", "2")
    with socket.create_connection(srv.host_port, timeout=10) as s:
        assert s.recv(1) == b"", "the server must close a client silent for 2 intervals"
    # The server logs before it closes; our reader thread may lag behind.
    deadline = time.monotonic() + 10
    while not any("peer dead" in line for line in srv.lines):
        assert time.monotonic() < deadline, "".join(srv.lines)
        time.sleep(0.01)


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
