"""Tests of python/ch01_overview.py, the same behaviour as the Go chapter."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
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


def read_all(s: socket.socket) -> bytes:
    """Everything the server sends until it closes."""
    reply = b""
    while chunk := s.recv(65536):
        reply += chunk
    return reply


def test_line_limit(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve", "--max-line", "16")
    with connect(srv) as s:
        s.sendall(b"b" * 40 + b"\n")
        assert read_all(s) == b"error: line longer than 16 bytes; closing\n"
    with connect(srv) as s:
        s.sendall(b"a" * 16 + b"\n")
    srv.wait_for("Received: " + "a" * 16)


def test_line_limit_counts_the_cr(python_server: Callable[..., Server]) -> None:
    """The limit counts every byte before the "\\n", the "\\r" too, as in Go."""
    srv = python_server(SCRIPT, "serve", "--max-line", "16")
    with connect(srv) as s:
        s.sendall(b"a" * 15 + b"\r\n")
        srv.wait_for("Received: " + "a" * 15 + "\n")
    with connect(srv) as s:
        s.sendall(b"b" * 16 + b"\r\n")
        assert read_all(s) == b"error: line longer than 16 bytes; closing\n"


def test_linger_is_bounded(python_server: Callable[..., Server]) -> None:
    """A client that trickles bytes after its line was refused cannot hold
    the connection: the 2 s bound the whole lingering close, not each recv."""
    srv = python_server(SCRIPT, "serve", "--max-line", "16")
    with connect(srv) as s:
        s.sendall(b"b" * 17 + b"\n")
        assert s.recv(1024).startswith(b"error: ")
        refused = time.monotonic()
        while time.monotonic() - refused < 6:
            time.sleep(0.1)  # the trickle: the client's behaviour under test
            try:
                s.sendall(b"x")
            except OSError:
                took = time.monotonic() - refused
                assert 1 < took < 4, f"closed {took:.1f} s after the refusal, want about 2 s"
                return
        pytest.fail("after 6 s the server still read our trickle: the linger must be bounded")


def test_idle_timeout_zero_means_never(python_server: Callable[..., Server]) -> None:
    srv = python_server(SCRIPT, "serve", "--idle-timeout", "0")
    with connect(srv) as s:
        time.sleep(0.3)  # silence: the behaviour under test
        s.sendall(b"still here\n")
        srv.wait_for("Received: still here")
    assert "reason=idle" not in srv.output()


@pytest.mark.exercise("exercise-quit-py")
def test_quit_says_goodbye(python_server: Callable[..., Server]) -> None:
    """QUIT gets "bye" and the server's FIN, even from a client that sent a
    lot after it; the server keeps reading (a lingering close), so a client
    still talking a little later is not reset, and the end is clean."""
    srv = python_server(SCRIPT, "serve")
    more = b"more after QUIT\n" * (16 << 10)  # 256 KiB the server never prints
    with connect(srv) as s:
        s.sendall(b"one\nQUIT\n" + more)
        assert read_all(s) == b"bye\n"
        time.sleep(0.05)  # still talking a little later: the behaviour under test
        s.sendall(more[: 64 << 10])  # a server that had closed would reset us
        s.shutdown(socket.SHUT_WR)
        srv.wait_for("reason=quit")
        assert s.recv(1) == b"", "a clean end, not a reset"
    out = srv.output()
    assert "Received: one\n" in out
    assert "Received: more" not in out
    assert "lines=1 reason=quit" in out


@pytest.mark.exercise("exercise-quit-py")
@pytest.mark.parametrize("line", [b"quit", b"Quit", b"QUIT\r"])
def test_quit_in_any_case(python_server: Callable[..., Server], line: bytes) -> None:
    srv = python_server(SCRIPT, "serve")
    with connect(srv) as s:
        s.sendall(line + b"\n")
        assert read_all(s) == b"bye\n"


@pytest.mark.exercise("exercise-quit-py")
@pytest.mark.parametrize("line", [b"QUITE", b"QUIT now", b" QUIT"])
def test_quit_is_the_whole_line(python_server: Callable[..., Server], line: bytes) -> None:
    srv = python_server(SCRIPT, "serve")
    with connect(srv) as s:
        s.sendall(line + b"\n")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"", "an ordinary line gets no reply"
    srv.wait_for(f"Received: {line.decode()}\n")


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
