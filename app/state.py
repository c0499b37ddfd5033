"""One simulation per browser session: the model, its lever settings and a cache of its tables.

The page creates a :class:`Session` inside its component (``solara.use_memo``), so every browser tab
(every Solara virtual kernel) gets its own model and two tabs never share or disturb a run. The
session only calls the model's public interface (``sim.ClusterModel``, ``model.step()``,
``model.result()``, ``model.firm_frame()``; see docs/model-interface.md): no model logic lives here.

Stepping and reading happen from two threads (the play loop and the render), so both go through
one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

import sim

DEFAULT_SEED = 1


@lru_cache(maxsize=1)
def _lever_defaults() -> tuple:
    cfg = sim.default_config()
    return tuple((n, cfg.schema[n].default) for n in cfg.names("levers"))


def lever_defaults() -> dict[str, float]:
    """Status-quo value of every lever, in file order (a new dict each call)."""
    return dict(_lever_defaults())


@lru_cache(maxsize=1)
def presets() -> dict:
    """The policy packages of configs/presets.toml (read once per server process)."""
    return sim.load_presets()


def make_config(levers: Mapping[str, Any], quarters: int | None = None) -> sim.Config:
    """The baseline scenario with ``levers`` applied (validated by the config layer)."""
    cfg = sim.load_config()
    extra = {"quarters": quarters} if quarters else {}
    return cfg.with_overrides(dict(levers), **extra)


@dataclass(frozen=True)
class Snapshot:
    """What the page draws after a step: the run's tables and the firms now (copies, safe to read)."""

    quarter: int
    quarters: int
    running: bool
    city: pd.DataFrame
    clusters: pd.DataFrame
    districts: pd.DataFrame
    firms: pd.DataFrame
    universities: list
    governments: list
    layout: Any
    seed: int
    levers: dict


class Session:
    """The model of one browser session and the lever values it runs with (``levers``)."""

    def __init__(self, seed: int = DEFAULT_SEED, levers: Mapping[str, Any] | None = None):
        self._lock = threading.RLock()
        self._snap: Snapshot | None = None
        self.version = 0  # bumped on every change of the model's state (cache key for drawings)
        self.reset(seed, levers or lever_defaults())

    # -- building and stepping -------------------------------------------------------------------
    def reset(self, seed: int, levers: Mapping[str, Any]) -> None:
        """A fresh model at quarter 0 with these levers and this seed."""
        config = make_config(levers)
        model = sim.ClusterModel(config=config, rng=int(seed))
        with self._lock:
            self.model, self.config, self.seed, self.levers = model, config, int(seed), dict(levers)
            self._snap = None
            self.version += 1

    def set_levers(self, levers: Mapping[str, Any]) -> bool:
        """Apply new lever values to the running model from the next quarter.

        Returns True if the model took them now; False if they only take effect on reset (a model
        without ``set_levers``).
        """
        with self._lock:
            setter = getattr(self.model, "set_levers", None)
            if setter is None:
                return False  # self.levers stays what the model runs with
            setter(dict(levers))
            self.levers = dict(levers)
            self.config = getattr(self.model, "config", self.config)
            self._snap = None  # the export's settings table shows the new values
            return True

    @property
    def live_levers(self) -> bool:
        return hasattr(self.model, "set_levers")

    def step(self) -> bool:
        """Advance one quarter; False (and no step) if the run has reached its horizon."""
        with self._lock:
            if not self.model.running:
                return False
            self.model.step()
            self._snap = None
            self.version += 1
            return True

    @property
    def quarter(self) -> int:
        return int(self.model.quarter)

    @property
    def running(self) -> bool:
        return bool(self.model.running)

    # -- reading ---------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The tables of the quarters so far (cached until the next step or reset)."""
        with self._lock:
            if self._snap is None:
                m = self.model
                res = m.result()
                self._snap = Snapshot(
                    quarter=int(m.quarter), quarters=int(self.config.quarters), running=bool(m.running),
                    city=res.city, clusters=res.clusters, districts=res.districts,
                    firms=m.firm_frame(), universities=list(m.university_cells()),
                    governments=list(m.government_cells()), layout=m.layout, seed=self.seed,
                    levers=dict(self.levers),
                )
            return self._snap
