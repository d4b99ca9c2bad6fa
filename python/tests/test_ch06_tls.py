"""Tests of python/ch06_tls.py: echo over TLS 1.3, mutual TLS, resumption,
refusals, the handshake timeout, and interoperation with the Go server.

The certificates come from the Go program (`ch06-tls gencert`): the standard
library cannot create certificates. Without Go on a laptop the tests skip.
"""

from __future__ import annotations

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


@pytest.mark.exercise("exercise-subject-py")
def test_subject() -> None:
    import ch06_tls

    cert: dict[str, object] = {
        "subject": ((("countryName", "NL"),), (("commonName", "course-client"),))
    }
    assert ch06_tls.subject(cert) == "CN=course-client"
    assert ch06_tls.subject(None) == "-"
    no_cn: dict[str, object] = {"subject": ((("countryName", "NL"),),)}
    assert ch06_tls.subject(no_cn) == "?"


@pytest.mark.exercise("exercise-subject-py")
def test_mutual_tls(python_server: Callable[..., Server], certs: Path) -> None:
    srv = python_server("ch06_tls.py", *server_args(certs, mtls=True))
    ok = run_client(srv.addr, certs, *client_cert(certs))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == b"hello\n"
    wait_log(srv, 'client="CN=course-client"')

    refused = run_client(srv.addr, certs)  # no client certificate
    assert refused.returncode == 1
    wait_log(srv, "handshake failed")


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
    wait_log(srv, "handshake failed")


def test_keylog(python_server: Callable[..., Server], certs: Path, tmp_path: Path) -> None:
    srv = python_server("ch06_tls.py", *server_args(certs))
    keylog = tmp_path / "keys.log"
    res = run_client(srv.addr, certs, "--keylog", str(keylog))
    assert res.returncode == 0, res.stderr
    assert b"level=WARN" in res.stderr
    assert "CLIENT_TRAFFIC_SECRET_0 " in keylog.read_text()
