"""Chapter 1 in Python: a threaded TCP server that prints every line clients
send, and a client. Same port (9000), flags and bytes as `go run ./ch01-overview`.

    python3 python/ch01_overview.py                      # serve on 127.0.0.1:9000
    python3 python/ch01_overview.py client --msg hello   # send one line

What it fixes in the source text's snippet:
- one recv() is not one message: TCP is a byte stream, so lines are read with a
  buffered reader that collects bytes across as many recv() calls as it takes;
- a server that serves one client and exits is not a server: this one serves
  many at once (a thread each) until Ctrl-C or SIGTERM, then drains;
- a peer controls line length and silence: both are bounded.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
import time
from typing import BinaryIO

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
)

PROG = "ch01-overview"


# ANCHOR: handler
class LineHandler(socketserver.StreamRequestHandler):
    """Prints "Received: <line>" for each line, until the client closes."""

    server: LineServer

    def handle(self) -> None:
        peer = format_addr(self.client_address)
        start = time.monotonic()
        log("INFO", "accepted", peer=peer)
        self.server.track(self.connection, add=True)
        lines = 0
        try:
            # The timeout applies to each recv(): a silent client is cut off.
            self.connection.settimeout(self.server.idle_timeout)
            limit = self.server.max_line
            while True:
                # readline(limit + 2) returns at most limit + "\r\n" bytes:
                # a longer line shows up as a chunk with no newline at its end.
                raw = self.rfile.readline(limit + 2)
                if not raw:
                    break  # EOF: the client closed
                text = raw.rstrip(b"\n").removesuffix(b"\r")
                if len(text) > limit or (not raw.endswith(b"\n") and len(raw) > limit):
                    self.refuse(limit)
                    err = f"line longer than {limit} bytes"
                    log_closed(peer, start, "too_long", err, lines=lines)
                    return
                self.server.println(f"Received: {text.decode('utf-8', 'replace')}")
                lines += 1
            log_closed(peer, start, "eof", lines=lines)
        except TimeoutError:
            log_closed(peer, start, "idle", lines=lines)
        except OSError as e:  # reset by peer, or closed by the drain timeout
            log_closed(peer, start, "error", e, lines=lines)
        finally:
            self.server.track(self.connection, add=False)

    # ANCHOR_END: handler

    # ANCHOR: refuse
    def refuse(self, limit: int) -> None:
        """Tell the client why, then close so that it can read it: send FIN
        first and discard what it still sends (bounded), or the kernel would
        answer the unread bytes with a reset that can destroy our message."""
        self.wfile.write(f"error: line longer than {limit} bytes; closing\n".encode())
        # ANCHOR: exercise-linger-py
        self.connection.shutdown(socket.SHUT_WR)
        self.connection.settimeout(2.0)
        drained = 0
        try:
            while drained < 1 << 20 and (chunk := self.connection.recv(65536)):
                drained += len(chunk)
        except OSError:
            pass
        # ANCHOR_END: exercise-linger-py

    # ANCHOR_END: refuse


class LineServer(BackoffMixin, socketserver.ThreadingTCPServer):
    """A thread per connection; remembers open connections for the drain.
    BackoffMixin: out of file descriptors, accept waits instead of spinning."""

    allow_reuse_address = True  # restart at once, even with old connections in TIME_WAIT
    # socketserver's default listen backlog is 5: with 30 clients connecting at
    # once the kernel's accept queue overflows and handshakes stall for
    # seconds (chapter 3). Go's net.Listen uses the system maximum (somaxconn).
    request_queue_size = BACKLOG
    daemon_threads = True  # we join connections ourselves, with a timeout

    def __init__(self, addr: tuple[str, int], max_line: int, idle_timeout: float) -> None:
        super().__init__(addr, LineHandler)
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.out_lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Condition()

    def println(self, text: str) -> None:
        with self.out_lock:  # one whole line at a time, in one write
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def track(self, conn: socket.socket, add: bool) -> None:
        with self.conns_lock:
            if add:
                self.conns.add(conn)
            else:
                self.conns.discard(conn)
            self.conns_lock.notify_all()

    def drain(self, timeout: float) -> None:
        """Wait for open connections to finish; close stragglers after timeout."""
        with self.conns_lock:
            if not self.conns_lock.wait_for(lambda: not self.conns, timeout):
                for c in list(self.conns):
                    c.shutdown(socket.SHUT_RDWR)
                log(
                    "WARN",
                    "drain timeout; closed the remaining connections",
                    drain_timeout=f"{timeout:g}s",
                )
                self.conns_lock.wait_for(lambda: not self.conns, 5.0)


# ANCHOR: serve
def serve(addr: str, max_line: int, idle_timeout: float, drain: float) -> None:
    host, port = parse_addr(addr)
    try:
        server = LineServer((host, port), max_line, idle_timeout)
    except OSError as e:
        die(PROG, listen_error(addr, e))
    log("INFO", "listening", addr=format_addr(server.server_address))
    serve_until_signal(server)  # Ctrl-C or SIGTERM
    server.server_close()  # stop accepting
    log("INFO", "draining", open=len(server.conns), drain_timeout=f"{drain:g}s")
    server.drain(drain)
    log("INFO", "stopped")


# ANCHOR_END: serve


# ANCHOR: client
def client(addr: str, msg: str | None, stdin: BinaryIO) -> None:
    """Send msg (one line) or stdin, half-close, then print what the server
    says until it closes: that EOF proves it read everything we sent."""
    host, port = parse_addr(addr)
    with socket.create_connection((host, port), timeout=5.0) as sock:
        sock.settimeout(None)
        peer = format_addr(sock.getpeername())  # before the server may close
        data = (msg + "\n").encode() if msg is not None else stdin.read()
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        log("INFO", "sent", peer=peer, bytes=len(data))
        while chunk := sock.recv(65536):
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()


# ANCHOR_END: client


def main(argv: list[str] | None = None) -> None:
    p = CommandParser(prog="ch01_overview.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="print every line clients send (default)")
    s.add_argument(
        "--addr",
        default="127.0.0.1:9000",
        help="address to listen on (host:port; :9000 for all interfaces)",
    )
    s.add_argument(
        "--max-line",
        type=int,
        default=4096,
        help="longest line accepted, in bytes; a longer one closes the connection",
    )
    s.add_duration("--idle-timeout", "5m", "close a connection silent for this long")
    s.add_duration("--drain-timeout", "10s", "on Ctrl-C, how long open connections may finish")
    c = sub.add_parser("client", help="send --msg, or stdin, to the server")
    c.add_argument("--addr", default="127.0.0.1:9000", help="server address")
    c.add_argument("--msg", help="send this line; without it, send stdin")
    args = parse_command(p, argv, "serve")
    try:
        if args.command == "client":
            client(args.addr, args.msg, sys.stdin.buffer)
        else:
            serve(args.addr, args.max_line, args.idle_timeout, args.drain_timeout)
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError, AcceptError) as e:
        die(PROG, e)


if __name__ == "__main__":
    main()
