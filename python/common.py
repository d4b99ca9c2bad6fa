"""Plumbing shared by the Python counterparts (standard library only).

It mirrors the Go side's internal/cli: "HOST:PORT" addresses, one log line per
event in the same key=value shape as Go's log/slog text handler (so tests can
wait for ``msg=listening addr=...`` from either language), turning SIGTERM
into the same graceful path as Ctrl-C, the accept loop's backoff that
chapter 3 teaches (AcceptBackoff), shared by every server, and command lines
like the Go programs': subcommands with a default, Go durations ("5s"),
Go-style help.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any, NoReturn

# The accept-queue length to ask listen() for: the kernel caps it at the
# system maximum (net.core.somaxconn on Linux, 4096 by default), which is what
# Go's net.Listen asks for. A shorter queue loses idle clients in a burst:
# when it is full, the client's handshake can still complete (SYN cookies),
# the server drops it, and a client that sends nothing never retries. With
# 1024, a burst of 10,000 idle clients left about 5,000 of them connected to
# nothing, in each of ch04's three models; with the maximum (4096 here),
# each model held all 10,000 within 9 s.
BACKLOG = 65535


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


_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
}


class DurationError(ValueError, argparse.ArgumentTypeError):
    """A string that is not a Go duration. It is a ValueError for callers, and
    argparse prints its message as it is (exit 2, a usage error)."""


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string: "5s", "250ms", "1m30s", "0".

    The syntax is Go's time.ParseDuration (an optional sign, then numbers with
    units ns, us, ms, s, m, h), so a flag takes the same value in both
    languages. A bare number such as "5" is refused: seconds or milliseconds?
    """
    sign = -1.0 if text[:1] == "-" else 1.0
    body = text[1:] if text[:1] in ("+", "-") else text
    if body == "0":
        return 0.0
    bad = DurationError(f"bad duration {text!r}: want e.g. 5s, 250ms or 1m30s")
    if not body:
        raise bad
    seconds, pos = 0.0, 0
    while pos < len(body):  # one number and unit per step: "1m30s" is 1m, then 30s
        m = _DURATION_PART.match(body, pos)
        if not m or m.group(1) in ("", "."):
            raise bad
        seconds += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * seconds


class GoHelpFormatter(argparse.HelpFormatter):
    """Help in the shape of Go's flag package: an option's default follows its
    text, "(default 5s)", unless the default is zero or unset."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        zero = action.default in (None, False, 0, "", "0", "0s", argparse.SUPPRESS)
        if not text or zero or not action.option_strings or "%(default)" in text:
            return text
        return text + " (default %(default)s)"


class CommandParser(argparse.ArgumentParser):
    """An argparse parser for a program with subcommands, with Go-style help;
    add_subparsers makes its commands CommandParsers too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", GoHelpFormatter)
        super().__init__(*args, **kwargs)

    def add_duration(self, flag: str, default: str | None, help: str) -> None:
        """An option that takes a Go duration ("5s", "1m30s"), as every
        duration option of the course does."""
        self.add_argument(flag, type=parse_duration, default=default, metavar="DURATION", help=help)


def parse_command(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, default: str
) -> argparse.Namespace:
    """Parse argv (sys.argv[1:] when None) as the Go programs' cli.Dispatch
    does: with no arguments, or when the first is an option other than -h,
    the default command runs with all of them; "help" lists the commands."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["help"]:
        args = ["-h"]
    elif not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        args = [default, *args]
    return parser.parse_args(args)


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


def since(start: float) -> str:
    """The time since start (a time.monotonic() reading) as a log value, in
    milliseconds with microseconds, close to Go's Duration rounded to µs."""
    return f"{(time.monotonic() - start) * 1000:.3f}ms"


def log_closed(peer: str, start: float, reason: str, err: object = None, **attrs: object) -> None:
    """A connection's last line, as every server of the course writes it
    (CONTRIBUTING.md): INFO, or WARN with err when it ended on an error.
    attrs are the counts (bytes_in and bytes_out, or lines for a line server)."""
    if err is None:
        log("INFO", "closed", peer=peer, duration=since(start), **attrs, reason=reason)
    else:
        log("WARN", "closed", peer=peer, duration=since(start), **attrs, reason=reason, err=err)


def sigterm_as_interrupt() -> None:
    """Make SIGTERM raise KeyboardInterrupt, so `kill` and Ctrl-C both take the
    graceful shutdown path of the ``except KeyboardInterrupt`` block."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def serve_until_signal(server: socketserver.BaseServer) -> None:
    """Run server.serve_forever() until Ctrl-C or SIGTERM, then return (the
    listener stays open: the caller closes it and drains).

    The first signal does not raise KeyboardInterrupt. Raised while
    socketserver hands a new client to its thread, it would make socketserver
    close that client's socket under the thread serving it. The handler asks
    the loop to stop instead; shutdown() waits for the loop to end, so it runs
    in a thread of its own. From then on a signal raises KeyboardInterrupt
    again, which cuts the caller's drain short."""

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sigterm_as_interrupt()


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


# ANCHOR: accept-backoff
# accept() fails for reasons that pass by themselves: the process (EMFILE) or
# the system (ENFILE) is out of file descriptors, the kernel is short of
# memory (ENOBUFS, ENOMEM), or a client gave up while it waited in the queue
# (ECONNABORTED). Retrying at once spins at 100 % CPU, because the connection
# that could not be accepted is still in the queue and the listener stays
# readable; giving up takes the server down for one busy moment. So wait,
# doubling the wait from 5 ms up to 1 s, and start again from 5 ms after the
# next success: ch03-listen-accept/accept.go, and Go's net/http, do the same.
ACCEPT_RETRY = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED}
)
ACCEPT_MIN_DELAY = 0.005  # seconds
ACCEPT_MAX_DELAY = 1.0


class AcceptError(Exception):
    """accept() failed for good (not an OSError, so that socketserver, which
    ignores OSErrors from accept, lets it through and the server exits)."""


class AcceptBackoff:
    """The wait before the next accept() after a failure.

    One log line when a run of failures (an episode) starts and one when it
    ends, however many failures it holds: a server out of descriptors must
    not also fill the disk with its log.
    """

    def __init__(self) -> None:
        self.delay = 0.0  # 0: the last accept() succeeded
        self.failures = 0
        self.since = 0.0

    def failed(self, err: OSError) -> float:
        """Return how long to wait; raise AcceptError if err is permanent."""
        if err.errno not in ACCEPT_RETRY:
            raise AcceptError(f"accept: {err.strerror or err}") from err
        if self.delay == 0:
            log("WARN", "accept failed; backing off", err=err.strerror or err, max_delay="1s")
            self.since = time.monotonic()
        self.delay = min(max(2 * self.delay, ACCEPT_MIN_DELAY), ACCEPT_MAX_DELAY)
        self.failures += 1
        return self.delay

    def succeeded(self) -> None:
        if self.delay:
            took = f"{time.monotonic() - self.since:.3f}s"
            log("INFO", "accepting again", failures=self.failures, after=took)
        self.delay, self.failures = 0.0, 0


# ANCHOR_END: accept-backoff


def accept(ln: socket.socket, backoff: AcceptBackoff) -> tuple[socket.socket, Any]:
    """ln.accept() for a blocking accept loop, waiting out failures worth
    retrying (AcceptBackoff); raises AcceptError on any other."""
    while True:
        try:
            conn, addr = ln.accept()
        except OSError as err:
            time.sleep(backoff.failed(err))
            continue
        backoff.succeeded()
        return conn, addr


class BackoffMixin:
    """For a socketserver.TCPServer subclass (listed before it): accept with
    AcceptBackoff. socketserver itself ignores accept errors and selects
    again at once, which spins while the listener stays readable."""

    backoff: AcceptBackoff | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        if self.backoff is None:
            self.backoff = AcceptBackoff()
        try:
            conn, addr = super().get_request()  # type: ignore[misc]
        except OSError as err:
            # Wait here, then let socketserver go round its loop again (it
            # checks for shutdown() there): sleeping blocks only accepting.
            time.sleep(self.backoff.failed(err))
            raise
        self.backoff.succeeded()
        return conn, addr
