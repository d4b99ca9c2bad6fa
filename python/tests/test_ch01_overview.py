"""Tests of python/ch01_overview.py, the same behaviour as the Go chapter."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from conftest import PYTHON_DIR, Server

SCRIPT = "ch01_overview.py"


def connect(server: Server) -> socket.socket:
    s = socket.create_connection(server.host_port, timeout=10)
    return s


def test_prints_each_line_even_when_split(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve")
    with connect(srv) as s:
        for piece in (b"hel", b"lo wor", b"ld\r\nsecond\n", b"no newline"):
            s.sendall(piece)
    srv.wait_for("Received: no newline")
    out = srv.output()
    assert "Received: hello world\n" in out
    assert "Received: second\n" in out
    assert out.count("Received:") == 3


def test_many_clients(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve")

    def one(i: int) -> None:
        with connect(srv) as s:
            s.sendall(b"".join(f"client {i} line {j}\n".encode() for j in range(10)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(30):
        for j in range(10):
            srv.wait_for(f"Received: client {i} line {j}\n")


@pytest.mark.exercise("exercise-linger-py")
def test_line_limit(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve", "--max-line", "16")
    with connect(srv) as s:
        s.sendall(b"b" * 40 + b"\n")
        reply = b""
        while chunk := s.recv(1024):
            reply += chunk
    assert reply == b"error: line longer than 16 bytes; closing\n"
    with connect(srv) as s:
        s.sendall(b"a" * 16 + b"\n")
    srv.wait_for("Received: " + "a" * 16)


def test_idle_timeout(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve", "--idle-timeout", "200ms")
    with connect(srv) as s:
        assert s.recv(1) == b"", "a silent client is disconnected"
    srv.wait_for("reason=idle")


def test_sigterm_drains_and_exits_zero(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve")
    with connect(srv) as s:
        s.sendall(b"before\n")
        srv.wait_for("Received: before")
    assert srv.stop() == 0
    assert "msg=stopped" in srv.output()


def test_client_against_python_server(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve")
    out = subprocess.run(
        [sys.executable, str(PYTHON_DIR / SCRIPT), "client", "--addr", srv.addr, "--msg", "hi"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert out.stdout == b""
    srv.wait_for("Received: hi")


def test_port_in_use_is_a_clear_error(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve")
    out = subprocess.run(
        [sys.executable, str(PYTHON_DIR / SCRIPT), "--addr", srv.addr],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert "address already in use (another server running?" in out.stderr
