"""Every Python server out of file descriptors: it must back off, not spin.

Each server runs with a limit of 64 open files (RLIMIT_NOFILE) and 100
clients connect and stay. Once the server holds all it can, the listener
stays readable (clients wait in its queue) and every accept() fails with
EMFILE. A server that retries at once burns a core and (asyncio) floods its
log; one that backs off sleeps up to 1 s between tries. Then the clients
leave and the server must serve again.

The AcceptBackoff rules themselves are tested without sockets in
test_common.py.
"""

from __future__ import annotations

import os
import resource
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PYTHON_DIR, Server, start_server
from test_ch06_tls import certs  # noqa: F401 (a fixture)

NOFILE = 64
CLIENTS = 100
WINDOW = 2.0  # seconds of exhaustion over which CPU time is measured

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc (Linux)"
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def start_limited(script: str, *args: str) -> Server:
    argv = [sys.executable, "-u", str(PYTHON_DIR / script), *args, "--addr", "127.0.0.1:0"]
    return start_server(argv, preexec_fn=limit_files)


def flood(server: Server) -> list[socket.socket]:
    """CLIENTS connections, opened without waiting: the kernel completes the
    handshakes while they wait in the accept queue."""
    socks = []
    for _ in range(CLIENTS):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(server.host_port)
        socks.append(s)
    return socks


def line_probe(send: bytes, want: bytes) -> Callable[[Server, Path], None]:
    def probe(server: Server, _: Path) -> None:
        with socket.create_connection(server.host_port, timeout=10) as s:
            s.sendall(send)
            got = b""
            while len(got) < len(want) and (chunk := s.recv(4096)):
                got += chunk
            assert got == want

    return probe


def ch01_probe(server: Server, _: Path) -> None:
    with socket.create_connection(server.host_port, timeout=10) as s:
        s.sendall(b"probe\n")
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b""  # closed after our line: it was read
    server.wait_for("Received: probe")


def tls_probe(server: Server, cert_dir: Path) -> None:
    ctx = ssl.create_default_context(cafile=str(cert_dir / "ca.pem"))
    with (
        socket.create_connection(server.host_port, timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        s.sendall(b"probe\n")
        assert s.recv(64) == b"probe\n"


def ch05_probe(server: Server, cert_dir: Path) -> None:
    """Upload one small file with the Python sender: it must be committed."""
    src = cert_dir / "probe.txt"
    src.write_bytes(b"probe\n")
    host, port = server.host_port
    argv = [sys.executable, str(PYTHON_DIR / "ch05_filexfer.py"), "send"]
    done = subprocess.run(
        [*argv, "--addr", f"{host}:{port}", str(src)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


CASES: dict[str, tuple[list[str], Callable[[Server, Path], None]]] = {
    "ch01": (["ch01_overview.py", "serve"], ch01_probe),
    "ch02": (["ch02_tcp_server.py", "serve"], line_probe(b"x\n", b"echo: x\n")),
    "ch03": (["ch03_heartbeat.py", "serve"], line_probe(b"PING 7\n", b"PONG 7\n")),
    "ch04-threads": (["ch04_echo.py", "serve", "--model", "threads"], line_probe(b"x", b"x")),
    "ch04-selectors": (["ch04_echo.py", "serve", "--model", "selectors"], line_probe(b"x", b"x")),
    "ch04-asyncio": (["ch04_echo.py", "serve", "--model", "asyncio"], line_probe(b"x", b"x")),
    "ch05": (["ch05_filexfer.py", "serve"], ch05_probe),
    "ch06": (["ch06_tls.py"], tls_probe),
}


@pytest.fixture
def cert_dir(request: pytest.FixtureRequest, case: str, tmp_path: Path) -> Path:
    """The certificates for the TLS server (they take a go run); a scratch
    directory for the others."""
    if case != "ch06":
        return tmp_path
    d: Path = request.getfixturevalue("certs")
    return d


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_out_of_files_backs_off_and_recovers(case: str, cert_dir: Path) -> None:
    argv, probe = CASES[case]
    if case == "ch06":
        argv = [*argv, "serve", "--cert", str(cert_dir / "server.pem")]
        argv += ["--key", str(cert_dir / "server-key.pem")]
    if case == "ch05":
        argv = [*argv, "--dir", str(cert_dir / "received")]
    server = start_limited(*argv)
    socks = flood(server)
    try:
        before, start = cpu_seconds(server.proc.pid), time.monotonic()
        time.sleep(WINDOW)  # a measurement window, not a synchronisation
        used = cpu_seconds(server.proc.pid) - before
        wall = time.monotonic() - start
        # Spinning costs a whole core (or what a busy machine leaves of it);
        # backing off, a few accept() calls a second.
        assert used < 0.25 * wall, f"{used:.2f}s of CPU in {wall:.2f}s:\n{server.output()}"
        server.wait_for("accept failed; backing off")
    finally:
        for s in socks:
            s.close()
    probe(server, cert_dir)  # descriptors are free again: served as usual
    out = server.wait_for("accepting again")
    assert out.count("accept failed; backing off") <= 3, out
    assert "Traceback" not in out, out
    assert server.stop() == 0
