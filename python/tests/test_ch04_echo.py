"""Tests of the chapter 4 echo server's Python counterparts, over real sockets.

The full rubric (16 MiB streams, 500 clients, back-pressure) runs from Go:
``go test ./ch04-echo -run ConformancePython``. These tests check the same
rules quickly and the Python client, also against the Go server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Server

SCRIPT = str(Path(__file__).resolve().parent.parent / "ch04_echo.py")
MODELS = ["threads", "selectors", "asyncio"]


def connect(server: Server) -> socket.socket:
    s = socket.create_connection(server.host_port, timeout=10)
    s.settimeout(10)
    return s


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def recv_to_eof(s: socket.socket) -> bytes:
    buf = bytearray()
    while chunk := s.recv(65536):
        buf += chunk
    return bytes(buf)


@pytest.mark.parametrize("model", MODELS)
def test_echoes_all_byte_values(python_server: Callable[..., Server], model: str) -> None:
    server = python_server("ch04_echo.py", "serve", "--model", model)
    with connect(server) as s:
        data = bytes(range(256))
        s.sendall(data)
        assert recv_exactly(s, len(data)) == data


@pytest.mark.parametrize("model", MODELS)
def test_half_close_echoes_everything_then_closes(
    python_server: Callable[..., Server], model: str
) -> None:
    server = python_server("ch04_echo.py", "serve", "--model", model)
    data = os.urandom(1 << 20)
    with connect(server) as s:
        # Send from a thread while reading here: sending 1 MiB before reading
        # would deadlock once both sides' buffers are full.
        def send() -> None:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        got = recv_to_eof(s)
        t.join()
    assert got == data


@pytest.mark.parametrize("model", MODELS)
def test_serves_many_clients_at_once(python_server: Callable[..., Server], model: str) -> None:
    server = python_server("ch04_echo.py", "serve", "--model", model)
    socks = [connect(server) for _ in range(50)]  # all open together
    try:
        for i, s in enumerate(socks):
            s.sendall(f"client {i}".encode())
        for i, s in enumerate(socks):
            want = f"client {i}".encode()
            assert recv_exactly(s, len(want)) == want
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("model", MODELS)
def test_sigterm_exits_zero(python_server: Callable[..., Server], model: str) -> None:
    server = python_server("ch04_echo.py", "serve", "--model", model)
    with connect(server) as s:
        s.sendall(b"x")
        assert recv_exactly(s, 1) == b"x"
    assert server.stop() == 0  # no client left: nothing to drain
    assert any("msg=stopped" in line for line in server.lines)


@pytest.mark.parametrize("model", MODELS)
def test_sigterm_drains_open_clients(python_server: Callable[..., Server], model: str) -> None:
    server = python_server("ch04_echo.py", "serve", "--model", model)
    with connect(server) as s:
        s.sendall(b"a")
        assert recv_exactly(s, 1) == b"a"
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for("msg=draining")
        # New clients are refused, but this one is still served...
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(server.host_port, timeout=5).close()
        s.sendall(b"still here")
        assert recv_exactly(s, 10) == b"still here"
        # ...until it leaves; then the server exits at once, with status 0.
        s.shutdown(socket.SHUT_WR)
        assert recv_to_eof(s) == b""
    assert server.proc.wait(10) == 0
    assert "msg=stopped" in server.output()
    assert "drain timeout" not in server.output()


@pytest.mark.parametrize("model", MODELS)
def test_drain_timeout_closes_silent_clients(
    python_server: Callable[..., Server], model: str
) -> None:
    server = python_server("ch04_echo.py", "serve", "--model", model, "--drain-timeout", "0.3")
    with connect(server) as s:
        s.sendall(b"a")
        assert recv_exactly(s, 1) == b"a"
        server.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(1) == b"", "the server closes a client still open after the drain"
    assert server.proc.wait(10) == 0
    assert "drain timeout" in server.wait_for("msg=stopped")


@pytest.mark.exercise("exercise-client-halfclose-py")
def test_client_prints_the_echo(python_server: Callable[..., Server]) -> None:
    server = python_server("ch04_echo.py", "serve")
    out = subprocess.run(
        [sys.executable, SCRIPT, "client", "--addr", server.addr, "--msg", "hello, echo"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout == "hello, echo\n"


@pytest.mark.exercise("exercise-client-halfclose-py")
def test_client_sends_stdin_against_go_server(go_server: Callable[..., Server]) -> None:
    server = go_server("./ch04-echo", "serve")
    data = os.urandom(300_000)
    out = subprocess.run(
        [sys.executable, SCRIPT, "client", "--addr", server.addr],
        input=data,
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert out.stdout == data


def test_bad_address_is_a_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, SCRIPT, "serve", "--addr", "nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "bad address" in out.stderr


@pytest.mark.parametrize("model", MODELS)
def test_idle_timeout_closes_silent_client(
    python_server: Callable[..., Server], model: str
) -> None:
    server = python_server("ch04_echo.py", "serve", "--model", model, "--idle-timeout", "0.3")
    with connect(server) as busy, connect(server) as silent:
        busy.sendall(b"x")
        assert recv_exactly(busy, 1) == b"x"
        assert silent.recv(1) == b""  # closed by the server, well before our 10 s timeout
    # The log line is read from the server's stderr by another thread: poll.
    deadline = time.monotonic() + 10
    while not any("reason=idle" in line for line in server.lines):
        assert time.monotonic() < deadline, "no close line with reason=idle"
        time.sleep(0.01)
