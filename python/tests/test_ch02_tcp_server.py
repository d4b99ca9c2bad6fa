"""Tests of python/ch02_tcp_server.py, and its interop with the Go program."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from conftest import PYTHON_DIR, Server

import ch02_tcp_server as ch02

TIMEOUT = 10.0


def run_handler(chunks: list[bytes], half_close: bool = True) -> bytes:
    """Feed chunks to handle_lines over a socketpair; return all it replied.

    When handle_lines returns, its end is closed (as the server's step 6
    does), so reading until EOF collects every reply.
    """
    a, b = socket.socketpair()
    a.settimeout(TIMEOUT)
    b.settimeout(TIMEOUT)

    def serve() -> None:
        ch02.handle_lines(b)
        b.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=serve)
    t.start()
    try:
        for c in chunks:
            a.sendall(c)
        if half_close:
            a.shutdown(socket.SHUT_WR)
        out = b""
        while data := a.recv(65536):
            out += data
    finally:
        t.join(TIMEOUT)
        a.close()
        b.close()
    return out


def test_one_recv_is_not_one_line() -> None:
    # One line split over three sends, then two lines in one send.
    out = run_handler([b"hel", b"lo wo", b"rld\n", b"a\nb\n"])
    assert out == b"echo: hello world\necho: a\necho: b\n"


@pytest.mark.exercise("exercise-last-line-py")
def test_crlf_empty_and_unterminated_last_line() -> None:
    assert run_handler([b"telnet\r\n\nlast"]) == b"echo: telnet\necho: \necho: last\n"


def test_too_long_line_is_refused() -> None:
    out = run_handler([b"x" * (ch02.MAX_LINE_BYTES + 10)], half_close=False)
    assert out == ch02.TOO_LONG_REPLY


def exchange(addr: tuple[str, int], lines: list[bytes]) -> list[bytes]:
    with socket.create_connection(addr, timeout=TIMEOUT) as conn:
        reader = conn.makefile("rb")
        replies = []
        for line in lines:
            conn.sendall(line + b"\n")
            replies.append(reader.readline())
        return replies


def test_serves_many_clients_at_once(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch02_tcp_server.py")
    # A silent client holds its connection open; the others are still served
    # because each connection has its own thread.
    with socket.create_connection(srv.host_port, timeout=TIMEOUT):
        results: dict[int, list[bytes]] = {}

        def client(i: int) -> None:
            results[i] = exchange(srv.host_port, [f"c{i}".encode(), b"again"])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
    assert len(results) == 20
    for i, replies in results.items():
        assert replies == [f"echo: c{i}\n".encode(), b"echo: again\n"]


def test_sigterm_drains_and_exits_zero(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch02_tcp_server.py")
    conn = socket.create_connection(srv.host_port, timeout=TIMEOUT)
    conn.sendall(b"hi\n")
    assert conn.makefile("rb").readline() == b"echo: hi\n"
    assert srv.stop() == 0
    assert conn.recv(1) == b"", "the idle connection was closed by the server"
    conn.close()
    log = "".join(srv.lines)
    assert "msg=draining open=1 drain_timeout=" in log
    assert "msg=stopped" in log
    for step in ("4 accept", "5 read/write", "6 close"):
        assert f'step="{step}"' in log


def test_listen_error_is_one_sentence() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, str(PYTHON_DIR / "ch02_tcp_server.py"), "--addr", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    assert proc.returncode == 1
    assert "address already in use" in proc.stderr


def run_client(addr: str, stdin: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(PYTHON_DIR / "ch02_tcp_server.py"), "client", "--addr", addr],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_python_client_python_server(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch02_tcp_server.py")
    assert run_client(srv.addr, "a\nb\n") == "echo: a\necho: b\n"


@pytest.mark.parametrize("args", [(), ("-raw",)])
def test_python_client_go_server(go_server: Callable[..., Server], args: tuple[str, ...]) -> None:
    if args and sys.platform != "linux":
        pytest.skip("the raw-syscall server is Linux-only")
    srv = go_server("./ch02-tcp-basics", "serve", *args)
    assert run_client(srv.addr, "from python\n\n") == "echo: from python\necho: \n"
    assert srv.stop() == 0
