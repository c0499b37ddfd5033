"""The app's server process: ``python -m app`` listens on loopback only unless asked otherwise.

Also home of :func:`start_app`, which the browser tests (tests/test_app_browser.py) use to serve the
page through the app's own entry point.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

try:
    from tests.browser_util import free_port, serve
except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
    from browser_util import free_port, serve

REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def start_app(port: int, *args: str, startup_timeout: float = 60.0):
    """Run ``python -m app --port <port> [args]``; yield (url, log path); stop its process group.

    The log (``test-artifacts/app-<port>-*.log``) is kept only if the body failed.
    """
    cmd = [sys.executable, "-m", "app", "--port", str(port), *args]
    with serve(cmd, port, label="app", startup_timeout=startup_timeout, env={"PYTHONPATH": str(REPO)}) as server:
        yield server.url, server.log_path


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    out = []
    for name in ("tcp", "tcp6"):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                if name == "tcp":
                    out.append(".".join(str(b) for b in reversed(bytes.fromhex(addr_hex))))
                else:
                    out.append(f"ipv6:{addr_hex}")
    return out


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_server_binds_loopback_by_default():
    port = free_port()
    with start_app(port) as (url, log):  # no --host: the default
        assert url == f"http://127.0.0.1:{port}/"
        assert listening_addresses(port) == ["127.0.0.1"], listening_addresses(port)
        text = log.read_text(errors="replace")
        assert "this computer only" in text
