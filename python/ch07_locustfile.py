"""Locust load test for an RFC 862 echo server: the source's 4.4 Locust script,
made to speak raw TCP instead of HTTP.

Locust's HttpUser cannot talk to an echo server, so this uses Locust's
custom-client pattern: a small client does the socket work and reports every
echo to Locust through the ``request`` event (name, response time in
milliseconds, length, exception). Locust then does what it is good at:
spawning users, the web UI or ``--headless`` summary, CSV statistics.

Run it (after ``go run ./ch04-echo`` or ``go run ./ch07-bench echo -addr 127.0.0.1:65432``)::

    locust -f python/ch07_locustfile.py --headless -u 10 -r 10 -t 10s --host 127.0.0.1:65432
    python3 python/ch07_locustfile.py --addr 127.0.0.1:65432 --conns 10 --duration 10s  # the same

Run as a script, the file takes the course's flag names and starts Locust
headless on itself (``-h`` works without Locust installed).

Locust exits 1 when any echo failed (its --exit-code-on-error default).
Each user is a closed loop, like ch07-bench's pingpong mode: send one
message, wait for all of its echo, check every byte, repeat. ECHO_SIZE sets
the message size (default 64 bytes).

What the source's snippet got wrong, fixed here: one ``recv`` is not one
message (TCP is a byte stream; we read until the whole echo is back), and an
echo with the wrong bytes is a failure, not a success.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import time
from collections.abc import Callable


def main(argv: list[str]) -> int:
    """Run Locust headless on this file with the course's flag names."""
    parser = argparse.ArgumentParser(
        prog="ch07_locustfile.py",
        description="Load an RFC 862 echo server with Locust: each user is one closed-loop "
        "TCP connection that sends a message, reads its whole echo back and checks it.",
        epilog="Equivalent Locust command: locust -f python/ch07_locustfile.py --headless "
        "-u CONNS -r CONNS -t DURATION --host ADDR. ECHO_SIZE in the environment sets "
        "the message size (default 64 bytes). Needs Locust (pip install -r "
        "python/requirements-dev.txt).",
    )
    parser.add_argument(
        "--addr", default="127.0.0.1:65432", help="echo server, HOST:PORT (default: %(default)s)"
    )
    parser.add_argument(
        "--conns", type=int, default=10, help="users, one connection each (default: %(default)s)"
    )
    parser.add_argument(
        "--duration",
        default="10s",
        help="how long the run lasts, e.g. 30s, 2m (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.conns < 1:
        parser.error("--conns must be at least 1")
    if not re.fullmatch(r"(?=\d)(\d+h)?(\d+m)?(\d+s)?", args.duration):
        parser.error(
            f"--duration {args.duration!r}: want whole hours, minutes, seconds (30s, 2m, 1h30m)"
        )
    users = str(args.conns)
    cmd = [sys.executable, "-m", "locust", "-f", os.path.abspath(__file__), "--headless"]
    cmd += ["-u", users, "-r", users, "-t", args.duration, "--host", args.addr]
    os.execv(sys.executable, cmd)  # Locust's exit status is ours: 1 when any echo failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

# Imported only when Locust loads this file, so that -h works without Locust.
from locust import User, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from common import parse_addr  # noqa: E402  (Locust puts this directory on sys.path)

MESSAGE_SIZE = int(os.environ.get("ECHO_SIZE", "64"))
TIMEOUT = 5.0  # seconds; a stuck echo is a failure, not a hang


class EchoMismatchError(Exception):
    """The server sent back bytes that differ from what we sent."""


# ANCHOR: check-echo
def check_echo(sent: bytes, got: bytes) -> None:
    """Raise EchoMismatchError, naming the first byte that differs, unless
    the echo got back is the payload sent (both are the same length)."""
    # ANCHOR: exercise-verify-echo-py
    if got != sent:
        at = next(i for i, (a, b) in enumerate(zip(got, sent, strict=True)) if a != b)
        raise EchoMismatchError(f"echo differs at byte {at}")
    # ANCHOR_END: exercise-verify-echo-py


# ANCHOR_END: check-echo


# ANCHOR: client
class EchoClient:
    """One TCP connection to the echo server; reports each echo to Locust."""

    def __init__(self, addr: str, environment: Environment) -> None:
        self.addr = parse_addr(addr)
        self.environment = environment
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.addr, timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # ANCHOR_END: client

    # ANCHOR: round-trip
    def round_trip(self, payload: bytes) -> int:
        """Send payload, read exactly len(payload) bytes back, compare them."""
        sock = self.sock or self._connect()
        sock.sendall(payload)
        got = bytearray()
        while len(got) < len(payload):  # one recv is not one message
            chunk = sock.recv(len(payload) - len(got))
            if not chunk:
                raise ConnectionError("server closed the connection mid-echo")
            got += chunk
        check_echo(payload, bytes(got))
        return len(got)

    # ANCHOR_END: round-trip

    # ANCHOR: report
    def echo(self, payload: bytes) -> None:
        """One timed round trip, reported to Locust as a success or a failure."""
        start = time.perf_counter()
        received = 0
        exception: Exception | None = None
        try:
            received = self.round_trip(payload)
        except (OSError, EchoMismatchError) as e:
            exception = e
            self.close()  # the stream is out of step now: start again on a new connection
        # Locust's event hooks are untyped; name the call's shape for mypy.
        fire: Callable[..., object] = self.environment.events.request.fire
        fire(
            request_type="echo",
            name=f"{len(payload)}B",
            response_time=(time.perf_counter() - start) * 1000.0,  # Locust wants milliseconds
            response_length=received,
            exception=exception,
            context={},
        )

    # ANCHOR_END: report


# ANCHOR: user
class EchoUser(User):
    """A closed-loop user: echo, echo, echo, with no think time."""

    wait_time = constant(0)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not self.host:
            raise ValueError("give the echo server with --host HOST:PORT, e.g. 127.0.0.1:65432")
        self.client = EchoClient(self.host, environment)
        self.seq = 0
        self.pattern = bytes((i * 7 + 1) % 256 for i in range(max(MESSAGE_SIZE - 8, 0)))

    @task
    def echo(self) -> None:
        self.seq += 1
        payload = (self.seq.to_bytes(8, "big") + self.pattern)[:MESSAGE_SIZE]
        self.client.echo(payload)

    def on_stop(self) -> None:
        self.client.close()


# ANCHOR_END: user
