"""Plumbing shared by the Python counterparts (standard library only).

It mirrors the Go side's internal/cli: "HOST:PORT" addresses, one log line per
event in the same key=value shape as Go's log/slog text handler (so tests can
wait for ``msg=listening addr=...`` from either language), and turning SIGTERM
into the same graceful path as Ctrl-C.
"""

from __future__ import annotations

import datetime
import signal
import sys
from types import FrameType
from typing import NoReturn


def parse_addr(addr: str) -> tuple[str, int]:
    """Split "HOST:PORT" (or "[v6]:PORT", or ":PORT" for all interfaces)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"bad address {addr!r}: want HOST:PORT, e.g. 127.0.0.1:9000")
    return host.strip("[]"), int(port)


def format_addr(sockaddr: tuple[object, ...]) -> str:
    """Format a socket address tuple the way Go prints a net.Addr."""
    host, port = str(sockaddr[0]), sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _quote(v: object) -> str:
    """A value as Go's log/slog text handler writes it: bare when plain,
    else quoted like strconv.Quote, so that control characters from a peer
    (an escape sequence in a file name) reach the terminal as text."""
    s = str(v)
    if s and all(c.isprintable() and c not in ' ="' for c in s):
        return s
    out = []
    for c in s:
        o = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0xDC80 <= o <= 0xDCFF:  # an undecodable byte, kept by "surrogateescape"
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif c == " " or c.isprintable():
            out.append(c)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return '"' + "".join(out) + '"'


def log(level: str, msg: str, **attrs: object) -> None:
    """Write one event line to stderr: time=... level=INFO msg=... key=value..."""
    now = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
    parts = [f"time={now}", f"level={level}", f"msg={_quote(msg)}"]
    parts += [f"{k}={_quote(v)}" for k, v in attrs.items()]
    # One write call per line: print() would write the text and the newline
    # separately, and another thread's line could land in between.
    sys.stderr.write(" ".join(parts) + "\n")
    sys.stderr.flush()


def sigterm_as_interrupt() -> None:
    """Make SIGTERM raise KeyboardInterrupt, so `kill` and Ctrl-C both take the
    graceful shutdown path of the ``except KeyboardInterrupt`` block."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def die(prog: str, err: object) -> NoReturn:
    """Exit 1 with one clear sentence, as the Go programs do."""
    print(f"{prog}: {err}", file=sys.stderr, flush=True)
    sys.exit(1)


def listen_error(addr: str, err: OSError) -> str:
    """Explain the most common listen failure the way the Go programs do."""
    if isinstance(err, OSError) and err.errno in (98, 48, 10048):  # EADDRINUSE
        return (
            f"listen {addr}: address already in use "
            "(another server running? try --addr 127.0.0.1:0)"
        )
    return f"listen {addr}: {err.strerror or err}"
