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
from experiments import seeds
from experiments.spec import PACKAGE, Spec, SpecError
from experiments.store import POSTERIOR_PREFIX  # plan columns: the coefficients of each run's posterior draw

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
    factor that is also a fitted coefficient overrides the draw)."""
    overrides: dict[str, Any] = dict(spec.draw_values(draw))
    settings: dict[str, Any] = {}
    if PACKAGE in values:
        presets = presets if presets is not None else sim.load_presets()
        overrides.update(presets[values[PACKAGE]].levers)
    for f in spec.factors:
        if f.kind in ("lever", "uncertainty"):
            overrides[f.name] = values[f.name]
        elif f.kind == "setting":
            settings[f.name] = values[f.name]
    return spec.base.with_overrides(overrides, **settings)


def build_plan(spec: Spec, model_version: str) -> pd.DataFrame:
    """Every run of the experiment: one row per (point, replicate) with seed and run id.

    Columns: point, replicate, seed, config_digest, run_id, then the factor values (and unit columns);
    with a posterior, ``draw`` (:meth:`Spec.draw_of`: per replicate, r % n_draws, paired across
    points like the seed under ``crn``; per future, the point's LHS row) and the draw's coefficient
    values as ``posterior.<name>`` columns. Validates every point's config (a value the schema rejects raises
    :class:`SpecError`).
    """
    points = design_points(spec)
    presets = sim.load_presets()
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
