"""Scoring and selection in an optimisation: candidates run and averaged, objectives and constraints, the
Pareto set, and the paper's packages compared with it.

**Evaluation.** A candidate (lever values; every other parameter from the base) is run once per
replicate; replicate *r* is a (seed, overrides) pair: the seed ``SeedSequence(seed, spawn_key=(r,))``
(the same seeds for every candidate and package: common random numbers) and, with
``[base] uncertainties = "posterior"``, the behavioural coefficients of posterior draw ``r % draws``.
A generation's unevaluated population goes to the executor as one batch of run tasks.

**Selection.** The Pareto set is the non-dominated set of every feasible candidate evaluated
(:func:`nondominated`); a package is dominated when a Pareto point beats it by epsilon on the means
(:func:`dominates`), and dominated beyond seed noise only when the paired per-seed gain of that point
holds at 95% (:func:`dominates_clearly`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
from experiments.decision.optimize_spec import BUDGET, DERIVED, Case, OptimizeError, OptimizeSpec, Replicate
from experiments.running import seeds
from experiments.running.expressions import parse
from experiments.running.runner import STATUS_OK, RunRecord, RunTask, config_fields
from experiments.running.spec import PACKAGE
from experiments.running.store import SUMMARY, Store, write_parquet

# ============================================================================ evaluation
class Evaluator:
    """Runs candidates (lever overrides) with the spec's replicates on an executor; every model run is
    committed to ``store`` and reused by run id (after a kill, by a later case, by a package)."""

    def __init__(self, spec: OptimizeSpec, store: Store, executor: Any, fn: Callable[[RunTask], RunRecord],
                 model_version: str, batch: int = 16, flush_seconds: float = 2.0):
        self.spec, self.store, self.executor, self.fn, self.mv = spec, store, executor, fn, model_version
        self.batch, self.flush_seconds = batch, flush_seconds
        self.replicates = spec.replicates()
        self.summaries: dict[str, dict[str, Any] | None] = {}  # run id -> summary (None: the run failed)
        self.ran = self.reused = 0
        store.quarantine()  # damaged batches of the run cache go to damaged/: their runs are made again
        runs = store.runs()
        if len(runs):
            table = store.table(SUMMARY, all_runs=True)
            ok = {r: row for r, row in zip(table["run_id"], table.drop(columns="run_id").to_dict("records"),
                                           strict=True)}
            for rid, status in zip(runs["run_id"], runs["status"], strict=True):
                self.summaries[rid] = ok.get(rid) if status == STATUS_OK else None

    def configs(self, overrides: Mapping[str, Any]) -> list[tuple[Replicate, sim.Config]]:
        base = self.spec.sweep.base
        # a lever the base times ([base.levers] NAME = {value, start, ...}) keeps its window
        overrides = {k: {"value": v, **base.schedules[k].to_dict()} if k in base.schedules else v
                     for k, v in overrides.items()}
        return [(r, base.with_overrides({**r.overrides, **overrides})) for r in self.replicates]

    def evaluate(self, items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> pd.DataFrame:
        """``items``: (lever overrides, design labels) pairs. One row per item: the mean of every summary
        outcome over its ok replicates, the derived outcomes, every lever's value, ``replicates_ok`` and
        ``replicates_failed``. The runs not made yet go to the executor as one batch."""
        plans = []
        tasks: dict[str, RunTask] = {}
        for point, (overrides, labels) in enumerate(items):
            ids = []
            for rep, cfg in self.configs(overrides):
                digest = cfg.digest()
                rid = seeds.run_id(digest, rep.seed, self.mv)
                ids.append(rid)
                if rid not in self.summaries and rid not in tasks:
                    design = {**labels, **({"draw": rep.draw} if rep.draw is not None else {})}
                    tasks[rid] = RunTask(run_id=rid, point=point, replicate=rep.index, seed=rep.seed,
                                         **config_fields(cfg), config_digest=digest, model_version=self.mv,
                                         design=design, outcomes=self.spec.sweep.outcomes)
            levers = {k: cfg.values[k] for k in cfg.names("levers")}
            plans.append((ids, levers))
        self.reused += sum(len(ids) for ids, _ in plans) - len(tasks)
        if tasks:
            self._run(list(tasks.values()))
        rows = []
        for ids, levers in plans:
            ok = [self.summaries[r] for r in ids if self.summaries.get(r) is not None]
            row: dict[str, Any] = dict(levers)
            if ok:
                frame = pd.DataFrame(ok)
                for c in frame.columns:  # the mean over the ok replicates (yes/no: the share), missing ignored
                    x = pd.to_numeric(frame[c].map(_as_number), errors="coerce")
                    row[c] = float(x.mean()) if x.notna().any() else math.nan
                for name, src in DERIVED.items():
                    if src in row:
                        row[name] = row[src] / self.spec.years
            row["replicates_ok"] = len(ok)
            row["replicates_failed"] = len(ids) - len(ok)
            rows.append(row)
        return pd.DataFrame(rows)

    def per_replicate(self, overrides: Mapping[str, Any], names: Sequence[str]) -> np.ndarray:
        """(replicates, names): each replicate's value of each name for lever ``overrides`` (a derived
        name from its total; NaN for a run that failed or was not made), so that two candidates can be
        compared pairwise, seed by seed (the same seeds for all: common random numbers)."""
        out = np.full((len(self.replicates), len(names)), math.nan)
        for i, (rep, cfg) in enumerate(self.configs(overrides)):
            summary = self.summaries.get(seeds.run_id(cfg.digest(), rep.seed, self.mv))
            if summary is None:
                continue
            for j, name in enumerate(names):
                src = DERIVED.get(name)
                v = _as_number(summary.get(src or name))
                out[i, j] = v / self.spec.years if src else v
        return out

    def _run(self, tasks: list[RunTask]) -> None:
        buffer: list[RunRecord] = []
        last = time.monotonic()
        try:
            for record in self.executor.imap_unordered(self.fn, tasks):
                buffer.append(record)
                self.summaries[record.run_id] = dict(record.summary) if record.ok else None
                self.ran += 1
                if len(buffer) >= self.batch or time.monotonic() - last >= self.flush_seconds:
                    self.store.write_batch(buffer)
                    buffer.clear()
                    last = time.monotonic()
        finally:
            self.store.write_batch(buffer)  # finished runs are kept on Ctrl-C or an executor error


def _as_number(v: Any) -> float:
    if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
        return float(v)
    return math.nan




# ============================================================================ results
@dataclass
class CaseResult:
    case: Case
    generation: int
    evaluations: pd.DataFrame  # every evaluated candidate (generation, levers, objectives, constraints)
    pareto: pd.DataFrame  # the non-dominated feasible candidates (levers, objectives, slack, in_archive)
    improvements: list[int]  # epsilon-box improvements of the archive after each generation
    replicates: np.ndarray | None = None  # (Pareto point, replicate, objective): per-seed values, paired


@dataclass
class OptimizeResult:
    root: Path
    spec: OptimizeSpec
    cases: list[CaseResult]
    packages: pd.DataFrame  # the compared presets: objectives, constraints per case
    finished: bool
    runs: int  # model runs made in this session
    reused: int  # evaluations' runs found in the store
    seconds: float
    files: list[Path] = field(default_factory=list)
    package_replicates: np.ndarray | None = None  # (package, replicate, objective): per-seed values, paired


def _objectives_and_constraints(spec: OptimizeSpec, case: Case, frame: pd.DataFrame
                                ) -> tuple[pd.DataFrame, list[tuple[list[float], list[float]]]]:
    """Objective values (missing ones set to 0 and penalised), signed relative violations of each
    constraint (> 0 broken), and a last constraint counting failed replicates and missing objectives."""
    env = frame.copy()
    if case.budget is not None:
        env[BUDGET] = case.budget
    out = pd.DataFrame(index=frame.index)
    missing = pd.Series(0.0, index=frame.index)
    for o in spec.objective_names:
        v = pd.to_numeric(env[o], errors="coerce") if o in env else pd.Series(math.nan, index=frame.index)
        out[o] = v
        missing += v.isna().astype(float)
    cons = []
    for i, c in enumerate(spec.constraints):
        left = _eval(env, c.left)
        right = _eval(env, c.right)
        scale = np.maximum(np.abs(right), 1e-12)
        g = (left - right) / scale if c.op == "<=" else (right - left) / scale
        g = g.where(np.isfinite(g), 1.0)  # a value we cannot compute counts as broken
        out[f"slack_{i + 1}"] = right - left if c.op == "<=" else left - right  # >= 0: the constraint holds
        cons.append(g)
    penalty = missing + pd.to_numeric(frame.get("replicates_failed", 0), errors="coerce").fillna(0)
    out["violation"] = sum((np.maximum(g, 0.0) for g in cons), start=pd.Series(0.0, index=frame.index)) + penalty
    out["feasible"] = out["violation"] <= 0
    scored = []
    for idx in frame.index:
        obj = [float(out.at[idx, o]) if np.isfinite(out.at[idx, o]) else 0.0 for o in spec.objective_names]
        con = [float(g.at[idx]) for g in cons] + [float(penalty.at[idx])]
        scored.append((obj, con))
    return out, scored


def _eval(env: pd.DataFrame, expr: str) -> pd.Series:
    """A side of a constraint per candidate (checked by :func:`_constraint`; walked, never eval'd)."""
    v = parse(expr, "[optimize] constraints", numeric=True).values(env)
    if np.ndim(v) == 0:
        v = pd.Series(float(v), index=env.index)
    return pd.to_numeric(v, errors="coerce").astype(float)


def nondominated(values: np.ndarray, directions: Sequence[int]) -> np.ndarray:
    """Mask of the rows of ``values`` (points x objectives) no other row Pareto-dominates; ``directions``
    +1 where more is better, -1 where less is. Equal rows are all kept."""
    x = np.asarray(values, dtype=float) * np.asarray(directions, dtype=float)
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        if keep[i]:  # a dominated row's victims are dominated by its dominator too
            keep &= ~(np.all(x[i] >= x, axis=1) & np.any(x[i] > x, axis=1))
    return keep


def _check_objectives(spec: OptimizeSpec, frame: pd.DataFrame, what: str) -> None:
    """An objective missing in every candidate cannot be optimised: one line naming it."""
    for o in spec.objective_names:
        if o not in frame or pd.to_numeric(frame[o], errors="coerce").isna().all():
            failed = int(frame["replicates_ok"].eq(0).sum()) if "replicates_ok" in frame else 0
            why = (f"every run of {failed} of {len(frame)} candidates failed (see optimize/runs)" if failed else
                   "e.g. retention_3y needs a horizon of at least 14 quarters (the first cohort graduates in "
                   "quarter 2), retention_5y 22")
            raise OptimizeError(f"objective {o!r} is missing in every candidate of {what} ({why}); choose another "
                                "objective or a longer horizon")


def _replicates(ev: Evaluator, spec: OptimizeSpec, levers: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """(item, replicate, objective): the per-seed objective values of each lever setting (runs made already)."""
    names = spec.objective_names
    if not levers:
        return np.empty((0, len(ev.replicates), len(names)))
    return np.stack([ev.per_replicate({k: _plain(v) for k, v in lv.items()}, names) for lv in levers])


def _plain(v: Any) -> Any:
    """A lever value read back from a table as the Python number the search gave the model."""
    return v.item() if isinstance(v, np.generic) else v


def evaluate_packages(spec: OptimizeSpec, ev: Evaluator) -> pd.DataFrame:
    """The compared presets with the same replicates: objectives, and per case constraints and feasibility."""
    presets = sim.load_presets()
    keys = list(spec.compare)
    if not keys:
        return pd.DataFrame()
    frame = ev.evaluate([(presets[k].levers, {PACKAGE: k}) for k in keys])
    _check_objectives(spec, frame, "the packages")
    cases = spec.cases()
    values, _ = _objectives_and_constraints(spec, cases[0], frame)  # objectives do not depend on the case
    extra = [d for d in DERIVED if d in frame and d not in spec.objective_names]
    table = pd.concat([pd.DataFrame({"package": keys, "label": [presets[k].label_en for k in keys]}),
                       frame[spec.lever_names], values[spec.objective_names],
                       frame[extra + ["replicates_ok", "replicates_failed"]]], axis=1)
    for case in cases:
        values, _ = _objectives_and_constraints(spec, case, frame)
        table[f"feasible_{case.name}"] = values["feasible"].to_numpy()
    write_parquet(table, ev.store.root / "packages.parquet")
    table.to_csv(ev.store.root / "packages.csv", index=False)
    return table


# ============================================================================ outputs
def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[int], eps: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` in every objective and better by at least its epsilon in one."""
    better = False
    for x, y, d, e in zip(a, b, directions, eps, strict=True):
        gain = (x - y) * d
        if gain < -1e-12:
            return False
        if gain >= e - 1e-12:
            better = True
    return better


def compare_packages(spec: OptimizeSpec, case: CaseResult, packages: pd.DataFrame,
                     package_replicates: np.ndarray | None = None) -> pd.DataFrame:
    """Per package: within the case's constraints?, the Pareto points that dominate it (by epsilon, on the
    means over the replicates), and those whose domination holds beyond seed noise (``clear_by``, see
    :func:`dominates_clearly`; empty when the per-seed values are not at hand: ``noise_checked`` False)."""
    if packages.empty:
        return pd.DataFrame()
    names, dirs = spec.objective_names, [d for _, d in spec.objectives]
    eps = [spec.epsilons[o] for o in names]
    pts = case.pareto[names].to_numpy(dtype=float) if len(case.pareto) else np.empty((0, len(names)))
    checked = (package_replicates is not None and case.replicates is not None
               and len(package_replicates) == len(packages) and len(case.replicates) == len(pts))
    rows = []
    for k, (_, p) in enumerate(packages.iterrows()):
        v = p[names].to_numpy(dtype=float)
        by = [i for i, a in enumerate(pts) if np.isfinite(v).all() and dominates(a, v, dirs, eps)]
        clear = [i for i in by if checked and dominates_clearly(case.replicates[i], package_replicates[k], dirs, eps)]
        rows.append({"package": p["package"], "label": p["label"], **{o: p[o] for o in names},
                     "within_constraints": bool(p[f"feasible_{case.case.name}"]), "dominated": bool(by),
                     "dominated_by": " ".join(str(i + 1) for i in by), "noise_checked": checked,
                     "dominated_beyond_noise": bool(clear), "clear_by": " ".join(str(i + 1) for i in clear)})
    return pd.DataFrame(rows)


def paired_gains(a: np.ndarray, b: np.ndarray, directions: Sequence[int]) -> list[tuple[int, float, float, float]]:
    """Per objective, ``(seeds, mean, low, high)`` of the gain of ``a`` over ``b`` (``(a - b) x direction``,
    > 0: ``a`` better) paired seed by seed (``a``, ``b``: replicates x objectives); Student-t 95% interval
    of the mean over the seeds where both ran (NaN bounds below two seeds)."""
    from experiments.reading.analysis import mean_ci

    out = []
    for j, d in enumerate(directions):
        g = (a[:, j] - b[:, j]) * d
        out.append(mean_ci(g[np.isfinite(g)]))
    return out


def dominates_clearly(a: np.ndarray, b: np.ndarray, directions: Sequence[int], eps: Sequence[float]) -> bool:
    """``a`` dominates ``b`` beyond seed noise: in every objective the paired gain's 95% interval stays
    above -epsilon (``a`` is, with that confidence, not worse by a difference that matters), and in some
    objective the mean gain is at least epsilon with the interval above 0. Fewer than two paired seeds:
    never (the noise is not measured)."""
    gains = paired_gains(a, b, directions)
    if any(n < 2 for n, *_ in gains):
        return False
    if any(not lo >= -e for (_, _, lo, _), e in zip(gains, eps, strict=True)):
        return False
    return any(m >= e - 1e-12 and lo > 0 for (_, m, lo, _), e in zip(gains, eps, strict=True))


__all__ = ["CaseResult", "Evaluator", "OptimizeResult", "compare_packages", "dominates", "dominates_clearly",
           "evaluate_packages", "nondominated", "paired_gains"]
