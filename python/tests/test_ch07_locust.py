"""Locust, headless, against echo servers: the Go reference echo server
(ch07-bench echo) must give zero failures and many requests, and a server
that corrupts bytes must give failures (a test that cannot fail is a defect).

Skips on a laptop without Locust or Go; fails under CI (CI=true), where
python/requirements-dev.txt and Go are installed.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PYTHON_DIR, Server

LOCUSTFILE = PYTHON_DIR / "ch07_locustfile.py"


def require_locust() -> None:
    # find_spec, not import: importing locust would monkey-patch this process with gevent.
    if importlib.util.find_spec("locust") is None:
        if os.environ.get("CI"):
            pytest.fail("locust is required under CI (pip install -r python/requirements-dev.txt)")
        pytest.skip("locust not installed (pip install -r python/requirements-dev.txt)")


def run_locust(
    addr: str, tmp: Path, seconds: int = 3, users: int = 4
) -> tuple[int, dict[str, str]]:
    """Run Locust headless; return its exit code and the Aggregated stats row."""
    require_locust()
    prefix = tmp / "locust"
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
        "--host", addr, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp)
    stats = prefix.with_name("locust_stats.csv")
    assert stats.exists(), f"locust wrote no statistics:\n{proc.stderr}"
    with stats.open() as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    return proc.returncode, rows["Aggregated"]


@pytest.fixture
def go_echo(go_server: Callable[..., Server]) -> Server:
    """The course's reference Go echo server, in its own process."""
    return go_server("./ch07-bench", "echo")


class FlakyEcho:
    """An in-test echo server that flips one bit in every 1000th byte."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.count = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        # Locust's users reset their connections when they stop: that ends
        # this handler, it is not a failure of the test.
        with conn, contextlib.suppress(ConnectionError):
            while data := conn.recv(4096):
                out = bytearray(data)
                with self.lock:
                    for i in range(len(out)):
                        self.count += 1
                        if self.count % 1000 == 0:
                            out[i] ^= 1
                conn.sendall(out)


@pytest.fixture
def flaky_echo() -> Iterator[FlakyEcho]:
    s = FlakyEcho()
    yield s
    s.listener.close()


def test_locust_against_go_echo(go_echo: Server, tmp_path: Path) -> None:
    code, total = run_locust(go_echo.addr, tmp_path)
    assert int(total["Request Count"]) > 100, total
    assert int(total["Failure Count"]) == 0, total
    assert code == 0


@pytest.mark.exercise("exercise-verify-echo-py")
def test_locust_counts_corrupted_echoes(flaky_echo: FlakyEcho, tmp_path: Path) -> None:
    code, total = run_locust(flaky_echo.addr, tmp_path, seconds=2, users=2)
    assert int(total["Request Count"]) > 0, total
    assert int(total["Failure Count"]) > 0, "a wrong echo must count as a failure"
    assert code == 1, "Locust exits 1 when an echo failed"


def test_locustfile_needs_host(tmp_path: Path) -> None:
    require_locust()
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-t", "1s"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode != 0
    assert "--host" in proc.stderr


def test_script_help_without_locust(tmp_path: Path) -> None:
    """Run as a script, the locustfile explains itself; -h needs no Locust."""
    proc = subprocess.run(
        [sys.executable, str(LOCUSTFILE), "-h"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for flag in ("--addr", "--conns", "--duration", "locust -f"):
        assert flag in proc.stdout
    bad = subprocess.run(
        [sys.executable, str(LOCUSTFILE), "--duration", "250ms"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2, "a duration Locust cannot take is a usage error"


def test_script_runs_locust(go_echo: Server) -> None:
    """Run as a script with the course's flags, it runs Locust on itself."""
    require_locust()
    argv = [
        sys.executable,
        str(LOCUSTFILE),
        "--addr",
        go_echo.addr,
        "--conns",
        "2",
        "--duration",
        "2s",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "echo" in proc.stdout + proc.stderr
