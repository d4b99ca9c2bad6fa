"""File transfer over TCP: the Python counterpart of ch05-filexfer.

    python3 python/ch05_filexfer.py serve --dir received      # receiver on 127.0.0.1:9005
    python3 python/ch05_filexfer.py send photo.jpg docs/      # sender

It speaks the same bytes as the Go program (the shared test vectors in
ch05-filexfer/testdata/vectors.json hold both to it). What it fixes in the
source text's receiver, which wrote whatever arrived to received_file.txt:
one recv() is not one message (we read exact lengths); a file has a name and
a size (the header); a cut-off file is told apart from a whole one (chunks
with CRC-32C, an End frame with the SHA-256); a name cannot write outside the
directory; nothing partial ever appears under the final name; and a server
that serves one client and exits is not a server.

Standard library only. The one thing it lacks is CRC-32C (zlib.crc32 is the
other polynomial), so it is computed here in pure Python, with a trick that
makes it fast enough (see crc32c); it still bounds this program's speed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import socket
import socketserver
import stat
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import common

PROG = "ch05_filexfer"
DEFAULT_ADDR = "127.0.0.1:9005"

# ANCHOR: constants
MAGIC = b"FXF1"
VERSION = 1
HEADER_FIXED = struct.Struct(">4sBBHQI")  # magic, version, flags, name length, size, chunk size
CHUNK_HEAD = struct.Struct(">II")  # length, CRC-32C
REPLY_FIXED = struct.Struct(">BQH")  # status, value, message length
MAX_NAME_LEN = 1024
MAX_COMPONENT_LEN = 255
MAX_CHUNK_SIZE = 4 << 20
MAX_MESSAGE_LEN = 1024
DEFAULT_CHUNK = 256 << 10
FLAG_OVERWRITE = 1
FLAG_RESUME = 2
PARTIAL_DIR = ".fxpart"
# ANCHOR_END: constants

STATUS = {
    "OK": 0x00,
    "READY": 0x01,
    "BAD_MAGIC": 0x10,
    "BAD_VERSION": 0x11,
    "BAD_HEADER": 0x12,
    "BAD_NAME": 0x13,
    "TOO_LARGE": 0x14,
    "EXISTS": 0x15,
    "BUSY": 0x16,
    "BAD_CHUNK": 0x17,
    "CRC_MISMATCH": 0x18,
    "HASH_MISMATCH": 0x19,
    "SIZE_MISMATCH": 0x1A,
    "IO_ERROR": 0x20,
    "TIMEOUT": 0x21,
}
STATUS_NAME = {v: k for k, v in STATUS.items()}
KEEP_OPEN = {"BAD_NAME", "TOO_LARGE", "EXISTS", "BUSY"}


class ProtoError(Exception):
    """A protocol violation; status is the name of the reply code."""

    def __init__(self, status: str, msg: str) -> None:
        super().__init__(f"{status}: {msg}")
        self.status = status
        self.msg = msg


class CutOff(Exception):
    """The stream ended in the middle of a file."""


# ANCHOR: crc32c
# CRC-32C, twice. The standard library has no CRC-32C (zlib.crc32 is the IEEE
# polynomial), and a byte-at-a-time loop in Python runs at a few MB/s. The
# first version is that loop: short and obviously the textbook algorithm.
# The second gets the same answer ten to twenty times faster by letting
# Python's big integers do the work in C.


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c_table(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-32C (Castagnoli), table-driven, one byte per step."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# A CRC is the remainder of a polynomial division over GF(2): the message's
# bits are the coefficients of M(x), and the CRC is M(x)*x^32 mod P(x). That
# remainder can be taken in big steps: split M = H*x^k + L, and since
# x^k mod P is a 32-bit polynomial c, M = H*c + L (mod P), which is about
# half as long. H*c without carries is the XOR of H shifted by each set bit
# of c: a dozen shifts and XORs of a huge int, all done in C.
_P = 0x11EDC6F41  # x^32 + the Castagnoli polynomial, highest degree first
_REV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))  # bit-reverse a byte


def _rev32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


def _clmul(h: int, c: int) -> int:
    """Carry-less (GF(2)) product of a big h and a 32-bit c."""
    acc = 0
    while c:
        low = c & -c
        acc ^= h << (low.bit_length() - 1)
        c ^= low
    return acc


def _mod_small(v: int) -> int:
    """v mod P, one bit at a time (v of at most ~64 bits)."""
    for i in range(v.bit_length() - 1, 31, -1):
        if v >> i & 1:
            v ^= _P << (i - 32)
    return v


@functools.cache
def _xpow(k: int) -> int:
    """x^k mod P, by squaring."""
    if k < 32:
        return 1 << k
    if k % 2:
        return _mod_small(_xpow(k - 1) << 1)
    h = _xpow(k // 2)
    return _mod_small(_clmul(h, h))


def crc32c(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-32C of data, continuing from crc. crc32c(b"123456789") == 0xE3069283."""
    if len(data) < 64:
        return crc32c_table(data, crc)
    n = 8 * len(data)
    # The CRC is "reflected" (each byte's lowest bit comes first): reverse
    # the bits of every byte, and the first byte becomes the top of m.
    m = int.from_bytes(bytes(data).translate(_REV8), "big")
    v = (m << 32) ^ (_rev32(crc ^ 0xFFFFFFFF) << n)  # M*x^32, plus the initial value
    while v.bit_length() > 64:
        k = v.bit_length() // 2
        v = _clmul(v >> k, _xpow(k)) ^ (v & ((1 << k) - 1))
    return _rev32(_mod_small(v)) ^ 0xFFFFFFFF


# ANCHOR_END: crc32c


@dataclass
class Header:
    version: int
    flags: int
    name: str
    size: int
    chunk_size: int


@dataclass
class Reply:
    status: str
    value: int = 0
    msg: str = ""


def read_exact(f: BinaryIO, n: int) -> bytes:
    """Read exactly n bytes; fewer means the stream ended."""
    buf = bytearray()
    while len(buf) < n:
        b = f.read(n - len(buf))
        if not b:
            break
        buf += b
    return bytes(buf)


# ANCHOR: header
def encode_header(h: Header) -> bytes:
    name = h.name.encode("utf-8", "surrogateescape")
    if not 1 <= len(name) <= MAX_NAME_LEN:
        raise ProtoError("BAD_NAME", f"name length {len(name)} not in 1..{MAX_NAME_LEN}")
    if not 1 <= h.chunk_size <= MAX_CHUNK_SIZE:
        raise ProtoError("BAD_HEADER", f"chunk size {h.chunk_size} not in 1..{MAX_CHUNK_SIZE}")
    b = HEADER_FIXED.pack(MAGIC, h.version, h.flags, len(name), h.size, h.chunk_size) + name
    return b + struct.pack(">I", crc32c(b))


def read_header(f: BinaryIO) -> Header | None:
    """Decode a header; None on a clean end before its first byte."""
    fixed = read_exact(f, HEADER_FIXED.size)
    if not fixed:
        return None
    if len(fixed) < HEADER_FIXED.size:
        raise ProtoError("BAD_HEADER", "truncated header")
    magic, version, flags, name_len, size, chunk = HEADER_FIXED.unpack(fixed)
    if magic != MAGIC:
        raise ProtoError("BAD_MAGIC", f"magic {magic!r}, want {MAGIC!r}")
    if version != VERSION:
        raise ProtoError("BAD_VERSION", f"version {version}, this receiver speaks {VERSION}")
    if flags & ~(FLAG_OVERWRITE | FLAG_RESUME):
        raise ProtoError("BAD_HEADER", f"unknown flags 0x{flags:02x}")
    if not 1 <= chunk <= MAX_CHUNK_SIZE:
        raise ProtoError("BAD_HEADER", f"chunk size {chunk} not in 1..{MAX_CHUNK_SIZE}")
    if size > (1 << 63) - 1:
        raise ProtoError("TOO_LARGE", f"size {size} does not fit in int64")
    if not 1 <= name_len <= MAX_NAME_LEN:  # checked before reading (allocating) the name
        raise ProtoError("BAD_NAME", f"name length {name_len} not in 1..{MAX_NAME_LEN}")
    rest = read_exact(f, name_len + 4)
    if len(rest) < name_len + 4:
        raise ProtoError("BAD_HEADER", "truncated name")
    got = crc32c(rest[:name_len], crc32c(fixed))
    (want,) = struct.unpack(">I", rest[name_len:])
    if got != want:
        raise ProtoError("CRC_MISMATCH", f"header CRC-32C 0x{got:08x}, frame says 0x{want:08x}")
    name = rest[:name_len].decode("utf-8", "surrogateescape")
    return Header(version, flags, name, size, chunk)


# ANCHOR_END: header


# ANCHOR: chunk
def encode_chunk(data: bytes) -> bytes:
    return CHUNK_HEAD.pack(len(data), crc32c(data)) + data


def encode_end(sha256: bytes) -> bytes:
    return CHUNK_HEAD.pack(0, 0) + sha256


def read_chunk(f: BinaryIO, limit: int) -> tuple[bytes, bytes | None]:
    """Return (data, None) for a chunk or (b"", sha256) for the End frame.
    The length is checked against limit before any data is read."""
    head = read_exact(f, CHUNK_HEAD.size)
    if len(head) < CHUNK_HEAD.size:
        raise CutOff("connection ended in the middle of a file")
    n, crc = CHUNK_HEAD.unpack(head)
    if n == 0:
        if crc != 0:
            raise ProtoError("BAD_CHUNK", f"End frame with CRC field 0x{crc:08x}, want 0")
        digest = read_exact(f, 32)
        if len(digest) < 32:
            raise CutOff("connection ended in the middle of a file")
        return b"", digest
    if n > limit:
        raise ProtoError("BAD_CHUNK", f"chunk length {n} over the limit {limit}")
    data = read_exact(f, n)
    if len(data) < n:
        raise CutOff("connection ended in the middle of a file")
    if (got := crc32c(data)) != crc:
        raise ProtoError("CRC_MISMATCH", f"chunk CRC-32C 0x{got:08x}, frame says 0x{crc:08x}")
    return data, None


# ANCHOR_END: chunk


def encode_reply(r: Reply) -> bytes:
    msg = r.msg.encode()[:MAX_MESSAGE_LEN]
    return REPLY_FIXED.pack(STATUS[r.status], r.value, len(msg)) + msg


def read_reply(f: BinaryIO) -> Reply:
    fixed = read_exact(f, REPLY_FIXED.size)
    if len(fixed) < REPLY_FIXED.size:
        raise ConnectionError("connection closed before the receiver's reply")
    code, value, m = REPLY_FIXED.unpack(fixed)
    if m > MAX_MESSAGE_LEN:
        raise ProtoError("BAD_HEADER", f"reply message length {m} over {MAX_MESSAGE_LEN}")
    msg = read_exact(f, m)
    return Reply(STATUS_NAME.get(code, f"STATUS_0x{code:02x}"), value, msg.decode(errors="replace"))


# ANCHOR: checkname
def check_name(name: str) -> None:
    """Refuse names that could write outside the directory (same rules as Go)."""
    raw = name.encode("utf-8", "surrogateescape")
    if not 1 <= len(raw) <= MAX_NAME_LEN:
        raise ProtoError("BAD_NAME", f"name length {len(raw)} not in 1..{MAX_NAME_LEN}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtoError("BAD_NAME", "name is not valid UTF-8") from None
    if name.startswith("/"):
        raise ProtoError("BAD_NAME", f"absolute name {name!r}")
    # ANCHOR: exercise-check-name-py
    for c in name:
        if ord(c) < 0x20 or ord(c) == 0x7F:
            raise ProtoError("BAD_NAME", f"control character 0x{ord(c):02x} in name")
        if c in "\\:":
            raise ProtoError("BAD_NAME", f"character {c!r} not allowed in name")
    # ANCHOR_END: exercise-check-name-py
    for i, comp in enumerate(name.split("/")):
        if comp == "":
            raise ProtoError("BAD_NAME", f"empty path component in {name!r}")
        if comp in (".", ".."):
            raise ProtoError("BAD_NAME", f"{comp!r} component in {name!r}")
        if len(comp.encode()) > MAX_COMPONENT_LEN:
            raise ProtoError("BAD_NAME", f"component longer than {MAX_COMPONENT_LEN} bytes")
        if i == 0 and comp.lower() == PARTIAL_DIR:  # the same directory on macOS and Windows
            raise ProtoError("BAD_NAME", f"{PARTIAL_DIR} is reserved for the receiver")


# ANCHOR_END: checkname


def partial_name(name: str, size: int) -> str:
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"{digest}-{size}.part"


def fsync_dir(path: Path) -> None:
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Receiver:
    """Shared state of the receiving server: directory, limits, name locks."""

    def __init__(
        self,
        directory: Path,
        max_size: int,
        idle_timeout: float,
        max_conns: int,
        partial_ttl: float = 24 * 3600,
    ):
        self.dir = directory.resolve()
        self.partials = self.dir / PARTIAL_DIR
        self.partials.mkdir(parents=True, exist_ok=True)
        self.max_size = max_size
        self.idle_timeout = idle_timeout
        self.slots = threading.BoundedSemaphore(max_conns)
        self.max_conns = max_conns
        self.lock = threading.Lock()
        self.receiving: set[str] = set()
        self.partial_ttl = partial_ttl
        self.last_sweep = 0.0
        self.sweep()

    def sweep(self) -> None:
        """Remove partial files nobody resumed within partial_ttl seconds
        (at start, then at most once a minute when a file arrives)."""
        now = time.time()
        with self.lock:
            if now - self.last_sweep < 60:
                return
            self.last_sweep = now
        for p in self.partials.glob("*.part"):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > self.partial_ttl:
                    p.unlink()
                    common.log("INFO", "removed stale partial", file=p.name)

    @contextlib.contextmanager
    def name_lock(self, name: str) -> Iterator[None]:
        with self.lock:
            if name in self.receiving:
                raise ProtoError("BUSY", f"{name!r} is being received on another connection")
            self.receiving.add(name)
        try:
            yield
        finally:
            with self.lock:
                self.receiving.discard(name)

    def target(self, name: str, overwrite: bool) -> Path:
        """The final path, checked: no symlink on the way, inside the directory.
        Python has no os.Root, so we walk the components with lstat (a local
        process racing us could still swap a directory; the Go receiver is
        immune to that)."""
        p = self.dir
        parts = name.split("/")
        for comp in parts[:-1]:
            p = p / comp
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                p.mkdir()
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise ProtoError("BAD_NAME", f"{comp!r} in {name!r} is not a directory")
        p = p / parts[-1]
        if not str(p.resolve(strict=False)).startswith(str(self.dir) + os.sep):
            raise ProtoError("BAD_NAME", f"{name!r} leads outside the directory")
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return p
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            raise ProtoError("BAD_NAME", f"{name!r} is a directory or a symlink")
        if not overwrite:
            raise ProtoError("EXISTS", f"{name!r} exists (send with --overwrite to replace it)")
        return p

    # ANCHOR: receive
    def receive(self, sock: socket.socket, rf: BinaryIO, h: Header) -> Reply:
        self.sweep()
        check_name(h.name)
        if h.size > self.max_size:
            raise ProtoError("TOO_LARGE", f"size {h.size} over the limit {self.max_size}")
        with self.name_lock(h.name):
            final = self.target(h.name, bool(h.flags & FLAG_OVERWRITE))
            part = self.partials / partial_name(h.name, h.size)
            sha = hashlib.sha256()
            with open(part, "a+b") as f:
                off = f.seek(0, os.SEEK_END)
                if not h.flags & FLAG_RESUME or off > h.size:
                    off = 0
                f.seek(0)
                left = off
                while left:  # the final SHA-256 covers the bytes we already had
                    b = f.read(min(left, 1 << 20))
                    sha.update(b)
                    left -= len(b)
                f.truncate(off)
                f.seek(off)
                sock.sendall(encode_reply(Reply("READY", off)))
                received = off
                while True:
                    data, digest = read_chunk(rf, min(h.chunk_size, h.size - received))
                    if digest is not None:
                        break
                    try:
                        f.write(data)
                        f.flush()
                    except OSError as e:
                        f.truncate(received)
                        raise ProtoError("IO_ERROR", f"write: {e}") from e
                    sha.update(data)
                    received += len(data)
                if received != h.size:
                    part.unlink()
                    raise ProtoError("SIZE_MISMATCH", f"got {received} bytes, header said {h.size}")
                if sha.digest() != digest:
                    part.unlink()
                    raise ProtoError(
                        "HASH_MISMATCH", f"SHA-256 {sha.hexdigest()}, sender says {digest.hex()}"
                    )
                os.fsync(f.fileno())  # data on disk before the name points at it
            if h.flags & FLAG_OVERWRITE:
                os.replace(part, final)  # atomic: the old file or the new one, never a mix
            else:
                try:
                    os.link(part, final)  # fails if final appeared meanwhile: no clobbering
                except FileExistsError:
                    raise ProtoError("EXISTS", f"{h.name!r} appeared during the transfer") from None
                part.unlink()
            fsync_dir(final.parent)
            fsync_dir(self.partials)
            return Reply("OK", h.size)

    # ANCHOR_END: receive


class Handler(socketserver.BaseRequestHandler):
    server: Server

    def handle(self) -> None:
        rcv = self.server.receiver
        sock: socket.socket = self.request
        peer = common.format_addr(self.client_address)
        if not rcv.slots.acquire(blocking=False):
            refuse(sock, Reply("BUSY", 0, f"too many connections (limit {rcv.max_conns})"))
            return
        try:
            self.serve(sock, peer)
        finally:
            rcv.slots.release()

    def serve(self, sock: socket.socket, peer: str) -> None:
        rcv = self.server.receiver
        sock.settimeout(rcv.idle_timeout)
        rf = sock.makefile("rb")
        common.log("INFO", "connected", peer=peer)
        try:
            while True:
                name = ""
                header_read = False
                try:
                    h = read_header(rf)
                    header_read = True
                    if h is None:
                        return
                    name = h.name
                    start = time.monotonic()
                    rep = rcv.receive(sock, rf, h)
                    sock.sendall(encode_reply(rep))
                    elapsed = f"{(time.monotonic() - start) * 1000:.0f}ms"
                    common.log(
                        "INFO", "received", peer=peer, name=name, size=h.size, elapsed=elapsed
                    )
                except ProtoError as e:
                    common.log("WARN", "refused", peer=peer, name=name, status=e.status, err=str(e))
                    # Only a refusal of a fully read header leaves the stream
                    # in step; a bad header itself (even BAD_NAME for a name
                    # length out of range) ends the connection.
                    if header_read and e.status in KEEP_OPEN:
                        sock.sendall(encode_reply(Reply(e.status, 0, e.msg)))
                        continue
                    refuse(sock, Reply(e.status, 0, e.msg))
                    return
                except CutOff:
                    common.log("WARN", "cut off", peer=peer, name=name)
                    return
                except TimeoutError:
                    common.log("WARN", "idle timeout", peer=peer, name=name)
                    refuse(sock, Reply("TIMEOUT", 0, f"no data for {rcv.idle_timeout}s"))
                    return
                except OSError as e:
                    common.log("WARN", "connection lost", peer=peer, name=name, err=str(e))
                    return
        finally:
            rf.close()
            common.log("INFO", "closed", peer=peer)


def refuse(sock: socket.socket, r: Reply) -> None:
    """Reply, half-close, drain: closing with unread data would send RST."""
    with contextlib.suppress(OSError):
        sock.settimeout(2)
        sock.sendall(encode_reply(r))
        sock.shutdown(socket.SHUT_WR)
        drained = 0
        while drained < 1 << 20 and (b := sock.recv(65536)):
            drained += len(b)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(addr, Handler)


def serve(args: argparse.Namespace) -> None:
    host, port = common.parse_addr(args.addr)
    rcv = Receiver(
        Path(args.dir), args.max_size, args.idle_timeout, args.max_conns, args.partial_ttl
    )
    try:
        srv = Server((host, port), rcv)
    except OSError as e:
        common.die(PROG, common.listen_error(args.addr, e))
    with srv:
        common.log("INFO", "listening", addr=common.format_addr(srv.server_address), dir=args.dir)
        common.sigterm_as_interrupt()
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            common.log("INFO", "shutting down")


# ANCHOR: send
def walk(paths: list[str]) -> list[tuple[Path, str]]:
    """(local path, name on the receiver) for each file; directories recursively."""
    jobs = []
    for p in map(Path, paths):
        if p.is_dir():
            for dirpath, _, files in os.walk(p):
                for fn in sorted(files):
                    fp = Path(dirpath) / fn
                    if fp.is_file() and not fp.is_symlink():
                        jobs.append((fp, p.resolve().name + "/" + fp.relative_to(p).as_posix()))
        else:
            jobs.append((p, p.name))
    return sorted(jobs, key=lambda j: j[1])


RETRYABLE = {"CRC_MISMATCH", "HASH_MISMATCH", "TIMEOUT", "BUSY"}


def send_file(
    sock: socket.socket, rf: BinaryIO, path: Path, name: str, args: argparse.Namespace, resume: bool
) -> str:
    size = path.stat().st_size
    flags = (FLAG_OVERWRITE if args.overwrite else 0) | (FLAG_RESUME if resume else 0)
    sock.sendall(encode_header(Header(VERSION, flags, name, size, args.chunk)))
    rep = read_reply(rf)
    if rep.status != "READY":
        raise ProtoError(rep.status, rep.msg)
    off = rep.value
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        left = off
        while left:  # the SHA-256 covers the whole file, resumed or not
            b = f.read(min(left, 1 << 20))
            sha.update(b)
            left -= len(b)
        left = size - off
        while left:
            data = f.read(min(left, args.chunk))
            if not data:
                raise OSError(f"{path} shrank while sending")
            sha.update(data)
            sock.sendall(encode_chunk(data))
            left -= len(data)
    sock.sendall(encode_end(sha.digest()))
    rep = read_reply(rf)
    if rep.status != "OK":
        raise ProtoError(rep.status, rep.msg)
    return f"size={size} resumed_at={off} sha256={sha.hexdigest()}"


def send(args: argparse.Namespace) -> None:
    host, port = common.parse_addr(args.addr)
    failed = 0
    sock: socket.socket | None = None
    rf: BinaryIO | None = None
    jobs = walk(args.files)
    for path, name in jobs:
        start = time.monotonic()
        for attempt in range(args.retries + 1):
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=args.timeout)
                    rf = sock.makefile("rb")
                assert rf is not None
                info = send_file(sock, rf, path, name, args, args.resume or attempt > 0)
                el = time.monotonic() - start
                print(f"sent name={name} {info} elapsed={el * 1000:.3f}ms", flush=True)
                break
            except (OSError, ProtoError) as e:
                status = e.status if isinstance(e, ProtoError) else "IO_ERROR"
                if status not in KEEP_OPEN and sock is not None:
                    sock.close()
                    sock = None
                # Retry (resuming) what a retry can fix: a lost connection,
                # damage in flight, a busy name. Not a refusal of the file.
                passing = status in RETRYABLE or isinstance(e, ConnectionError)
                if attempt < args.retries and passing:
                    time.sleep(min(0.05 * 2**attempt, 2.0))
                    continue
                failed += 1
                print(f'failed name={name} status={status} err="{e}"', flush=True)
                break
    if sock is not None:
        sock.close()
    if failed:
        common.die(PROG, f"{failed} of {len(jobs)} files failed")


# ANCHOR_END: send


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    sp = sub.add_parser("serve", help="receive files into a directory (default)")
    sp.add_argument("--addr", default=DEFAULT_ADDR)
    sp.add_argument("--dir", default="received")
    sp.add_argument("--max-conns", type=int, default=64)
    sp.add_argument("--idle-timeout", type=float, default=30.0, help="seconds")
    sp.add_argument("--max-size", type=int, default=64 << 30)
    sp.add_argument("--partial-ttl", type=float, default=24 * 3600.0, help="seconds")
    cp = sub.add_parser("send", help="send files and directories to a receiver")
    cp.add_argument("--addr", default=DEFAULT_ADDR)
    cp.add_argument("--chunk", type=int, default=DEFAULT_CHUNK)
    cp.add_argument("--overwrite", action="store_true")
    cp.add_argument("--resume", action="store_true")
    cp.add_argument("--retries", type=int, default=3)
    cp.add_argument("--timeout", type=float, default=30.0, help="seconds")
    cp.add_argument("files", nargs="+")
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]
    args = ap.parse_args(argv)
    if args.cmd == "send":
        if not 1 <= args.chunk <= MAX_CHUNK_SIZE:
            ap.error(f"--chunk {args.chunk} not in 1..{MAX_CHUNK_SIZE}")
        send(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
