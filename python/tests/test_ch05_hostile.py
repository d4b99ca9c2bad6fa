"""The Python sender against a hostile receiver, and zero meaning "never"
or "no limit" for the twin's limits (as in Go: zero_test.go, hostile_test.go)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PYTHON_DIR, Server

import ch05_filexfer as fx

SCRIPT = str(PYTHON_DIR / "ch05_filexfer.py")
SEND = [sys.executable, SCRIPT, "send"]


def reply(status: str, value: int = 0, msg: bytes = b"") -> bytes:
    code = {v: k for k, v in fx.STATUS_NAME.items()}[status]
    return struct.pack(">BQH", code, value, len(msg)) + msg


def drain(c: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while c.recv(65536):
            pass


def read_header(c: socket.socket) -> fx.Header:
    h = fx.read_header(c.makefile("rb"))
    assert h is not None
    return h


def never(c: socket.socket) -> None:
    drain(c)


def over_long(c: socket.socket) -> None:
    read_header(c)
    c.sendall(struct.pack(">BQH", 0, 0, fx.MAX_MESSAGE_LEN + 1))
    drain(c)


def past_end(c: socket.socket) -> None:
    h = read_header(c)
    c.sendall(reply("READY", h.size + 1))
    drain(c)


def wrong_ok(c: socket.socket) -> None:
    h = read_header(c)
    c.sendall(reply("READY"))
    c.settimeout(1)
    with contextlib.suppress(OSError):
        c.recv(1)
    c.sendall(reply("OK", h.size - 1))
    drain(c)


def dribble(c: socket.socket) -> None:
    read_header(c)
    for b in reply("READY"):
        c.sendall(bytes([b]))
        time.sleep(0.1)


def stall(c: socket.socket) -> None:
    read_header(c)
    c.sendall(reply("READY"))
    time.sleep(4)  # reads nothing more


def escape(c: socket.socket) -> None:
    read_header(c)
    c.sendall(reply("BAD_NAME", 0, b"\x1b[2Jforged"))
    drain(c)


@contextlib.contextmanager
def hostile(act: Callable[[socket.socket], None]) -> Iterator[str]:
    """A receiver on loopback that serves one connection with act."""
    ln = socket.create_server(("127.0.0.1", 0))
    ln.settimeout(10)

    def run() -> None:
        with contextlib.suppress(OSError):
            c, _ = ln.accept()
            with c:
                c.settimeout(10)
                act(c)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield f"127.0.0.1:{ln.getsockname()[1]}"
    finally:
        ln.close()
        t.join(15)


@pytest.mark.parametrize(
    ("act", "want"),
    [
        (never, "timed out|within"),
        (over_long, "reply message length"),
        (past_end, "past the end"),
        (wrong_ok, "receiver committed"),
        (dribble, "timed out|within"),
        (stall, "timed out"),
        (escape, "\\x1b[2Jforged"),
    ],
    ids=[
        "never replies",
        "over-long",
        "offset past end",
        "wrong OK",
        "dribbles",
        "stalls",
        "escape",
    ],
)
def test_sender_survives_hostile_receiver(
    tmp_path: Path, act: Callable[[socket.socket], None], want: str
) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(8 << 20))  # past the socket buffers: a stall blocks writes
    with hostile(act) as addr:
        start = time.monotonic()
        p = subprocess.run(
            [SEND[0], *SEND[1:], "--addr", addr, "--timeout", "300ms", "--retries", "0", str(src)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        took = time.monotonic() - start
    assert p.returncode != 0
    assert "failed name=a.bin " in p.stdout, p.stdout
    assert any(w in p.stdout for w in want.split("|")), p.stdout
    assert "\x1b" not in p.stdout + p.stderr, "a peer's string reached the terminal raw"
    assert took < 4 + 2, f"took {took:.1f}s"  # one Python start-up of slack


def test_dial_failure_has_local_status(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as ln:
        addr = f"127.0.0.1:{ln.getsockname()[1]}"
    src = tmp_path / "a.bin"
    src.write_bytes(b"x")
    p = subprocess.run(
        [sys.executable, SCRIPT, "send", "--addr", addr, "--retries", "0", str(src)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "status=NO_CONNECTION " in p.stdout, p.stdout


def test_zero_limits_mean_never(tmp_path: Path) -> None:
    """max_conns 0: no slots; max_size 0: no size limit; partial_ttl 0: an
    old partial survives; idle_timeout 0: a frame never times out."""
    dest = tmp_path / "dest"
    (dest / fx.PARTIAL_DIR).mkdir(parents=True)
    old = dest / fx.PARTIAL_DIR / "old.part"
    old.write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    rcv = fx.Receiver(dest, 0, 0, 0, 0)
    assert rcv.slots is None
    assert old.exists()
    assert fx.frame_end(0) == float("inf")
    a, b = socket.socketpair()
    with a, b:
        fx.Conn(a, 0).reply(fx.Reply("READY", 0))
        assert a.gettimeout() is None  # 0 means blocking, not non-blocking


def test_zero_idle_timeout_serves_a_slow_sender(
    python_server: Callable[..., Server], tmp_path: Path
) -> None:
    srv = python_server(
        "ch05_filexfer.py", "serve", "--dir", str(tmp_path / "d"), "--idle-timeout", "0"
    )
    host, port = srv.addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as c:
        time.sleep(0.3)  # silent for a while: 0 must not mean "at once"
        data = b"hello"
        c.sendall(fx.encode_header(fx.Header(fx.VERSION, 0, "a.txt", len(data), 1024)))
        rf = c.makefile("rb")
        assert fx.read_reply(rf).status == "READY"
        c.sendall(fx.encode_chunk(data) + fx.encode_end(hashlib.sha256(data).digest()))
        assert fx.read_reply(rf).status == "OK"


def test_sender_refuses_special_files(tmp_path: Path) -> None:
    """A FIFO or a device is refused before anything is opened or dialled."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for p in (str(fifo), os.devnull):
        r = subprocess.run(
            [*SEND, "--addr", "127.0.0.1:1", p], capture_output=True, text=True, timeout=20
        )
        assert r.returncode != 0
        assert "not a regular file or a directory" in r.stderr, r.stderr
