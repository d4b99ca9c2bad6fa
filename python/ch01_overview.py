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
            # The timeout bounds each recv(): a silent client is cut off
            # (None: never).
            self.connection.settimeout(self.server.idle_timeout or None)
            limit = self.server.max_line
            while True:
                # At most limit bytes and "\n": a longer line has no "\n" here.
                raw = self.rfile.readline(limit + 1)
                if not raw:
                    break  # EOF: the client closed
                if not raw.endswith(b"\n") and len(raw) > limit:
                    self.refuse(limit)
                    err = f"line longer than {limit} bytes"
                    log_closed(peer, start, "too_long", err, lines=lines)
                    return
                text = raw.removesuffix(b"\n").removesuffix(b"\r")
                if self.quit(text):  # exercise 3
                    log_closed(peer, start, "quit", lines=lines)
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
        """Tell the client why, then close so that it can read it."""
        line = f"error: line longer than {limit} bytes; closing\n"
        self.wfile.write(line.encode())
        self.linger()

    def linger(self) -> None:
        """A lingering close: send FIN first, then read and discard what the
        client still sends, at most 1 MiB for at most 2 s in all, so that the
        close finds no unread bytes and sends FIN, not a reset that can
        destroy our last words."""
        self.connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 2.0
        drained = 0
        try:
            while drained < 1 << 20 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)  # what is left of the 2 s
                chunk = self.connection.recv(65536)
                if not chunk:
                    break  # the client's FIN
                drained += len(chunk)
        except OSError:
            pass  # the 2 s ran out, or the client reset

    # ANCHOR_END: refuse

    # ANCHOR: quit
    def quit(self, text: bytes) -> bool:
        """A line that says QUIT, in any case, gets "bye" and a lingering
        close. Reports whether the line was QUIT."""
        # ANCHOR: exercise-quit-py
        if text.upper() != b"QUIT":
            return False
        self.wfile.write(b"bye\n")
        self.linger()
        return True
        # ANCHOR_END: exercise-quit-py

    # ANCHOR_END: quit


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
        help="address to listen on (:PORT for all interfaces)",
    )
    s.add_argument(
        "--max-line",
        type=int,
        default=4096,
        help="longest line accepted, in bytes before the newline; a longer one is refused",
    )
    s.add_duration("--idle-timeout", "5m", "close a client silent this long (0: never)")
    s.add_duration(
        "--drain-timeout", "10s", "on SIGINT/SIGTERM, how long open connections may finish"
    )
    c = sub.add_parser("client", help="send --msg, or stdin, to the server")
    c.add_argument("--addr", default="127.0.0.1:9000", help="server address (HOST:PORT)")
    c.add_argument("--msg", help="send this line instead of stdin")
    args = parse_command(p, argv, "serve")
    if args.command != "client" and args.max_line < 1:
        p.error("--max-line must be at least 1")  # exits 2, like a Go usage error
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
