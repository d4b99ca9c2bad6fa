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
import io
import math
import os
import socket
import socketserver
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import common

try:  # optional: without opentelemetry the traceparent is still parsed and forwarded
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:
    otel_trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer as Buffer

PROG = "ch05_filexfer"
DEFAULT_ADDR = "127.0.0.1:9005"

# ANCHOR: constants
MAGIC = b"FXF1"
VERSION = 1  # the header every receiver speaks
VERSION_TRACE = 2  # adds a trace context (W3C traceparent) before the CRC
MAX_TRACE_LEN = 255  # its length is one byte
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


# ANCHOR_END: crc32c
# ANCHOR: crc32c-gf2
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


# ANCHOR_END: crc32c-gf2
# ANCHOR: crc32c-fast
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


# ANCHOR_END: crc32c-fast


@dataclass
class Header:
    version: int
    flags: int
    name: str
    size: int
    chunk_size: int
    traceparent: str = ""  # version 2 only


@dataclass
class Reply:
    status: str
    value: int = 0
    msg: str = ""


# ANCHOR: tracing
@contextlib.contextmanager
def traced(
    name: str, parent: str, tracer_provider: Any = None, **attrs: object
) -> Iterator[tuple[Any, str]]:
    """A span for one file, a child of the traceparent ``parent`` (from the
    header, or the TRACEPARENT variable); yields it and the traceparent to
    send on, and records the file's result on it: "ok", or the refusal's
    status. Without opentelemetry there is no span (None) and the parent
    is passed on unchanged, so a trace still crosses this program."""
    if otel_trace is None:
        yield None, parent
        return
    prop = TraceContextTextMapPropagator()
    ctx = prop.extract({"traceparent": parent}) if parent else None
    tracer = otel_trace.get_tracer("ch05_filexfer", tracer_provider=tracer_provider)
    with tracer.start_as_current_span(name, context=ctx, attributes=attrs) as span:  # type: ignore[arg-type]
        carrier: dict[str, str] = {}
        prop.inject(carrier)
        try:
            yield span, carrier.get("traceparent", parent)
        except ProtoError as e:
            span.set_attribute("filexfer.result", e.status.lower())
            raise
        span.set_attribute("filexfer.result", "ok")


def tracing_note() -> None:
    if otel_trace is None:
        common.log("INFO", "tracing off: opentelemetry is not installed")


# ANCHOR_END: tracing


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
    check_trace(h.version, h.traceparent.encode("latin-1", "replace"))
    b = HEADER_FIXED.pack(MAGIC, h.version, h.flags, len(name), h.size, h.chunk_size) + name
    if h.version == VERSION_TRACE:
        b += bytes([len(h.traceparent)]) + h.traceparent.encode("ascii")
    return b + struct.pack(">I", crc32c(b))


def check_trace(version: int, tp: bytes) -> None:
    """Refuse a trace context version 1 cannot carry, or that is not visible ASCII."""
    if tp and version != VERSION_TRACE:
        raise ProtoError("BAD_HEADER", f"a trace context needs version {VERSION_TRACE}")
    if len(tp) > MAX_TRACE_LEN:
        raise ProtoError("BAD_HEADER", f"trace context of {len(tp)} bytes, over {MAX_TRACE_LEN}")
    for c in tp:
        if not 0x21 <= c <= 0x7E:
            raise ProtoError("BAD_HEADER", f"trace context byte 0x{c:02x} is not visible ASCII")


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
    if version not in (VERSION, VERSION_TRACE):
        raise ProtoError(
            "BAD_VERSION", f"version {version}, this receiver speaks {VERSION} and {VERSION_TRACE}"
        )
    if flags & ~(FLAG_OVERWRITE | FLAG_RESUME):
        raise ProtoError("BAD_HEADER", f"unknown flags 0x{flags:02x}")
    if not 1 <= chunk <= MAX_CHUNK_SIZE:
        raise ProtoError("BAD_HEADER", f"chunk size {chunk} not in 1..{MAX_CHUNK_SIZE}")
    if size > (1 << 63) - 1:
        raise ProtoError("TOO_LARGE", f"size {size} does not fit in int64")
    if not 1 <= name_len <= MAX_NAME_LEN:  # checked before reading (allocating) the name
        raise ProtoError("BAD_NAME", f"name length {name_len} not in 1..{MAX_NAME_LEN}")
    n = name_len + (1 if version == VERSION_TRACE else 0)  # + the trace length byte
    body = read_exact(f, n)
    if len(body) < n:
        raise ProtoError("BAD_HEADER", "truncated name")
    tp = b""
    if version == VERSION_TRACE:
        tp = read_exact(f, body[-1])
        if len(tp) < body[-1]:
            raise ProtoError("BAD_HEADER", "truncated trace context")
    tail = read_exact(f, 4)
    if len(tail) < 4:
        raise ProtoError("BAD_HEADER", "truncated header CRC")
    got = crc32c(body + tp, crc32c(fixed))
    (want,) = struct.unpack(">I", tail)
    if got != want:
        raise ProtoError("CRC_MISMATCH", f"header CRC-32C 0x{got:08x}, frame says 0x{want:08x}")
    check_trace(version, tp)
    name = body[:name_len].decode("utf-8", "surrogateescape")
    return Header(version, flags, name, size, chunk, tp.decode("ascii"))


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


# Bidirectional-text controls: "evil\u202etxt.exe" is listed as "evilexe.txt".
BIDI_CONTROLS = frozenset(
    [
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
        "\u200e",
        "\u200f",
        "\u061c",
    ]
)


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
        if ord(c) < 0x20 or ord(c) == 0x7F or 0x80 <= ord(c) <= 0x9F:  # C0, DEL, C1 controls
            raise ProtoError("BAD_NAME", f"control character 0x{ord(c):02x} in name")
        if c in BIDI_CONTROLS:  # reorder what a terminal shows (Unicode UAX #9)
            raise ProtoError("BAD_NAME", f"bidirectional control U+{ord(c):04X} in name")
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


# The receiver touches its directory only through directory file descriptors
# (the openat family: os.open(..., dir_fd=...)), opens nothing through a
# symlink (O_NOFOLLOW, and O_DIRECTORY for directories), and checks that what
# it opened is a regular file. That is Python's nearest thing to Go's os.Root.
# Windows has no dir_fd: the receiver refuses to start there.
HAVE_DIR_FD = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")
DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_dir(name: str, dir_fd: int) -> int:
    """Open the directory name inside dir_fd; a symlink fails (ELOOP or ENOTDIR)."""
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def fs_error(what: str, e: OSError) -> ProtoError:
    """IO_ERROR with the system's reason only: no path of ours goes to a peer."""
    return ProtoError("IO_ERROR", f"{what}: {e.strerror or type(e).__name__}")


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
        if not HAVE_DIR_FD:
            raise OSError("this system lacks openat (dir_fd): use the Go receiver")
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory.resolve()
        self.dir_fd = os.open(self.dir, DIR_FLAGS)
        with contextlib.suppress(FileExistsError):
            os.mkdir(PARTIAL_DIR, 0o700, dir_fd=self.dir_fd)
        os.close(open_dir(PARTIAL_DIR, self.dir_fd))  # a symlink there: refuse to start
        # A limit of 0 means "no limit" or "never", as in Go.
        self.max_size = max_size
        self.idle_timeout = idle_timeout
        self.slots = threading.BoundedSemaphore(max_conns) if max_conns > 0 else None
        self.max_conns = max_conns
        self.lock = threading.Lock()
        self.receiving: set[str] = set()
        self.partial_ttl = partial_ttl
        self.last_sweep = 0.0
        self.sweep()

    def sweep(self) -> None:
        """Remove partial files nobody resumed within partial_ttl seconds
        (at start, then at most once a minute when a file arrives); a
        partial_ttl of 0 keeps them until resumed."""
        if self.partial_ttl <= 0:
            return
        now = time.time()
        with self.lock:
            if now - self.last_sweep < 60:
                return
            self.last_sweep = now
        with contextlib.suppress(OSError), closing_fd(open_dir(PARTIAL_DIR, self.dir_fd)) as pdir:
            for e in os.scandir(pdir):
                with contextlib.suppress(OSError):
                    age = now - e.stat(follow_symlinks=False).st_mtime
                    if e.name.endswith(".part") and age > self.partial_ttl:
                        os.unlink(e.name, dir_fd=pdir)
                        common.log("INFO", "removed stale partial", file=e.name)

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

    # ANCHOR: parent
    def parent(self, name: str) -> tuple[int, str]:
        """Open the directory that will hold name, one component at a time,
        each relative to the one before and never through a symlink; make
        the missing ones. Returns its descriptor and the name's last part."""
        *dirs, last = name.split("/")
        fd = os.dup(self.dir_fd)
        try:
            for comp in dirs:
                try:
                    os.mkdir(comp, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass  # made earlier, or just now by a concurrent upload
                except OSError as e:
                    msg = f"cannot create directory {comp!r}: {e.strerror}"
                    raise ProtoError("BAD_NAME", msg) from None
                try:
                    sub = open_dir(comp, fd)
                except OSError:  # ELOOP, ENOTDIR: a symlink or a file is in the way
                    raise ProtoError(
                        "BAD_NAME", f"{comp!r} in {name!r} is not a directory"
                    ) from None
                os.close(fd)
                fd = sub
        except BaseException:
            os.close(fd)
            raise
        return fd, last

    def check_target(self, parent: int, last: str, name: str, overwrite: bool) -> None:
        try:
            st = os.stat(last, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(st.st_mode):
            raise ProtoError("BAD_NAME", f"{name!r} is a directory, a symlink or a device")
        if not overwrite:
            raise ProtoError("EXISTS", f"{name!r} exists (send with --overwrite to replace it)")

    # ANCHOR_END: parent

    # ANCHOR: openpartial
    def open_partial(self, pdir: int, part: str, resume: bool) -> int:
        """Open the partial file, never one that shares its data with another
        file. A crash between commit's link and unlink leaves the partial
        hard-linked to the committed file: writing to it would change that
        file in place. So an existing partial is kept only for a resume and
        only while it has a single name; otherwise it is replaced by a fresh
        one (O_EXCL: fails if anything appeared at the name meanwhile)."""
        try:
            st = os.stat(part, dir_fd=pdir, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None:
            if not stat.S_ISREG(st.st_mode):  # the receiver never made that: refuse
                raise ProtoError("IO_ERROR", "partial file is not a regular file")
            if resume:
                fd = os.open(part, os.O_RDWR | NOFOLLOW, dir_fd=pdir)
                fst = os.fstat(fd)
                if stat.S_ISREG(fst.st_mode) and fst.st_nlink == 1:
                    return fd
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part, dir_fd=pdir)
        return os.open(part, os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600, dir_fd=pdir)

    # ANCHOR_END: openpartial

    def resume_offset(self, fd: int, h: Header, sha: hashlib._Hash) -> int:
        """Where the sender starts: the partial's size when resuming (its
        bytes go into the hash, which covers the whole file), else 0."""
        off = os.fstat(fd).st_size
        if not h.flags & FLAG_RESUME or off > h.size:
            off = 0
        pos = 0
        while pos < off:
            b = os.pread(fd, min(off - pos, 1 << 20), pos)
            if not b:
                raise ProtoError("IO_ERROR", "partial file shrank")
            sha.update(b)
            pos += len(b)
        os.ftruncate(fd, off)
        os.lseek(fd, off, os.SEEK_SET)
        return off

    # ANCHOR: receive
    def receive(self, conn: Conn, h: Header) -> Reply:
        self.sweep()
        check_name(h.name)
        if self.max_size > 0 and h.size > self.max_size:
            raise ProtoError("TOO_LARGE", f"size {h.size} over the limit {self.max_size}")
        overwrite = bool(h.flags & FLAG_OVERWRITE)
        with self.name_lock(h.name), contextlib.ExitStack() as fds:
            parent, last = self.parent(h.name)
            fds.callback(os.close, parent)
            self.check_target(parent, last, h.name, overwrite)
            part = partial_name(h.name, h.size)
            try:
                pdir = open_dir(PARTIAL_DIR, self.dir_fd)
                fds.callback(os.close, pdir)
                fd = self.open_partial(pdir, part, bool(h.flags & FLAG_RESUME))
                fds.callback(os.close, fd)
                sha = hashlib.sha256()
                off = self.resume_offset(fd, h, sha)
            except OSError as e:
                raise fs_error("partial file", e) from e
            conn.reply(Reply("READY", off))
            self.receive_data(conn, h, fd, off, sha, lambda: os.unlink(part, dir_fd=pdir))
            try:
                self.commit(fd, pdir, part, parent, last, overwrite)
            except FileExistsError:
                raise ProtoError("EXISTS", f"{h.name!r} appeared during the transfer") from None
            except OSError as e:
                raise fs_error("commit", e) from e
            return Reply("OK", h.size)

    # ANCHOR_END: receive

    # ANCHOR: data
    def receive_data(
        self,
        conn: Conn,
        h: Header,
        fd: int,
        received: int,
        sha: hashlib._Hash,
        discard: Callable[[], None],
    ) -> None:
        """Chunks until the End frame, each checked before it is written."""
        while True:
            conn.frame_deadline()  # the whole chunk within idle_timeout
            data, digest = read_chunk(conn.rf, min(h.chunk_size, h.size - received))
            if digest is not None:
                break
            try:
                write_all(fd, data)
            except OSError as e:  # disk full: free the partial, the sender starts over
                discard()
                raise fs_error("write partial file", e) from e
            sha.update(data)
            received += len(data)
        if received != h.size:
            discard()
            raise ProtoError("SIZE_MISMATCH", f"got {received} bytes, header said {h.size}")
        if sha.digest() != digest:
            discard()
            raise ProtoError(
                "HASH_MISMATCH", f"SHA-256 {sha.hexdigest()}, sender says {digest.hex()}"
            )

    # ANCHOR_END: data

    # ANCHOR: commit
    def commit(
        self, fd: int, pdir: int, part: str, parent: int, last: str, overwrite: bool
    ) -> None:
        """Data on disk, then the name (atomic), then the directories on disk."""
        os.fsync(fd)
        if overwrite:  # atomic: the old file or the new one, never a mix
            os.replace(part, last, src_dir_fd=pdir, dst_dir_fd=parent)
        else:
            os.link(part, last, src_dir_fd=pdir, dst_dir_fd=parent)  # EEXIST: no clobbering
            os.unlink(part, dir_fd=pdir)  # a crash before this: see open_partial
        if os.name != "nt":
            os.fsync(parent)
            os.fsync(pdir)

    # ANCHOR_END: commit


@contextlib.contextmanager
def closing_fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


class FrameReader(io.RawIOBase):
    """The socket as a stream whose reads share one deadline per frame.
    A socket timeout bounds each recv: a client sending one byte every
    second would never trip it, and would hold a connection slot forever
    (slowloris). Like Go's SetReadDeadline, this bounds the whole frame."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout  # 0: wait forever
        self.deadline = frame_end(timeout)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"frame not complete within {self.timeout}s")
        self.sock.settimeout(None if left == math.inf else left)
        return self.sock.recv_into(b)


def frame_end(timeout: float) -> float:
    """When a wait of timeout seconds from now ends; 0 means never."""
    return time.monotonic() + timeout if timeout > 0 else math.inf


class Conn:
    """One connection: the socket, its framed reader, and replies."""

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.raw = FrameReader(sock, idle_timeout)
        self.rf = io.BufferedReader(self.raw, 1 << 16)

    def frame_deadline(self) -> None:
        self.raw.deadline = frame_end(self.idle_timeout)

    def reply(self, r: Reply) -> None:
        self.sock.settimeout(self.idle_timeout or None)
        self.sock.sendall(encode_reply(r))


class Handler(socketserver.BaseRequestHandler):
    server: Server

    def handle(self) -> None:
        rcv = self.server.receiver
        sock: socket.socket = self.request
        peer = common.format_addr(self.client_address)
        if rcv.slots is None:  # --max-conns 0: no limit
            self.serve(sock, peer)
            return
        if not rcv.slots.acquire(blocking=False):
            refuse(sock, Reply("BUSY", 0, f"too many connections (limit {rcv.max_conns})"))
            return
        try:
            self.serve(sock, peer)
        finally:
            rcv.slots.release()

    def serve(self, sock: socket.socket, peer: str) -> None:
        rcv = self.server.receiver
        # Replies are small: send each at once (Go's default too), rather
        # than let Nagle's algorithm wait for the peer's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(sock, rcv.idle_timeout)
        common.log("INFO", "accepted", peer=peer)
        began, reason = time.monotonic(), "error"  # for the close line
        try:
            while True:
                name = ""
                header_read = False
                try:
                    conn.frame_deadline()
                    h = read_header(conn.rf)
                    header_read = True
                    if h is None:
                        reason = "eof"  # the sender is done
                        return
                    name = h.name
                    start = time.monotonic()
                    with traced(
                        "filexfer.receive",
                        h.traceparent,
                        **{"network.peer.address": peer, "filexfer.name": name},
                    ):
                        rep = rcv.receive(conn, h)
                    conn.reply(rep)
                    elapsed = f"{(time.monotonic() - start) * 1000:.0f}ms"
                    extra = {"traceparent": h.traceparent} if h.traceparent else {}
                    common.log(
                        "INFO",
                        "received",
                        peer=peer,
                        name=name,
                        size=h.size,
                        elapsed=elapsed,
                        **extra,
                    )
                except ProtoError as e:
                    common.log("WARN", "refused", peer=peer, name=name, status=e.status, err=str(e))
                    # Only a refusal of a fully read header leaves the stream
                    # in step; a bad header itself (even BAD_NAME for a name
                    # length out of range) ends the connection.
                    if header_read and e.status in KEEP_OPEN:
                        conn.reply(Reply(e.status, 0, e.msg))
                        continue
                    refuse(sock, Reply(e.status, 0, e.msg))
                    return
                except CutOff:
                    common.log("WARN", "cut off", peer=peer, name=name)
                    return
                except TimeoutError:
                    reason = "idle"
                    common.log("WARN", "idle timeout", peer=peer, name=name)
                    refuse(sock, Reply("TIMEOUT", 0, f"no frame within {rcv.idle_timeout}s"))
                    return
                except OSError as e:
                    common.log("WARN", "connection lost", peer=peer, name=name, err=str(e))
                    return
        finally:
            conn.rf.close()
            common.log_closed(peer, began, reason)


def refuse(sock: socket.socket, r: Reply) -> None:
    """Reply, half-close, drain: closing with unread data would send RST.
    The drain is bounded in bytes and in total time (2 s, as Go's deadline):
    a timeout per recv would let a client dribbling a byte a second keep the
    connection, and its thread, for as long as it likes."""
    deadline = time.monotonic() + 2
    with contextlib.suppress(OSError):
        sock.settimeout(2)
        sock.sendall(encode_reply(r))
        sock.shutdown(socket.SHUT_WR)
        drained = 0
        while drained < 1 << 20 and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not (b := sock.recv(65536)):
                break
            drained += len(b)


class Server(common.BackoffMixin, socketserver.ThreadingTCPServer):
    """Threads per connection; accept backs off when descriptors run out
    (common.BackoffMixin: the lesson of chapter 3)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], receiver: Receiver) -> None:
        self.receiver = receiver
        self.request_queue_size = common.BACKLOG
        super().__init__(addr, Handler)


def serve(args: argparse.Namespace) -> None:
    host, port = common.parse_addr(args.addr)
    tracing_note()
    try:
        rcv = Receiver(
            Path(args.dir), args.max_size, args.idle_timeout, args.max_conns, args.partial_ttl
        )
    except OSError as e:
        common.die(PROG, f"receive directory {args.dir}: {e.strerror or e}")
    try:
        srv = Server((host, port), rcv)
    except OSError as e:
        common.die(PROG, common.listen_error(args.addr, e))
    with srv:
        common.log("INFO", "listening", addr=common.format_addr(srv.server_address), dir=args.dir)
        try:
            common.serve_until_signal(srv)  # Ctrl-C or SIGTERM
        except common.AcceptError as e:
            common.die(PROG, e)
        common.log("INFO", "stopped")


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
        elif p.exists() and not p.is_file():  # a FIFO would block open(); a device has no size
            common.die(
                PROG, f"{quote(p)} is not a regular file or a directory: refusing to send it"
            )
        else:
            jobs.append((p, p.name))
    return sorted(jobs, key=lambda j: j[1])


RETRYABLE = {"CRC_MISMATCH", "HASH_MISMATCH", "TIMEOUT", "BUSY"}


def send_file(
    sock: socket.socket, rf: BinaryIO, path: Path, name: str, args: argparse.Namespace, resume: bool
) -> str:
    size = path.stat().st_size
    parent = os.environ.get("TRACEPARENT", "")
    with traced("filexfer.send", parent, **{"filexfer.name": name}) as (_, tp):
        return send_data(sock, rf, path, name, size, args, resume, tp)


def send_data(
    sock: socket.socket,
    rf: BinaryIO,
    path: Path,
    name: str,
    size: int,
    args: argparse.Namespace,
    resume: bool,
    tp: str,
) -> str:
    flags = (FLAG_OVERWRITE if args.overwrite else 0) | (FLAG_RESUME if resume else 0)
    # A trace context needs version 2; an old receiver refuses it (BAD_VERSION),
    # and send() then sends version 1 (args.plain).
    h = Header(VERSION, flags, name, size, args.chunk)
    if tp and not args.plain:
        h = Header(VERSION_TRACE, flags, name, size, args.chunk, tp)
    sock.sendall(encode_header(h))
    rep = await_reply(sock, rf, args.timeout)
    if rep.status != "READY":
        raise ProtoError(rep.status, rep.msg)
    off = rep.value
    if off > size:  # a hostile or broken receiver: never seek past the end
        raise BadReply(f"receiver offers offset {off} past the end ({size})")
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        left = off
        while left:  # the SHA-256 covers the whole file, resumed or not
            b = f.read(min(left, 1 << 20))
            sha.update(b)
            left -= len(b)
        left = size - off
        frame = b""  # each chunk is held back one round, so the last goes with End
        while left:
            if frame:
                sock.sendall(frame)
            data = f.read(min(left, args.chunk))
            if not data:
                raise OSError(f"{path} shrank while sending")
            sha.update(data)
            frame = encode_chunk(data)
            left -= len(data)
    # The last chunk and the End frame leave in one write. Sent apart, with
    # Nagle's algorithm on, the small End waited for the ACK of the chunk,
    # which the receiver delays by up to 40 ms: 40 ms lost per file.
    sock.sendall(frame + encode_end(sha.digest()))
    rep = await_reply(sock, rf, args.timeout)
    if rep.status != "OK":
        raise ProtoError(rep.status, rep.msg)
    if rep.value != size:
        raise BadReply(f"receiver committed {rep.value} bytes, we sent {size}")
    return f"size={size} resumed_at={off} sha256={sha.hexdigest()}"


class BadReply(OSError):
    """A reply that does not answer what was asked (an offset past the
    file's end, an OK for another size): the receiver is broken or hostile."""


def await_reply(sock: socket.socket, rf: BinaryIO, timeout: float) -> Reply:
    """The next reply, within one deadline for the whole of it (timeout
    seconds, 0: none): a receiver dribbling a byte a second cannot stretch
    the wait, as a timeout per recv would let it. Writes stay bounded by the
    socket timeout, which sendall applies to the whole call."""
    raw = rf.raw if isinstance(rf, io.BufferedReader) else None
    if isinstance(raw, FrameReader):
        raw.deadline = frame_end(timeout)
    try:
        return read_reply(rf)
    finally:
        sock.settimeout(timeout or None)


def quote(s: object) -> str:
    """s quoted as Go's %q does, always: a peer's message reaches the
    terminal as text, never as an escape sequence."""
    q = common._quote(s)
    return q if q.startswith('"') else f'"{q}"'


def connect(addr: tuple[str, int], timeout: float) -> socket.socket:
    """Dial the receiver with Nagle's algorithm off (Go's default): every
    write we make is a whole frame, worth sending at once. A timeout of 0
    means none (socket's own 0 would mean non-blocking)."""
    sock = socket.create_connection(addr, timeout=timeout or None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send(args: argparse.Namespace) -> None:
    host, port = common.parse_addr(args.addr)
    args.plain = False  # set once the receiver refuses version 2
    tracing_note()
    failed = 0
    sock: socket.socket | None = None
    rf: BinaryIO | None = None
    jobs = walk(args.files)
    for path, name in jobs:
        start = time.monotonic()
        attempt = 0
        while True:
            dialing = False
            try:
                if sock is None:
                    dialing = True
                    sock = connect((host, port), args.timeout)
                    dialing = False
                    rf = io.BufferedReader(FrameReader(sock, args.timeout), 1 << 16)
                assert rf is not None
                info = send_file(sock, rf, path, name, args, args.resume or attempt > 0)
                el = time.monotonic() - start
                print(
                    f"sent name={common._quote(name)} {info} elapsed={el * 1000:.3f}ms", flush=True
                )
                break
            except (OSError, ProtoError) as e:
                # A failed dial has no protocol status (IO_ERROR is the
                # receiver's write failure): NO_CONNECTION, a local one.
                status = e.status if isinstance(e, ProtoError) else "IO_ERROR"
                if dialing:
                    status = "NO_CONNECTION"
                if status not in KEEP_OPEN and sock is not None:
                    sock.close()
                    sock = None
                if status == "BAD_VERSION" and not args.plain:
                    args.plain = True  # an old receiver: again, as version 1
                    continue
                # Retry (resuming) what a retry can fix: a lost connection,
                # damage in flight, a busy name. Not a refusal of the file.
                passing = status in RETRYABLE or isinstance(e, ConnectionError)
                if attempt < args.retries and passing:
                    time.sleep(min(0.05 * 2**attempt, 2.0))
                    attempt += 1
                    continue
                failed += 1
                print(
                    f"failed name={common._quote(name)} status={status} err={quote(e)}", flush=True
                )
                break
    if sock is not None:
        sock.close()
    if failed:
        common.die(PROG, f"{failed} of {len(jobs)} files failed")


# ANCHOR_END: send


def main(argv: list[str] | None = None) -> None:
    ap = common.CommandParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    sp = sub.add_parser("serve", help="receive files into a directory (default)")
    sp.add_argument(
        "--addr", default=DEFAULT_ADDR, help="address to listen on (:PORT for all interfaces)"
    )
    sp.add_argument(
        "--dir", default="received", help="directory to write files into; where received files land"
    )
    sp.add_argument(
        "--max-conns",
        type=int,
        default=64,
        help="connections served at once (0: no limit); more are told BUSY",
    )
    sp.add_duration("--idle-timeout", "30s", "close a client silent this long (0: never)")
    sp.add_argument(
        "--max-size",
        type=int,
        default=64 << 30,
        help="largest file accepted, in bytes; 0: no limit",
    )
    sp.add_duration(
        "--partial-ttl", "24h", "remove unfinished partial files after this long; 0: never"
    )
    cp = sub.add_parser("send", help="send files and directories to a receiver")
    cp.add_argument("--addr", default=DEFAULT_ADDR, help="server address (HOST:PORT)")
    cp.add_argument(
        "--chunk", type=int, default=DEFAULT_CHUNK, help="chunk size in bytes (at most 4 MiB)"
    )
    cp.add_argument(
        "--overwrite", action="store_true", help="replace files that exist on the receiver"
    )
    cp.add_argument(
        "--resume",
        action="store_true",
        help="continue cut-off transfers from what the receiver has",
    )
    cp.add_argument(
        "--retries",
        type=int,
        default=3,
        help="retry a cut-off or damaged transfer this often, resuming each time",
    )
    cp.add_duration(
        "--timeout",
        "30s",
        "give up after this long; bounds the dial and each wait for the receiver, 0: never",
    )
    cp.add_argument("files", nargs="+", help="files and directories to send")
    args = common.parse_command(ap, argv, "serve")
    if args.cmd == "send":
        if not 1 <= args.chunk <= MAX_CHUNK_SIZE:
            ap.error(f"--chunk {args.chunk} not in 1..{MAX_CHUNK_SIZE}")
        send(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
