"""Shared fixtures. Model runs are cached per (preset/overrides, seed, quarters) within a session."""

from __future__ import annotations

import functools

import pytest

import sim


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
