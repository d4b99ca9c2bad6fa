"""Chapter 3: the heartbeat protocol in Python, interoperating with the Go program.

    python3 python/ch03_heartbeat.py                  # server on 127.0.0.1:9003
    python3 python/ch03_heartbeat.py client           # client that reconnects
    python3 python/ch03_heartbeat.py client --count 3 --interval 1s

The protocol is one line per message: the client sends ``PING <seq>`` every
interval, the server answers ``PONG <seq>``. A peer silent for ``misses``
intervals is dead: the client closes and reconnects with an exponential
backoff with jitter; the server drops the connection.

What the source text's snippet gets wrong, and this file fixes:
- one ``recv`` is not one message: bytes are split into lines by a buffer;
- a heartbeat that only *sends* detects nothing: a dead peer is noticed by
  the *silence* of its answers, so every read has a deadline;
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
    parse_addr,
    parse_command,
    serve_until_signal,
    sigterm_as_interrupt,
)

PROG = "ch03_heartbeat.py"
DEFAULT_ADDR = "127.0.0.1:9003"
MAX_LINE = 1024  # a longer line is a protocol error, not a reason to buffer more


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
    # ANCHOR: exercise-backoff-py
    d: float = min(cap, base * 2.0 ** min(attempt, 62))
    return d / 2 + rand() * d / 2
    # ANCHOR_END: exercise-backoff-py


# ANCHOR_END: backoff


class PeerDead(Exception):
    """No line arrived for misses * interval."""


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
    """A heartbeat client; run() returns when stop is set or count PONGs arrived."""

    def __init__(self, addr: str, interval: float, misses: int, count: int, cap: float) -> None:
        self.addr = addr
        self.interval = interval
        self.misses = misses
        self.count = count
        self.base = interval / 10
        self.cap = cap
        self.pongs = 0

    # ANCHOR: session
    def session(self, sock: socket.socket, stop: threading.Event) -> bool:
        """Ping and read until the peer fails (raises) or count is reached
        (returns True). One thread does both: the socket timeout is the time
        left until the next PING or until the peer is declared dead."""
        silence = self.misses * self.interval
        buf = b""
        seq = 1
        now = time.monotonic()
        next_ping, last_line = now, now
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_ping:
                sock.sendall(f"PING {seq}\n".encode())
                seq += 1
                next_ping += self.interval
            if now - last_line >= silence:
                raise PeerDead(f"no line for {silence:g}s")
            sock.settimeout(max(0.001, min(next_ping, last_line + silence) - now))
            try:
                data = sock.recv(4096)  # whatever has arrived: part of a line, or several
            except TimeoutError:
                continue
            if not data:
                raise Closed("server closed the connection")
            buf += data
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                if not line.startswith(b"PONG"):
                    raise ValueError(f"protocol error: got {line!r}, want PONG")
                last_line = time.monotonic()
                self.pongs += 1
                if self.count and self.pongs >= self.count:
                    return True
            if len(buf) > MAX_LINE:
                raise ValueError("protocol error: line too long")
        return False

    # ANCHOR_END: session

    def run(self, stop: threading.Event) -> None:
        host, port = parse_addr(self.addr)
        failures = 0
        while not stop.is_set():
            log("INFO", "connecting", addr=self.addr, retry=failures)
            healthy = False
            try:
                with socket.create_connection(
                    (host, port), timeout=self.misses * self.interval
                ) as sock:
                    log("INFO", "connected", addr=self.addr)
                    before = self.pongs
                    try:
                        if self.session(sock, stop):
                            break
                    finally:
                        healthy = self.pongs > before
            except (OSError, PeerDead, Closed, ValueError) as err:
                state = "peer dead" if isinstance(err, PeerDead) else "disconnected"
                reason = classify(err)
                log("INFO", state, addr=self.addr, reason=reason, pongs=self.pongs, err=err)
                if healthy:
                    failures = 0
                delay = backoff_delay(failures, self.base, self.cap)
                failures += 1
                log(
                    "INFO",
                    "waiting to reconnect",
                    addr=self.addr,
                    retry_in=f"{delay * 1000:.0f}ms",
                    reason=reason,
                )
                stop.wait(delay)
        log("INFO", "stopped", addr=self.addr)


class _Handler(socketserver.StreamRequestHandler):
    server: HeartbeatServer

    def handle(self) -> None:
        peer = format_addr(self.client_address)
        silence = self.server.silence
        self.connection.settimeout(silence)  # the dead-peer rule, for clients
        log("INFO", "connected", peer=peer)
        try:
            while True:
                raw = self.rfile.readline(MAX_LINE + 1)
                if not raw:
                    log("INFO", "disconnected", peer=peer, reason="eof")
                    return
                if not raw.endswith(b"\n"):
                    log("WARN", "line too long", peer=peer)
                    return
                self.wfile.write((reply(raw.decode(errors="replace").rstrip("\n")) + "\n").encode())
        except TimeoutError:
            log("WARN", "peer dead", peer=peer, silent_for=f"{silence:g}s")
        except OSError as err:
            log("INFO", "disconnected", peer=peer, reason=classify(err), err=err)


class HeartbeatServer(BackoffMixin, socketserver.ThreadingTCPServer):
    # BackoffMixin: out of file descriptors, accept waits instead of spinning.
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = BACKLOG  # socketserver's default of 5 drops bursts of clients

    def __init__(self, addr: tuple[str, int], silence: float) -> None:
        self.silence = silence
        super().__init__(addr, _Handler)


def serve(args: argparse.Namespace) -> None:
    try:
        srv = HeartbeatServer(parse_addr(args.addr), args.misses * args.interval)
    except OSError as err:
        die(PROG, listen_error(args.addr, err))
    with srv:
        log("INFO", "listening", addr=format_addr(srv.server_address))
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
    s.add_duration("--interval", "5s", "time between PINGs; what the server expects of each client")
    s.add_argument(
        "--misses", type=int, default=3, help="missed intervals before the peer is declared dead"
    )
    c = sub.add_parser("client", help="heartbeat client: PING every interval, reconnect")
    c.add_argument("--addr", default=DEFAULT_ADDR, help="server address (HOST:PORT)")
    c.add_argument(
        "--count", type=int, default=0, help="exit after this many PONGs (0: run until interrupted)"
    )
    c.add_duration("--interval", "5s", "time between PINGs")
    c.add_duration(
        "--max-backoff", None, "longest wait between reconnection attempts (default 10*interval)"
    )
    c.add_argument(
        "--misses", type=int, default=3, help="missed intervals before the peer is declared dead"
    )
    args = parse_command(p, argv, "serve")
    if args.interval <= 0 or args.misses < 1:
        p.error("--interval must be positive and --misses at least 1")
    sigterm_as_interrupt()
    if args.command == "client":
        if args.count < 0 or (args.max_backoff or 0) < 0:
            p.error("--count and --max-backoff must not be negative")
        if not args.max_backoff:
            args.max_backoff = 10 * args.interval
        client(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
