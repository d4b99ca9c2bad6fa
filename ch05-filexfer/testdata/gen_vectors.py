"""Writes vectors.json, the test vectors shared by the Go and Python
implementations of the ch05 protocol. It builds every frame with struct and
its own bit-by-bit CRC-32C, independently of both implementations, so that
neither can agree with itself by accident. Run: python3 gen_vectors.py
"""

import hashlib
import json
import pathlib
import struct


def crc32c(b):
    crc = 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def hx(*parts):
    return " ".join(p.hex() for p in parts)


def hdr(name, size, chunk=262144, ver=1, flags=0, magic=b"FXF1", nlen=None, crc_xor=0, trace=None):
    """A header's fields; trace (bytes) makes it a version 2 header with a
    trace context: a length byte, then the bytes, before the CRC."""
    n = name.encode() if isinstance(name, str) else name
    parts = [
        magic,
        bytes([ver, flags]),
        struct.pack(">H", len(n) if nlen is None else nlen),
        struct.pack(">Q", size),
        struct.pack(">I", chunk),
        n,
    ]
    if trace is not None:
        parts += [bytes([len(trace)]), trace]
    return parts + [struct.pack(">I", crc32c(b"".join(parts)) ^ crc_xor)]


V = []


def H(desc, parts, header=None, error=None):
    v = {"kind": "header", "desc": desc, "hex": hx(*[p for p in parts if p])}
    if header:
        v["header"] = header
    else:
        v["error"] = error
    V.append(v)


H(
    "a small file",
    hdr("hello.txt", 5),
    {"version": 1, "flags": 0, "name": "hello.txt", "size": 5, "chunk_size": 262144},
)
H(
    "an empty file",
    hdr("empty", 0, 1),
    {"version": 1, "flags": 0, "name": "empty", "size": 0, "chunk_size": 1},
)
H(
    "overwrite and resume, nested name, UTF-8",
    hdr("docs/报告.txt", 1 << 32, 4 << 20, flags=3),
    {"version": 1, "flags": 3, "name": "docs/报告.txt", "size": 1 << 32, "chunk_size": 4 << 20},
)
H(
    "largest size that fits int64",
    hdr("big", (1 << 63) - 1),
    {"version": 1, "flags": 0, "name": "big", "size": (1 << 63) - 1, "chunk_size": 262144},
)
H(
    "longest name (1024 bytes)",
    hdr("n/" * 511 + "nn", 1),
    {"version": 1, "flags": 0, "name": "n/" * 511 + "nn", "size": 1, "chunk_size": 262144},
)
H("empty input: the sender is done", [b""], error="EOF")
H("wrong magic (an HTTP request)", [b"GET / HTTP/1.1\r\n\r\n\x00\x00"], error="BAD_MAGIC")
H("wrong magic case", hdr("a", 1, magic=b"fxf1"), error="BAD_MAGIC")
H("unknown version", hdr("a", 1, ver=3), error="BAD_VERSION")
H("unknown flag bit", hdr("a", 1, flags=4), error="BAD_HEADER")
H("chunk size 0", hdr("a", 1, chunk=0), error="BAD_HEADER")
H("chunk size over 4 MiB", hdr("a", 1, chunk=(4 << 20) + 1), error="BAD_HEADER")
H("size over int64", hdr("a", 1 << 63), error="TOO_LARGE")
H("name length 0", hdr("", 1), error="BAD_NAME")
H("name length 65535 (refused before allocating)", hdr("a", 1, nlen=65535), error="BAD_NAME")
H("name length 1025", hdr("a", 1, nlen=1025), error="BAD_NAME")
H("truncated fixed part", [hdr("a", 1)[0], b"\x01\x00\x00"], error="BAD_HEADER")
H("CRC missing", hdr("a", 1)[:6], error="BAD_HEADER")
H(
    "header CRC wrong (one bit of the name flipped in flight)",
    hdr("hello.txt", 5)[:5]
    + [
        b"hello.tx\x74",
        struct.pack(">I", crc32c(b"".join(hdr("hello.txt", 5)[:5]) + b"hello.txu")),
    ],
    error="CRC_MISMATCH",
)
H("header CRC field wrong", hdr("a", 1, crc_xor=1), error="CRC_MISMATCH")
H("name shorter than its length", hdr("abc", 1, nlen=10), error="BAD_HEADER")

# Version 2: the same header with a W3C trace context (traceparent) between
# the name and the CRC. Version 1 headers above are unchanged.
TP = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
H(
    "version 2 with a traceparent",
    hdr("hello.txt", 5, ver=2, trace=TP),
    {"version": 2, "flags": 0, "name": "hello.txt", "size": 5, "chunk_size": 262144, "traceparent": TP.decode()},
)
H(
    "version 2 without a trace context (length 0)",
    hdr("hello.txt", 5, ver=2, flags=2, trace=b""),
    {"version": 2, "flags": 2, "name": "hello.txt", "size": 5, "chunk_size": 262144, "traceparent": ""},
)
H(
    "version 2, longest trace context (255 bytes)",
    hdr("a", 1, ver=2, trace=b"x" * 255),
    {"version": 2, "flags": 0, "name": "a", "size": 1, "chunk_size": 262144, "traceparent": "x" * 255},
)
H("version 2, trace context with a space", hdr("a", 1, ver=2, trace=b"00 x"), error="BAD_HEADER")
H("version 2, trace context with a newline", hdr("a", 1, ver=2, trace=b"00-\n"), error="BAD_HEADER")
H(
    "version 2, trace context with a non-ASCII byte",
    hdr("a", 1, ver=2, trace="é".encode()),
    error="BAD_HEADER",
)
H("version 2, trace context cut off", hdr("a", 1, ver=2, trace=TP)[:7] + [TP[:10]], error="BAD_HEADER")
H("version 2, trace length byte missing", hdr("a", 1, ver=2, trace=TP)[:6], error="BAD_HEADER")
H(
    "version 2, one bit of the trace context flipped in flight",
    hdr("a", 1, ver=2, trace=TP)[:7] + [b"1" + TP[1:], hdr("a", 1, ver=2, trace=TP)[8]],
    error="CRC_MISMATCH",
)


def C(desc, parts, limit, data=None, end=None, error=None):
    v = {"kind": "chunk", "desc": desc, "hex": hx(*[p for p in parts if p]), "limit": limit}
    if data is not None:
        v["data_hex"] = data.hex()
    if end is not None:
        v["end"] = True
        v["sha256"] = end
    if error:
        v["error"] = error
    V.append(v)


d = b"hello"
C("five bytes", [struct.pack(">II", 5, crc32c(d)), d], 262144, data=d)
C(
    "the CRC-32C check value",
    [struct.pack(">II", 9, crc32c(b"123456789")), b"123456789"],
    9,
    data=b"123456789",
)
C("one byte at limit 1", [struct.pack(">II", 1, crc32c(b"\x00")), b"\x00"], 1, data=b"\x00")
s = hashlib.sha256(b"hello").digest()
C("End frame with SHA-256 of 'hello'", [struct.pack(">II", 0, 0), s], 262144, end=s.hex())
e = hashlib.sha256(b"").digest()
C("End frame of an empty file", [struct.pack(">II", 0, 0), e], 0, end=e.hex())
C(
    "CRC mismatch (one bit flipped in data)",
    [struct.pack(">II", 5, crc32c(d)), b"hellp"],
    262144,
    error="CRC_MISMATCH",
)
C(
    "length over the limit",
    [struct.pack(">II", 6, crc32c(b"hello!")), b"hello!"],
    5,
    error="BAD_CHUNK",
)
C(
    "length 4 GiB - 1 (refused before reading)",
    [struct.pack(">II", 0xFFFFFFFF, 0)],
    262144,
    error="BAD_CHUNK",
)
C("End frame with a non-zero CRC field", [struct.pack(">II", 0, 1), s], 262144, error="BAD_CHUNK")
C("data cut off", [struct.pack(">II", 5, crc32c(d)), b"hel"], 262144, error="CUT_OFF")
C("End frame cut off", [struct.pack(">II", 0, 0), s[:10]], 262144, error="CUT_OFF")
C("head cut off", [b"\x00\x00\x00"], 262144, error="CUT_OFF")


def R(desc, status, code, value, msg):
    m = msg.encode()
    V.append(
        {
            "kind": "reply",
            "desc": desc,
            "hex": hx(bytes([code]), struct.pack(">Q", value), struct.pack(">H", len(m)), m),
            "reply": {"status": status, "value": value, "msg": msg},
        }
    )


R("ready from the start", "READY", 1, 0, "")
R("ready to resume at 1 MiB", "READY", 1, 1 << 20, "")
R("committed", "OK", 0, 5, "")
R("exists", "EXISTS", 0x15, 0, '"a.txt" exists (send with -overwrite to replace it)')
R("CRC mismatch", "CRC_MISMATCH", 0x18, 0, "chunk CRC-32C 0x00000001, frame says 0x00000002")
V.append(
    {
        "kind": "reply",
        "desc": "message length over 1024",
        "hex": hx(b"\x00", bytes(8), struct.pack(">H", 1025)),
        "error": "BAD_HEADER",
    }
)


def N(name, ok, desc):
    v = {"kind": "name", "desc": desc, "name": name}
    if not ok:
        v["error"] = "BAD_NAME"
    V.append(v)


N("a.txt", True, "plain")
N("dir/sub/a.txt", True, "nested")
N("..a", True, "dots inside a component are fine")
N(".hidden", True, "hidden file")
N("报告.txt", True, "UTF-8")
N("a" * 255, True, "component of 255 bytes")
N("", False, "empty")
N("/etc/passwd", False, "absolute")
N("../etc/passwd", False, "parent")
N("a/../../b", False, "parent in the middle")
N("a/..", False, "parent at the end")
N("./a", False, "dot component")
N("a//b", False, "empty component")
N("a/", False, "trailing slash")
N("..\\windows\\win.ini", False, "backslash separator")
N("C:evil", False, "drive letter")
N("a\x00b", False, "NUL")
N("a\nb", False, "newline")
N("a\x1b[31m", False, "terminal escape")
N("a\x7f", False, "DEL")
N("a\u0085b", False, "C1 control NEL (U+0085)")
N("a\u009b31m", False, "C1 control CSI (U+009B), an escape sequence on its own")
N("a\u0080", False, "first C1 control (U+0080)")
N("a\u009f", False, "last C1 control (U+009F)")
N("a\u00a0b", True, "no-break space (U+00A0), just past the C1 range")
N("evil\u202etxt.exe", False, "right-to-left override (U+202E): ls shows evilexe.txt")
N("a\u202ab", False, "left-to-right embedding (U+202A), first of U+202A-U+202E")
N("a\u2066b", False, "left-to-right isolate (U+2066), first of U+2066-U+2069")
N("a\u2069b", False, "pop directional isolate (U+2069)")
N("a\u200fb", False, "right-to-left mark (U+200F)")
N("a\u061cb", False, "Arabic letter mark (U+061C)")
N("a\u2065b", True, "U+2065, between the bidi ranges, is not refused")
N("a" * 256, False, "component of 256 bytes")
N("a/" * 512 + "a", False, "1025 bytes")
N(".fxpart/x.part", False, "the receiver's partial directory")
N(
    ".FXPart/x.part",
    False,
    "the partial directory in another case (same directory on macOS, Windows)",
)
N("a/.fxpart", True, "a .fxpart deeper down is an ordinary name")
V.append({"kind": "name", "desc": "invalid UTF-8", "name_hex": "61ff62", "error": "BAD_NAME"})

doc = {
    "comment": (
        "Shared test vectors of the ch05 file transfer protocol. hex fields are "
        "frames with spaces between fields (ignore spaces). Both "
        "ch05-filexfer/vectors_test.go and python/tests/test_ch05_vectors.py "
        "decode every vector and encode every valid one, and must agree byte "
        "for byte. error is a status name, or EOF (clean end before a header) "
        "or CUT_OFF (stream ended inside a chunk)."
    ),
    "vectors": V,
}
out = pathlib.Path(__file__).with_name("vectors.json")
out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
print(f"{len(V)} vectors written to {out}")
