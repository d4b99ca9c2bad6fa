"""Chapter 3: the heartbeat protocol in Python, interoperating with the Go program.

    python3 python/ch03_heartbeat.py                  # server on 127.0.0.1:9003
    python3 python/ch03_heartbeat.py client           # client that reconnects
    python3 python/ch03_heartbeat.py client --count 3 --interval 1s

The protocol is one line per message: the client sends ``PING <seq>`` every
interval, the server answers ``PONG <seq>``. The server closes a client silent
for ``misses`` intervals; the client counts only a PONG that answers one of its
PINGs, declares the server dead when none has for ``misses`` intervals, and
reconnects with an exponential backoff with jitter.

What the source text's snippet gets wrong, and this file fixes:
- one ``recv`` is not one message: bytes are split into lines by a buffer;
- a heartbeat that only *sends* detects nothing: a dead peer is noticed by
  the *silence* of its answers, so every read has a deadline;
- any line is not an answer: a PONG must carry the token of a PING we sent;
- reconnecting in a tight loop hammers a server that is restarting: wait,
  doubling the wait up to a cap, with jitter so that clients spread out.
"""

from __future__ import annotations

import argparse
import random
import socket
import socketserver
import threading
import time
from collections.abc import Callable

from common import (
    BACKLOG,
    AcceptError,
    BackoffMixin,
    CommandParser,
    die,
    format_addr,
    listen_error,
    log,
    log_closed,
    parse_addr,
    parse_command,
    serve_until_signal,
    sigterm_as_interrupt,
)

PROG = "ch03_heartbeat.py"
DEFAULT_ADDR = "127.0.0.1:9003"
MAX_LINE = 1024  # a line, its newline included; a longer one is an error, not a bigger buffer


# ANCHOR: reply
def reply(line: str) -> str:
    """The server's answer to one line: PING [token] -> PONG [token]."""
    cmd, _, arg = line.rstrip("\r").partition(" ")
    if cmd == "PING":
        return f"PONG {arg}" if arg else "PONG"
    return "ERR unknown command"


# ANCHOR_END: reply


# ANCHOR: backoff
def backoff_delay(
    attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Wait before attempt n: base doubled n times, capped, with equal jitter
    (a random point in the upper half, so retries spread out but never come
    immediately)."""
    d: float = min(cap, base * 2.0 ** min(attempt, 62))
    return d / 2 + rand() * d / 2


# ANCHOR_END: backoff


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it, to the microsecond:
    231µs, 1.235ms, 15s, 1m30s (the Go program's log values)."""
    us = round(seconds * 1e6)
    if us == 0:
        return "0s"
    if us < 1000:
        return f"{us}µs"
    if us < 1_000_000:
        return f"{us / 1000:.3f}".rstrip("0").rstrip(".") + "ms"
    h, us = divmod(us, 3_600_000_000)
    m, us = divmod(us, 60_000_000)
    sec = f"{us / 1e6:.6f}".rstrip("0").rstrip(".") + "s"
    return (f"{h}h{m}m" if h else f"{m}m" if m else "") + sec


# ANCHOR: rtt
class RttEstimator:
    """Round-trip samples smoothed as RFC 6298 (section 2) does, as the Go
    client's rttEstimator: the first sample R sets srtt to R and rttvar to
    R/2; each later one R' sets rttvar to 3/4 rttvar + 1/4 |srtt - R'| (with
    the old srtt), then srtt to 7/8 srtt + 1/8 R'. Times in seconds."""

    def __init__(self) -> None:
        self.srtt = 0.0
        self.rttvar = 0.0
        self.samples = 0

    def observe(self, r: float) -> None:
        # ANCHOR: exercise-srtt-py
        if self.samples == 0:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.samples += 1
        # ANCHOR_END: exercise-srtt-py


# ANCHOR_END: rtt


class PeerDead(Exception):
    """No PING answered for misses * interval."""


class Closed(Exception):
    """The server closed the connection (EOF)."""


def classify(err: BaseException) -> str:
    """Name an error the way the Go program's Classify does."""
    if isinstance(err, PeerDead | TimeoutError):
        return "timeout"
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ConnectionResetError | ConnectionAbortedError):
        return "reset"
    if isinstance(err, BrokenPipeError):
        return "broken-pipe"
    if isinstance(err, Closed):
        return "eof"
    return "other"


class Client:
    """A heartbeat client; run() returns when stop is set or count PONGs
    arrived. misses 0 never declares the server dead."""

    def __init__(self, addr: str, interval: float, misses: int, count: int, cap: float) -> None:
        self.addr = addr
        self.interval = interval
        self.misses = misses
        self.count = count
        self.base = min(interval / 10, cap)
        self.cap = cap
        self.pongs = 0  # PONGs that answered a PING, in all sessions
        self.unsolicited = 0  # this session's PONGs that answered none
        self.rtt = RttEstimator()  # this session's round trips

    # ANCHOR: session
    def session(self, sock: socket.socket, stop: threading.Event) -> bool:
        """Ping and read until the peer fails (raises) or count is reached
        (returns True). One thread does both: the socket timeout is the time
        left until the next PING or until the peer is declared dead."""
        silence = self.misses * self.interval  # 0: never dead
        sent: dict[str, float] = {}  # PINGs waiting for their PONG: token -> when
        buf, seq = b"", 1
        next_ping = heard = time.monotonic()  # heard: the last PING answered
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_ping:
                sent[str(seq)] = now
                sent.pop(str(seq - self.misses - 1), None)  # too old to count
                sock.sendall(f"PING {seq}\n".encode())
                seq, next_ping = seq + 1, next_ping + self.interval
            if silence and now - heard >= silence:
                raise PeerDead(f"no PING answered for {go_duration(silence)}")
            wake = min(next_ping, heard + silence) if silence else next_ping
            sock.settimeout(max(0.001, wake - now))
            try:
                data = sock.recv(4096)  # what has arrived: part of a line, or several
            except TimeoutError:
                continue
            if not data:
                raise Closed("server closed the connection")
            *lines, buf = (buf + data).split(b"\n")
            for line in lines:
                if self.answer(line, sent):
                    heard = time.monotonic()
                    if self.count and self.pongs >= self.count:
                        return True
            if len(buf) >= MAX_LINE:
                raise ValueError("protocol error: line too long")
        return False

    # ANCHOR_END: session

    # ANCHOR: answer
    def answer(self, line: bytes, sent: dict[str, float]) -> bool:
        """Take one line from the server; True if it is a PONG that answers
        one of our PINGs. Any other PONG is unsolicited: counted (the first
        of a session logged as a warning, so that a flood of them cannot
        flood the log), and no sign of life."""
        cmd, _, token = line.rstrip(b"\r").decode(errors="replace").partition(" ")
        if cmd != "PONG":
            raise ValueError(f"protocol error: got {line!r}, want PONG")
        when = sent.pop(token, None)
        if when is None:
            self.unsolicited += 1
            if self.unsolicited == 1:
                text = line.decode(errors="replace")
                log("WARN", "unsolicited pong", addr=self.addr, line=text)
            return False
        self.rtt.observe(time.monotonic() - when)
        self.pongs += 1
        return True

    # ANCHOR_END: answer

    def ended(self, err: BaseException) -> None:
        """Log how a session ended, as the Go client does."""
        state = "peer dead" if isinstance(err, PeerDead) else "disconnected"
        attrs: dict[str, object] = {"reason": classify(err), "pongs": self.pongs}
        if self.rtt.samples:
            attrs["srtt"] = go_duration(self.rtt.srtt)
        if self.unsolicited:
            attrs["unsolicited"] = self.unsolicited
        log("INFO", state, addr=self.addr, **attrs, err=err)

    def run(self, stop: threading.Event) -> None:
        host, port = parse_addr(self.addr)
        failures = 0
        while not stop.is_set():
            log("INFO", "connecting", addr=self.addr, retry=failures)
            before = self.pongs
            try:
                sock = socket.create_connection(
                    (host, port), timeout=self.misses * self.interval or None
                )
            except OSError as err:
                log("INFO", "dial failed", addr=self.addr, reason=classify(err), err=err)
                reason = classify(err)
            else:
                with sock:
                    log("INFO", "connected", addr=self.addr)
                    self.unsolicited, self.rtt = 0, RttEstimator()
                    try:
                        if self.session(sock, stop):
                            break  # count reached
                        continue  # stop was set
                    except (OSError, PeerDead, Closed, ValueError) as err:
                        self.ended(err)
                        reason = classify(err)
            if self.pongs > before:
                failures = 0  # the connection worked: the backoff starts again
            delay = backoff_delay(failures, self.base, self.cap)
            failures += 1
            log(
                "INFO",
                "waiting to reconnect",
                addr=self.addr,
                retry_in=go_duration(round(delay, 3)),
                reason=reason,
            )
            stop.wait(delay)
        log("INFO", "stopped", addr=self.addr)


class _Handler(socketserver.StreamRequestHandler):
    server: HeartbeatServer

    # ANCHOR: handle
    def handle(self) -> None:
        """Answer every line; close a client silent for misses intervals.
        The lines match the Go server's: accepted, then closed with why."""
        peer = format_addr(self.client_address)
        start = time.monotonic()
        silence = self.server.silence  # 0: never
        self.connection.settimeout(silence or None)  # the dead-peer rule
        log("INFO", "accepted", peer=peer)
        try:
            while True:
                raw = self.rfile.readline(MAX_LINE)
                if not raw:
                    return log_closed(peer, start, "eof")
                if not raw.endswith(b"\n") and len(raw) == MAX_LINE:
                    return log_closed(peer, start, "too_long", "line too long")
                line = raw.decode(errors="replace").rstrip("\n")
                answer = reply(line)
                self.wfile.write((answer + "\n").encode())
                if answer.startswith("ERR"):
                    log("WARN", "bad line", peer=peer, line=line.strip())
        except TimeoutError:
            log_closed(peer, start, "dead", silent_for=go_duration(silence))
        except OSError as err:
            log_closed(peer, start, classify(err), err)

    # ANCHOR_END: handle


class HeartbeatServer(BackoffMixin, socketserver.ThreadingTCPServer):
    # BackoffMixin: out of file descriptors, accept waits instead of spinning.
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = BACKLOG  # socketserver's default of 5 drops bursts of clients

    def __init__(self, addr: tuple[str, int], silence: float) -> None:
        self.silence = silence  # 0: never drop a silent client
        super().__init__(addr, _Handler)


def serve(args: argparse.Namespace) -> None:
    try:
        srv = HeartbeatServer(parse_addr(args.addr), args.misses * args.interval)
    except OSError as err:
        die(PROG, listen_error(args.addr, err))
    with srv:
        log(
            "INFO",
            "listening",
            addr=format_addr(srv.server_address),
            interval=go_duration(args.interval),
            misses=args.misses,
        )
        try:
            serve_until_signal(srv)  # Ctrl-C or SIGTERM
        except AcceptError as err:
            die(PROG, err)
        log("INFO", "stopped")


def client(args: argparse.Namespace) -> None:
    stop = threading.Event()
    c = Client(args.addr, args.interval, args.misses, args.count, args.max_backoff)
    try:
        c.run(stop)
    except KeyboardInterrupt:
        stop.set()
        log("INFO", "stopped", addr=args.addr)


def main(argv: list[str] | None = None) -> None:
    p = CommandParser(prog=PROG, description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="heartbeat server: answers PING with PONG (default)")
    s.add_argument(
        "--addr", default=DEFAULT_ADDR, help="address to listen on (:PORT for all interfaces)"
    )
    s.add_duration(
        "--interval",
        "5s",
        "time between PINGs; what the server expects of each client, 0: never drop a silent client",
    )
    s.add_argument(
        "--misses",
        type=int,
        default=3,
        help="missed intervals before the peer is declared dead; 0: never",
    )
    c = sub.add_parser("client", help="heartbeat client: PING every interval, reconnect")
    c.add_argument("--addr", default=DEFAULT_ADDR, help="server address (HOST:PORT)")
    c.add_argument(
        "--count", type=int, default=0, help="exit after this many PONGs (0: run until interrupted)"
    )
    c.add_duration("--interval", "5s", "time between PINGs")
    c.add_duration("--max-backoff", "30s", "longest wait between reconnection attempts")
    c.add_argument(
        "--misses",
        type=int,
        default=3,
        help="missed intervals before the peer is declared dead; 0: never",
    )
    args = parse_command(p, argv, "serve")
    if args.interval < 0 or args.misses < 0:
        p.error("--interval and --misses must not be negative")
    sigterm_as_interrupt()
    if args.command == "client":
        if args.interval == 0 or args.max_backoff <= 0 or args.count < 0:
            p.error("--interval and --max-backoff must be positive, --count not negative")
        client(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
