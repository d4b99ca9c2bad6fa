"""Locust load test for an RFC 862 echo server: the source's 4.4 Locust script,
made to speak raw TCP instead of HTTP.

Locust's HttpUser cannot talk to an echo server, so this uses Locust's
custom-client pattern: a small client does the socket work and reports every
echo to Locust through the ``request`` event (name, response time in
milliseconds, length, exception). Locust then does what it is good at:
spawning users, the web UI or ``--headless`` summary, CSV statistics.

Run it (after ``go run ./ch04-echo`` or ``go run ./ch07-bench echo -addr 127.0.0.1:65432``)::

    locust -f python/ch07_locustfile.py --headless -u 10 -r 10 -t 10s --host 127.0.0.1:65432

Locust exits 1 when any echo failed (its --exit-code-on-error default).
Each user is a closed loop, like ch07-bench's pingpong mode: send one
message, wait for all of its echo, check every byte, repeat. ECHO_SIZE sets
the message size (default 64 bytes).

What the source's snippet got wrong, fixed here: one ``recv`` is not one
message (TCP is a byte stream; we read until the whole echo is back), and an
echo with the wrong bytes is a failure, not a success.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from locust import User, constant, task
from locust.env import Environment

from common import parse_addr  # Locust puts the locustfile's directory on sys.path

MESSAGE_SIZE = int(os.environ.get("ECHO_SIZE", "64"))
TIMEOUT = 5.0  # seconds; a stuck echo is a failure, not a hang


class EchoMismatchError(Exception):
    """The server sent back bytes that differ from what we sent."""


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

    def echo(self, payload: bytes) -> None:
        """Send payload, read exactly len(payload) bytes back, compare, report."""
        start = time.perf_counter()
        received = 0
        exception: Exception | None = None
        try:
            sock = self.sock or self._connect()
            sock.sendall(payload)
            got = bytearray()
            while len(got) < len(payload):  # one recv is not one message
                chunk = sock.recv(len(payload) - len(got))
                if not chunk:
                    raise ConnectionError("server closed the connection mid-echo")
                got += chunk
            received = len(got)
            # ANCHOR: exercise-verify-echo-py
            if got != payload:
                at = next(i for i, (a, b) in enumerate(zip(got, payload, strict=True)) if a != b)
                raise EchoMismatchError(f"echo differs at byte {at}")
            # ANCHOR_END: exercise-verify-echo-py
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


# ANCHOR_END: client


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
