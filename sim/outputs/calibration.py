"""Calibration table: the start state and status-quo dynamics against the paper's figures.

Rows, sources and bands live in ``configs/calibration.toml``, in two kinds: *set-up checks* (figures
the start state is built to match) and *calibration targets* (dynamic or emergent patterns of
status-quo runs). This module only measures. Run ``python -m sim calibrate`` to print the table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable

import numpy as np
import pandas as pd

from sim.inputs.base import CONFIG_DIR
from sim.inputs.config import Config, load_config

CALIBRATION_FILE = CONFIG_DIR / "calibration.toml"


def _start_measures(m) -> dict[str, float]:
    f, city = m.firms, m.city
    a = f.alive
    rev = 4.0 * f.sales
    keys = np.array(m.cluster_keys)
    eq = np.array([city["clusters"][k]["equipment"] for k in m.cluster_keys])
    other = m.cluster_keys.index("other")
    mfg = rev[a].sum()
    by_c = np.bincount(f.cluster[a], weights=rev[a], minlength=m.n_clusters)
    equipment = by_c[eq].sum() + city["economy"]["other_equipment_share"] * by_c[other]
    industry = mfg + city["economy"]["non_manufacturing_industry_revenue"]
    in_cluster = a & (f.cluster != other)
    core = m.district_is_core[f.district]
    names = {v: k for k, v in m.firm_names.items()}
    dicastal = names["Dicastal-like wheel maker"]
    pv = names["PV-equipment leader (Shengcheng-like)"]
    return {
        "equipment_share": equipment / industry,
        "cluster_revenue_share": by_c[np.arange(m.n_clusters) != other].sum() / mfg,
        "automotive_revenue": by_c[list(keys).index("automotive")],
        "medical_revenue": by_c[list(keys).index("medical")],
        "core_district_firm_share": (in_cluster & core).sum() / in_cluster.sum(),
        "little_giants": float(f.little_giant[a].sum()),
        "dicastal_rd_staff": 4.0 * f.rd_spend[dicastal] / city["economy"]["rd_cost_per_staff"],
        "dicastal_patents": f.patent_stock[dicastal],
        "pv_leader_suppliers": float((f.supplies == pv).sum()),
        "rd_intensity_start": f.rd_spend[a].sum() / f.sales[a].sum(),
        "maturity_l1_start": float((f.maturity[a] == 1).mean()),
    }


def _run_measures(m) -> dict[str, float]:
    """Status-quo dynamics of one finished run.

    Read from the recorder's columns directly (no DataFrames: a fit measures thousands of runs),
    with the graduate outcomes and tiers climbed of ``ScenarioResult.summary``.
    """
    from sim.state.records import graduate_outcomes, tiers_climbed

    f = m.firms
    rec = m.recorder.city
    a = f.alive
    n_years = m.quarter / 4.0
    to_beijing, to_tianjin = (float(np.sum(np.asarray(rec[k], float))) for k in ("outflow_beijing", "outflow_tianjin"))
    grads = graduate_outcomes(rec)
    existed = np.zeros(len(f), bool)
    existed[: len(m.initial_above_scale)] = True  # firms present at the start
    above = np.zeros(len(f), bool)
    above[: len(m.initial_above_scale)] = m.initial_above_scale
    exited = existed & ~a

    def rate(mask):
        return 1.0 - (1.0 - exited[mask].sum() / max(mask.sum(), 1)) ** (1.0 / n_years)

    return {
        "maturity_l1_l2_2035": float((f.maturity[a] <= 2).mean()),
        "graduate_retention": grads["graduate_retention"],
        "graduates_to_beijing_share": grads["graduates_to_beijing_share"],
        "graduates_to_tianjin_share": grads["graduates_to_tianjin_share"],
        "beijing_over_tianjin": to_beijing / max(to_tianjin, 1.0),
        "assembly_share_2035": float((f.segment[a] == 1).mean()),
        "exit_rate_above_scale": rate(existed & above),
        "exit_rate_small": rate(existed & ~above),
        "firm_count_change": a.sum() / existed.sum() - 1.0,
        "national_tier_status_quo": float((m.max_tier >= 3).any()),
        "tiers_climbed_status_quo": float(tiers_climbed(m)),
        "retention_3y": grads["retention_3y"],
        "maturity_l1_fall_per_year": (float((m.initial_maturity[: len(m.initial_above_scale)] <= 1).mean())
                                      - float((f.maturity[a] <= 1).mean())) / n_years,
        "little_giant_review_pass_rate": m.lg_kept / max(m.lg_reviewed, 1),
    }


def target_measures(config: Config | None = None, seed: int = 1) -> dict[str, float]:
    """The dynamic measures (calibration targets) of one status-quo-style run of ``config``.

    What a calibration fit compares with ``configs/calibration.toml [targets]`` (``experiments.calibration``).
    """
    from sim.model import ClusterModel

    m = ClusterModel(config=config or load_config(), rng=int(seed), record="city")  # the targets read the city table
    while m.running:
        m.step()
    return {k: float(v) for k, v in _run_measures(m).items()}


def measure(config: Config | None = None, seeds=None, progress: Callable | None = None) -> dict[str, float]:
    """Model values for every calibration target (dynamics averaged over seeds)."""
    from sim.model import ClusterModel

    spec = load_targets()
    config = config or load_config()
    seeds = seeds or spec["settings"]["seeds"]
    values: dict[str, list[float]] = {}
    for seed in seeds:
        m = ClusterModel(config=config, rng=seed)
        for k, v in _start_measures(m).items():
            values.setdefault(k, []).append(float(v))
        while m.running:
            m.step()
        for k, v in _run_measures(m).items():
            values.setdefault(k, []).append(float(v))
        if progress:
            progress()
    return {k: float(np.mean(v)) for k, v in values.items()}


def load_targets() -> dict:
    with open(CALIBRATION_FILE, "rb") as fh:
        return tomllib.load(fh)


KINDS = {"checks": "set-up check", "targets": "calibration target"}


def calibration_table(config: Config | None = None, seeds=None, progress: Callable | None = None) -> pd.DataFrame:
    """One row per set-up check and calibration target: kind, target, source, model value, band, pass."""
    spec = load_targets()
    values = measure(config, seeds, progress)
    rows = []
    for section, kind in KINDS.items():
        for key, t in spec.get(section, {}).items():
            if key not in values:
                raise KeyError(f"calibration {section} {key!r} has no measure in sim.outputs.calibration")
            v = values[key]
            rows.append({"kind": kind, "target": key, "description": t["label"], "paper_or_source": t["source"],
                         "target_value": t["target"], "model": v, "low": t["low"], "high": t["high"],
                         "pass": bool(t["low"] <= v <= t["high"])})
    return pd.DataFrame(rows)


def predictive_table(targets: dict[str, dict], measures: pd.DataFrame) -> pd.DataFrame:
    """Per calibration target: the median and 90% interval of ``measures`` (one row per run) against
    the target and its band.

    ``covered``: the target value lies inside the 90% interval. ``pass``: the 90% interval overlaps
    the band (runs of the ensemble can reproduce what the source says, within its uncertainty).
    """
    rows = []
    for name, t in targets.items():
        x = measures[name].dropna().to_numpy(float) if name in measures else np.array([])
        lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95]) if len(x) else (np.nan,) * 3
        rows.append({"target": name, "value": float(t["target"]), "band_low": float(t["low"]),
                     "band_high": float(t["high"]), "median": med, "p05": lo, "p95": hi,
                     "covered": bool(len(x) and lo <= t["target"] <= hi),
                     "median_in_band": bool(len(x) and t["low"] <= med <= t["high"]),
                     "pass": bool(len(x) and hi >= t["low"] and lo <= t["high"])})
    return pd.DataFrame(rows)


def draw_seed(seed: int, draw: int) -> int:
    """The model seed of posterior-predictive draw ``draw`` (0 <= seed < 2**63)."""
    return int(np.random.SeedSequence([int(seed), int(draw), 20251203]).generate_state(1, np.uint64)[0] % 2**63)


def posterior_predictive(post, n: int = 40, seed: int = 1, config: Config | None = None,
                         progress: Callable | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``n`` draws of a :class:`sim.outputs.posterior.Posterior` (one fresh seed each) through the status
    quo: (measures, one row per draw; :func:`predictive_table` against ``configs/calibration.toml``)."""
    base = config or load_config()
    draws = post.draws(n, seed)
    values = []
    for i, row in draws.iterrows():
        params = {k: float(row[k]) for k in post.parameters}
        values.append(target_measures(base.with_overrides(params), draw_seed(seed, int(i))))
        if progress:
            progress()
    measures = pd.DataFrame(values)
    return measures, predictive_table(load_targets()["targets"], measures)
