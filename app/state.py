"""One simulation per browser session: the model, its lever settings and a cache of its tables.

The page creates a :class:`Session` inside its component (``solara.use_memo``), so every browser tab
(every Solara virtual kernel) gets its own model and two tabs never share or disturb a run. The
session only calls the model's public interface (``sim.ClusterModel``, ``model.step()``,
``model.result()``, ``model.firm_frame()``; see docs/model-interface.md): no model logic lives here.

Stepping and reading happen from two threads (the play loop and the render), so both go through
one lock.

**Status-quo ghost.** The live charts show, as a grey line, the status-quo run with the same seed. It
is a second model stepped alongside, but only once the run differs from the status quo (levers not
at their defaults at the start, or moved mid-run): until then the ghost *is* the live run, and when
the two diverge the ghost catches up to the current quarter in one go.

**Lever changes** made mid-run are recorded (``changes``: the quarters after which new values
applied), so the charts can mark them, together with the values (``moves``), so the run can be
recomputed to any earlier quarter (:meth:`Session.rewind`: Pause returns to the quarter the room saw).

**Windows.** A lever may hold its value only from one year to another (:mod:`app.timing`); the session
runs its levers with those windows as the model's schedules.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
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


SEED_MAX = 2**32 - 1
# the budget ceiling (yuan per year) the page takes, from its field or its address: a million yuan to a
# trillion (the city's whole fiscal revenue is some 1e10); outside that a value is a typo or a probe, and
# a 1e308 ceiling would print a 300-digit number in the budget table
CEILING_MIN = 1e6
CEILING_MAX = 1e12


def check_ceiling(value: float) -> float:
    """The ceiling (yuan per year) if finite and within [CEILING_MIN, CEILING_MAX]; ValueError otherwise."""
    v = float(value)
    if not (math.isfinite(v) and CEILING_MIN <= v <= CEILING_MAX):
        raise ValueError(f"ceiling must be {CEILING_MIN:,.0f} to {CEILING_MAX:,.0f} yuan per year")
    return v


def check_seed(value: Any) -> int:
    """The seed as an int in 0 .. 2**32 - 1; ValueError (a message naming the seed) otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"seed must be a whole number from 0 to {SEED_MAX:,}, not {value!r}")
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        if not text or not (text.isdigit() or (text[0] in "+-" and text[1:].isdigit())):
            raise ValueError(f"seed must be a whole number from 0 to {SEED_MAX:,}, not {value!r}")
        value = int(text)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"seed must be a whole number from 0 to {SEED_MAX:,}, not {value!r}")
        value = int(value)
    try:
        seed = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"seed must be a whole number from 0 to {SEED_MAX:,}, not {value!r}") from None
    if not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be a whole number from 0 to {SEED_MAX:,}, not {seed:,}")
    return seed


class StepGate:
    """Server-wide priority of clicked steps over played quarters (issue 25: a step stays quick while
    another session plays). Every session's model runs in this one server process, so a session
    playing at full speed takes most of its time; a Step click (:meth:`interactive`) makes every
    play loop wait (:meth:`wait_turn`) until the click's step is done and :data:`HOLD_S` more have
    passed, the time its redraw takes to be rendered and sent. A playing session then loses at most
    that long per click of another session."""

    HOLD_S = 0.3  # s: a step's redraw (map, key figures, chart) is rendered and sent within this, on a busy laptop
    POLL_S = 0.02  # s: how often a waiting play loop looks again

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._until = 0.0

    @contextlib.contextmanager
    def interactive(self):
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                self._until = max(self._until, time.monotonic() + self.HOLD_S)

    def busy(self) -> bool:
        with self._lock:
            return self._active > 0 or time.monotonic() < self._until

    def wait_turn(self, cancel: threading.Event | None = None) -> None:
        """Return once no clicked step is being computed or redrawn (or ``cancel`` is set)."""
        while self.busy() and not (cancel is not None and cancel.is_set()):
            time.sleep(self.POLL_S)


STEP_GATE = StepGate()


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
    preset: str | None = None
    ghost_city: pd.DataFrame | None = None  # status quo, same seed (None: identical to the live run)
    ghost_clusters: pd.DataFrame | None = None
    changes: tuple = ()  # quarters after which levers changed mid-run
    windows: tuple = ()  # (lever, first quarter, last quarter) of every lever held only in a window


class Session:
    """The model of one browser session and the lever values it runs with (``levers``)."""

    def __init__(self, seed: int = DEFAULT_SEED, levers: Mapping[str, Any] | None = None,
                 preset: str | None = None, windows: Mapping[str, tuple] | None = None):
        self._lock = threading.RLock()
        self._snap: Snapshot | None = None
        self.version = 0  # bumped on every change of the model's state (cache key for drawings)
        self.preset = preset
        self.reset(seed, levers or lever_defaults(), preset=preset, windows=windows)

    # -- building and stepping -------------------------------------------------------------------
    def reset(self, seed: int, levers: Mapping[str, Any], preset: Any = ...,
              windows: Mapping[str, tuple] | None = None) -> None:
        """A fresh model at quarter 0 with these levers, their windows (``{lever: (first year, last
        year)}``, :mod:`app.timing`) and this seed (``preset``: the name shown in exports; unchanged if
        not given)."""
        from app.timing import scheduled

        seed = check_seed(seed)
        windows = {k: tuple(w) for k, w in (windows or {}).items() if tuple(w) != (None, None)}
        config = make_config(scheduled(levers, windows))
        model = sim.ClusterModel(config=config, rng=seed)
        with self._lock:
            self.model, self.config, self.seed, self.levers = model, config, seed, dict(levers)
            self.windows = windows
            if preset is not ...:
                self.preset = preset
            self.start_levers = dict(levers)
            self.start_windows = dict(windows)
            self.changes: list[int] = []
            self.moves: list[tuple[int, dict, dict]] = []  # (quarter, levers, windows) set after that quarter
            self.ghost = None
            self._snap = None
            self.version += 1
            self._sync_ghost()

    @property
    def diverged(self) -> bool:
        """Does this run differ from the status quo with the same seed (so the ghost line matters)?"""
        return bool(self.changes) or self.start_levers != lever_defaults() or bool(self.start_windows)

    def _sync_ghost(self) -> None:
        """Step the status-quo ghost up to the live quarter (created when the run first diverges)."""
        if not self.diverged:
            return
        if self.ghost is None:
            self.ghost = sim.ClusterModel(config=make_config(lever_defaults()), rng=self.seed)
        while self.ghost.running and self.ghost.quarter < self.model.quarter:
            self.ghost.step()

    def set_levers(self, levers: Mapping[str, Any], windows: Mapping[str, tuple] | None = None) -> bool:
        """Apply new lever values (and windows, ``None``: unchanged) to the running model from the next
        quarter.

        Returns True if the model took them now; False if they only take effect on reset (a model
        without ``set_levers``).
        """
        from app.timing import scheduled

        with self._lock:
            setter = getattr(self.model, "set_levers", None)
            if setter is None:
                return False  # self.levers stays what the model runs with
            windows = self.windows if windows is None else {
                k: tuple(w) for k, w in windows.items() if tuple(w) != (None, None)}
            if dict(levers) == self.levers and windows == self.windows:
                return True
            setter(scheduled(levers, windows))  # a plain value drops a lever's former window
            self.levers, self.windows = dict(levers), dict(windows)
            self.config = getattr(self.model, "config", self.config)
            if not self.changes or self.changes[-1] != self.quarter:
                self.changes.append(self.quarter)
            if self.moves and self.moves[-1][0] == self.quarter:
                self.moves.pop()
            self.moves.append((self.quarter, dict(self.levers), dict(self.windows)))
            self._sync_ghost()
            self._snap = None  # the export's settings table shows the new values
            self.version += 1
            return True

    def rewind(self, quarter: int) -> bool:
        """Recompute the run up to ``quarter`` (an earlier quarter than now): a fresh model with the
        start settings, stepped with every lever change made at or before ``quarter`` applied where it
        was (changes made later are dropped). The model is deterministic for a seed, so this is the run
        as it stood at that quarter. False (nothing done) if ``quarter`` is not before the current one."""
        with self._lock:
            quarter = max(0, int(quarter))
            if quarter >= self.quarter:
                return False
            moves = [m for m in self.moves if m[0] <= quarter]
            preset = self.preset
            self.reset(self.seed, self.start_levers, windows=self.start_windows)
            self.preset = preset
            for q, levers, windows in moves:
                while self.quarter < q:
                    self.step()
                self.set_levers(levers, windows)
            while self.quarter < quarter and self.step():
                pass
            return True

    def advance_to(self, quarter: int) -> int:
        """Step until ``quarter`` (or the horizon); returns the quarter reached."""
        with self._lock:
            while self.quarter < quarter and self.step():
                pass
            return self.quarter

    @property
    def live_levers(self) -> bool:
        return hasattr(self.model, "set_levers")

    def step(self) -> bool:
        """Advance one quarter; False (and no step) if the run has reached its horizon."""
        with self._lock:
            if not self.model.running:
                return False
            self.model.step()
            self._sync_ghost()
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
        from app.timing import window_quarters

        with self._lock:
            if self._snap is None:
                m = self.model
                res = m.result()
                ghost = self.ghost.result() if self.ghost is not None else None
                self._snap = Snapshot(
                    quarter=int(m.quarter), quarters=int(self.config.quarters), running=bool(m.running),
                    city=res.city, clusters=res.clusters, districts=res.districts,
                    firms=m.firm_frame(), universities=list(m.university_cells()),
                    governments=list(m.government_cells()), layout=m.layout, seed=self.seed,
                    levers=dict(self.levers), preset=self.preset,
                    ghost_city=ghost.city if ghost is not None else None,
                    ghost_clusters=ghost.clusters if ghost is not None else None,
                    changes=tuple(self.changes),
                    windows=tuple(window_quarters(self.config)),
                )
            return self._snap
