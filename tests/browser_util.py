"""Helpers for browser tests: a Solara server on a free loopback port and headless Debian Chromium.

Typical use (every wait is bounded, so a broken page fails instead of hanging)::

    from tests.browser_util import free_port, start_solara, launch_browser, RequestRecorder

    port = free_port()
    with start_solara("tests/fixtures/offline_page.py", port) as server:
        with launch_browser() as browser:
            page = browser.new_page()
            rec = RequestRecorder(page)
            page.goto(server.url, timeout=30_000)
            page.get_by_role("button", name="Step").wait_for(timeout=30_000)
            assert not rec.problems(allowed_hosts={"127.0.0.1"})
        print(server.log_text())

Chromium: Debian's ``/usr/bin/chromium`` (``apt-get install chromium``); Playwright's own browser
download does not work on this network. Override with ``CHROMIUM=/path``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"  # screenshots etc. (gitignored)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # no update/safe-browsing traffic in the request log
    "--disable-component-update",
    "--disable-sync",
]
HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@dataclass
class SolaraServer:
    """A running ``solara run`` process; ``log_text()`` returns its combined stdout/stderr."""

    proc: subprocess.Popen
    url: str
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve(cmd: list[str], port: int, *, host: str = HOST, label: str = "server", startup_timeout: float = 60.0,
          env: dict[str, str] | None = None, keep_log: bool = False) -> Iterator[SolaraServer]:
    """Run a server command in its own process group until it listens on ``host:port``.

    Waits until the port accepts connections (at most ``startup_timeout`` s; fails with the server
    log if the process dies or never listens), yields a :class:`SolaraServer`, then terminates the
    whole process group (SIGTERM, SIGKILL after 10 s). The log goes to
    ``test-artifacts/<label>-<port>-*.log``, deleted afterwards unless the body raised or ``keep_log``.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    log = tempfile.NamedTemporaryFile(prefix=f"{label}-{port}-", suffix=".log", dir=ARTIFACTS, delete=False)
    full_env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False", **(env or {})}
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=full_env, start_new_session=True)
    server = SolaraServer(proc, f"http://{host}:{port}/", Path(log.name))
    failed = False
    try:
        deadline = time.monotonic() + startup_timeout
        while not _port_open(host, port):
            if proc.poll() is not None:
                pytest.fail(f"{label} exited with {proc.returncode}:\n{server.log_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{label} not listening after {startup_timeout}s:\n{server.log_text()[-4000:]}")
            time.sleep(0.2)
        yield server
    except pytest.skip.Exception:
        raise
    except BaseException:  # pytest.fail raises a BaseException
        failed = True
        raise
    finally:
        _stop_group(proc)
        log.close()
        if not failed and not keep_log:
            server.log_path.unlink(missing_ok=True)  # kept under test-artifacts/ on failure


@contextlib.contextmanager
def start_solara(app: str | os.PathLike, port: int | None = None, *, host: str = HOST,
                 production: bool = True, startup_timeout: float = 60.0,
                 extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None,
                 keep_log: bool = False) -> Iterator[SolaraServer]:
    """Run ``solara run <app>`` (a file path or ``module.name``) on ``host:port`` (see :func:`serve`).

    The server runs with the interpreter of the test run (``sys.executable``), so it sees the same
    venv and its Solara CDN cache.
    """
    port = port or free_port(host)
    cmd = [sys.executable, "-m", "solara", "run", str(app), "--host", host, "--port", str(port),
           "--no-open", *(["--production"] if production else []), *(extra_args or [])]
    with serve(cmd, port, host=host, label="solara", startup_timeout=startup_timeout, env=env,
               keep_log=keep_log) as server:
        yield server


def _stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group started for ``proc``; SIGKILL it if still alive after ``grace``."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


@contextlib.contextmanager
def launch_browser(headless: bool = True, timeout_ms: int = 30_000):
    """Yield a Playwright ``Browser`` running Debian Chromium with :data:`CHROMIUM_ARGS`.

    Skips the test if Playwright or the Chromium binary is missing; under ``CI`` (``.ci/run``
    installs Chromium) that fails instead, so browser tests cannot silently drop out of CI.
    """
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=headless,
                                     args=CHROMIUM_ARGS, timeout=timeout_ms)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class RequestRecorder:
    """Record every request a Playwright ``Page`` makes, with its status or failure.

    ``records`` holds dicts ``{"url", "method", "status", "failure"}``; ``status`` is None until a
    response arrives (or forever, for a failed request).
    """

    page: object
    records: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_req: dict[object, dict] = {}  # keyed by Playwright's Request object
        self.page.on("request", self._on_request)
        self.page.on("response", self._on_response)
        self.page.on("requestfailed", self._on_failed)
        # websockets raise no "request" event; record them so their host is checked too
        self.page.on("websocket", lambda ws: self.records.append(
            {"url": ws.url, "method": "WS", "status": None, "failure": None}))

    def _on_request(self, req) -> None:
        rec = {"url": req.url, "method": req.method, "status": None, "failure": None}
        self._by_req[req] = rec
        self.records.append(rec)

    def _on_response(self, resp) -> None:
        rec = self._by_req.get(resp.request)
        if rec is not None:
            rec["status"] = resp.status

    def _on_failed(self, req) -> None:
        rec = self._by_req.get(req)
        if rec is not None:
            rec["failure"] = req.failure or "failed"

    def problems(self, allowed_hosts: set[str] = frozenset({HOST})) -> list[str]:
        """Requests that left ``allowed_hosts``, failed, or got a status >= 400."""
        out = []
        for r in self.records:
            parts = urlsplit(r["url"])
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname not in allowed_hosts:
                out.append(f"external: {r['url']}")
            elif r["failure"]:
                out.append(f"failed ({r['failure']}): {r['url']}")
            elif r["status"] is not None and r["status"] >= 400:
                out.append(f"HTTP {r['status']}: {r['url']}")
        return out

    def summary(self) -> str:
        return "\n".join(f"{r['status'] or r['failure'] or '-'} {r['method']} {r['url']}"
                         for r in self.records)
