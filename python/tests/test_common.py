import argparse
import errno
import os
import signal
import socket
import socketserver
import threading
from typing import Any, cast

import pytest

from common import (
    AcceptBackoff,
    AcceptError,
    BackoffMixin,
    CommandParser,
    accept,
    format_addr,
    listen_error,
    parse_addr,
    parse_command,
    parse_duration,
    serve_until_signal,
)


def test_parse_addr() -> None:
    assert parse_addr("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_addr(":9000") == ("", 9000)
    assert parse_addr("[::1]:8443") == ("::1", 8443)
    with pytest.raises(ValueError):
        parse_addr("localhost")
    with pytest.raises(ValueError):
        parse_addr("localhost:99999")


def test_format_addr() -> None:
    assert format_addr(("127.0.0.1", 5)) == "127.0.0.1:5"
    assert format_addr(("::1", 5, 0, 0)) == "[::1]:5"


def test_listen_error_hint() -> None:
    err = OSError(98, "Address already in use")
    assert "try --addr 127.0.0.1:0" in listen_error("127.0.0.1:1", err)


def test_accept_backoff_doubles_caps_and_resets(capsys: pytest.CaptureFixture[str]) -> None:
    b = AcceptBackoff()
    emfile = OSError(errno.EMFILE, "Too many open files")
    delays = [b.failed(emfile) for _ in range(10)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
    b.succeeded()
    assert b.failed(OSError(errno.ECONNABORTED, "aborted")) == 0.005  # a new episode
    b.succeeded()
    b.succeeded()  # a success outside an episode logs nothing
    log = capsys.readouterr().err.splitlines()
    # One line when an episode starts and one when it ends, not one per failure.
    assert [line.split(" msg=")[1].split(" ")[0] for line in log] == [
        '"accept',
        '"accepting',
        '"accept',
        '"accepting',
    ]
    assert "failures=10" in log[1]


@pytest.mark.parametrize("code", [errno.EBADF, errno.EINVAL, errno.ENOTSOCK])
def test_accept_backoff_gives_up_on_other_errors(code: int) -> None:
    with pytest.raises(AcceptError):
        AcceptBackoff().failed(OSError(code, os.strerror(code)))


class FailingListener:
    """accept() raises the given errors in turn, then returns a connection."""

    def __init__(self, errs: list[OSError]) -> None:
        self.errs = errs

    def accept(self) -> tuple[socket.socket, tuple[str, int]]:
        if self.errs:
            raise self.errs.pop(0)
        return socket.socket(), ("127.0.0.1", 1)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        return self.accept()  # the socketserver method BackoffMixin wraps


def test_accept_waits_out_retryable_errors() -> None:
    ln = FailingListener([OSError(errno.EMFILE, "x"), OSError(errno.ENFILE, "y")])
    conn, _ = accept(cast(socket.socket, ln), AcceptBackoff())
    conn.close()
    ln = FailingListener([OSError(errno.EMFILE, "x"), OSError(errno.EBADF, "closed")])
    with pytest.raises(AcceptError):
        accept(cast(socket.socket, ln), AcceptBackoff())


def test_backoff_mixin_waits_then_lets_socketserver_retry() -> None:
    class Server(BackoffMixin, FailingListener):
        pass

    srv = Server([OSError(errno.EMFILE, "x"), OSError(errno.EINVAL, "bad")])
    with pytest.raises(OSError):  # socketserver ignores it and selects again
        srv.get_request()
    assert srv.backoff is not None and srv.backoff.delay == 0.005
    with pytest.raises(AcceptError):  # not an OSError: ends serve_forever
        srv.get_request()
    conn, _ = srv.get_request()
    conn.close()
    assert srv.backoff.delay == 0


# parse_duration reads Go's duration syntax (time.ParseDuration), so a flag
# takes the same value in both languages.
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5.0),
        ("250ms", 0.25),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("2h45m", 9900.0),
        ("10us", 1e-5),
        ("10µs", 1e-5),
        ("100ns", 1e-7),
        ("0", 0.0),
        ("0s", 0.0),
        ("-1s", -1.0),
        ("+2m", 120.0),
        ("24h0m0s", 86400.0),  # how Go prints a duration, e.g. in -h
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "0.3", "s", "5sec", "1.5.s", "5 s", "1d", "-", "."])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def command_parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="prog")
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="the server (default)")
    s.add_argument("--drain-timeout", type=parse_duration, default="10s", help="how long")
    s.add_argument("--max-conns", type=int, default=0, help="at most (0: no limit)")
    s.add_argument("--name", help="a name")
    sub.add_parser("client", help="the client")
    return p


def test_parse_command_default_and_durations() -> None:
    p = command_parser()
    assert parse_command(p, [], "serve").command == "serve"
    args = parse_command(p, ["--drain-timeout", "250ms"], "serve")
    assert (args.command, args.drain_timeout) == ("serve", 0.25)
    assert parse_command(p, ["serve"], "serve").drain_timeout == 10.0  # the string default, parsed
    assert parse_command(p, ["client"], "serve").command == "client"


def test_parse_command_refuses_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        parse_command(command_parser(), ["serve", "--drain-timeout", "0.3"], "serve")
    assert exit.value.code == 2  # a usage error, as in Go
    assert "bad duration '0.3'" in capsys.readouterr().err


def test_help_shows_go_style_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_command(command_parser(), ["serve", "-h"], "serve")
    out = capsys.readouterr().out
    assert "how long (default 10s)" in out
    assert "(0: no limit)\n" in out  # a zero default is not shown, as in Go
    assert "a name\n" in out


@pytest.mark.parametrize("argv", [["-h"], ["help"]])
def test_help_lists_commands(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        parse_command(command_parser(), argv, "serve")
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert "{serve,client}" in out
    assert "the server (default)" in out


class _SignalledServer(socketserver.ThreadingTCPServer):
    """Receives SIGTERM at the worst moment: while socketserver is handing the
    client it has just accepted to a new thread."""

    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        signal.raise_signal(signal.SIGTERM)  # handled here, in the main thread
        super().process_request(request, client_address)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


def test_serve_until_signal_keeps_the_client_being_handed_over() -> None:
    # A handler that raised KeyboardInterrupt there made socketserver close
    # the client's socket under its thread: the client saw EOF, the thread
    # EBADF (seen in CI as ch04's drain finding nothing to wait for).
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    echoed: list[bytes] = []
    with _SignalledServer(("127.0.0.1", 0), _Echo) as server:

        def client() -> None:
            with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as s:
                s.sendall(b"ping")
                echoed.append(s.recv(4))

        t = threading.Thread(target=client)
        t.start()
        try:
            serve_until_signal(server)  # returns after the signal
            # From now on a second Ctrl-C or SIGTERM cuts the drain short.
            for sig in (signal.SIGINT, signal.SIGTERM):
                with pytest.raises(KeyboardInterrupt):
                    signal.raise_signal(sig)
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        t.join(10)
    assert echoed == [b"ping"]
