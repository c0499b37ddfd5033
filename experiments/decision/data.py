"""A sweep read for decision analysis: the per-run table of :func:`experiments.load`, which factors are
levers (what the city chooses: ``package`` and the levers of ``configs/parameters.toml``) and which
are uncertainties (everything else that is swept: uncertainties, facts, settings; and, when the runs
draw their behavioural coefficients from a posterior, those coefficients, named as in
``configs/parameters.toml``), and the outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from experiments.running.runner import STATUS_OK
from experiments.running.store import POSTERIOR_PREFIX, Store, factor_columns, load, posterior_columns
from experiments.running.timing import split_name

PACKAGE = "package"
RUN_KEYS = ("run_id", "point", "replicate", "seed", "draw", "status", "error")


@dataclass
class SweepData:
    root: Path
    runs: pd.DataFrame  # one row per run of the current design (experiments.load)
    levers: list[str]  # swept lever factors (incl. package)
    uncertainties: list[str]  # swept factors that are not levers
    outcomes: list[str]  # summary outcome columns
    raw: Mapping[str, Any]  # the stored spec (TOML)
    drawn: list[str] = field(default_factory=list)  # of the uncertainties: coefficients from posterior draws

    @property
    def factors(self) -> list[str]:
        return [*self.levers, *self.uncertainties]

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == STATUS_OK].reset_index(drop=True)

    def section(self, name: str) -> Mapping[str, Any]:
        t = self.raw.get(name, {})
        return t if isinstance(t, Mapping) else {}


def read(root: str | Path) -> SweepData:
    """Read a results folder (FileNotFoundError if it holds no sweep)."""
    root = Path(root)
    runs = load(root)
    design = Store(root).design()
    factors = factor_columns(design)
    drawn = [c.removeprefix(POSTERIOR_PREFIX) for c in posterior_columns(design)]
    drawn = [c for c in drawn if c not in factors]  # a swept factor overrides the draw
    runs = runs.rename(columns={POSTERIOR_PREFIX + c: c for c in drawn})
    schema = sim.default_config().schema
    def lever_of(f: str) -> str:  # a timed lever's factor (digital_grant_budget.start) is a lever's too
        timed = split_name(f)
        return timed[0] if timed else f

    levers = [f for f in factors if f == PACKAGE or (lever_of(f) in schema and schema[lever_of(f)].kind == "levers")]
    uncs = [f for f in factors if f not in levers] + drawn
    outcomes = [c for c in runs.columns if c not in RUN_KEYS and c not in factors and c not in drawn
                and not c.startswith(POSTERIOR_PREFIX)]
    raw = Store(root).spec_raw()
    return SweepData(root=root, runs=runs, levers=levers, uncertainties=uncs, outcomes=outcomes, raw=raw, drawn=drawn)


def labels() -> dict[str, str]:
    """English labels of parameters (and ``package``)."""
    return {n: p.label_en for n, p in sim.default_config().schema.items()} | {
        PACKAGE: "policy package", "persons_per_agent": "persons per agent"}


def package_labels() -> dict[str, str]:
    return {k: p.label_en for k, p in sim.load_presets().items()}


def fmt(v: Any) -> str:
    """A short number (3 significant digits; 万 / 亿 for large values) or the value as text."""
    from experiments.reading.analysis import _fmt

    return _fmt(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
