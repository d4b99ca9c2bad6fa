"""The Python file transfer counterpart, end to end over loopback: Python
sender to Python receiver, hostile input, resume, and the Go receiver."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PYTHON_DIR, Server

import ch05_filexfer as fx

SCRIPT = str(PYTHON_DIR / "ch05_filexfer.py")


def make_file(path: Path, n: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(n)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def send(addr: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, "send", "--addr", addr, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_python_to_python(python_server: Callable[..., Server], tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(dest))
    src = tmp_path / "src"
    sizes = {"empty": 0, "one": 1, "chunk": 4096, "many": 4096 * 9 + 5}
    want = {name: make_file(src / name, n) for name, n in sizes.items()}
    want["tree/sub/x"] = make_file(src / "tree/sub/x", 10)
    paths = [str(src / n) for n in sizes] + [str(src / "tree")]
    res = send(srv.addr, "--chunk", "4096", *paths)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(res.stdout.splitlines()) == len(want)
    for name, sha in want.items():
        assert digest(dest / name) == sha, name
        assert f"sha256={sha}" in res.stdout

    again = send(srv.addr, str(src / "one"))  # exists: refused, exit 1
    assert again.returncode == 1
    assert "status=EXISTS" in again.stdout
    assert send(srv.addr, "--overwrite", str(src / "one")).returncode == 0


def exchange(addr: tuple[str, int], *frames: bytes) -> list[fx.Reply]:
    """Send raw frames, half-close, read every reply until the server closes."""
    with socket.create_connection(addr, timeout=10) as s:
        for f in frames:
            s.sendall(f)
        s.shutdown(socket.SHUT_WR)
        rf = s.makefile("rb")
        out = []
        while True:
            try:
                out.append(fx.read_reply(rf))
            except ConnectionError:
                return out


def raw_header(name: bytes, size: int, chunk: int = 1024, magic: bytes = b"FXF1") -> bytes:
    b = fx.HEADER_FIXED.pack(magic, 1, 0, len(name), size, chunk) + name
    return b + struct.pack(">I", fx.crc32c(b))


@pytest.mark.parametrize(
    ("frames", "want"),
    [
        ([raw_header(b"../escape", 5)], ["BAD_NAME"]),
        ([raw_header(b"/etc/escape", 5)], ["BAD_NAME"]),
        pytest.param(
            [raw_header(b"a\x00b", 5)],
            ["BAD_NAME"],
            marks=pytest.mark.exercise("exercise-check-name-py"),
        ),
        ([raw_header(b"out/escape", 5)], ["BAD_NAME"]),
        ([raw_header(b"a", 5, magic=b"GET ")], ["BAD_MAGIC"]),
        ([raw_header(b"n" * 2000, 5)], ["BAD_NAME"]),  # refused, then closed: out of step
        ([raw_header(b"a", 5)[:10]], ["BAD_HEADER"]),
        ([raw_header(b"a", 5, chunk=4), fx.encode_chunk(b"hello")], ["READY", "BAD_CHUNK"]),
        (
            [raw_header(b"a", 10), fx.encode_chunk(b"hello"), fx.encode_end(b"\0" * 32)],
            ["READY", "SIZE_MISMATCH"],
        ),
        (
            [raw_header(b"a", 5), fx.encode_chunk(b"hello"), fx.encode_end(b"\0" * 32)],
            ["READY", "HASH_MISMATCH"],
        ),
        (
            [raw_header(b"a", 5), fx.CHUNK_HEAD.pack(5, 0) + b"hello"],
            ["READY", "CRC_MISMATCH"],
        ),
    ],
)
def test_hostile(
    python_server: Callable[..., Server], tmp_path: Path, frames: list[bytes], want: list[str]
) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "out").symlink_to(outside)
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(dest))
    assert [r.status for r in exchange(srv.host_port, *frames)] == want
    visible = [p.name for p in dest.iterdir() if p.name != fx.PARTIAL_DIR]
    assert visible == ["out"]
    assert list(outside.iterdir()) == []


def test_resume(python_server: Callable[..., Server], tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(dest))
    data = os.urandom(50_000)
    # A first attempt that sends 3 chunks of 10 000 bytes, then vanishes.
    with socket.create_connection(srv.host_port, timeout=10) as s:
        s.sendall(raw_header(b"f.bin", len(data), 10_000))
        assert fx.read_reply(s.makefile("rb")).status == "READY"
        for i in range(3):
            s.sendall(fx.encode_chunk(data[i * 10_000 : (i + 1) * 10_000]))
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    # The server may still be reading the first connection: retry BUSY.
    for _ in range(200):
        res = send(srv.addr, "--resume", "--chunk", "10000", str(src))
        if "status=BUSY" not in res.stdout:
            break
    assert res.returncode == 0, res.stdout + res.stderr
    assert "resumed_at=30000" in res.stdout
    assert digest(dest / "f.bin") == hashlib.sha256(data).hexdigest()


def test_python_to_go(go_server: Callable[..., Server], tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    srv = go_server("./ch05-filexfer", "serve", "-dir", str(dest))
    sha = make_file(tmp_path / "x.bin", 300_000)
    res = send(srv.addr, str(tmp_path / "x.bin"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert digest(dest / "x.bin") == sha


def test_usage() -> None:
    res = subprocess.run(
        [sys.executable, SCRIPT, "send", "--chunk", "0", "x"], capture_output=True, text=True
    )
    assert res.returncode == 2


def test_stale_partials_swept(python_server: Callable[..., Server], tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / fx.PARTIAL_DIR).mkdir(parents=True)
    old, fresh = dest / fx.PARTIAL_DIR / "old.part", dest / fx.PARTIAL_DIR / "fresh.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    python_server("ch05_filexfer.py", "serve", "--dir", str(dest), "--partial-ttl", "3600")
    assert not old.exists()  # swept before the server logged msg=listening
    assert fresh.exists()
