"""The Python file transfer counterpart, end to end over loopback: Python
sender to Python receiver, hostile input, resume, and the Go receiver."""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

import pytest
from conftest import PYTHON_DIR, Server, start_server

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


def raw_header(
    name: bytes, size: int, chunk: int = 1024, magic: bytes = b"FXF1", flags: int = 0
) -> bytes:
    b = fx.HEADER_FIXED.pack(magic, 1, flags, len(name), size, chunk) + name
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
        pytest.param(  # C1 control (NEL)
            [raw_header("a\u0085b".encode(), 5)],
            ["BAD_NAME"],
            marks=pytest.mark.exercise("exercise-check-name-py"),
        ),
        pytest.param(  # C1 control (CSI)
            [raw_header("a\u009b2Jb".encode(), 5)],
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
    python_server("ch05_filexfer.py", "serve", "--dir", str(dest), "--partial-ttl", "1h")
    assert not old.exists()  # swept before the server logged msg=listening
    assert fresh.exists()


def hello_frames(name: bytes, flags: int = 0) -> list[bytes]:
    """A whole 5-byte file "hello" under name."""
    return [
        raw_header(name, 5, flags=flags),
        fx.encode_chunk(b"hello"),
        fx.encode_end(hashlib.sha256(b"hello").digest()),
    ]


@pytest.mark.parametrize("what", ["partial file", "partial directory"])
def test_planted_symlinks(python_server: Callable[..., Server], tmp_path: Path, what: str) -> None:
    """A symlink planted at the partial file's name, or in place of the
    partial directory, pointing outside: every upload is refused, nothing
    outside changes, and the final name does not appear."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"precious")
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(dest))
    if what == "partial file":
        (dest / fx.PARTIAL_DIR / fx.partial_name("a.txt", 5)).symlink_to(victim)
    else:
        (dest / fx.PARTIAL_DIR).rmdir()
        (dest / fx.PARTIAL_DIR).symlink_to(outside)
    for flags in (0, fx.FLAG_RESUME, fx.FLAG_OVERWRITE):
        replies = exchange(srv.host_port, *hello_frames(b"a.txt", flags))
        assert [r.status for r in replies] == ["IO_ERROR"], flags
        assert str(dest) not in replies[0].msg, "no server path in a reply"
    assert victim.read_bytes() == b"precious"
    assert [p.name for p in outside.iterdir()] == ["victim"]
    assert not (dest / "a.txt").exists()


def test_symlink_at_final_name(python_server: Callable[..., Server], tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"precious")
    dest.mkdir()
    (dest / "a.txt").symlink_to(victim)
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(dest))
    replies = exchange(srv.host_port, raw_header(b"a.txt", 5, flags=fx.FLAG_OVERWRITE))
    assert [r.status for r in replies] == ["BAD_NAME"]
    assert victim.read_bytes() == b"precious"


SIZE = 64 << 10


@pytest.mark.parametrize("flags", [fx.FLAG_OVERWRITE, fx.FLAG_OVERWRITE | fx.FLAG_RESUME])
@pytest.mark.parametrize("complete", [False, True])
def test_commit_crash_state(
    python_server: Callable[..., Server], tmp_path: Path, flags: int, complete: bool
) -> None:
    """A crash between commit's link and unlink leaves the partial file
    hard-linked to the committed one. A later upload of the same name and
    size must leave the old whole file or the new whole file, never a mix."""
    dest = tmp_path / "dest"
    (dest / fx.PARTIAL_DIR).mkdir(parents=True)
    old, new = os.urandom(SIZE), os.urandom(SIZE)
    (dest / "a.bin").write_bytes(old)
    os.link(dest / "a.bin", dest / fx.PARTIAL_DIR / fx.partial_name("a.bin", SIZE))
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(dest))
    with socket.create_connection(srv.host_port, timeout=10) as s:
        s.sendall(raw_header(b"a.bin", SIZE, 16 << 10, flags=flags))
        rf = s.makefile("rb")
        ready = fx.read_reply(rf)
        assert ready.status == "READY"
        off = ready.value
        if complete:
            for i in range(off, SIZE, 16 << 10):
                s.sendall(fx.encode_chunk(new[i : i + (16 << 10)]))
            s.sendall(fx.encode_end(hashlib.sha256(new).digest()))
            assert fx.read_reply(rf).status == "OK"
        elif off < SIZE:
            s.sendall(fx.encode_chunk(new[off : off + (16 << 10)]))
        rf.close()  # the socket closes only once its file object is closed too
    if not complete:
        srv.wait_for("msg=closed")
    assert (dest / "a.bin").read_bytes() == (new if complete else old)


def test_failed_write_frees_partial(tmp_path: Path) -> None:
    """A write that fails (the file-size limit here, as a full disk would) is
    refused with IO_ERROR and no server path, and the partial file is
    removed so its space is free again."""
    dest = tmp_path / "dest"
    soft = 64 << 10
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    code = (
        "import resource, runpy, sys; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({soft}, {hard})); "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    argv = [sys.executable, "-u", "-c", code, SCRIPT, "serve", "--dir", str(dest)]
    srv = start_server([*argv, "--addr", "127.0.0.1:0"])
    try:
        data = os.urandom(256 << 10)
        frames = [raw_header(b"big.bin", len(data), 16 << 10)]
        frames += [fx.encode_chunk(data[i : i + (16 << 10)]) for i in range(0, len(data), 16 << 10)]
        replies = exchange(srv.host_port, *frames)
        assert [r.status for r in replies] == ["READY", "IO_ERROR"]
        assert "/" not in replies[1].msg, "no server path in a reply"
        assert not (dest / fx.PARTIAL_DIR / fx.partial_name("big.bin", len(data))).exists()
        assert [r.status for r in exchange(srv.host_port, *hello_frames(b"small"))] == [
            "READY",
            "OK",
        ]
    finally:
        srv.stop()


def dribble(addr: tuple[str, int], frames: bytes, skip: int = 0) -> list[str]:
    """Send frames one byte at a time, a byte per 0.2 s after the first skip
    bytes, until the receiver says something; return the statuses it sent."""
    with socket.create_connection(addr, timeout=20) as s:
        s.sendall(frames[:skip])
        if skip:
            assert fx.read_reply(s.makefile("rb")).status == "READY"
        for i in range(skip, len(frames)):
            readable, _, _ = select.select([s], [], [], 0.2)  # the pace, and a way out
            if readable:
                break
            try:
                s.sendall(frames[i : i + 1])
            except OSError:
                break
        rf = s.makefile("rb")
        out = ["READY"] if skip else []
        while True:
            try:
                out.append(fx.read_reply(rf).status)
            except (ConnectionError, TimeoutError):
                return out


def test_slowloris(python_server: Callable[..., Server], tmp_path: Path) -> None:
    """Clients that dribble a header or a chunk a byte at a time hold a slot
    only for the idle timeout: the deadline covers the whole frame, not
    each recv. Once they are dropped, a real sender gets through."""
    dest = tmp_path / "dest"
    srv = python_server(
        "ch05_filexfer.py", "serve", "--dir", str(dest), "--idle-timeout", "1s", "--max-conns", "2"
    )
    header = raw_header(b"slow.txt", 5)
    results: dict[str, list[str]] = {}

    def run(kind: str) -> None:
        if kind == "header":
            results[kind] = dribble(srv.host_port, header)
        else:
            frames = b"".join(hello_frames(b"slow2.txt"))
            results[kind] = dribble(srv.host_port, frames, skip=len(frames) - 40 - 13)

    threads = [threading.Thread(target=run, args=(k,)) for k in ("header", "chunk")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {"header": ["TIMEOUT"], "chunk": ["READY", "TIMEOUT"]}
    assert [r.status for r in exchange(srv.host_port, *hello_frames(b"fast.txt"))] == [
        "READY",
        "OK",
    ]


def test_refusal_linger_is_bounded(python_server: Callable[..., Server], tmp_path: Path) -> None:
    """After a refusal the receiver drains what the client still sends, so
    that closing does not reset the reply away; but for 2 s in all, as Go
    does. A client that keeps dribbling a byte every 200 ms must not keep
    the connection (and its thread) for as long as it dribbles."""
    srv = python_server(
        "ch05_filexfer.py", "serve", "--dir", str(tmp_path / "dest"), "--idle-timeout", "1s"
    )
    with socket.create_connection(srv.host_port, timeout=10) as s:
        s.sendall(b"FXF1")  # a header begins, then only dribbles: TIMEOUT after 1 s
        start = time.monotonic()
        closed_after = None
        # The reply and the server's FIN (a half-close) come first; the
        # server is gone only when a byte we send is answered with a reset.
        while time.monotonic() - start < 8:
            try:
                s.sendall(b"x")
            except OSError:
                closed_after = time.monotonic() - start
                break
            time.sleep(0.2)  # the dribble is the client's behaviour under test
    assert closed_after is not None, "still open after 8 s of dribbling"
    assert closed_after < 5, f"closed only after {closed_after:.1f}s"  # 1 s + 2 s, and slack


def test_listen_backlog(python_server: Callable[..., Server], tmp_path: Path) -> None:
    """A burst of connections waits in the kernel's accept queue, as with
    the Go receiver, instead of being dropped (and retried seconds later)
    after the fifth. The server is stopped (SIGSTOP) so that it accepts
    nothing while 100 connections are made, one after the other."""
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(tmp_path / "dest"))
    socks: list[socket.socket] = []
    srv.proc.send_signal(signal.SIGSTOP)
    try:
        for _ in range(100):
            try:
                socks.append(socket.create_connection(srv.host_port, timeout=0.5))
            except TimeoutError:
                break
    finally:
        srv.proc.send_signal(signal.SIGCONT)
        for c in socks:
            c.close()
    assert len(socks) == 100


def test_concurrent_new_subdirectory(python_server: Callable[..., Server], tmp_path: Path) -> None:
    """Many uploads into the same new subdirectories at once: whoever loses
    the mkdir race still gets its file, and every upload gets a reply."""
    dest = tmp_path / "dest"
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(dest), "--max-conns", "100")
    n = 40
    barrier = threading.Barrier(n)
    results: list[list[str]] = [[] for _ in range(n)]

    def upload(i: int) -> None:
        barrier.wait(10)
        frames = hello_frames(f"burst/a/b/c/f{i}".encode())
        results[i] = [r.status for r in exchange(srv.host_port, *frames)]

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [["READY", "OK"]] * n
    assert len(list((dest / "burst/a/b/c").iterdir())) == n


def test_mkdir_race_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same race made certain: every mkdir finds that a concurrent
    upload has just made the directory (it exists, mkdir says EEXIST)."""
    real_mkdir = os.mkdir

    def lose_race(path: str, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        real_mkdir(path, mode, dir_fd=dir_fd)
        raise FileExistsError(17, "File exists", path)

    rcv = fx.Receiver(tmp_path / "dest", 1 << 20, 10.0, 4)
    monkeypatch.setattr(os, "mkdir", lose_race)
    srv = fx.Server(("127.0.0.1", 0), rcv)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        host, port = srv.server_address[:2]
        replies = exchange((str(host), int(port)), *hello_frames(b"new/sub/a.txt"))
    finally:
        srv.shutdown()
        srv.server_close()
    assert [r.status for r in replies] == ["READY", "OK"]
    assert (tmp_path / "dest/new/sub/a.txt").read_bytes() == b"hello"


@pytest.mark.exercise("exercise-check-name-py")
def test_refused_names_are_quoted(python_server: Callable[..., Server], tmp_path: Path) -> None:
    """A refused name reaches the log quoted and escaped as Go's log/slog
    does, so an escape sequence in it cannot rewrite the operator's terminal."""
    srv = python_server("ch05_filexfer.py", "serve", "--dir", str(tmp_path / "dest"))
    exchange(srv.host_port, raw_header(b"a\x1b[2Jb", 5), raw_header("c\u009bd".encode(), 5))
    out = srv.wait_for("\\u009b")
    assert 'name="a\\x1b[2Jb"' in out
    assert 'name="c\\u009bd"' in out
    assert "\x1b" not in out and "\u009b" not in out


def test_sender_coalesces_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender writes a file's last chunk and its End frame in one call,
    and turns Nagle's algorithm off: a small End frame held back until the
    chunk before it was acknowledged (an ACK the receiver delays) cost about
    40 ms per small file."""
    sent: list[bytes] = []

    class FakeSock:
        def sendall(self, b: bytes) -> None:
            sent.append(bytes(b))

        def settimeout(self, t: float | None) -> None:
            pass

    replies = iter([fx.Reply("READY", 0), fx.Reply("OK", 5)])
    monkeypatch.setattr(fx, "read_reply", lambda f: next(replies))
    src = tmp_path / "x"
    src.write_bytes(b"hello")
    args = argparse.Namespace(overwrite=False, chunk=1024, timeout=5.0)
    fx.send_file(cast(socket.socket, FakeSock()), cast(BinaryIO, None), src, "x", args, False)
    assert len(sent) == 2  # the header, then the data and the End frame together
    assert sent[1] == fx.encode_chunk(b"hello") + fx.encode_end(hashlib.sha256(b"hello").digest())
    with socket.create_server(("127.0.0.1", 0)) as ln, fx.connect(ln.getsockname(), 5.0) as c:
        assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
