"""Chapter 2: the line server of section 2.3, in Python, made correct.

The source text's server calls ``socket()``, ``bind()``, ``listen()``,
``accept()`` once, ``recv(1024)`` once, replies and exits. That serves one
client with one message. This version keeps the same six steps and fixes it:

* it accepts in a loop and gives each connection its own thread, so many
  clients are served at once (the Go version uses a goroutine each);
* it loops on ``recv``: one ``recv`` is not one message. Bytes are collected
  until a ``\\n`` ends a line, however the network split them;
* it bounds the line length (the peer controls it) and closes every socket
  it opens, and on Ctrl-C or SIGTERM it stops accepting, lets connections
  finish the lines they have, and exits 0.

It speaks the same bytes as ``go run ./ch02-tcp-basics``: every line gets
``echo: <line>\\n``; both listen on 127.0.0.1:8888 by default.

    python3 python/ch02_tcp_server.py [serve] [--addr HOST:PORT]
    python3 python/ch02_tcp_server.py client [--addr HOST:PORT] < lines.txt
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time

from common import (
    AcceptBackoff,
    AcceptError,
    CommandParser,
    accept,
    die,
    format_addr,
    listen_error,
    log,
    log_closed,
    parse_addr,
    parse_command,
    sigterm_as_interrupt,
)

PROG = "ch02_tcp_server.py"
DEFAULT_ADDR = "127.0.0.1:8888"
REPLY_PREFIX = b"echo: "
MAX_LINE_BYTES = 64 * 1024  # the longest line, not counting its "\n"
TOO_LONG_REPLY = b"error: line too long\n"


# ANCHOR: handle_lines
def handle_lines(conn: socket.socket) -> int:
    """Step 5 (read/write): answer every line until the peer closes.

    Returns the number of lines answered. A line over MAX_LINE_BYTES (the
    bytes before its "\\n") is refused: TOO_LONG_REPLY, then LineTooLong.
    """
    pending = b""
    lines = 0
    while True:
        data = conn.recv(4096)
        if not data:  # b"" means the peer sent FIN: no more data will come
            break
        pending += data
        while b"\n" in pending:  # one recv may carry many lines, or part of one
            line, pending = pending.split(b"\n", 1)
            check_length(conn, line, lines)
            conn.sendall(line_reply(line))
            lines += 1
        check_length(conn, pending, lines)  # no "\n" yet, and already too long?
    if pending:  # a last line without "\n" is still a line, as in Go's bufio.Scanner
        conn.sendall(line_reply(pending))
        lines += 1
    return lines


# ANCHOR_END: handle_lines


def line_reply(line: bytes) -> bytes:
    """The protocol's answer to one line (given without its "\\n"): a
    trailing "\\r" is dropped, so telnet and Windows clients work too."""
    return REPLY_PREFIX + line.removesuffix(b"\r") + b"\n"


class LineTooLong(Exception):
    """A line over the limit was refused; the connection must be closed."""

    def __init__(self, lines: int) -> None:
        super().__init__(f"line longer than {MAX_LINE_BYTES} bytes")
        self.lines = lines  # the lines answered before it


def check_length(conn: socket.socket, line: bytes, lines: int) -> None:
    """Refuse a line longer than MAX_LINE_BYTES: the error line, then LineTooLong."""
    if len(line) > MAX_LINE_BYTES:
        conn.sendall(TOO_LONG_REPLY)
        raise LineTooLong(lines)


class Server:
    """The six steps, a thread per connection, graceful shutdown."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.threads: list[threading.Thread] = []

    # ANCHOR: six_steps
    def listen(self, addr: str) -> socket.socket:
        host, port = parse_addr(addr)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)  # step 1: socket()
        # Restarting must not fail while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))  # step 2: bind()
            sock.listen(128)  # step 3: listen(), with an accept-queue length
        except OSError as err:
            sock.close()
            die(PROG, listen_error(addr, err))
        return sock

    # ANCHOR_END: six_steps

    # ANCHOR: accept_loop
    def serve(self, sock: socket.socket) -> None:
        backoff = AcceptBackoff()  # out of file descriptors: wait, do not spin
        while True:
            conn, peer = accept(sock, backoff)  # step 4: a finished handshake
            t = threading.Thread(target=self.handle, args=(conn, format_addr(peer)))
            with self.lock:
                self.conns.add(conn)
                # Forget the threads that have finished.
                self.threads = [x for x in self.threads if x.is_alive()]
                self.threads.append(t)
            t.start()

    def handle(self, conn: socket.socket, peer: str) -> None:
        log("INFO", "accepted", step="4 accept", peer=peer)
        log("INFO", "serving", step="5 read/write", peer=peer)
        start, lines, reason = time.monotonic(), 0, "eof"
        err: Exception | None = None
        try:
            lines = handle_lines(conn)  # step 5: read/write
        except LineTooLong as e:
            lines, reason, err = e.lines, "too_long", e
        except OSError as e:
            reason, err = "error", e
        finally:
            with self.lock:
                self.conns.discard(conn)
            conn.close()  # step 6: close()
        log_closed(peer, start, reason, err, step="6 close", lines=lines)

    # ANCHOR_END: accept_loop

    # ANCHOR: shutdown
    def shutdown(self, drain: float) -> None:
        """Wake every connection blocked in recv (shutdown(SHUT_RD) makes it
        return b""), give them ``drain`` seconds to finish, then cut the rest."""
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):  # already closed by the peer
                    conn.shutdown(socket.SHUT_RD)
            threads = list(self.threads)
        for t in threads:
            t.join(drain)
        with self.lock:
            late = len(self.conns)
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join()
        if late:
            log(
                "WARN",
                "drain timeout; closed the remaining connections",
                drain_timeout=f"{drain:g}s",
            )

    # ANCHOR_END: shutdown


def serve(addr: str, drain: float) -> None:
    sigterm_as_interrupt()
    server = Server()
    sock = server.listen(addr)
    log(
        "INFO",
        "listening",
        addr=format_addr(sock.getsockname()),
        steps="1 socket, 2 bind, 3 listen",
    )
    failed: AcceptError | None = None
    try:
        server.serve(sock)
    except KeyboardInterrupt:
        pass
    except AcceptError as err:  # permanent: finish the connections, then exit 1
        log("ERROR", "accept failed", err=err)
        failed = err
    finally:
        sock.close()
        log("INFO", "draining", open=len(server.conns), drain_timeout=f"{drain:g}s")
        server.shutdown(drain)
    if failed:
        die(PROG, failed)
    log("INFO", "stopped")


def client(addr: str, timeout: float) -> None:
    """Send each line of stdin, print each reply (like the Go client)."""
    host, port = parse_addr(addr)
    with socket.create_connection((host, port), timeout=timeout) as conn:
        reader = conn.makefile("rb")
        for line in sys.stdin.buffer:
            conn.sendall(line.rstrip(b"\n") + b"\n")
            reply = reader.readline()
            if not reply.endswith(b"\n"):
                die(PROG, "server closed the connection")
            sys.stdout.write(reply.decode(errors="replace"))
            sys.stdout.flush()


# ANCHOR: pipeline
def pipeline(addr: str, lines: list[bytes], timeout: float) -> list[bytes]:
    """Send every line in one go, then read every reply (client side).

    Instead of one line, then its reply, the client writes all its lines,
    half-closes its side (its FIN says "nothing more comes"), and reads
    until the server's FIN. Returns the replies without their "\\n".
    """
    host, port = parse_addr(addr)
    with socket.create_connection((host, port), timeout=timeout) as conn:
        # ANCHOR: exercise-pipeline-py
        conn.sendall(b"".join(line + b"\n" for line in lines))
        conn.shutdown(socket.SHUT_WR)  # FIN: the server reads EOF at the end
        data = b""
        while chunk := conn.recv(4096):  # b"": the server's FIN, every reply is in
            data += chunk
        return data.removesuffix(b"\n").split(b"\n") if data else []
        # ANCHOR_END: exercise-pipeline-py


# ANCHOR_END: pipeline


def main(argv: list[str] | None = None) -> None:
    parser = CommandParser(prog=PROG, description="Chapter 2 line server and client.")
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="line server: the six steps, a thread each (default)")
    s.add_argument(
        "--addr", default=DEFAULT_ADDR, help="address to listen on (:PORT for all interfaces)"
    )
    s.add_duration(
        "--drain-timeout", "10s", "on SIGINT/SIGTERM, how long open connections may finish"
    )
    c = sub.add_parser("client", help="send each line of stdin, print each reply")
    c.add_argument("--addr", default=DEFAULT_ADDR, help="server address (HOST:PORT)")
    c.add_duration("--timeout", "5s", "give up after this long; bounds the dial and each reply")
    args = parse_command(parser, argv, "serve")
    try:
        parse_addr(args.addr)
    except ValueError as err:
        parser.error(str(err))  # exits 2, like a Go usage error
    if args.command == "client":
        try:
            client(args.addr, args.timeout)
        except OSError as err:
            die(PROG, err)
    else:
        serve(args.addr, args.drain_timeout)


if __name__ == "__main__":
    main()
