"""Tests of python/ch06_tls.py: echo over TLS 1.3, mutual TLS, resumption,
refusals, the handshake timeout, the connection limit, and interoperation
with the Go server.

The certificates come from the Go program (`ch06-tls gencert`): the standard
library cannot create certificates. Without Go on a laptop the tests skip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PYTHON_DIR, Server

SCRIPT = str(PYTHON_DIR / "ch06_tls.py")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI"):
            pytest.fail("go is required under CI (it makes the certificates)")
        pytest.skip("go not found on PATH (needed to make certificates)")
    d = tmp_path_factory.mktemp("certs")
    subprocess.run(
        [go, "run", "./ch06-tls", "gencert", "-dir", str(d)],
        cwd=PYTHON_DIR.parent,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return d


def server_args(certs: Path, mtls: bool = False) -> list[str]:
    args = ["serve", "--cert", str(certs / "server.pem"), "--key", str(certs / "server-key.pem")]
    if mtls:
        args += ["--client-ca", str(certs / "ca.pem")]
    return args


def run_client(
    addr: str, certs: Path, *extra: str, data: bytes = b"hello\n"
) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, SCRIPT, "client", "--addr", addr, "--ca", str(certs / "ca.pem"), *extra]
    return subprocess.run(argv, input=data, capture_output=True, timeout=30)


def client_cert(certs: Path) -> list[str]:
    return ["--cert", str(certs / "client.pem"), "--key", str(certs / "client-key.pem")]


def wait_log(server: Server, text: str, timeout: float = 10.0) -> None:
    """The server logs from its own thread: poll its stderr, bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in server.lines):
            return
        time.sleep(0.01)
    pytest.fail(f"server never logged {text!r}:\n{''.join(server.lines)}")


def test_echo_tls13_and_resumption(python_server: Callable[..., Server], certs: Path) -> None:
    srv = python_server("ch06_tls.py", *server_args(certs))
    res = run_client(srv.addr, certs, "--resume", data=b"hello\nworld\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"hello\nworld\n"
    err = res.stderr.decode()
    assert "version:      TLS 1.3" in err
    assert "ALPN:         echo" in err
    assert "resumed:      false" in err and "resumed:      true" in err
    wait_log(srv, "resumed=true")


def test_subject() -> None:
    import ch06_tls

    cert: dict[str, object] = {
        "subject": ((("countryName", "NL"),), (("commonName", "course-client"),))
    }
    assert ch06_tls.subject(cert) == "CN=course-client"
    assert ch06_tls.subject(None) == "-"
    no_cn: dict[str, object] = {"subject": ((("countryName", "NL"),),)}
    assert ch06_tls.subject(no_cn) == "?"


def test_mutual_tls(python_server: Callable[..., Server], certs: Path) -> None:
    srv = python_server("ch06_tls.py", *server_args(certs, mtls=True))
    ok = run_client(srv.addr, certs, *client_cert(certs))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == b"hello\n"
    wait_log(srv, 'client="CN=course-client"')

    refused = run_client(srv.addr, certs)  # no client certificate
    assert refused.returncode == 1
    wait_log(srv, "reason=handshake err=")


def test_wrong_name_refused(python_server: Callable[..., Server], certs: Path) -> None:
    srv = python_server("ch06_tls.py", *server_args(certs))
    res = run_client(srv.addr, certs, "--server-name", "example.com")
    assert res.returncode == 1
    assert b"Hostname mismatch" in res.stderr or b"CERTIFICATE_VERIFY_FAILED" in res.stderr


def tls11_context(certs: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    with warnings.catch_warnings():  # deprecated, which is the point of the test
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let OpenSSL offer TLS 1.1 at all
    return ctx


@pytest.mark.parametrize("impl", ["python", "go"])
def test_tls11_refused(
    impl: str,
    python_server: Callable[..., Server],
    go_server: Callable[..., Server],
    certs: Path,
) -> None:
    if impl == "python":
        srv = python_server("ch06_tls.py", *server_args(certs))
    else:
        srv = go_server(
            "./ch06-tls",
            "serve",
            "-cert",
            str(certs / "server.pem"),
            "-key",
            str(certs / "server-key.pem"),
        )
    ctx = tls11_context(certs)
    with (
        socket.create_connection(srv.host_port, timeout=10) as raw,
        pytest.raises(ssl.SSLError) as exc,
    ):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert "PROTOCOL_VERSION" in str(exc.value).upper()


def test_python_client_go_server(go_server: Callable[..., Server], certs: Path) -> None:
    srv = go_server(
        "./ch06-tls",
        "serve",
        "-cert",
        str(certs / "server.pem"),
        "-key",
        str(certs / "server-key.pem"),
        "-client-ca",
        str(certs / "ca.pem"),
    )
    res = run_client(srv.addr, certs, *client_cert(certs), "--resume")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"hello\n"
    assert b"resumed:      true" in res.stderr
    wait_log(srv, "resumed=true")


def test_handshake_timeout(python_server: Callable[..., Server], certs: Path) -> None:
    srv = python_server("ch06_tls.py", *server_args(certs), "--handshake-timeout", "300ms")
    with socket.create_connection(srv.host_port, timeout=10) as raw:
        start = time.monotonic()
        assert raw.recv(1) == b""  # closed by the server, not by our 10 s timeout
        assert time.monotonic() - start >= 0.25
    wait_log(srv, 'reason=handshake err="handshake not done within 0.3s"')


def test_handshake_timeout_bounds_the_whole(
    python_server: Callable[..., Server], certs: Path
) -> None:
    """A client trickling its ClientHello, a byte every 50 ms, is closed when
    the handshake as a whole takes longer than the timeout."""
    srv = python_server("ch06_tls.py", *server_args(certs), "--handshake-timeout", "300ms")
    with socket.create_connection(srv.host_port, timeout=10) as raw:
        start = time.monotonic()
        raw.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00]))  # a record of 512 bytes follows
        with pytest.raises(OSError):
            while time.monotonic() - start < 10:
                raw.sendall(b"\x01")
                time.sleep(0.05)  # the trickle's pace, not a synchronisation
                if raw.recv(1, socket.MSG_DONTWAIT) == b"":
                    raise ConnectionResetError("closed by the server")
        assert 0.25 <= time.monotonic() - start < 10, "the trickling client was never closed"
    wait_log(srv, "handshake not done within 0.3s")


def test_plaintext_hint(python_server: Callable[..., Server], certs: Path) -> None:
    """A client that speaks plain TCP gets one line of explanation, as from
    the Go server; the server goes on serving."""
    srv = python_server("ch06_tls.py", *server_args(certs))
    with socket.create_connection(srv.host_port, timeout=10) as raw:
        raw.sendall(b"hello\n")
        got = b""
        while chunk := raw.recv(4096):
            got += chunk
    assert got == b"this port speaks TLS; plaintext is refused\n"
    wait_log(srv, 'reason=handshake err="first record does not look like a TLS handshake"')
    assert run_client(srv.addr, certs).returncode == 0


def test_lines_follow_go(python_server: Callable[..., Server], certs: Path) -> None:
    """accepted, handshake, closed: the Go server's lines and keys."""
    srv = python_server("ch06_tls.py", *server_args(certs))
    assert run_client(srv.addr, certs).returncode == 0
    wait_log(srv, "msg=closed")
    lines = [line for line in srv.lines if "peer=" in line]
    assert [line.split(" msg=")[1].split(" ")[0] for line in lines] == [
        "accepted",
        "handshake",
        "closed",
    ]
    assert "bytes_in=6 bytes_out=6 reason=eof" in lines[-1]


def test_max_conns(python_server: Callable[..., Server], certs: Path) -> None:
    """--max-conns 1: a second client waits in the accept queue (its
    handshake does not start) until the first one leaves."""
    srv = python_server(
        "ch06_tls.py", *server_args(certs), "--max-conns", "1", "--handshake-timeout", "0"
    )
    assert "max_conns=1" in srv.wait_for("msg=listening")
    holder = socket.create_connection(srv.host_port, timeout=10)  # silent: holds the slot
    wait_log(srv, "msg=accepted")
    wait_log(srv, "connection limit reached; new clients wait in the accept queue")
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    with socket.create_connection(srv.host_port, timeout=10) as raw:
        raw.settimeout(0.5)
        with pytest.raises(TimeoutError):  # nobody reads its ClientHello
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    holder.close()  # the slot is free: the next client is served
    assert run_client(srv.addr, certs).returncode == 0


def test_keylog(python_server: Callable[..., Server], certs: Path, tmp_path: Path) -> None:
    srv = python_server("ch06_tls.py", *server_args(certs))
    keylog = tmp_path / "keys.log"
    res = run_client(srv.addr, certs, "--keylog", str(keylog))
    assert res.returncode == 0, res.stderr
    assert b"level=WARN" in res.stderr
    assert "CLIENT_TRAFFIC_SECRET_0 " in keylog.read_text()


@pytest.mark.exercise("exercise-fingerprint-py")
def test_fingerprint(python_server: Callable[..., Server], certs: Path) -> None:
    """check_fingerprint accepts the server's certificate under its SHA-256
    fingerprint, as openssl prints it or in lower case without colons, and
    refuses any other certificate, and a fingerprint cut short."""
    import ch06_tls

    srv = python_server("ch06_tls.py", *server_args(certs))
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    with (
        socket.create_connection(srv.host_port, timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der
    hexdigest = hashlib.sha256(der).hexdigest()
    openssl = ":".join(hexdigest[i : i + 2] for i in range(0, 64, 2)).upper()
    ch06_tls.check_fingerprint(der, openssl)  # AB:CD:..., as openssl x509 prints it
    ch06_tls.check_fingerprint(der, hexdigest)
    ca = ssl.PEM_cert_to_DER_cert((certs / "ca.pem").read_text())
    for wrong in (
        hashlib.sha256(ca).hexdigest(),  # another certificate's
        openssl[:-3],  # cut short
        hexdigest[:-1] + ("0" if hexdigest[-1] != "0" else "1"),  # one digit off, at the end
        "",
    ):
        with pytest.raises(ssl.SSLCertVerificationError):
            ch06_tls.check_fingerprint(der, wrong)
    with pytest.raises(ssl.SSLCertVerificationError):
        ch06_tls.check_fingerprint(ca, openssl)  # the CA's certificate under the server's
