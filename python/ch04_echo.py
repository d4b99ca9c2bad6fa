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
import http.server
import os
import selectors
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from common import (
    BACKLOG,  # socketserver's default of 5 would drop bursts of clients
    AcceptBackoff,
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

try:  # optional: without prometheus_client the server runs with metrics off
    import prometheus_client
except ImportError:
    prometheus_client = None  # type: ignore[assignment]

DEFAULT_ADDR = "127.0.0.1:65432"
CHUNK = 64 * 1024  # bytes per recv
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
            log("INFO", "draining", open=len(self.socks), drain_timeout=f"{timeout:g}s")
            if not self.cond.wait_for(lambda: not self.socks, timeout):
                log("WARN", "drain timeout; closed the remaining connections", open=len(self.socks))
                for sock in self.socks:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv
                self.cond.wait_for(lambda: not self.socks, 5.0)


# ANCHOR: metrics
class Metrics:
    """The Go servers' tcp_server_* metrics that apply here (Go's
    internal/telemetry), served by prometheus_client on --metrics-addr.
    Until start() succeeds every method does nothing: metrics off."""

    on = False

    def start(self, addr: str) -> None:
        host, port = parse_addr(addr)
        if prometheus_client is None:
            log("WARN", "metrics off: prometheus_client is not installed", metrics_addr=addr)
            return
        pc = prometheus_client
        pc.disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series, as in Go
        reg = pc.CollectorRegistry()
        # prometheus_client appends _total to a counter's name itself.
        self.open = pc.Gauge(
            "tcp_server_connections_open", "Connections being served now.", registry=reg
        )
        self.accepted = pc.Counter(
            "tcp_server_connections_accepted", "Connections accepted.", registry=reg
        )
        self.closed_ = pc.Counter(
            "tcp_server_connections_closed",
            "Connections that ended, by why they ended (eof, idle, error, shutdown).",
            ["reason"],
            registry=reg,
        )
        self.received = pc.Counter(
            "tcp_server_received_bytes", "Bytes read from clients.", registry=reg
        )
        self.sent = pc.Counter("tcp_server_sent_bytes", "Bytes written to clients.", registry=reg)
        server = MetricsHTTPServer(host, port, lambda: pc.generate_latest(reg))
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        self.on = True
        log("INFO", "metrics listening", addr=format_addr(server.server_address), paths="/metrics")

    def opened(self) -> None:
        if self.on:
            self.accepted.inc()
            self.open.inc()

    def closed(self, reason: str, n_in: int, n_out: int) -> None:
        """A connection ended, having received n_in bytes and sent n_out."""
        if self.on:
            self.open.dec()
            self.closed_.labels(reason).inc()
            self.received.inc(n_in)
            self.sent.inc(n_out)


METRICS = Metrics()


def ended(peer: str, start: float, n_in: int, n_out: int, reason: str, err: object = None) -> None:
    """A connection's last line (common.log_closed), then the metrics count it."""
    log_closed(peer, start, reason, err, bytes_in=n_in, bytes_out=n_out)
    METRICS.closed(reason, n_in, n_out)


# ANCHOR_END: metrics


# ANCHOR: metrics-http
# The bounds of the Go servers' -metrics-addr (internal/httpserve): the
# metrics port may be open to the network and shares this process and its
# descriptors with the echo server, so slow, half-sent and idle clients
# must not pile up there. (prometheus_client's own server has no timeout.)
HTTP_MAX_CONNS = 32  # served at once; more wait in the kernel's accept queue
HTTP_READ_TIMEOUT = 5.0  # seconds for a whole request, from its first byte
HTTP_WRITE_TIMEOUT = 10.0  # seconds to send the response
HTTP_IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may wait for its next request


class MetricsHandler(http.server.BaseHTTPRequestHandler):
    """GET /metrics over HTTP/1.1 keep-alive, each step under its timeout."""

    protocol_version = "HTTP/1.1"
    server: MetricsHTTPServer

    def handle(self) -> None:
        wait = HTTP_READ_TIMEOUT  # for the first request; then HTTP_IDLE_TIMEOUT
        self.close_connection = False
        while not self.close_connection:
            self.connection.settimeout(wait)
            try:
                if not self.rfile.peek(1):  # type: ignore[attr-defined]
                    return  # the client closed
            except OSError:  # TimeoutError included: silent for too long
                return
            wait = HTTP_IDLE_TIMEOUT
            # A timeout per recv would let a client send a byte every few
            # seconds forever: the whole request gets HTTP_READ_TIMEOUT.
            self.cut = threading.Timer(HTTP_READ_TIMEOUT, self.cut_off)
            self.cut.start()
            try:
                self.handle_one_request()
            finally:
                self.cut.cancel()

    def cut_off(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv

    def do_GET(self) -> None:
        self.cut.cancel()  # the request is in; now the response's timeout
        self.connection.settimeout(HTTP_WRITE_TIMEOUT)
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = self.server.exposition()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per scrape would drown the server's own log


class MetricsHTTPServer(BackoffMixin, http.server.ThreadingHTTPServer):
    """At most HTTP_MAX_CONNS connections at once: at the cap it stops
    accepting, so more clients wait in the kernel's queue, holding none of
    this process's descriptors (Go: netutil.LimitListener)."""

    daemon_threads = True
    request_queue_size = BACKLOG  # the kernel's queue, where clients over the cap wait

    def __init__(self, host: str, port: int, exposition: Callable[[], bytes]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.slots = threading.BoundedSemaphore(HTTP_MAX_CONNS)
        self.exposition = exposition
        super().__init__((host, port), MetricsHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        self.slots.acquire()  # released when the connection is closed
        try:
            return super().get_request()
        except BaseException:
            self.slots.release()
            raise

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.slots.release()


# ANCHOR_END: metrics-http


# ANCHOR: threads
# ANCHOR: threads-handler
class EchoHandler(socketserver.BaseRequestHandler):
    """One thread per client: recv, sendall, until the client closes."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        peer = format_addr(self.client_address)
        start, n_in, n_out = time.monotonic(), 0, 0
        log("INFO", "accepted", peer=peer)
        METRICS.opened()
        # A timeout on every recv and sendall: a client that neither sends
        # nor reads for that long is closed (Go's -idle-timeout).
        sock.settimeout(IDLE_TIMEOUT[0] or None)
        self.server.open.add(sock)  # type: ignore[attr-defined]
        try:
            # recv returns b"" once the client has closed (or half-closed) its
            # side; everything before that has been echoed by then.
            while data := sock.recv(CHUNK):
                n_in += len(data)
                # sendall blocks while the client does not read: this thread
                # stops reading, which pushes back on the client.
                sock.sendall(data)
                n_out += len(data)
        except TimeoutError:
            ended(peer, start, n_in, n_out, "idle")
            return
        except OSError as err:
            ended(peer, start, n_in, n_out, "error", err)
            return
        finally:
            self.server.open.remove(sock)  # type: ignore[attr-defined]
        # socketserver then shuts the socket down and closes it.
        ended(peer, start, n_in, n_out, "eof")
        # ANCHOR_END: threads-handler


# ANCHOR: threads-server
class ThreadingEchoServer(BackoffMixin, socketserver.ThreadingTCPServer):
    # BackoffMixin: out of file descriptors, accept waits instead of spinning.
    daemon_threads = True  # the drain below waits for clients, with a timeout
    allow_reuse_address = True
    request_queue_size = BACKLOG
    open = Open()


def serve_threads(host: str, port: int) -> None:
    with ThreadingEchoServer((host, port), EchoHandler) as server:
        addr = format_addr(server.server_address)
        log("INFO", "listening", addr=addr, model="threads")
        serve_until_signal(server)  # Ctrl-C or SIGTERM
        server.socket.close()  # stop accepting; clients still connected finish
        server.open.drain(DRAIN_TIMEOUT[0])
        log("INFO", "stopped")
        # ANCHOR_END: threads-server


# ANCHOR_END: threads


# ANCHOR: selectors
# ANCHOR: selectors-setup
class Conn:
    """A client of the selectors server: its socket and what is left to send."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock, self.peer = sock, peer
        self.out = bytearray()  # received, not yet echoed: at most CHUNK bytes
        self.eof = False  # the client has half-closed
        self.n_in = self.n_out = 0  # bytes received, bytes sent
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
    drain = f"{DRAIN_TIMEOUT[0]:g}s"  # the drain's bound, for its log line
    interrupted = False  # by a second signal, during the drain
    # ANCHOR_END: selectors-setup

    # ANCHOR: selectors-helpers
    conns: set[Conn] = set()
    idle = IDLE_TIMEOUT[0]
    backoff = AcceptBackoff()
    accept_at: float | None = None  # while backing off: when to accept again

    def close(c: Conn, reason: str, err: OSError | None = None) -> None:
        sel.unregister(c.sock)
        c.sock.close()
        conns.discard(c)
        ended(c.peer, c.start, c.n_in, c.n_out, reason, err)

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
            if accept_at is not None:  # backing off: is the wait over?
                if time.monotonic() >= accept_at:
                    sel.register(ln, selectors.EVENT_READ)
                    accept_at = None
                else:
                    timeout = min(timeout or 1.0, accept_at - time.monotonic())
            for key, _ in sel.select(timeout=timeout):
                # ANCHOR_END: selectors-helpers
                # ANCHOR: selectors-events
                if key.data == "wakeup":
                    with contextlib.suppress(BlockingIOError):
                        wake_r.recv(64)
                    if drain_until is not None:
                        interrupted = True  # a second signal: stop now
                        return
                    if accept_at is None:  # else it is not registered
                        sel.unregister(ln)
                    accept_at = None
                    ln.close()  # stop accepting; the clients still here finish
                    drain_until = time.monotonic() + DRAIN_TIMEOUT[0]
                    log("INFO", "draining", open=len(conns), drain_timeout=drain)
                    continue
                if key.data is None:  # the listener: a client is waiting
                    try:
                        sock, addr = ln.accept()
                    except BlockingIOError:
                        continue  # the client gave up before we got to it
                    except OSError as err:
                        # Out of descriptors, say: stop watching the listener
                        # (it stays readable, select would return at once) and
                        # serve the others for a while. Permanent: raises.
                        accept_at = time.monotonic() + backoff.failed(err)
                        sel.unregister(ln)
                        continue
                    backoff.succeeded()
                    sock.setblocking(False)
                    c = Conn(sock, format_addr(addr))
                    sel.register(sock, c.events, c)
                    conns.add(c)
                    log("INFO", "accepted", peer=c.peer)
                    METRICS.opened()
                    continue
                # ANCHOR_END: selectors-events
                # ANCHOR: selectors-echo
                c = key.data
                try:
                    if not c.out:
                        data = c.sock.recv(CHUNK)
                        c.out += data
                        c.n_in += len(data)
                        c.eof = not data
                    if c.out:  # try at once: usually the send buffer has room
                        sent = c.sock.send(c.out)
                        del c.out[:sent]
                        c.n_out += sent
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
            log("WARN", "drain timeout; closed the remaining connections", open=len(conns))
    finally:
        signal.set_wakeup_fd(-1)
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        ln.close()  # not registered while backing off
        sel.close()
        wake_w.close()
        if interrupted:
            log("INFO", "stopped by a second signal, without waiting")
        else:
            log("INFO", "stopped")
        # ANCHOR_END: selectors-echo


# ANCHOR_END: selectors


# ANCHOR: asyncio
HANDLERS: set[asyncio.Task[None]] = set()  # connections being served, for the drain


# ANCHOR: asyncio-handler
async def handle_asyncio(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = format_addr(writer.get_extra_info("peername"))
    start, n_in, n_out = time.monotonic(), 0, 0
    log("INFO", "accepted", peer=peer)
    METRICS.opened()
    reason, error = "error", None
    idle = IDLE_TIMEOUT[0] or None
    try:
        while True:
            async with asyncio.timeout(idle):  # a silent client is closed
                data = await reader.read(CHUNK)
            if not data:
                break
            n_in += len(data)
            writer.write(data)
            # drain waits while the send buffer is above its high-water mark:
            # without it, a client that never reads would grow it forever.
            async with asyncio.timeout(idle):
                await writer.drain()
            n_out += len(data)
        writer.close()  # sends what is still buffered, then our FIN
        async with asyncio.timeout(idle):
            await writer.wait_closed()
        reason = "eof"
    except TimeoutError:
        reason = "idle"
    except OSError as err:
        error = err
    except asyncio.CancelledError:
        # The drain timeout cancelled us. Returning (instead of re-raising)
        # keeps it to the one close line: asyncio prints a traceback for
        # each handler task that ends cancelled.
        reason = "shutdown"
    finally:
        ended(peer, start, n_in, n_out, reason, error)
        # abort, not close: close() would wait to send what is buffered, forever
        # for a client that does not read. (After a clean close it does nothing.)
        writer.transport.abort()
        # ANCHOR_END: asyncio-handler


# ANCHOR: asyncio-accept
async def accept_asyncio(ln: socket.socket) -> None:
    """Accept clients, each served by a task, until cancelled.

    asyncio.start_server would do this, but out of file descriptors its loop
    logs a traceback for every failed accept (thousands a second, CPython
    3.11), so this one waits as the other two models do.
    """
    loop = asyncio.get_running_loop()
    backoff = AcceptBackoff()
    while True:
        try:
            sock, _ = await loop.sock_accept(ln)
        except OSError as err:
            await asyncio.sleep(backoff.failed(err))  # permanent: AcceptError
            continue
        backoff.succeeded()
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError:
            sock.close()  # reset before we got to it
            continue
        task = asyncio.create_task(handle_asyncio(reader, writer))
        HANDLERS.add(task)  # a strong reference, and the set the drain waits for
        task.add_done_callback(HANDLERS.discard)
        # ANCHOR_END: asyncio-accept


# ANCHOR: asyncio-server
async def serve_asyncio_main(host: str, port: int) -> None:
    ln = socket.create_server((host, port), backlog=BACKLOG)
    ln.setblocking(False)
    log("INFO", "listening", addr=format_addr(ln.getsockname()), model="asyncio")
    stop, now = asyncio.Event(), asyncio.Event()  # a first signal; a second one

    def on_signal() -> None:
        (now if stop.is_set() else stop).set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not on Windows, where Ctrl-C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
    acceptor = asyncio.create_task(accept_asyncio(ln))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({acceptor, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    acceptor.cancel()  # stop accepting; the clients still here finish
    failed: AcceptError | None = None
    try:
        await acceptor
    except asyncio.CancelledError:
        pass
    except AcceptError as err:  # accept failed for good: drain, then exit 1
        failed = err
    ln.close()
    await drain_asyncio(now)
    if failed:
        raise failed
        # ANCHOR_END: asyncio-server


# ANCHOR: asyncio-drain
async def drain_asyncio(now: asyncio.Event) -> None:
    """Let the connections still open finish, for DRAIN_TIMEOUT at most or
    until a second signal sets now, then cancel those left."""
    tasks = set(HANDLERS)
    log("INFO", "draining", open=len(tasks), drain_timeout=f"{DRAIN_TIMEOUT[0]:g}s")
    if tasks:
        drained = asyncio.create_task(asyncio.wait(tasks))
        interrupted = asyncio.create_task(now.wait())
        either, first = {drained, interrupted}, asyncio.FIRST_COMPLETED
        await asyncio.wait(either, timeout=DRAIN_TIMEOUT[0], return_when=first)
        drained.cancel()  # the waits, not the connections
        interrupted.cancel()
        pending = {t for t in tasks if not t.done()}
        if pending:
            if not now.is_set():
                log(
                    "WARN",
                    "drain timeout; closed the remaining connections",
                    open=len(pending),
                )
            for t in pending:
                t.cancel()  # it logs one line and aborts its connection
            await asyncio.wait(pending)
    if now.is_set():
        log("INFO", "stopped by a second signal, without waiting")
    else:
        log("INFO", "stopped")
    # ANCHOR_END: asyncio-drain


# ANCHOR_END: asyncio


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
    if args.metrics_addr:
        try:
            METRICS.start(args.metrics_addr)
        except ValueError as err:
            print(f"ch04_echo: --metrics-addr: {err}", file=sys.stderr)
            sys.exit(2)
        except OSError as err:
            die("ch04_echo", listen_error(args.metrics_addr, err))
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
    except AcceptError as err:
        die("ch04_echo", err)
    except OSError as err:
        die("ch04_echo", listen_error(args.addr, err))


# ANCHOR: client
# ANCHOR: client-connect
def connect(args: argparse.Namespace) -> socket.socket:
    """Dial --addr within --timeout, then set the socket's timeout for the
    echo: --idle-timeout, or none (the whole run's --timeout is a timer's,
    in receive)."""
    try:
        host, port = parse_addr(args.addr)
    except ValueError as err:
        print(f"ch04_echo: {err}", file=sys.stderr)
        sys.exit(2)
    try:
        sock = socket.create_connection((host, port), timeout=args.timeout or None)
    except OSError as err:
        die("ch04_echo", f"dial {args.addr}: {err}")
    sock.settimeout(None)
    # ANCHOR: exercise-client-idle-py
    if args.idle_timeout:
        # Every recv (and sendall) now fails with TimeoutError after this
        # long without progress: a server that sends nothing is given up on.
        sock.settimeout(args.idle_timeout)
    # ANCHOR_END: exercise-client-idle-py
    return sock


# ANCHOR_END: client-connect


# ANCHOR: client-copy
def client(args: argparse.Namespace) -> None:
    """Send --msg (or stdin), print the echo, and exit once all of it is back.

    Sending and receiving run at once (a thread sends): a client that sends
    everything before reading deadlocks as soon as the socket buffers fill.
    """
    sock = connect(args)
    sent, send_err = [0], []

    def send() -> None:
        try:
            if args.msg is not None:
                data = (args.msg + "\n").encode()
                sock.sendall(data)
                sent[0] = len(data)
            else:
                while chunk := os.read(sys.stdin.fileno(), CHUNK):
                    sock.sendall(chunk)
                    sent[0] += len(chunk)
            sock.shutdown(socket.SHUT_WR)  # half-close: "that is all"
        except OSError as err:
            send_err.append(err)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = receive(args, sock)
    sender.join(5.0)  # done by now, unless it still reads a terminal
    if send_err:
        die("ch04_echo", f"send: {send_err[0]}")
    if sender.is_alive() or received != sent[0]:
        die("ch04_echo", f"sent {sent[0]} bytes but {received} came back")


# ANCHOR_END: client-copy


# ANCHOR: client-receive
def receive(args: argparse.Namespace, sock: socket.socket) -> int:
    """Copy the echo to stdout until the server closes (after our FIN);
    return how many bytes came back. --timeout bounds it all: a timer shuts
    the socket down, which wakes the blocked recv and sendall."""
    gave_up = threading.Event()

    def give_up() -> None:
        gave_up.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(args.timeout, give_up)
    timer.daemon = True
    if args.timeout:  # 0: never
        timer.start()
    received = 0
    with sock:
        try:
            while data := sock.recv(CHUNK):
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                received += len(data)
        except TimeoutError:
            idle = f"{args.idle_timeout:g}s"
            die("ch04_echo", f"the server sent nothing for {idle} (--idle-timeout)")
        except OSError as err:
            if not gave_up.is_set():
                die("ch04_echo", err)
        finally:
            timer.cancel()
    if gave_up.is_set():
        die("ch04_echo", f"gave up after {args.timeout:g}s (--timeout)")
    return received


# ANCHOR_END: client-receive
# ANCHOR_END: client


def main(argv: list[str] | None = None) -> None:
    parser = CommandParser(prog="ch04_echo.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    p_serve = sub.add_parser("serve", help="run the echo server on " + DEFAULT_ADDR + " (default)")
    p_serve.add_argument(
        "--addr", default=DEFAULT_ADDR, help="address to listen on (:PORT for all interfaces)"
    )
    p_serve.add_argument("--model", choices=MODELS, default="threads", help="concurrency model")
    p_serve.add_duration(
        "--idle-timeout",
        "5m",
        "close a client silent this long (0: never); silent: neither sending nor reading",
    )
    p_serve.add_duration(
        "--drain-timeout", "10s", "on SIGINT/SIGTERM, how long open connections may finish"
    )
    p_serve.add_argument(
        "--metrics-addr",
        default="",
        help="serve /metrics here (may listen on any address); e.g. :9464",
    )
    p_client = sub.add_parser("client", help="send --msg or stdin and print the echo")
    p_client.add_argument("--addr", default=DEFAULT_ADDR, help="server address (HOST:PORT)")
    p_client.add_argument("--msg", help="send this line instead of stdin")
    p_client.add_duration("--timeout", "1m", "give up after this long; 0: never")
    p_client.add_duration(
        "--idle-timeout", "0s", "give up when the server sends nothing for this long (0: never)"
    )
    args = parse_command(parser, argv, "serve")
    if args.command == "client":
        client(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
