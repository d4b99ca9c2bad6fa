"""Chapter 6: the TLS echo server and client, with Python's ssl module.

    python3 python/ch06_tls.py serve [--addr 127.0.0.1:8443] [--client-ca certs/ca.pem]
    printf 'hi\\n' | python3 python/ch06_tls.py client [--ca certs/ca.pem] [--resume]

It speaks the same bytes as `go run ./ch06-tls`, with the same defaults, so
either client talks to either server. Certificates come from
`go run ./ch06-tls gencert` (the standard library cannot make certificates).

What the usual ssl snippets get wrong, and this file does not:
- `ssl.wrap_socket` without a context, or `CERT_NONE`: that encrypts but
  does not check who is on the other end. The client here trusts only the
  given CA and checks the host name.
- One `recv` is not one message: the client reads until it has every byte
  it sent back.
- A server without a handshake timeout lets a silent client hold a thread
  forever; one without a connection limit lets a flood of clients start a
  thread (and a handshake) each.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence

from common import (
    BACKLOG,
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

PROG = "ch06_tls.py"
ALPN = "echo"
# TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only, as the Go server.
# (TLS 1.3 suites are all of that kind and are not affected by set_ciphers.)
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def version_name(v: str | None) -> str:
    """'TLSv1.3' (OpenSSL's spelling) -> 'TLS 1.3' (Go's)."""
    return (v or "-").replace("TLSv", "TLS ")


# ANCHOR: subject
def subject(cert: dict[str, object] | None) -> str:
    """The commonName of a certificate as returned by getpeercert():
    "CN=name", "-" without a certificate, "?" without a commonName."""
    if not cert:
        return "-"
    for rdn in cert.get("subject", ()):  # type: ignore[attr-defined]
        for key, value in rdn:
            if key == "commonName":
                return f"CN={value}"
    return "?"


# ANCHOR_END: subject


# ANCHOR: fingerprint
def check_fingerprint(der: bytes, want: str) -> None:
    """Refuse a certificate (DER, as getpeercert(binary_form=True) returns it)
    unless its SHA-256 fingerprint is `want`, written as
    `openssl x509 -noout -fingerprint -sha256` prints it (AB:CD:...), or in
    lower case, or without the colons."""
    # ANCHOR: exercise-fingerprint-py
    got = hashlib.sha256(der).hexdigest()
    if want.replace(":", "").lower() != got:
        raise ssl.SSLCertVerificationError(f"certificate fingerprint {got} is not {want}")
    # ANCHOR_END: exercise-fingerprint-py


# ANCHOR_END: fingerprint


# ANCHOR: server-context
def server_context(cert: str, key: str, client_ca: str | None) -> ssl.SSLContext:
    """TLS 1.2 minimum (1.3 preferred), ECDHE+AEAD suites, optional mutual TLS."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.set_alpn_protocols([ALPN])
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=client_ca)
    return ctx


# ANCHOR_END: server-context


# ANCHOR: client-context
def client_context(ca: str, cert: str | None, key: str | None) -> ssl.SSLContext:
    """Trust only the CA in `ca` (no system CAs) and check the host name."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols([ALPN])
    if cert or key:
        if not (cert and key):
            raise ValueError("--cert and --key go together")
        ctx.load_cert_chain(cert, key)
    return ctx


# ANCHOR_END: client-context


# ANCHOR: handle
def handle(raw: socket.socket, peer: str, ctx: ssl.SSLContext, args: argparse.Namespace) -> None:
    """Handshake under a deadline, log what was agreed, echo, log the close."""
    start = time.monotonic()
    with raw:
        try:
            conn = handshake(raw, ctx, args.handshake_timeout)
        except (OSError, ssl.SSLError) as e:
            log_closed(peer, start, "handshake", e, bytes_in=0, bytes_out=0)
            return
        with conn:
            log(
                "INFO",
                "handshake",
                peer=peer,
                version=version_name(conn.version()),
                suite=(conn.cipher() or ("-",))[0],
                alpn=conn.selected_alpn_protocol() or "-",
                resumed=str(conn.session_reused).lower(),
                client=subject(conn.getpeercert()),  # type: ignore[arg-type]
            )
            conn.settimeout(args.idle_timeout or None)  # close a silent client; 0: never
            n_in, n_out, reason, err = 0, 0, "eof", None  # plaintext counts, as in Go
            try:
                while data := conn.recv(32 * 1024):  # b"" = the client's close_notify
                    n_in += len(data)
                    conn.sendall(data)
                    n_out += len(data)
                conn.unwrap()  # answer with our close_notify: the echo is complete
            except TimeoutError:
                reason = "idle"
            except (OSError, ssl.SSLError) as e:
                reason, err = "error", e
            log_closed(peer, start, reason, err, bytes_in=n_in, bytes_out=n_out)


# ANCHOR_END: handle


# ANCHOR: handshake
def handshake(raw: socket.socket, ctx: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    """The TLS handshake under one deadline for all of it (0: none), as Go's
    HandshakeContext: a timer shuts the connection down when it runs out,
    which a timeout per recv (settimeout) would not do for a client that
    trickles its ClientHello one byte at a time. A client whose first byte is
    not a TLS handshake record (22) is told so in plain text, as by the Go
    server. On failure the connection is closed gently (linger_close)."""
    fd, expired = raw.fileno(), threading.Event()

    def expire() -> None:  # shutdown() on a duplicate ends the connection itself
        expired.set()
        with contextlib.suppress(OSError), socket.fromfd(fd, raw.family, raw.type) as dup:
            dup.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv

    timer = threading.Timer(timeout, expire) if timeout else None
    if timer:
        timer.start()
    sock = raw
    try:
        first = raw.recv(1, socket.MSG_PEEK)  # looked at, left in the socket
        if first and first[0] != 0x16:
            raw.settimeout(1)
            raw.sendall(b"this port speaks TLS; plaintext is refused\n")
            raise ConnectionError("first record does not look like a TLS handshake")
        conn = ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        try:
            conn.do_handshake()
        except (OSError, ssl.SSLError):
            sock = socket.socket(fileno=conn.detach())  # raw gave its fd to conn
            raise
        return conn
    except (OSError, ssl.SSLError):
        linger_close(sock)
        if expired.is_set():
            raise TimeoutError(f"handshake not done within {timeout:g}s") from None
        raise
    finally:
        if timer:
            timer.cancel()
            timer.join()  # expire() is not running on a descriptor closed since


def linger_close(sock: socket.socket) -> None:
    """After a failed handshake: FIN, then read and discard for a moment,
    then close. Closing with unread data would send a reset, which can
    overtake the alert or the hint (the Go server's lingerClose)."""
    with sock, contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.5)
        while sock.recv(64 << 10):
            pass


# ANCHOR_END: handshake


class Slots:
    """--max-conns: a slot per connection served, taken before accept() and
    given back when the connection ends; 0 means no limit. At the limit the
    loop stops accepting, so new clients wait in the kernel's accept queue,
    as with the Go server (serve.Core)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.sem = threading.BoundedSemaphore(n) if n else None

    def take(self) -> None:
        if self.sem and not self.sem.acquire(blocking=False):
            log(
                "WARN",
                "connection limit reached; new clients wait in the accept queue",
                max_conns=self.n,
            )
            self.sem.acquire()

    def serving(self, handler: Callable[..., None]) -> Callable[..., None]:
        """handler, giving its slot back when it returns."""

        def run(*args: object) -> None:
            try:
                handler(*args)
            finally:
                if self.sem:
                    self.sem.release()

        return run


def serve(args: argparse.Namespace) -> None:
    try:
        ctx = server_context(args.cert, args.key, args.client_ca)
    except (OSError, ssl.SSLError) as e:
        die(PROG, f"load server certificate: {e} (run 'go run ./ch06-tls gencert' first?)")
    host, port = parse_addr(args.addr)
    try:
        ln = socket.create_server((host, port), backlog=BACKLOG)
    except OSError as e:
        die(PROG, listen_error(args.addr, e))
    sigterm_as_interrupt()
    log(
        "INFO",
        "listening",
        addr=format_addr(ln.getsockname()),
        mtls=str(bool(args.client_ca)).lower(),
        max_conns=args.max_conns,
    )
    threads: list[threading.Thread] = []
    backoff = AcceptBackoff()  # out of file descriptors: wait, do not spin
    slots = Slots(args.max_conns)
    failed: AcceptError | None = None
    try:
        with ln:
            while True:
                slots.take()  # at the limit, new clients wait in the accept queue
                raw, addr = accept(ln, backoff)
                peer = format_addr(addr)
                log("INFO", "accepted", peer=peer)
                t = threading.Thread(target=slots.serving(handle), args=(raw, peer, ctx, args))
                t.daemon = True
                # Listed before it starts: start() waits for the thread, and a
                # signal arriving then must not leave it out of the drain.
                threads = [x for x in threads if x.is_alive()] + [t]
                t.start()
    except KeyboardInterrupt:
        pass
    except AcceptError as err:  # permanent: drain as for a signal, then exit 1
        log("ERROR", "accept failed", err=err)
        failed = err
    # Stop accepting (the listener is closed), give open connections until
    # the drain timeout, then exit: daemon threads die with us.
    threads = [t for t in threads if t.is_alive()]
    drain = f"{args.drain_timeout:g}s"
    log("INFO", "draining", open=len(threads), drain_timeout=drain)
    deadline = time.monotonic() + args.drain_timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):  # closed when the process exits
        log("WARN", "drain timeout; closed the remaining connections", drain_timeout=drain)
    if not failed:
        log("INFO", "stopped")
    if failed:
        die(PROG, failed)


def print_state(addr: str, server_name: str, conn: ssl.SSLSocket) -> None:
    """The same lines as the Go client prints, on stderr."""
    out = sys.stderr
    print(f"connected to {addr}", file=out)
    print(f"  version:      {version_name(conn.version())}", file=out)
    print(f"  cipher suite: {(conn.cipher() or ('-',))[0]}", file=out)
    print(f"  ALPN:         {conn.selected_alpn_protocol() or '(none)'}", file=out)
    print(f"  resumed:      {str(conn.session_reused).lower()}", file=out)
    print(f"  verified as:  {server_name}", file=out)
    print(f"  server:       {subject(conn.getpeercert())}", file=out)  # type: ignore[arg-type]
    out.flush()


# ANCHOR: client-echo
def echo_once(
    ctx: ssl.SSLContext,
    addr: str,
    server_name: str,
    data: bytes,
    timeout: float,
    session: ssl.SSLSession | None = None,
) -> tuple[bytes, ssl.SSLSession | None]:
    """Connect, show the handshake, send data and read all of it back.

    Returns the echo and the session to resume from next time. In TLS 1.3
    the server sends its session ticket after the handshake, so the session
    is taken after reading the echo.
    """
    host, port = parse_addr(addr)
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name, session=session) as conn,
    ):
        print_state(addr, server_name, conn)
        conn.sendall(data)
        got = bytearray()
        while len(got) < len(data):  # one recv is not one message
            chunk = conn.recv(len(data) - len(got))
            if not chunk:
                raise ConnectionError(f"server closed after {len(got)} of {len(data)} bytes")
            got += chunk
        next_session = conn.session
        with contextlib.suppress(OSError, ssl.SSLError):
            conn.unwrap()  # close_notify both ways
    return bytes(got), next_session


# ANCHOR_END: client-echo


def client(args: argparse.Namespace) -> None:
    server_name = args.server_name or parse_addr(args.addr)[0]
    try:
        ctx = client_context(args.ca, args.cert, args.key)
    except (OSError, ssl.SSLError, ValueError) as e:
        die(PROG, e)
    if args.keylog:
        # NSS key log for Wireshark, as the Go client's -keylog.
        log(
            "WARN",
            "writing TLS secrets to a key log: anyone who has this file can decrypt the traffic",
            file=args.keylog,
        )
        ctx.keylog_filename = args.keylog
    data = sys.stdin.buffer.read()
    try:
        got, session = echo_once(ctx, args.addr, server_name, data, args.timeout)
        sys.stdout.buffer.write(got)
        sys.stdout.flush()
        if args.resume:
            print("reconnected:", file=sys.stderr)
            echo_once(ctx, args.addr, server_name, b"", args.timeout, session)
    except (OSError, ssl.SSLError) as e:
        die(PROG, f"TLS with {args.addr}: {e}")
    except KeyboardInterrupt:
        sys.exit(130)


def main(argv: Sequence[str] | None = None) -> None:
    parser = CommandParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")

    s = sub.add_parser("serve", help="TLS echo server (default)")
    s.add_argument(
        "--addr", default="127.0.0.1:8443", help="address to listen on (:PORT for all interfaces)"
    )
    s.add_argument("--cert", default="certs/server.pem", help="server certificate (PEM)")
    s.add_argument("--key", default="certs/server-key.pem", help="server private key (PEM)")
    s.add_argument(
        "--client-ca",
        default=None,
        help="require client certificates signed by this CA (mutual TLS)",
    )
    s.add_duration(
        "--handshake-timeout",
        "10s",
        "close a client that has not finished the handshake this long after connecting (0: never)",
    )
    s.add_duration("--idle-timeout", "5m", "close a client silent this long (0: never)")
    s.add_argument(
        "--max-conns",
        type=int,
        default=1000,
        help="connections served at once (0: no limit); handshakes included, more wait in the "
        "accept queue",
    )
    s.add_duration(
        "--drain-timeout", "10s", "on SIGINT/SIGTERM, how long open connections may finish"
    )

    c = sub.add_parser("client", help="TLS client: show the handshake, echo stdin")
    c.add_argument("--addr", default="127.0.0.1:8443", help="server address (HOST:PORT)")
    c.add_argument("--ca", default="certs/ca.pem", help="the only CA to trust (PEM)")
    c.add_argument(
        "--server-name",
        default="",
        help="name to verify in the server's certificate (default: the host of --addr)",
    )
    c.add_argument("--cert", default=None, help="client certificate for mutual TLS (PEM)")
    c.add_argument("--key", default=None, help="client private key (PEM)")
    c.add_argument(
        "--resume", action="store_true", help="connect a second time and show the resumed session"
    )
    c.add_argument(
        "--keylog",
        default="",
        help="append TLS secrets to this file for Wireshark (DEBUG ONLY: it decrypts the traffic)",
    )
    c.add_duration("--timeout", "10s", "give up after this long; bounds the dial and the handshake")

    args = parse_command(parser, argv, "serve")
    try:
        parse_addr(args.addr)
    except ValueError as e:
        parser.error(str(e))  # exit 2
    if args.command == "client":
        client(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
