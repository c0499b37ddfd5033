"""Best packages under a budget: a many-objective search over the levers (``python -m experiments optimize``).

The question is the paper's, turned round: not "what does package X do?" but "which lever values do
best on levels climbed and talent kept, for what spending, within a budget?". The search is
epsilon-dominance NSGA-II (``platypus.EpsNSGAII``, the algorithm EMA Workbench's ``optimize`` uses by
default); the model is ``sim.run_scenario``, run through the project's executors.

**Spec** (``configs/experiments/optimize.toml``; sections as in sweep specs, plus ``[optimize]``)::

    [experiment]  name, description, seed, replicates (seeds averaged per evaluation), horizon
    [base]        the base scenario (scenario, package, [base.levers] / [base.uncertainties] / [base.facts])
    [levers]      the decision variables: name = {min, max} | [values] | "full"; "*" = "full"
    [outcomes]    what each run keeps (default: the summary only)
    [optimize]    maximize = [outcomes], minimize = [outcomes], epsilons = {outcome = resolution},
                  constraints = ["spending_per_year <= budget", ...], budgets = [yuan per year, ...]
                  (one optimisation per budget), population, generations, compare = "all" | [presets],
                  start_from_packages = true

Objectives and constraints use the summary outcomes of a run (mean over the replicates; a yes/no
outcome becomes a share), ``spending_per_year`` / ``spending_talent_per_year`` (the totals over the
horizon divided by its years), the candidate's lever values, and ``budget``. A constraint is one
comparison (``<=`` / ``>=``; ``<`` / ``>`` read as those) of two numbers per candidate, each made of
those names, numbers, ``+ - * /``, unary ``-`` and ``**`` with a literal exponent from -10 to 10, e.g.
``spending_per_year <= budget`` or ``spending_total / 10 <= 2e8`` (the grammar of
:mod:`experiments.running.expressions`: a spec is data, nothing in it is ever ``eval``'d; anything
else is refused in one line when the spec is read). Its violation, relative to the bound, enters
platypus's constrained dominance (a feasible point beats an infeasible one; among infeasible ones the
smaller violation wins).

**Evaluation.** A candidate (lever values; every other parameter from the base) is run once per
replicate; replicate *r* is a (seed, overrides) pair: the seed ``SeedSequence(seed, spawn_key=(r,))``
(the same seeds for every candidate and package: common random numbers) and, with
``[base] uncertainties = "posterior"``, the behavioural coefficients of posterior draw ``r % draws``.
A generation's unevaluated population goes to the executor as one batch of run tasks.

**Checkpoints.** Every model run is committed to ``DIR/optimize/`` (a :class:`experiments.running.store.Store`:
``runs/``, ``summary/``); after every generation the optimiser's state is written as plain data to
``DIR/optimize/<case>/state.json`` (:mod:`experiments.decision.checkpoint`: the population and the
ε-archive with their variables, objectives and constraints, the extensions' counters, Python's random
state, the generation and the spec's digest) next to ``evaluations.parquet`` (every evaluated
candidate). Re-running the same command after a kill builds a fresh optimiser, fills it from the last
checkpoint and repeats the interrupted generation with the same random numbers: its finished runs come
from the store (same run ids), so the search continues exactly as if it had not been interrupted.
Raising ``generations`` continues a finished search. Nothing in a checkpoint can run code: it is JSON,
checked (types, lengths, bounds) before use; a damaged checkpoint or evaluations file is refused in one
line naming it, and the ``state.pkl`` of older versions (a pickle) is refused unread.

**Output.** ``DIR/pareto.csv`` (per case, the non-dominated set of every candidate evaluated within the
constraints: lever values, objectives, ``slack_<i>`` = how far inside constraint *i*, ``in_archive`` =
kept by the optimiser's ε-archive), ``DIR/figures/pareto_<case>.png`` (parallel coordinates, EMA
Workbench's ``ParallelAxes``), ``DIR/optimize/packages.csv`` (the paper's packages with the same
replicates) and ``DIR/report.md`` (the Pareto set against the packages: which are dominated, which
break a budget). The report prints its caveats first (generations run, horizon, seeds, in-sample
scores, whether the front still moved at the end) and calls a package dominated beyond seed noise only
when the paired per-seed gain of a Pareto point holds at 95% (:func:`dominates_clearly`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import math
import random
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import platypus

import sim
from experiments.running import provenance, seeds
from experiments.decision import checkpoint, data
from experiments.running.expressions import ExpressionError, parse
from experiments.running.goals import check_expression
from experiments.running.runner import STATUS_OK, RunRecord, RunTask, config_fields, execute, probe_config
from experiments.running.spec import PACKAGE, PROJECT_DIR, Factor, Spec, SpecError, _Parser, _suggest
from experiments.running.store import OPTIMIZE_ENTRIES, SUMMARY, FolderInUse, Store, why_not_movable, write_parquet, write_text
from sim.inputs.base import ConfigError
from sim.inputs.config import read_config_text

SECTIONS = ("experiment", "base", "levers", "outcomes", "optimize")
OPTIMIZE_KEYS = ("maximize", "minimize", "epsilons", "constraints", "budgets", "population", "generations",
                 "compare", "start_from_packages")
EXPERIMENT_KEYS = ("name", "description", "seed", "replicates", "horizon")
BUDGET = "budget"  # the name of the case's budget in constraints
DERIVED = {"spending_per_year": "spending_total", "spending_talent_per_year": "spending_talent_total"}
MAX_POPULATION = 10_000
MAX_GENERATIONS = 1_000
# The report's convergence check looks at the last 3 generations (assumption: long enough that one quiet
# generation is not read as convergence, short enough to flag a front that still moved at the end of a
# short search, e.g. the 2-generation smoke spec).
CONVERGENCE_WINDOW = 3
STATE, EVALUATIONS = "state.json", "evaluations.parquet"  # a case's checkpoint (JSON) and its evaluations
OWN_ENTRIES = OPTIMIZE_ENTRIES  # what an optimisation writes into its folder
_NOT_HERE = {
    "design": "an optimisation chooses its own points; set the search size with [optimize] population and "
              "generations",
    "uncertainties": "an optimisation searches the levers in one future: fix uncertainties in "
                     "[base.uncertainties] (posterior draws: [base] uncertainties = \"posterior\")",
    "settings": "set scenario settings in [base]",
    "analysis": "the report of an optimisation has no [analysis] options",
    "robustness": "judge robustness with a sweep (futures_lhs.toml); an optimisation has [optimize] constraints",
}


class OptimizeError(ValueError):
    """The optimisation cannot go on (no feasible objective values, a folder of another spec, ...)."""


# ============================================================================ the spec
@dataclass(frozen=True)
class Constraint:
    """``left op right`` with op ``<=`` or ``>=`` (``<`` / ``>`` are read as ``<=`` / ``>=``)."""

    text: str
    left: str
    op: str
    right: str

    @property
    def names(self) -> set[str]:
        return set(parse(self.left, numeric=True).names | parse(self.right, numeric=True).names)


@dataclass(frozen=True)
class Case:
    """One optimisation of the spec: all of it, or one budget of ``[optimize] budgets``."""

    name: str
    budget: float | None = None

    @property
    def label(self) -> str:
        return "no budget" if self.budget is None else f"budget {data.fmt(self.budget)} a year"


@dataclass(frozen=True)
class Replicate:
    """What an evaluation averages over: a seed and parameter overrides (a posterior draw's coefficients)."""

    index: int
    seed: int
    draw: int | None = None
    overrides: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class OptimizeSpec:
    name: str
    path: Path | None
    text: str
    raw: Mapping[str, Any]
    sweep: Spec  # experiment, base, levers (the decision variables) and outcomes, as a sweep spec reads them
    maximize: tuple[str, ...]
    minimize: tuple[str, ...]
    epsilons: Mapping[str, float]
    constraints: tuple[Constraint, ...]
    budgets: tuple[float, ...]
    population: int
    generations: int
    compare: tuple[str, ...]
    start_from_packages: bool

    @property
    def objectives(self) -> list[tuple[str, int]]:
        """(outcome, +1 maximise / -1 minimise) in spec order: maximised first."""
        return [(o, 1) for o in self.maximize] + [(o, -1) for o in self.minimize]

    @property
    def objective_names(self) -> list[str]:
        return [o for o, _ in self.objectives]

    @property
    def levers(self) -> tuple[Factor, ...]:
        return self.sweep.factors

    @property
    def lever_names(self) -> list[str]:
        return [f.name for f in self.levers]

    @property
    def years(self) -> float:
        return self.sweep.horizon / 4.0

    def cases(self) -> list[Case]:
        if not self.budgets:
            return [Case("main")]
        return [Case(f"budget_{_short(b)}", float(b)) for b in self.budgets]

    def replicates(self) -> list[Replicate]:
        """Replicate r: seed ``run_seed(seed, None, r)`` (common to every candidate) and, with a posterior,
        draw ``r % draws``."""
        out = []
        for r in range(self.sweep.replicates):
            draw = self.sweep.draw_of(r)
            out.append(Replicate(r, seeds.run_seed(self.sweep.seed, None, r), draw, self.sweep.draw_values(draw)))
        return out

    def digest(self, model_version: str, case: Case) -> str:
        """What a checkpoint must match to be resumed: the spec but its description, ``generations``
        (raise it to continue), ``compare`` (reporting only) and the other budgets; the resolved base
        scenario, the case's budget and the model version."""
        raw = json.loads(json.dumps(self.raw, default=str))
        raw.get("experiment", {}).pop("description", None)
        for key in ("generations", "compare", "budgets"):
            raw.get("optimize", {}).pop(key, None)
        blob = json.dumps({"spec": raw, "base": self.sweep.base.digest(), "case": case.name, "budget": case.budget,
                           "model": model_version}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_optimize_spec(path: str | Path) -> OptimizeSpec:
    try:
        text = read_config_text(path, "spec file")
    except ConfigError as exc:
        raise SpecError(str(exc)) from None
    return parse_optimize_spec(text, path=Path(path))


def parse_optimize_spec(text: str, path: str | Path | None = None) -> OptimizeSpec:
    """Validate an optimisation spec; a problem raises :class:`SpecError` naming the file, section and key."""
    path = Path(path) if path is not None else None
    where = path.name if path else "spec"

    def err(msg: str) -> SpecError:
        return SpecError(f"{where}: {msg}")

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise err(f"not valid TOML: {exc}") from None
    for section in raw:
        if section in _NOT_HERE:
            raise err(f"[{section}] is not used by an optimisation spec: {_NOT_HERE[section]}")
        if section not in SECTIONS:
            raise err(f"unknown section [{section}].{_suggest(section, SECTIONS)}")
    exp = raw.get("experiment", {})
    if isinstance(exp, Mapping):
        for key in exp:
            if key == "crn":
                raise err("[experiment] crn: not used: an optimisation always gives every candidate the same seeds "
                          "(common random numbers)")
            if key not in EXPERIMENT_KEYS:
                raise err(f"[experiment] unknown key {key!r}.{_suggest(key, EXPERIMENT_KEYS)}")
    opt = raw.get("optimize")
    if not isinstance(opt, Mapping) or not opt:
        raise err("[optimize] is required: give maximize / minimize = [outcomes], epsilons and optionally "
                  "constraints (see configs/experiments/optimize_smoke.toml)")
    for key in opt:
        if key not in OPTIMIZE_KEYS:
            raise err(f"[optimize] unknown key {key!r}.{_suggest(key, OPTIMIZE_KEYS)}")
    levers = raw.get("levers")
    if not isinstance(levers, Mapping) or not levers:
        raise err('[levers]: give the levers to search, e.g. rd_subsidy_rate = { min = 0.0, max = 0.3 } or '
                  '"*" = "full" for every lever over its range')
    if PACKAGE in levers:
        raise err("[levers] package: an optimisation searches lever values, not presets; the presets are "
                  "compared with the result ([optimize] compare)")

    def integer(key: str, default: int, low: int, high: int) -> int:
        v = opt.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise err(f"[optimize] {key}: {v!r} is not allowed; give an integer from {low} to {high:,}")
        return v

    population = integer("population", 40, 4, MAX_POPULATION)
    generations = integer("generations", 20, 1, MAX_GENERATIONS)
    # experiment, base, levers and outcomes exactly as a sweep spec reads them (the search is no design)
    sweep_raw = {k: v for k, v in raw.items() if k in ("experiment", "base", "levers", "outcomes")}
    sweep_raw.setdefault("outcomes", {"summary": "all", "city": [], "clusters": [], "districts": []})
    sweep_raw["design"] = {"kind": "lhs", "samples": population}
    try:
        sweep = _Parser(sweep_raw, where, path).parse(text)
    except ConfigError as exc:
        raise err(str(exc)) from None
    for lever in sweep.timing:
        raise err(f"[levers] {lever}: an optimisation searches lever values, not their timing; fix the window in "
                  f"[base.levers] (e.g. [base.levers.{lever}] value = .., start = \"..\"); the search then "
                  "varies the value inside it")
    for f in sweep.factors:
        if f.values is not None and len(f.values) < 2:
            raise err(f"[levers] {f.name}: {list(f.values)!r} is one value: fix it in [base.levers] instead")

    def names_list(key: str) -> tuple[str, ...]:
        v = opt.get(key, [])
        if not isinstance(v, list) or not all(isinstance(o, str) and o for o in v):
            raise err(f'[optimize] {key}: {v!r} is not allowed; give a list of outcome names, e.g. '
                      f'{key} = ["tiers_climbed_clusters", "retention_3y"]')
        return tuple(v)

    maximize, minimize = names_list("maximize"), names_list("minimize")
    if not maximize and not minimize:
        raise err('[optimize] maximize / minimize: give at least one objective, e.g. maximize = ["retention_3y"]')
    both = sorted(set(maximize) & set(minimize))
    if both:
        raise err(f"[optimize] {both[0]!r} is in both maximize and minimize")
    objectives = [*maximize, *minimize]
    if len(set(objectives)) != len(objectives):
        raise err(f"[optimize] an objective is listed twice: {objectives!r}")
    eps = opt.get("epsilons")
    example = ", ".join(f"{o} = 0.01" for o in objectives[:2])
    if not isinstance(eps, Mapping):
        raise err(f"[optimize] epsilons is required: the smallest difference that matters, per objective, in its "
                  f"units (the resolution of the Pareto set), e.g. epsilons = {{ {example} }}")
    for o in objectives:
        if o not in eps:
            raise err(f"[optimize] epsilons: give one for {o!r} (the smallest difference that matters, in its "
                      f"units), e.g. epsilons = {{ {example} }}")
    for k, v in eps.items():
        if k not in objectives:
            raise err(f"[optimize] epsilons: {k!r} is not an objective.{_suggest(k, objectives)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise err(f"[optimize] epsilons: {k} = {v!r} is not allowed; give a number > 0")
    budgets = opt.get("budgets", [])
    if not isinstance(budgets, list) or not all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) and b > 0 for b in budgets):
        raise err(f"[optimize] budgets: {budgets!r} is not allowed; give a list of budgets > 0 in yuan a year, "
                  "e.g. budgets = [3.0e8, 6.0e8] (one optimisation each; `budget` in constraints)")
    if len(set(budgets)) != len(budgets):
        raise err(f"[optimize] budgets: {budgets!r} lists a budget twice")
    raw_constraints = opt.get("constraints", [])
    if not isinstance(raw_constraints, list) or not all(isinstance(c, str) for c in raw_constraints):
        raise err(f'[optimize] constraints: {raw_constraints!r} is not allowed; give a list of conditions, e.g. '
                  'constraints = ["spending_per_year <= budget"]')
    constraints = tuple(_constraint(c, where) for c in raw_constraints)
    uses_budget = any(BUDGET in c.names for c in constraints)
    if budgets and not uses_budget:
        raise err('[optimize] budgets: no constraint uses `budget`; add e.g. constraints = ["spending_per_year <= '
                  'budget"]')
    if uses_budget and not budgets:
        raise err("[optimize] constraints: `budget` is used but [optimize] budgets is not given; give e.g. "
                  "budgets = [3.0e8, 6.0e8] (yuan a year)")
    presets = sim.load_presets()
    compare = opt.get("compare", "all")
    if compare == "all":
        compare = list(presets)
    if not isinstance(compare, list) or not all(isinstance(c, str) for c in compare):
        raise err(f'[optimize] compare: {compare!r} is not allowed; give "all" or a list of preset keys')
    for c in compare:
        if c not in presets:
            raise err(f"[optimize] compare: {c!r} is not a preset of configs/presets.toml.{_suggest(c, list(presets))}")
    start = opt.get("start_from_packages", True)
    if not isinstance(start, bool):
        raise err(f"[optimize] start_from_packages: {start!r} must be true or false")
    return OptimizeSpec(
        name=sweep.name, path=path, text=text, raw=raw, sweep=sweep, maximize=maximize, minimize=minimize,
        epsilons={o: float(eps[o]) for o in objectives}, constraints=constraints,
        budgets=tuple(float(b) for b in budgets), population=population, generations=generations,
        compare=tuple(dict.fromkeys(compare)), start_from_packages=start)


def _constraint(text: str, where: str) -> Constraint:
    """One comparison ``left <= right`` / ``left >= right`` whose sides are numbers per run (names,
    numbers and arithmetic of :mod:`experiments.running.expressions`; nothing of it is ever eval'd)."""
    example = 'e.g. "spending_per_year <= budget" or "retention_3y >= 0.3"'
    try:
        tree = parse(text, "[optimize] constraints").tree
    except ExpressionError as exc:
        raise SpecError(f"{where}: {exc}") from None
    ops = {ast.LtE: "<=", ast.Lt: "<=", ast.GtE: ">=", ast.Gt: ">="}
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1 or type(tree.ops[0]) not in ops:
        raise SpecError(f"{where}: [optimize] constraints: {text!r} is not allowed; give one comparison with <= or "
                        f">= (no ==, no chains, no and/or), {example}")
    left, right = ast.unparse(tree.left), ast.unparse(tree.comparators[0])
    for side in (left, right):
        try:
            parse(side, f"[optimize] constraints: {text!r}: side", numeric=True)
        except ExpressionError as exc:
            raise SpecError(f"{where}: {exc}") from None
    return Constraint(text=text, left=left, op=ops[type(tree.ops[0])], right=right)


def _short(v: float) -> str:
    """3e8, 2.5e8, 1.2e9: a budget in a folder name."""
    mantissa, exp = f"{v:.6e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"


def check_names(spec: OptimizeSpec, summary_names: Iterable[str]) -> None:
    """Objectives must be summary outcomes (or derived); constraints may also use levers and ``budget``."""
    summary = list(summary_names)
    if spec.sweep.outcomes.summary != "all":
        summary = [s for s in summary if s in spec.sweep.outcomes.summary]
    outcomes = summary + [d for d, src in DERIVED.items() if src in summary]
    where = spec.path.name if spec.path else "spec"
    for o in spec.objective_names:
        if o not in outcomes:
            raise SpecError(f"{where}: [optimize] objective {o!r} is not a summary outcome of the model."
                            f"{_suggest(o, outcomes)}")
    allowed = outcomes + sim.default_config().names("levers") + ([BUDGET] if spec.budgets else [])
    for c in spec.constraints:
        try:
            check_expression(c.text, allowed, "[optimize] constraints")
        except ExpressionError as exc:
            raise SpecError(f"{where}: {exc}") from None


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


# ============================================================================ the platypus problem
class _Problem(platypus.Problem):
    """The levers as platypus variables; objective and constraint values are filled in by
    :class:`_BatchEvaluator` for a whole generation, then read back per solution."""

    def __init__(self, levers: Sequence[Factor], directions: Sequence[int], n_constraints: int):
        super().__init__(len(levers), len(directions), n_constraints)
        self.levers = list(levers)
        for i, f in enumerate(levers):
            if f.values is not None:  # a list of values: the index into it
                self.types[i] = platypus.Integer(0, len(f.values) - 1)
            elif f.integer:
                self.types[i] = platypus.Integer(int(f.params["min"]), int(f.params["max"]))
            else:
                self.types[i] = platypus.Real(f.params["min"], f.params["max"])
        self.directions[:] = [platypus.Direction.MAXIMIZE if d > 0 else platypus.Direction.MINIMIZE
                              for d in directions]
        if n_constraints:
            self.constraints[:] = "<=0"
        self.results: dict[tuple, tuple[list[float], list[float]]] = {}

    def lever_values(self, decoded: Sequence[Any]) -> dict[str, Any]:
        out = {}
        for f, v in zip(self.levers, decoded, strict=True):
            out[f.name] = f.values[int(v)] if f.values is not None else (int(v) if f.integer else float(v))
        return out

    def encode_levers(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for f, t in zip(self.levers, self.types, strict=True):
            v = values[f.name]
            out.append(t.encode(f.values.index(v) if f.values is not None else (int(v) if f.integer else float(v))))
        return out

    def evaluate(self, solution: platypus.Solution) -> None:
        objectives, constraints = self.results[_key(solution.variables)]
        solution.objectives[:] = objectives
        if self.nconstrs:
            solution.constraints[:] = constraints


def _key(decoded: Sequence[Any]) -> tuple:
    return tuple(v.item() if isinstance(v, np.generic) else v for v in decoded)


class _BatchEvaluator(platypus.Evaluator):
    """platypus asks for a list of solutions: evaluate them as one batch of runs, then let platypus read
    the values (constraint violation, feasibility). The optimiser's random stream is left untouched."""

    def __init__(self, score: Callable[[list[dict[str, Any]]], list[tuple[list[float], list[float]]]]):
        super().__init__()
        self.score = score

    def evaluate_all(self, jobs: Sequence[Any]) -> Sequence[Any]:
        if not jobs:
            return jobs
        problem: _Problem = jobs[0].solution.problem
        decoded = [[t.decode(v) for t, v in zip(problem.types, j.solution.variables, strict=True)] for j in jobs]
        state = random.getstate()
        try:
            scored = self.score([problem.lever_values(d) for d in decoded])
        finally:
            random.setstate(state)
        results = {_key(d): s for d, s in zip(decoded, scored, strict=True)}
        problems = {id(j.solution.problem): j.solution.problem for j in jobs}.values()
        for p in problems:
            p.results = results
        try:
            for job in jobs:
                job.run()
        finally:
            for p in problems:
                p.results = {}
        return jobs


# ============================================================================ one case: the search
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


def _variator(problem: _Problem) -> Any:
    """SBX + polynomial mutation for reals, half-uniform crossover + bit flip for integers (both: compound),
    as platypus and EMA Workbench do."""
    kinds = {type(t) for t in problem.types}
    if kinds == {platypus.Real}:
        return platypus.GAOperator(platypus.SBX(), platypus.PM())
    if kinds == {platypus.Integer}:
        return platypus.GAOperator(platypus.HUX(), platypus.BitFlip())
    return platypus.CompoundOperator(platypus.SBX(), platypus.HUX(), platypus.PM(), platypus.BitFlip())


def _start_points(spec: OptimizeSpec) -> list[dict[str, Any]]:
    """The compared packages projected on the decision levers (others at the base), if inside the ranges."""
    if not spec.start_from_packages:
        return []
    presets = sim.load_presets()
    base = spec.sweep.base
    out: list[dict[str, Any]] = []
    for key in spec.compare:
        values = {}
        for f in spec.levers:
            v = presets[key].levers.get(f.name, base[f.name])
            if f.values is not None:
                if v not in f.values:
                    break
            elif not f.params["min"] <= v <= f.params["max"]:
                break
            values[f.name] = int(v) if f.integer else v
        else:
            if values not in out:
                out.append(values)
    return out[: spec.population]


def _algorithm(spec: OptimizeSpec, problem: _Problem) -> platypus.EpsNSGAII:
    """A new EpsNSGAII for ``problem``, its extensions started: the first population is the compared
    packages (:func:`_start_points`), then random points. A resumed search is built the same way and
    filled from its checkpoint."""
    injected = []
    for values in _start_points(spec):
        s = platypus.Solution(problem)
        s.variables[:] = problem.encode_levers(values)
        injected.append(s)
    generator = platypus.InjectedPopulation(injected) if injected else platypus.RandomGenerator()
    alg = platypus.EpsNSGAII(problem, [spec.epsilons[o] for o in spec.objective_names],
                             population_size=spec.population, generator=generator, variator=_variator(problem),
                             log_frequency=10**9)
    for ext in alg._extensions:
        ext.start_run(alg)
    return alg


def _evaluation_columns(spec: OptimizeSpec) -> tuple[list[str], list[str]]:
    """(every column ``evaluations.parquet`` must have, the numeric ones among them)."""
    numeric = [*spec.objective_names, *[f"slack_{i + 1}" for i in range(len(spec.constraints))], "violation",
               "replicates_ok", "replicates_failed", "generation"]
    return [*spec.lever_names, *numeric, "feasible"], numeric


class _Search:
    """The EpsNSGAII search of one case, with its checkpoint in ``folder``."""

    def __init__(self, spec: OptimizeSpec, case: Case, folder: Path, evaluator: Evaluator, digest: str,
                 log: Callable[[str], None]):
        self.spec, self.case, self.folder, self.ev, self.digest, self.log = spec, case, folder, evaluator, digest, log
        self.rows: list[pd.DataFrame] = []  # evaluations of this session's generations
        self.generation = 0
        self.improvements: list[int] = []
        self.evaluations = pd.DataFrame()
        self.alg: platypus.EpsNSGAII | None = None
        self.rng_state: Any = None

    # --------------------------------------------------------------- scoring one batch
    def score(self, candidates: list[dict[str, Any]]) -> list[tuple[list[float], list[float]]]:
        frame = self.ev.evaluate([(c, c) for c in candidates])
        if self.generation == 0:
            _check_objectives(self.spec, frame, "the first generation")
        values, scored = _objectives_and_constraints(self.spec, self.case, frame)
        table = pd.concat([frame[self.spec.lever_names], values,
                           frame[["replicates_ok", "replicates_failed"]]], axis=1)
        extra = [d for d in DERIVED if d in frame and d not in table]
        table = pd.concat([table, frame[extra]], axis=1).assign(generation=self.generation + 1)
        self.rows.append(table)
        return scored

    # --------------------------------------------------------------- checkpoints
    def load(self) -> bool:
        """Resume from the checkpoint in ``folder`` (False: there is none). A checkpoint of another spec or
        model version, a damaged one, or an older version's pickle raises :class:`OptimizeError`."""
        try:
            return self.read()
        except checkpoint.CheckpointError as exc:
            raise OptimizeError(_refusal(exc)) from None

    def read(self) -> bool:
        """:meth:`load`, raising :class:`checkpoint.CheckpointError` (:class:`checkpoint.StaleCheckpoint`
        for another search's checkpoint). Nothing is read with pickle."""
        checkpoint.refuse_pickle(self.folder)
        path = self.folder / STATE
        if not path.exists() and not path.is_symlink():
            return False
        spec = self.spec
        alg = _algorithm(spec, _Problem(spec.levers, [d for _, d in spec.objectives], len(spec.constraints) + 1))
        generation, improvements, rng_state = checkpoint.load(path, alg, self.digest, MAX_GENERATIONS)
        columns, numeric = _evaluation_columns(spec)
        evaluations = checkpoint.read_parquet(self.folder / EVALUATIONS, columns, generation)
        for c in numeric:
            if not pd.api.types.is_numeric_dtype(evaluations[c]) or pd.api.types.is_bool_dtype(evaluations[c]):
                raise checkpoint.CheckpointError(self.folder / EVALUATIONS, f"column {c!r} holds "
                                                 f"{evaluations[c].dtype} values, not numbers")
        if not pd.api.types.is_bool_dtype(evaluations["feasible"]):
            raise checkpoint.CheckpointError(self.folder / EVALUATIONS, "column 'feasible' holds "
                                             f"{evaluations['feasible'].dtype} values, not true/false")
        self.alg, self.rng_state, self.generation, self.improvements = alg, rng_state, generation, improvements
        self.evaluations = evaluations
        return True

    def save(self) -> None:
        """The evaluations, then the state that says which generation they reach (a kill in between leaves
        evaluations of the next generation, which :meth:`read` drops: they are evaluated again)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.rows:
            self.evaluations = pd.concat([self.evaluations, *self.rows], ignore_index=True)
            self.rows = []
        write_parquet(self.evaluations, self.folder / EVALUATIONS)
        checkpoint.save(self.folder / STATE, self.alg, self.rng_state, digest=self.digest,
                        generation=self.generation, improvements=self.improvements, case=self.case.name,
                        budget=self.case.budget, saved=provenance.now())

    # --------------------------------------------------------------- the loop
    def run(self, seed: int, stop_after: int | None = None) -> bool:
        """Run generations up to the spec's; True when finished. ``stop_after``: at most this many in this call."""
        spec = self.spec
        resumed = self.load()
        if not resumed:
            random.seed(seed)  # every case starts from the same population (its runs are shared)
            self.alg = _algorithm(spec, _Problem(spec.levers, [d for _, d in spec.objectives],
                                                 len(spec.constraints) + 1))
            self.rng_state = random.getstate()
        elif self.generation >= spec.generations:
            self.log(f"{spec.name} {self.case.name}: finished earlier ({self.generation} generations)")
        self.alg.evaluator = _BatchEvaluator(self.score)
        done_now = 0
        while self.generation < spec.generations and (stop_after is None or done_now < stop_after):
            t0, ran0, reused0 = time.monotonic(), self.ev.ran, self.ev.reused
            random.setstate(self.rng_state)
            for ext in self.alg._extensions:
                ext.pre_step(self.alg)
            self.alg.step()
            for ext in self.alg._extensions:
                ext.post_step(self.alg)
            self.rng_state = random.getstate()
            self.generation += 1
            done_now += 1
            self.improvements.append(int(self.alg.archive.improvements))
            evaluated = sum(len(r) for r in self.rows)
            self.save()
            feasible = sum(1 for s in self.alg.archive if s.feasible)
            self.log(f"{spec.name} {self.case.name}: generation {self.generation}/{spec.generations}: "
                     f"{evaluated} candidates ({self.ev.ran - ran0} runs, {self.ev.reused - reused0} reused), "
                     f"archive {len(self.alg.archive)} ({feasible} feasible), "
                     f"{self.improvements[-1]} epsilon improvements so far, {time.monotonic() - t0:.0f} s")
        return self.generation >= spec.generations

    def pareto(self) -> pd.DataFrame:
        """The non-dominated set of every feasible candidate evaluated (each lever combination once, where it
        was first found), sorted by the first objective; ``in_archive``: also in the optimiser's ε-archive."""
        spec = self.spec
        ev = self.evaluations
        if ev.empty:
            return pd.DataFrame(columns=[*spec.lever_names, *spec.objective_names, "in_archive"])
        ev = ev[ev["feasible"].astype(bool)].drop_duplicates(spec.lever_names, keep="first")
        mask = nondominated(ev[spec.objective_names].to_numpy(dtype=float), [d for _, d in spec.objectives])
        out = ev[mask].copy()
        problem = self.alg.problem
        kept = {_key(problem.lever_values([t.decode(v) for t, v in zip(problem.types, s.variables, strict=True)])
                     .values()) for s in self.alg.archive}
        out["in_archive"] = [_key(r) in kept for r in out[spec.lever_names].itertuples(index=False)]
        first, d = spec.objectives[0]
        return out.sort_values(first, ascending=d < 0, kind="stable").reset_index(drop=True)


def nondominated(values: np.ndarray, directions: Sequence[int]) -> np.ndarray:
    """Mask of the rows of ``values`` (points x objectives) no other row Pareto-dominates; ``directions``
    +1 where more is better, -1 where less is. Equal rows are all kept."""
    x = np.asarray(values, dtype=float) * np.asarray(directions, dtype=float)
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        if keep[i]:  # a dominated row's victims are dominated by its dominator too
            keep &= ~(np.all(x[i] >= x, axis=1) & np.any(x[i] > x, axis=1))
    return keep


# ============================================================================ the driver
def default_out_dir(spec: OptimizeSpec, results_root: str | Path = "results") -> Path:
    return Path(results_root) / (spec.path.stem if spec.path is not None else spec.name)


def _check_folder(root: Path, force: bool) -> None:
    """The folder may be new, empty, or an optimisation's; anything else is refused, or with ``force``
    moved aside if it is a results folder of this project holding nothing else (never a user's folder)."""
    if not root.is_dir():
        return
    foreign = sorted(e.name for e in root.iterdir() if e.name not in OWN_ENTRIES and not e.name.endswith(".tmp"))
    if not foreign:
        return
    shown = ", ".join(foreign[:6]) + (" ..." if len(foreign) > 6 else "")
    if force:
        problem = why_not_movable(root)
        if problem:
            raise OptimizeError(f"{root} holds files that are not an optimisation ({shown}); it {problem}. "
                                "Nothing was written; give another --out")
        moved = Store(root).move_aside()
        print(f"moved the old results aside: {moved}", file=sys.stderr)
        return
    raise OptimizeError(f"{root} holds files that are not an optimisation ({shown}: a sweep or a fit?). Nothing "
                        "was written. Give another --out, or add --force to move the old folder aside first")


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


def _summary_names(spec: OptimizeSpec, model: Callable | None) -> list[str]:
    run = model or sim.run_scenario
    return list(run(probe_config(spec.sweep.base), 0).summary())


def optimize(spec: OptimizeSpec, out: str | Path | None = None, executor: Any = None, *,
             model: Callable | None = None, force: bool = False, stop_after: int | None = None,
             log: Callable[[str], None] | None = None, command: str | None = None) -> OptimizeResult:
    """Run (or resume) every case of ``spec`` into ``out`` (default ``results/<spec file name>``), then
    evaluate the compared packages and write ``pareto.csv``, the figures and ``report.md``.

    ``executor``: a :mod:`experiments.running.executors` executor (default serial). ``model`` replaces
    ``sim.run_scenario`` (a picklable top-level callable; for tests). ``stop_after``: at most this many
    generations per case in this call (the next call continues). ``force``: a folder holding something
    else, a checkpoint of another spec or model version, a damaged checkpoint or an older version's
    pickled one, is moved aside first.
    """
    from experiments.running.executors import SerialExecutor

    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    root = Path(out) if out is not None else default_out_dir(spec)
    check_names(spec, _summary_names(spec, model))
    mv = provenance.model_version()
    _check_folder(root, force)
    stale, damaged = [], []
    for c in spec.cases():  # every checkpoint is read and checked before anything is written
        try:
            _Search(spec, c, root / "optimize" / c.name, None, spec.digest(mv, c), log).read()
        except checkpoint.StaleCheckpoint:
            stale.append(c.name)
        except checkpoint.CheckpointError as exc:
            damaged.append(exc)
    if damaged and not force:
        raise OptimizeError(_refusal(damaged[0]))
    if stale and not force:
        raise OptimizeError(f"{root}: the checkpoint of {', '.join(stale)} was made by another spec or model version; "
                            "nothing was written. Give another --out, or add --force to move the old results aside "
                            "and start again")
    if stale or damaged:
        try:
            moved = Store(root).move_aside()
        except FolderInUse as exc:
            raise OptimizeError(str(exc)) from None
        log(f"moved the old results aside: {moved}")
    executor = executor or SerialExecutor()
    fn = execute if model is None else functools.partial(execute, model=model)
    started = time.time()
    store = Store(root / "optimize")
    outer_random = random.getstate()
    results: list[CaseResult] = []
    finished = True
    with contextlib.ExitStack() as stack:
        ex = stack.enter_context(executor)
        stack.enter_context(store.lock())
        write_text(spec.text, root / "spec.toml")
        prov_file = root / "optimize" / "provenance.json"
        prov = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.is_file() else {
            "created": provenance.now(), "sessions": []}
        prov.update(experiment=spec.name, spec_file=str(spec.path) if spec.path else None, model_version=mv,
                    git=provenance.git_state(PROJECT_DIR), packages=provenance.package_versions(),
                    host=provenance.host_info())
        session = {"started": provenance.now(), "command": command or " ".join(sys.argv),
                   "executor": ex.describe()}
        prov["sessions"].append(session)
        write_text(json.dumps(prov, indent=2, default=str) + "\n", prov_file)
        ev = Evaluator(spec, store, ex, fn, mv)
        try:
            packages = evaluate_packages(spec, ev)  # first: their runs are the injected start points' too
            seed = seeds.design_seed(spec.sweep.seed)
            for case in spec.cases():
                search = _Search(spec, case, root / "optimize" / case.name, ev, spec.digest(mv, case), log)
                done = search.run(seed, stop_after)
                finished &= done
                pareto = search.pareto()
                reps = _replicates(ev, spec, pareto[spec.lever_names].to_dict("records"))
                results.append(CaseResult(case=case, generation=search.generation, evaluations=search.evaluations,
                                          pareto=pareto, improvements=search.improvements, replicates=reps))
            presets = sim.load_presets()
            package_reps = _replicates(ev, spec, [presets[k].levers for k in spec.compare])
        finally:
            random.setstate(outer_random)
            session.update(finished=provenance.now(), runs=ev.ran, reused=ev.reused)
            write_text(json.dumps(prov, indent=2, default=str) + "\n", prov_file)
    res = OptimizeResult(root=root, spec=spec, cases=results, packages=packages, finished=finished, runs=ev.ran,
                         reused=ev.reused, seconds=time.time() - started, package_replicates=package_reps)
    res.files = write_outputs(res)
    return res


def _replicates(ev: Evaluator, spec: OptimizeSpec, levers: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """(item, replicate, objective): the per-seed objective values of each lever setting (runs made already)."""
    names = spec.objective_names
    if not levers:
        return np.empty((0, len(ev.replicates), len(names)))
    return np.stack([ev.per_replicate({k: _plain(v) for k, v in lv.items()}, names) for lv in levers])


def _plain(v: Any) -> Any:
    """A lever value read back from a table as the Python number the search gave the model."""
    return v.item() if isinstance(v, np.generic) else v


def _refusal(exc: checkpoint.CheckpointError) -> str:
    """A checkpoint that is not resumed: the file, what is wrong, and what to do (one line)."""
    return f"{exc} — give another --out, or --force to move the old results aside and start again"


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


def write_outputs(res: OptimizeResult) -> list[Path]:
    spec, root = res.spec, res.root
    frames = []
    for c in res.cases:
        a = c.pareto.copy()
        a.insert(0, "point", np.arange(1, len(a) + 1))
        a.insert(0, "budget", c.case.budget if c.case.budget is not None else np.nan)
        a.insert(0, "case", c.case.name)
        frames.append(a)
    pareto = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    keep = ["case", "budget", "point", *spec.lever_names, *spec.objective_names, *DERIVED,
            *[f"slack_{i + 1}" for i in range(len(spec.constraints))], "replicates_ok", "generation", "in_archive"]
    pareto = pareto[[c for c in dict.fromkeys(keep) if c in pareto]]
    files = [root / "pareto.csv"]
    pareto.to_csv(files[0], index=False)
    (root / "figures").mkdir(parents=True, exist_ok=True)
    for c in res.cases:
        files.append(figure(spec, c, res.packages, root / "figures" / f"pareto_{c.case.name}.png"))
    report = root / "report.md"
    write_text(markdown(res), report)
    files.append(report)
    return files


def figure(spec: OptimizeSpec, case: CaseResult, packages: pd.DataFrame, path: Path) -> Path:
    """Parallel coordinates (EMA Workbench ``ParallelAxes``): the Pareto points over the decision levers and
    the objectives (better up), the paper's packages dashed."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import parcoords

    from experiments.reading import plots

    levers, objectives = spec.lever_names, spec.objective_names
    cols = [*levers, *objectives]
    pts = case.pareto[cols] if len(case.pareto) else pd.DataFrame(columns=cols)
    pk = packages[["label", *cols]] if len(packages) else pd.DataFrame(columns=["label", *cols])
    both = pd.concat([pts, pk[cols]], ignore_index=True).apply(pd.to_numeric, errors="coerce")
    lows = {f.name: (min(f.values) if f.values is not None else f.params["min"]) for f in spec.levers}
    highs = {f.name: (max(f.values) if f.values is not None else f.params["max"]) for f in spec.levers}
    for o in objectives:
        lo, hi = float(both[o].min()), float(both[o].max())
        if not np.isfinite(lo) or lo == hi:
            lo, hi = (lo - 1, hi + 1) if np.isfinite(lo) else (0.0, 1.0)
        lows[o], highs[o] = lo, hi
    limits = pd.DataFrame([lows, highs])[cols]
    labels = data.labels()
    with plt.rc_context():
        plots.style()
        axes = parcoords.ParallelAxes(limits, formatter={c: ".3g" for c in cols}, fontsize=7, rot=60)
        plots.style()  # again: ParallelAxes sets seaborn's style (fonts without the Chinese glyphs of 亿)
        cmap = plt.get_cmap("viridis")
        first = objectives[0]
        span = (highs[first] - lows[first]) or 1.0
        for _, row in pts.iterrows():
            axes.plot(row.to_frame().T.astype(float), color=cmap((row[first] - lows[first]) / span), lw=1.2)
        for i, (_, row) in enumerate(pk.iterrows()):
            axes.plot(row[cols].to_frame().T.astype(float), color=f"C{i % 10}", lw=1.4, linestyle="--",
                      label=str(row["label"]))
        for o, d in spec.objectives:
            if d < 0:
                axes.invert_axis(o)
        fig = axes.fig
        fig.set_size_inches(1.0 * len(cols) + 4.0, 5.2)
        for ax, name in zip(axes.axes[:-1], cols, strict=False):
            ax.xaxis.set_ticklabels([plots._wrap(labels.get(name, name), 18)], rotation=60, fontsize=7)
        axes.axes[-1].xaxis.set_ticklabels([plots._wrap(labels.get(c, c), 18) for c in cols[-2:]], rotation=60,
                                           fontsize=7)
        if len(pk):
            axes.legend()
        fig.suptitle(f"{spec.name} — {case.case.label}: {len(pts)} Pareto points (colour: {first}); packages dashed; "
                     "minimised objectives flipped (better is up)", fontsize=9)
        fig.savefig(path, dpi=130, bbox_inches="tight")
        plt.close(fig)
    return path


def caveats(res: OptimizeResult) -> list[str]:
    """What limits every claim of the report, said before any of them: the search's length, the horizon,
    the seeds the scores rest on, and that the scores are in-sample."""
    spec = res.spec
    reps = spec.sweep.replicates
    done = sorted({c.generation for c in res.cases})
    ran = "/".join(map(str, done)) if done else "0"
    posterior = (f" and {spec.sweep.n_draws} posterior draws (replicate r uses draw r mod {spec.sweep.n_draws})"
                 if spec.sweep.n_draws else "")
    return ["**Caveats.** "
            f"{ran} of {spec.generations} generations run (population {spec.population}); horizon "
            f"{spec.sweep.horizon} quarters; every score is the mean over the same {reps} "
            f"seed{'s' if reps != 1 else ''}{posterior}. The scores are **in-sample**: the Pareto points were "
            f"selected on these {reps} seeds and are reported on them, so their lead over the packages is biased "
            "upwards (a point can look better because its seeds were lucky); re-score the points on new seeds "
            "(another `[experiment] seed`) before relying on a gap. A package counts as *dominated beyond seed "
            f"noise* only when the point's gain, paired over the {reps} seeds, has a 95% interval above -ε in every "
            "objective (not worse by a difference that matters) and above 0, with a mean of at least ε, in one"
            + ("; with one seed the noise is not measured and no domination is claimed." if reps < 2 else ".")
            + ("" if res.finished else " **Not finished yet**: run the same command to continue."), ""]


def convergence_words(spec: OptimizeSpec, c: CaseResult) -> str:
    """How much the front still moved at the end: the ε-improvements of the archive and the Pareto points
    first found in the last :data:`CONVERGENCE_WINDOW` generations."""
    window = min(CONVERGENCE_WINDOW, c.generation)
    if window == 0:
        return "Convergence: no generation run yet."
    recent = _diffs(c.improvements)[-window:] if c.improvements else []
    first = pd.to_numeric(c.pareto.get("generation", pd.Series(dtype=float)), errors="coerce")
    new = int((first > c.generation - window).sum())
    moving = new > 0 or any(recent)
    return (f"Convergence: in the last {window} of {c.generation} generations the archive improved "
            f"{sum(recent)} time(s) ({', '.join(map(str, recent))}) and {new} of the {len(c.pareto)} Pareto points "
            "were found; " + ("**the front was still moving**, so more generations may change it." if moving else
                              "the front did not change (with so few generations this is no proof of convergence)."))


def markdown(res: OptimizeResult) -> str:
    spec = res.spec
    names = spec.objective_names
    reps = spec.sweep.replicates
    posterior = f", posterior draws {spec.sweep.n_draws}" if spec.sweep.n_draws else ""
    obj = ", ".join(f"{'maximise' if d > 0 else 'minimise'} `{o}` (ε {data.fmt(spec.epsilons[o])})"
                    for o, d in spec.objectives)
    cons = "; ".join(f"({i + 1}) `{c.text}`" for i, c in enumerate(spec.constraints)) or "none"
    lines = [f"# {spec.name}: best packages under a budget", "",
             spec.sweep.description or "", "",
             f"Search: ε-NSGA-II (`platypus.EpsNSGAII`, as in EMA Workbench) over {len(spec.levers)} levers "
             f"({', '.join(f'`{n}`' for n in spec.lever_names)}), population {spec.population}, "
             f"{spec.generations} generations per case. Objectives: {obj}. Constraints: {cons}"
             + (f", with budget = {', '.join(data.fmt(b) for b in spec.budgets)} yuan a year (one search each)."
                if spec.budgets else "."),
             f"Each evaluation is the mean over {reps} replicates (seeds{posterior}), the same for every candidate "
             f"and package; horizon {spec.sweep.horizon} quarters. This session: {res.runs} model runs, "
             f"{res.reused} reused from the store, {res.seconds / 60:.1f} min.", "", *caveats(res)]
    for c in res.cases:
        cmp = compare_packages(spec, c, res.packages, res.package_replicates)
        lines += [f"## {c.case.label.capitalize()} (`{c.case.name}`)", "",
                  f"{len(c.evaluations)} candidates evaluated in {c.generation} generations: **{len(c.pareto)} "
                  f"non-dominated points** among those within the constraints ({int(c.pareto['in_archive'].sum())} "
                  f"of them in the optimiser's ε-archive; all in `pareto.csv`, case `{c.case.name}`). "
                  + convergence_words(spec, c), ""]
        if len(c.pareto):
            show = c.pareto.head(12)
            lines += ["| point | " + " | ".join(f"`{o}`" for o in names) + " | " +
                      " | ".join(f"`{n}`" for n in spec.lever_names) + " |",
                      "|---" * (1 + len(names) + len(spec.lever_names)) + "|"]
            for i, r in show.iterrows():
                lines.append(f"| {i + 1} | " + " | ".join(data.fmt(r[o]) for o in names) + " | " +
                             " | ".join(data.fmt(r[n]) for n in spec.lever_names) + " |")
            if len(c.pareto) > len(show):
                lines.append(f"| … | {len(c.pareto) - len(show)} more in `pareto.csv` |")
            lines.append("")
        else:
            lines += ["No evaluated candidate met every constraint: loosen a constraint or widen the lever ranges.",
                      ""]
        if len(cmp):
            lines += _package_words(spec, c, cmp, res.package_replicates)
        lines += [f"![Pareto set](figures/pareto_{c.case.name}.png)", "",
                  "*Parallel coordinates: one line per Pareto point (colour: first objective), the paper's packages "
                  "dashed; each axis spans the lever's range or the objectives' values; minimised objectives are "
                  "flipped so that better is up.*", ""]
    lines += ["A package is *dominated* when some Pareto point is no worse in every objective and better by at least "
              "that objective's ε in one (differences below ε are noise or do not matter), on the means over the "
              "seeds; *beyond seed noise* when that also holds for the paired 95% interval (see the caveats). "
              "Packages are evaluated with the same seeds as the candidates; a package that breaks a constraint can "
              "still be dominated.",
              "", "Files: `pareto.csv` (per case: lever values, objectives, `slack_<i>` = how far inside constraint "
              "*i* in its units, `in_archive`), `optimize/packages.csv`, `optimize/<case>/evaluations.parquet` (every "
              "candidate evaluated), `figures/pareto_<case>.png`.", ""]
    return "\n".join(lines)


def _diffs(cum: Sequence[int]) -> list[int]:
    return [b - a for a, b in zip([0, *cum[:-1]], cum, strict=True)]


def _package_words(spec: OptimizeSpec, c: CaseResult, cmp: pd.DataFrame,
                   package_replicates: np.ndarray | None = None) -> list[str]:
    """Which packages are dominated: beyond seed noise (with the paired gains' intervals), or on the means
    only (then indistinguishable at this sample size), and which break a constraint."""
    from experiments.reading.analysis import INDISTINGUISHABLE

    names, dirs = spec.objective_names, [d for _, d in spec.objectives]
    reps = spec.sweep.replicates

    def gains(k: int, p: pd.Series, points: str) -> str:
        best = int(points.split()[0]) - 1
        a = c.pareto.iloc[best]
        paired = (paired_gains(c.replicates[best], package_replicates[k], dirs)
                  if p["noise_checked"] else [(0, np.nan, np.nan, np.nan)] * len(names))
        parts = []
        for o, d, (_, _, lo, hi) in zip(names, dirs, paired, strict=True):
            diff = a[o] - p[o]
            if abs(diff) < spec.epsilons[o]:
                continue
            low, high = (lo, hi) if d > 0 else (-hi, -lo)  # the gain's interval back in the outcome's units
            ci = f" [{_signed(low)}, {_signed(high)}]" if np.isfinite(lo) else ""
            parts.append(f"{_signed(diff)}{ci} `{o}`")
        return f"{p['label']} (by point {best + 1}: {', '.join(parts)})"

    index = {pk: k for k, pk in enumerate(cmp["package"])}
    clear = cmp[cmp["dominated_beyond_noise"]]
    loose = cmp[cmp["dominated"] & ~cmp["dominated_beyond_noise"]]
    over = cmp[~cmp["within_constraints"]]
    words = []
    if len(clear):
        words.append(f"**{len(clear)} of {len(cmp)} packages are dominated beyond seed noise** by a Pareto point "
                     f"(paired over {reps} seeds, 95% interval in brackets; in-sample, see the caveats): "
                     + "; ".join(gains(index[p["package"]], p, p["clear_by"]) for _, p in clear.iterrows()) + ".")
    if len(loose):
        checked = bool(loose["noise_checked"].all())
        why = (f"on the means over {reps} seeds, but not beyond seed noise ({INDISTINGUISHABLE})" if checked and
               reps >= 2 else f"on the means over {reps} seed{'s' if reps != 1 else ''} only: seed noise not measured")
        words.append(f"{len(loose)} {'more ' if len(clear) else ''}of {len(cmp)} look dominated {why}: "
                     + "; ".join(gains(index[p["package"]], p, p["dominated_by"]) for _, p in loose.iterrows())
                     + ".")
    if not len(clear) and not len(loose):
        words.append(f"No package is dominated by a Pareto point of this search ({len(cmp)} compared).")
    if len(over):
        words.append(f"{len(over)} break a constraint: " + ", ".join(over["label"]) + ".")
    lines = [" ".join(words), "", "| package | " + " | ".join(f"`{o}`" for o in names)
             + " | within constraints | dominated by points (means) | beyond seed noise |",
             "|---" * (4 + len(names)) + "|"]
    for _, p in cmp.iterrows():
        noise = (p["clear_by"] or "no") if p["dominated"] and p["noise_checked"] else "–"
        lines.append(f"| {p['label']} | " + " | ".join(data.fmt(p[o]) for o in names) + " | "
                     + ("yes" if p["within_constraints"] else "**no**") + " | " + (p["dominated_by"] or "–") + " | "
                     + noise + " |")
    return [*lines, ""]


def _signed(v: float) -> str:
    return ("+" if v >= 0 else "") + data.fmt(v)


__all__ = ["Case", "Constraint", "OptimizeError", "OptimizeResult", "OptimizeSpec", "Replicate", "caveats",
           "compare_packages", "convergence_words", "dominates", "dominates_clearly", "load_optimize_spec", "optimize",
           "paired_gains", "parse_optimize_spec"]
