"""Shared fixtures. Model runs are cached per (preset/overrides, seed, quarters) within a session."""

from __future__ import annotations

import functools

import pytest

import sim


def pytest_sessionstart(session):
    """Compile (or load) the model's kernels once, before any test: numba caches them per source file
    path, so on a fresh clone the first run would otherwise compile them inside whichever test comes
    first (a sweep's first batch taking seconds instead of milliseconds), and the command-line tests'
    processes would compile them side by side. After this they only load the cache."""
    sim.warm_up()


@functools.lru_cache(maxsize=None)
def _run(overrides: tuple, seed: int, quarters: int):
    cfg = sim.load_config().with_overrides(dict(overrides), quarters=quarters)
    return sim.run_scenario(cfg, seed=seed)


@pytest.fixture(scope="session")
def run_cached():
    """run_cached({"lever": value}, seed, quarters) -> ScenarioResult (memoised)."""

    def run(overrides: dict, seed: int = 1, quarters: int = 40):
        return _run(tuple(sorted(overrides.items())), seed, quarters)

    return run


@pytest.fixture(scope="session")
def repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    """One closing line when browser tests were skipped (no Chromium/Playwright), naming the fix.

    A wrapper around pytest's own summary so the line comes after the "short test summary info"
    list (``-ra``), right above the final counts."""
    import re

    result = yield
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "browser" in r.keywords]
    if not skipped:
        return result
    longrepr = skipped[0].longrepr
    reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr).removeprefix("Skipped: ")
    m = re.fullmatch(r"(.*) \((.*)\)", reason)  # browser_util: "/usr/bin/chromium not found (apt-get install chromium)"
    why, fix = m.groups() if m else (reason, "apt-get install chromium")
    if "chromium" in fix:
        fix += " (or CHROMIUM=/path/to/chromium)"
    n = len(skipped)
    terminalreporter.write_line(f"{n} browser test{'s' * (n != 1)} skipped ({why}); enable them with: {fix}",
                                yellow=True, bold=True)
    return result
