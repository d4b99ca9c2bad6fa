"""Tests of python/ch02_tcp_server.py, and its interop with the Go program."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
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
        with contextlib.suppress(ch02.LineTooLong):
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


def test_crlf_empty_and_unterminated_last_line() -> None:
    assert run_handler([b"telnet\r\n\nlast"]) == b"echo: telnet\necho: \necho: last\n"


# The page's number, written out: the tests must not follow the constant.
PAGE_LIMIT = 65536


@pytest.mark.parametrize("chunked", [False, True])
def test_a_line_of_64_kib_is_answered(chunked: bool) -> None:
    line = b"x" * PAGE_LIMIT
    chunks = [line[i : i + 1000] for i in range(0, len(line), 1000)] if chunked else [line]
    out = run_handler([*chunks, b"\nafter\n"])
    assert out == b"echo: " + line + b"\necho: after\n"


@pytest.mark.parametrize("tail", [b"", b"\n"])
def test_a_line_over_64_kib_is_refused(tail: bytes) -> None:
    # One byte over the limit, with its "\n" or still waiting for it.
    out = run_handler([b"x" * (PAGE_LIMIT + 1) + tail], half_close=False)
    assert out == b"error: line too long\n"


def test_too_long_closes_with_its_reason(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch02_tcp_server.py")
    with socket.create_connection(srv.host_port, timeout=TIMEOUT) as conn:
        conn.sendall(b"ok\n" + b"x" * (PAGE_LIMIT + 1) + b"\n")
        # The server closes with part of the long line unread: its kernel may
        # answer with a reset after the error line instead of a FIN.
        got = b""
        with contextlib.suppress(ConnectionResetError):
            while data := conn.recv(4096):
                got += data
        assert got == b"echo: ok\nerror: line too long\n"
    log = srv.wait_for("reason=too_long")
    assert 'lines=1 reason=too_long err="line longer than 65536 bytes"' in log


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


def slow_replies(replies: list[bytes]) -> tuple[tuple[str, int], threading.Thread]:
    """A server that reads until the client's FIN, then sends each reply in a
    send of its own, 50 ms apart: one recv() cannot see them all."""
    ln = socket.create_server(("127.0.0.1", 0))
    ln.settimeout(TIMEOUT)

    def serve() -> None:
        with ln, ln.accept()[0] as conn:
            conn.settimeout(TIMEOUT)
            while conn.recv(4096):
                pass
            for r in replies:
                conn.sendall(r + b"\n")
                time.sleep(0.05)

    t = threading.Thread(target=serve)
    t.start()
    return ln.getsockname(), t


@pytest.mark.exercise("exercise-pipeline-py")
def test_pipeline_reads_every_reply(python_server: Callable[..., Server]) -> None:
    srv = python_server("ch02_tcp_server.py")
    lines = [f"line {i}".encode() for i in range(200)] + [b"", b"a\rb", b"last"]
    replies = ch02.pipeline(srv.addr, lines, TIMEOUT)
    assert replies == [b"echo: " + line for line in lines]
    assert ch02.pipeline(srv.addr, [], TIMEOUT) == []


@pytest.mark.exercise("exercise-pipeline-py")
def test_pipeline_reads_until_the_servers_fin() -> None:
    addr, t = slow_replies([b"one", b"two", b"three"])
    try:
        assert ch02.pipeline(f"{addr[0]}:{addr[1]}", [b"a", b"b", b"c"], TIMEOUT) == [
            b"one",
            b"two",
            b"three",
        ]
    finally:
        t.join(TIMEOUT)


@pytest.mark.exercise("exercise-pipeline-py")
def test_pipeline_against_the_go_server(go_server: Callable[..., Server]) -> None:
    srv = go_server("./ch02-tcp-basics", "serve")
    assert ch02.pipeline(srv.addr, [b"from", b"python"], TIMEOUT) == [
        b"echo: from",
        b"echo: python",
    ]
    assert srv.stop() == 0
