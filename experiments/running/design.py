"""Turn a spec into design points and the plan of runs (point x replicate -> seed, run id).

Designs come from libraries, not hand-written loops: Latin hypercube from ``scipy.stats.qmc``,
Saltelli/Sobol and Morris samples from SALib, the full factorial from ``itertools.product``.
Samplers work on the unit cube; each factor maps its column to values (:meth:`Factor.from_unit`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from scipy.stats import qmc

import sim
from experiments.running import seeds
from experiments.running.spec import PACKAGE, Spec, SpecError
from experiments.running.timing import TIMING_PARTS, TimingProblem, resolve
from experiments.running.store import POSTERIOR_PREFIX  # plan columns: the coefficients of each run's posterior draw

UNIT_PREFIX = "u."  # design-table columns holding the unit-cube sample (sobol, morris)


def salib_problem(spec: Spec) -> dict[str, Any]:
    """The SALib problem on the unit cube (factors map [0, 1] to their own ranges)."""
    return {"num_vars": len(spec.factors), "names": spec.factor_names, "bounds": [[0.0, 1.0]] * len(spec.factors)}


def sampled_factors(spec: Spec) -> list:
    """The factors a sampler draws: all but the ``[design] cross`` factors (lhs)."""
    return [f for f in spec.factors if f.name not in spec.design.cross]


def unit_sample(spec: Spec) -> np.ndarray | None:
    """The design's unit-cube sample, shape (samples, sampled factors); None for a full factorial."""
    d, n = spec.design, spec.design.samples
    match d.kind:
        case "full_factorial":
            return None
        case "lhs":
            return qmc.LatinHypercube(d=len(sampled_factors(spec)), rng=seeds.design_rng(spec.seed)).random(n)
        case "sobol":
            return sobol_sample.sample(
                salib_problem(spec), n, calc_second_order=d.second_order, seed=seeds.design_rng(spec.seed)
            )
        case "morris":
            return morris_sample.sample(salib_problem(spec), n, num_levels=d.levels, seed=seeds.design_seed(spec.seed))
    raise ValueError(f"unknown design {d.kind!r}")  # pragma: no cover - validated in spec


def design_points(spec: Spec) -> pd.DataFrame:
    """One row per design point (index 0..n-1), a column per factor; ``u.<factor>`` unit columns for
    sobol and morris (their analysis needs the sample matrix). An lhs with ``[design] cross``: every
    combination of the crossed factors' values (first varies slowest) with the same LHS rows."""
    names = spec.factor_names
    unit = unit_sample(spec)
    if unit is None:
        grids = [f.grid() for f in spec.factors]
        rows = list(itertools.product(*grids))  # first factor varies slowest
        points = pd.DataFrame(rows, columns=names) if names else pd.DataFrame(index=range(1))
    elif spec.design.cross:
        sampled = pd.DataFrame({f.name: f.from_unit(unit[:, j]) for j, f in enumerate(sampled_factors(spec))})
        crossed = [f for f in spec.factors if f.name in spec.design.cross]
        combos = pd.DataFrame(list(itertools.product(*[f.grid() for f in crossed])), columns=[f.name for f in crossed])
        points = combos.merge(sampled, how="cross")[names]
    else:
        points = pd.DataFrame({f.name: f.from_unit(unit[:, j]) for j, f in enumerate(spec.factors)})
        if spec.design.kind in ("sobol", "morris"):
            for j, name in enumerate(names):
                points[UNIT_PREFIX + name] = unit[:, j]
    points.index.name = "point"
    return points


def factor_values(spec: Spec, row: Mapping[str, Any]) -> dict[str, Any]:
    """The factor values of one design row as plain Python scalars."""
    return {name: _py(row[name]) for name in spec.factor_names}


def point_config(spec: Spec, values: Mapping[str, Any], presets: Mapping[str, sim.Preset] | None = None,
                 draw: int | None = None) -> sim.Config:
    """The resolved scenario config of a design point: base, then the posterior draw's behavioural
    coefficients (when the spec draws from a posterior), then the package's levers, then factors (a
    factor that is also a fitted coefficient overrides the draw).

    ``presets`` (default ``spec.packages``: configs/presets.toml's and the spec's own ``[packages]``)
    maps package keys to their levers. A lever the package times keeps the package's window; a lever
    factor of the same lever sets the value inside it."""
    overrides: dict[str, Any] = dict(spec.draw_values(draw))
    settings: dict[str, Any] = {}
    package_windows: dict[str, Mapping[str, Any]] = {}
    if PACKAGE in values:
        presets = presets if presets is not None else (spec.packages or sim.load_presets())
        levers = presets[values[PACKAGE]].levers
        overrides.update(levers)
        package_windows = {k: v for k, v in levers.items() if isinstance(v, Mapping)}
    for f in spec.factors:
        if f.kind in ("lever", "uncertainty"):
            overrides[f.name] = values[f.name]
        elif f.kind == "setting":
            settings[f.name] = values[f.name]
    for lever, window in package_windows.items():
        if not isinstance(overrides[lever], Mapping):  # a lever factor's value, in the package's window
            overrides[lever] = {**window, "value": overrides[lever]}
    for lever in timed_levers(spec, overrides):
        overrides[lever] = lever_override(spec, lever, values, overrides)
    return spec.base.with_overrides(overrides, **settings)


def timed_levers(spec: Spec, overrides: Mapping[str, Any] | None = None) -> list[str]:
    """Levers whose runs get a schedule: those with timing parts in ``[levers]``, and levers the base
    config times (``[base.levers] NAME = {value, start, ...}``) that a factor or a package sets: the
    base's window stays, the value changes. A lever a package times (its override a schedule) brings its
    own window and is not listed."""
    overrides = overrides or {}
    out = list(spec.timing)
    set_here = [f.name for f in spec.factors if f.kind == "lever"] + list(overrides)
    out += [k for k in dict.fromkeys(set_here)
            if k in spec.base.schedules and k not in out and not isinstance(overrides.get(k), Mapping)]
    return out


def lever_parts(spec: Spec, lever: str, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The timing parts of ``lever`` at a design point (base schedule, then ``[levers]`` fixed parts, then
    factors) and where each came from (``[base.levers]``, ``[levers]`` or the factor name)."""
    parts: dict[str, Any] = {}
    source: dict[str, str] = {}
    sch = spec.base.schedules.get(lever)
    if sch is not None:
        for k, v in sch.to_dict().items():
            parts[k], source[k] = v, "[base.levers]"
    fixed = spec.timing.get(lever, {})
    for k in TIMING_PARTS:
        name = f"{lever}.{k}"
        if k in fixed or name in values:
            if k == "duration_quarters":
                parts.pop("end", None)  # a duration sets the end, replacing the base's
            parts[k] = values[name] if name in values else fixed[k]
            source[k] = name if name in values else "[levers]"
    return parts, source


def lever_override(spec: Spec, lever: str, values: Mapping[str, Any], overrides: Mapping[str, Any]) -> Any:
    """The override of a timed lever at a design point: ``{value, start, end, ramp_quarters}`` (the value
    from its factor, else ``[levers] NAME.value``, else the package's or the base's value); a plain
    value when the window is the whole run. Raises :class:`experiments.running.timing.TimingProblem`."""
    fixed = spec.timing.get(lever, {})
    value = values.get(lever, fixed.get("value", overrides.get(lever, spec.base.values[lever])))
    parts, _ = lever_parts(spec, lever, values)
    window = resolve(parts, spec.base.scenario["start"], spec.base.quarters)
    if not window.get("start") and not window.get("end") and not window.get("ramp_quarters"):
        return value
    return {"value": value, **window}


def check_timing(spec: Spec, points: pd.DataFrame) -> None:
    """Refuse, in one line, a design in which some point's window cannot be (it ends before it starts, or
    a duration runs past the horizon), naming the factors, how many points and one offending point."""
    levers = timed_levers(spec)
    if not levers:
        return
    bad: dict[tuple[str, str], list[Any]] = {}  # (lever, kind) -> [count, point, problem, parts, source]
    for point, row in zip(points.index, points.to_dict("records"), strict=True):
        values = factor_values(spec, row)
        for lever in levers:
            parts, source = lever_parts(spec, lever, values)
            try:
                resolve(parts, spec.base.scenario["start"], spec.base.quarters)
            except TimingProblem as exc:
                entry = bad.setdefault((lever, exc.kind), [0, point, exc, parts, source])
                entry[0] += 1
    if not bad:
        return
    (lever, kind), (count, point, exc, parts, source) = next(iter(bad.items()))
    involved = [k for k in exc.parts if k in parts]
    names = ", ".join(dict.fromkeys(f"{lever}.{k} (from [base.levers])" if source[k] == "[base.levers]" else
                                    f"{lever}.{k}" for k in involved))
    shown = ", ".join(f"{k} = {parts[k]!r}" for k in involved)
    what, hint = {
        "end_before_start": ("the window ends before it starts",
                             f"give ranges that do not overlap, or sweep {lever}.duration_quarters instead of .end"),
        "after_horizon": ("the window runs past the horizon",
                          "shorten the duration, start earlier or lengthen [experiment] horizon"),
    }[kind]
    where = spec.path.name if spec.path is not None else "spec"
    detail = f", {exc.detail}" if exc.detail else ""
    raise SpecError(f"{where}: [levers] {names}: {what} in {count} of {len(points)} design points (e.g. point "
                    f"{point}: {shown}{detail}); {hint}")


def build_plan(spec: Spec, model_version: str) -> pd.DataFrame:
    """Every run of the experiment: one row per (point, replicate) with seed and run id.

    Columns: point, replicate, seed, config_digest, run_id, then the factor values (and unit columns);
    with a posterior, ``draw`` (:meth:`Spec.draw_of`: per replicate, r % n_draws, paired across
    points like the seed under ``crn``; per future, the point's LHS row) and the draw's coefficient
    values as ``posterior.<name>`` columns. Validates every point's config (a value the schema rejects raises
    :class:`SpecError`).
    """
    points = design_points(spec)
    check_timing(spec, points)
    presets = spec.packages or sim.load_presets()
    rows: list[dict[str, Any]] = []
    for point, row in zip(points.index, points.to_dict("records"), strict=True):
        values = factor_values(spec, row)
        digests: dict[int | None, str] = {}
        key = None if spec.crn else seeds.point_key(values)
        extra = {c: row[c] for c in points.columns if c.startswith(UNIT_PREFIX)}
        for r in range(spec.replicates):
            draw = spec.draw_of(r, point)
            if draw not in digests:
                try:
                    digests[draw] = point_config(spec, values, presets, draw).digest()
                except sim.ConfigError as exc:
                    raise SpecError(f"design point {point} {values}: {exc}") from None
            seed = seeds.run_seed(spec.seed, key, r)
            posterior = {} if draw is None else {"draw": draw, **{POSTERIOR_PREFIX + k: v
                                                                  for k, v in spec.draw_values(draw).items()}}
            rows.append({
                "point": int(point), "replicate": r, "seed": seed, "config_digest": digests[draw],
                "run_id": seeds.run_id(digests[draw], seed, model_version), **posterior, **values, **extra,
            })
    plan = pd.DataFrame(rows)
    plan["seed"] = plan["seed"].astype("int64")
    return plan


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
