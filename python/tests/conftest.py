"""Fixtures shared by the Python counterparts' tests.

Servers are started as real subprocesses on 127.0.0.1:0; a test waits for the
``msg=listening addr=HOST:PORT`` line on stderr instead of sleeping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PYTHON_DIR))

LISTENING = re.compile(r"msg=listening .*?addr=(\S+)")

# Grading. A test that grades an exercise is marked
# @pytest.mark.exercise("exercise-NAME"). In the starter copy the exercise's
# solution is replaced by a stub, a comment "# TODO(exercise-NAME): not done
# yet" (with "pass" or a neutral return), which never raises: while it is in
# python/*.py the marked tests fail at once with "not done yet" and the page
# where the exercise is taught (the page of docs/src holding its anchor,
# <a id="exercise-NAME"></a>, as tools/grade and internal/exercise find it),
# and no other test does. With GRADE_REPORT=FILE (set by tools/grade) every
# test's outcome, duration and exercises are written to FILE.
_report: list[dict[str, object]] = []
_STUB = re.compile(r"^\s*(?:pass\s+)?# TODO\((exercise-[\w-]+)\): not done yet", re.M)
_GO_STUB = re.compile(r'^\s*exercise\.TODO\("(exercise-[\w-]+)"\)', re.M)
_ANCHOR = re.compile(r'<a id="(exercise-[\w-]+)"></a>')


def _pointers() -> dict[str, str]:
    """Where each exercise is taught: "docs/src/PAGE.md#exercise-NAME"."""
    root = PYTHON_DIR.parent
    found: dict[str, str] = {}
    for page in sorted((root / "docs" / "src").rglob("*.md")):
        rel = page.relative_to(root).as_posix()
        if rel.startswith("docs/src/solutions/"):
            continue  # solves the exercise; the chapter teaches it
        for m in _ANCHOR.finditer(page.read_text(encoding="utf-8")):
            found.setdefault(m.group(1), f"{rel}#{m.group(1)}")
    return found


def _stubs() -> dict[str, str]:
    """The exercises still stubbed, with their messages: in python/*.py, and
    in the Go chapters (a test against a Go program may grade a Go exercise).
    Without an anchor yet, the message names the chapter's page."""
    found: dict[str, str] = {}  # exercise -> its chapter, "ch04"
    for f in sorted(PYTHON_DIR.glob("*.py")):
        for m in _STUB.finditer(f.read_text(encoding="utf-8")):
            found[m.group(1)] = f.name[:4]
    for f in sorted(PYTHON_DIR.parent.glob("ch[0-9][0-9]-*/*.go")):
        if not f.name.endswith("_test.go"):
            for m in _GO_STUB.finditer(f.read_text(encoding="utf-8")):
                found.setdefault(m.group(1), f.parent.name[:4])
    if not found:
        return {}
    pointers = _pointers()
    src = PYTHON_DIR.parent / "docs" / "src"
    for name, chapter in found.items():
        if name not in pointers:
            pages = sorted(src.glob(f"{chapter}-*.md"))
            if pages:
                pointers[name] = pages[0].relative_to(PYTHON_DIR.parent).as_posix()
    see = {n: f" — see {p}" for n, p in pointers.items()}
    return {n: f"{n}: not done yet{see.get(n, '')}" for n in found}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(name): the test grades this exercise")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not os.environ.get("GRADE_REPORT"):
        return
    failed = report.failed
    if report.when != "call" and not failed and not report.skipped:
        return  # setup and teardown that passed add nothing
    _report.append(
        {
            "test": report.nodeid,
            "outcome": "failed" if failed else ("skipped" if report.skipped else "passed"),
            "message": report.longreprtext if failed else "",
            "seconds": report.duration,
            "exercises": [v for k, v in report.user_properties if k == "exercise"],
        }
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("exercise"):
        item.user_properties.append(("exercise", str(mark.args[0])))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Fail a grading test at once while its exercise is a stub."""
    names = [str(m.args[0]) for m in item.iter_markers("exercise")]
    if names:
        stubs = _stubs()
        for name in names:
            if name in stubs:
                pytest.fail(stubs[name], pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("GRADE_REPORT")
    if path:
        Path(path).write_text(json.dumps(_report, indent=1))


class Server:
    """A server subprocess; ``addr`` is where it listens."""

    def __init__(
        self,
        proc: subprocess.Popen[str],
        addr: str,
        lines: list[str],
        cond: threading.Condition,
    ) -> None:
        self.proc = proc
        self.addr = addr
        self.lines = lines  # output lines, appended by a reader thread under cond
        self.cond = cond

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.addr.rpartition(":")
        return host.strip("[]"), int(port)

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr, in order)."""
        with self.cond:
            return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """Wait until the output contains text; return the output."""
        with self.cond:
            if not self.cond.wait_for(lambda: text in "".join(self.lines), timeout):
                raise AssertionError(f"no {text!r} in output:\n{''.join(self.lines)}")
            return "".join(self.lines)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start_server(
    argv: list[str], timeout: float = 30.0, preexec_fn: Callable[[], None] | None = None
) -> Server:
    """Start argv and wait until it logs msg=listening.

    stdout and stderr share one pipe, so the output reads as a terminal shows it.
    preexec_fn runs in the child before the program (e.g. to set a limit).
    """
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=preexec_fn
    )
    lines: list[str] = []
    cond = threading.Condition()
    found = threading.Event()
    addr: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with cond:
                lines.append(line)
                cond.notify_all()
            m = LISTENING.search(line)
            if m and not found.is_set():
                addr.append(m.group(1).strip('"'))
                found.set()
        found.set()  # EOF: the process died

    threading.Thread(target=reader, daemon=True).start()
    if not found.wait(timeout) or not addr:
        proc.kill()
        raise RuntimeError(f"{argv} did not listen:\n{''.join(lines)}")
    return Server(proc, addr[0], lines, cond)


@pytest.fixture
def python_server() -> Iterator[Callable[..., Server]]:
    """Start a Python counterpart: python_server("ch01_overview.py", "serve")."""
    started: list[Server] = []

    def start(script: str, *args: str) -> Server:
        argv = [sys.executable, "-u", str(PYTHON_DIR / script), *args, "--addr", "127.0.0.1:0"]
        s = start_server(argv)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def go_server() -> Iterator[Callable[..., Server]]:
    """Start a Go chapter with `go run`: go_server("./ch01-overview", "serve").

    Skips when Go is missing on a laptop; fails under CI.
    """
    started: list[Server] = []

    def start(pkg: str, *args: str) -> Server:
        go = shutil.which("go")
        if go is None:
            if os.environ.get("CI"):
                pytest.fail("go is required under CI but was not found on PATH")
            pytest.skip("go not found on PATH")
        out = PYTHON_DIR / "build" / pkg.strip("./")
        subprocess.run([go, "build", "-o", str(out), pkg], cwd=PYTHON_DIR.parent, check=True)
        s = start_server([str(out), *args, "-addr", "127.0.0.1:0"])
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
