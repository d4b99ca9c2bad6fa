"""Chapter 4: the echo server (RFC 862), in three concurrency models, and a client.

The source text's server accepts one client, answers with ``recv(1024)`` /
``sendall`` and exits. Made correct here:

* it serves many clients, and keeps serving after each one leaves;
* it echoes until the client closes, however the bytes were split into
  ``recv`` calls (one ``recv`` is not one message: TCP is a byte stream);
* after the client's half-close (EOF) it sends what is left, then closes;
* a client that sends and never reads is pushed back (the server stops
  reading while it cannot write), so memory stays bounded.

Three ways to serve many clients at once, chosen with ``--model``:
``threads`` (socketserver, one thread per client), ``selectors`` (one thread,
non-blocking sockets, an event loop written by hand) and ``asyncio``.

    python3 python/ch04_echo.py                       # serve on 127.0.0.1:65432
    python3 python/ch04_echo.py serve --model asyncio
    python3 python/ch04_echo.py client --msg hello
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import selectors
import signal
import socket
import socketserver
import sys
import threading
import time

from common import die, format_addr, listen_error, log, parse_addr, sigterm_as_interrupt

DEFAULT_ADDR = "127.0.0.1:65432"
CHUNK = 64 * 1024  # bytes per recv
BACKLOG = 1024  # accept queue: socketserver's default of 5 drops bursts of clients
MODELS = ("threads", "selectors", "asyncio")
IDLE_TIMEOUT = [300.0]  # seconds, set by --idle-timeout; 0 means never
DRAIN_TIMEOUT = [10.0]  # seconds, set by --drain-timeout


class Open:
    """The sockets of the clients being served, so that a shutdown can wait
    for them (the drain) and close those still open when the drain ends."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.socks: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self.cond:
            self.socks.add(sock)

    def remove(self, sock: socket.socket) -> None:
        with self.cond:
            self.socks.discard(sock)
            self.cond.notify_all()

    def drain(self, timeout: float) -> None:
        with self.cond:
            log("INFO", "draining", open=len(self.socks), timeout=f"{timeout}s")
            if not self.cond.wait_for(lambda: not self.socks, timeout):
                n = len(self.socks)
                log("WARN", "drain timeout: closing the remaining connections", open=n)
                for sock in self.socks:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv
                self.cond.wait_for(lambda: not self.socks, 5.0)


# ANCHOR: threads
class EchoHandler(socketserver.BaseRequestHandler):
    """One thread per client: recv, sendall, until the client closes."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        peer = format_addr(self.client_address)
        start, total = time.monotonic(), 0
        log("INFO", "open", peer=peer)
        # A timeout on every recv and sendall: a client that neither sends
        # nor reads for that long is closed (Go's -idle-timeout).
        sock.settimeout(IDLE_TIMEOUT[0] or None)
        self.server.open.add(sock)  # type: ignore[attr-defined]
        try:
            # recv returns b"" once the client has closed (or half-closed) its
            # side; everything before that has been echoed by then.
            while data := sock.recv(CHUNK):
                # sendall blocks while the client does not read: this thread
                # stops reading, which pushes back on the client.
                sock.sendall(data)
                total += len(data)
        except TimeoutError:
            log("INFO", "close", peer=peer, duration=_dur(start), bytes=total, reason="idle")
            return
        except OSError as err:
            log("WARN", "close", peer=peer, bytes=total, reason="error", err=err)
            return
        finally:
            self.server.open.remove(sock)  # type: ignore[attr-defined]
        # socketserver then shuts the socket down and closes it.
        log("INFO", "close", peer=peer, duration=_dur(start), bytes=total, reason="eof")


class ThreadingEchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True  # the drain below waits for clients, with a timeout
    allow_reuse_address = True
    request_queue_size = BACKLOG
    open = Open()


def serve_threads(host: str, port: int) -> None:
    with ThreadingEchoServer((host, port), EchoHandler) as server:
        log("INFO", "listening", addr=format_addr(server.server_address), model="threads")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM
            server.serve_forever()
        server.socket.close()  # stop accepting; clients still connected finish
        server.open.drain(DRAIN_TIMEOUT[0])
        log("INFO", "stopped")


# ANCHOR_END: threads


# ANCHOR: selectors
class Conn:
    """A client of the selectors server: its socket and what is left to send."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock, self.peer = sock, peer
        self.out = bytearray()  # received, not yet echoed: at most CHUNK bytes
        self.eof = False  # the client has half-closed
        self.total = 0
        self.events = selectors.EVENT_READ
        self.start = self.last = time.monotonic()  # last: last byte moved


def serve_selectors(host: str, port: int) -> None:
    sel = selectors.DefaultSelector()
    ln = socket.create_server((host, port), backlog=BACKLOG)
    ln.setblocking(False)
    sel.register(ln, selectors.EVENT_READ)
    log("INFO", "listening", addr=format_addr(ln.getsockname()), model="selectors")

    # Ctrl-C and SIGTERM arrive as a byte on a socket the loop watches
    # (signal.set_wakeup_fd), so the loop stops between events, never in the
    # middle of one, and select() wakes up at once.
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: None)  # the byte is the message
    sel.register(wake_r, selectors.EVENT_READ, "wakeup")
    drain_until: float | None = None  # set when a signal starts the drain

    conns: set[Conn] = set()
    idle = IDLE_TIMEOUT[0]

    def close(c: Conn, reason: str, err: OSError | None = None) -> None:
        sel.unregister(c.sock)
        c.sock.close()
        conns.discard(c)
        if err:
            log("WARN", "close", peer=c.peer, bytes=c.total, reason=reason, err=err)
        else:
            log("INFO", "close", peer=c.peer, duration=_dur(c.start), bytes=c.total, reason=reason)

    def update(c: Conn) -> None:
        # Read only while nothing is waiting to go out: a client that does
        # not read stops being read from, so c.out never grows past CHUNK.
        if not c.out and c.eof:
            close(c, "eof")
            return
        want = selectors.EVENT_WRITE if c.out else selectors.EVENT_READ
        if want != c.events:  # epoll_ctl only when the interest changes
            sel.modify(c.sock, want, c)
            c.events = want

    try:
        while drain_until is None or (conns and time.monotonic() < drain_until):
            # With an idle timeout or a drain, wake up at least once a second
            # to close the connections that have been silent too long.
            timeout = min(idle, 1.0) if idle else None
            if drain_until is not None:
                timeout = min(timeout or 1.0, max(drain_until - time.monotonic(), 0))
            for key, _ in sel.select(timeout=timeout):
                if key.data == "wakeup":
                    with contextlib.suppress(BlockingIOError):
                        wake_r.recv(64)
                    if drain_until is not None:
                        return  # a second signal: stop now
                    sel.unregister(ln)
                    ln.close()  # stop accepting; the clients still here finish
                    drain_until = time.monotonic() + DRAIN_TIMEOUT[0]
                    log("INFO", "draining", open=len(conns), timeout=f"{DRAIN_TIMEOUT[0]}s")
                    continue
                if key.data is None:  # the listener: a client is waiting
                    try:
                        sock, addr = ln.accept()
                    except OSError:
                        continue  # e.g. the client already gave up
                    sock.setblocking(False)
                    c = Conn(sock, format_addr(addr))
                    sel.register(sock, c.events, c)
                    conns.add(c)
                    log("INFO", "open", peer=c.peer)
                    continue
                c = key.data
                try:
                    if not c.out:
                        data = c.sock.recv(CHUNK)
                        c.out += data
                        c.eof = not data
                    if c.out:  # try at once: usually the send buffer has room
                        sent = c.sock.send(c.out)
                        del c.out[:sent]
                        c.total += sent
                    c.last = time.monotonic()
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as err:
                    close(c, "error", err)
                    continue
                update(c)
            if idle:
                now = time.monotonic()
                for c in [c for c in conns if now - c.last > idle]:
                    close(c, "idle")
        if conns:
            log("WARN", "drain timeout: closing the remaining connections", open=len(conns))
    finally:
        signal.set_wakeup_fd(-1)
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        sel.close()
        wake_w.close()
        log("INFO", "stopped")


# ANCHOR_END: selectors


# ANCHOR: asyncio
HANDLERS: set[asyncio.Task[None]] = set()  # connections being served, for the drain


async def handle_asyncio(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    task = asyncio.current_task()
    assert task is not None
    HANDLERS.add(task)
    task.add_done_callback(HANDLERS.discard)
    peer = format_addr(writer.get_extra_info("peername"))
    start, total = time.monotonic(), 0
    log("INFO", "open", peer=peer)
    idle = IDLE_TIMEOUT[0] or None
    try:
        while True:
            async with asyncio.timeout(idle):  # a silent client is closed
                data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            # drain waits while the send buffer is above its high-water mark:
            # without it, a client that never reads would grow it forever.
            async with asyncio.timeout(idle):
                await writer.drain()
            total += len(data)
        log("INFO", "close", peer=peer, duration=_dur(start), bytes=total, reason="eof")
    except TimeoutError:
        log("INFO", "close", peer=peer, duration=_dur(start), bytes=total, reason="idle")
    except OSError as err:
        log("WARN", "close", peer=peer, bytes=total, reason="error", err=err)
    finally:
        writer.close()


async def serve_asyncio_main(host: str, port: int) -> None:
    server = await asyncio.start_server(handle_asyncio, host, port, backlog=BACKLOG)
    addr = format_addr(server.sockets[0].getsockname())
    log("INFO", "listening", addr=addr, model="asyncio")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not on Windows, where Ctrl-C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()  # stop accepting; the clients still here finish
    tasks = set(HANDLERS)
    log("INFO", "draining", open=len(tasks), timeout=f"{DRAIN_TIMEOUT[0]}s")
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT[0])
        if pending:
            log("WARN", "drain timeout: closing the remaining connections", open=len(pending))
            for t in pending:
                t.cancel()  # its finally block closes the socket
            await asyncio.wait(pending)
    log("INFO", "stopped")


# ANCHOR_END: asyncio


def _dur(start: float) -> str:
    return f"{(time.monotonic() - start) * 1000:.3f}ms"


def serve(args: argparse.Namespace) -> None:
    try:
        host, port = parse_addr(args.addr)
    except ValueError as err:
        print(f"ch04_echo: {err}", file=sys.stderr)
        sys.exit(2)
    if args.idle_timeout < 0:
        print("ch04_echo: --idle-timeout must not be negative", file=sys.stderr)
        sys.exit(2)
    if args.drain_timeout < 0:
        print("ch04_echo: --drain-timeout must not be negative", file=sys.stderr)
        sys.exit(2)
    IDLE_TIMEOUT[0] = args.idle_timeout
    DRAIN_TIMEOUT[0] = args.drain_timeout
    sigterm_as_interrupt()
    try:
        if args.model == "threads":
            serve_threads(host, port)
        elif args.model == "selectors":
            serve_selectors(host, port)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the event loop handles it
            try:
                asyncio.run(serve_asyncio_main(host, port))
            except KeyboardInterrupt:
                log("INFO", "stopped")
    except KeyboardInterrupt:
        log("INFO", "stopped by a second signal, without waiting")
    except OSError as err:
        die("ch04_echo", listen_error(args.addr, err))


# ANCHOR: client
def client(args: argparse.Namespace) -> None:
    """Send --msg (or stdin), print the echo, and exit once all of it is back.

    Sending and receiving run at once (a thread sends): a client that sends
    everything before reading deadlocks as soon as the socket buffers fill.
    """
    try:
        host, port = parse_addr(args.addr)
    except ValueError as err:
        print(f"ch04_echo: {err}", file=sys.stderr)
        sys.exit(2)
    try:
        sock = socket.create_connection((host, port), timeout=args.timeout)
    except OSError as err:
        die("ch04_echo", f"dial {args.addr}: {err}")
    sent = [0]

    def send() -> None:
        if args.msg is not None:
            data = (args.msg + "\n").encode()
            sock.sendall(data)
            sent[0] = len(data)
        else:
            while chunk := os.read(sys.stdin.fileno(), CHUNK):
                sock.sendall(chunk)
                sent[0] += len(chunk)
        # ANCHOR: exercise-client-halfclose-py
        sock.shutdown(socket.SHUT_WR)  # half-close: "that is all"
        # ANCHOR_END: exercise-client-halfclose-py

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = 0
    with sock:
        try:
            while data := sock.recv(CHUNK):  # until the server closes after our FIN
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                received += len(data)
        except OSError as err:
            die("ch04_echo", err)
    sender.join()
    if received != sent[0]:
        die("ch04_echo", f"sent {sent[0]} bytes but {received} came back")


# ANCHOR_END: client


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="ch04_echo.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    p_serve = sub.add_parser("serve", help="run the echo server (default)")
    p_serve.add_argument("--addr", default=DEFAULT_ADDR, help="listen address HOST:PORT")
    p_serve.add_argument("--model", choices=MODELS, default="threads", help="concurrency model")
    p_serve.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        help="close a client that neither sends nor reads this many seconds (0: never)",
    )
    p_serve.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="on Ctrl-C or SIGTERM, seconds the open connections may finish",
    )
    p_client = sub.add_parser("client", help="send --msg or stdin and print the echo")
    p_client.add_argument("--addr", default=DEFAULT_ADDR, help="server address HOST:PORT")
    p_client.add_argument("--msg", help="send this line instead of stdin")
    p_client.add_argument("--timeout", type=float, default=60.0, help="seconds")
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]  # the server is the default command
    args = parser.parse_args(argv)
    if args.command == "client":
        client(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
