"""The spec of an optimisation (``python -m experiments optimize``): read, validate, and the cases it
asks for.

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

The search that uses it is :mod:`experiments.decision.optimize`; nothing here runs the model.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


import sim
from experiments.decision import data
from experiments.running import seeds
from experiments.running.expressions import ExpressionError, parse
from experiments.running.goals import check_expression
from experiments.running.spec import PACKAGE, Factor, _Parser, Spec, SpecError, _suggest
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


__all__ = ["Case", "Constraint", "OptimizeError", "OptimizeSpec", "Replicate", "check_names",
           "load_optimize_spec", "parse_optimize_spec"]
