"""``run_scenario(config, seed) -> ScenarioResult``: the one function sweeps, tests and the app call.

Pure: no files written, nothing printed (unless ``progress=True`` asks for a progress bar on stderr).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.config import Config, resolve_config

NATIONAL_TIER = 3


@dataclass
class ScenarioResult:
    """Tidy outcome tables of one run.

    city:      one row per quarter (0 = start state)
    clusters:  one row per quarter x cluster
    districts: one row per quarter x district
    """

    city: pd.DataFrame
    clusters: pd.DataFrame
    districts: pd.DataFrame
    config: Config = field(repr=False)
    seed: Any = None

    @classmethod
    def from_recorder(cls, recorder, config: Config, seed=None) -> ScenarioResult:
        return cls(
            city=pd.DataFrame(recorder.city),
            clusters=pd.DataFrame(recorder.clusters),
            districts=pd.DataFrame(recorder.districts),
            config=config,
            seed=seed,
        )

    def summary(self) -> dict[str, float]:
        """Scalar end-of-run outcomes (one row of a sweep's summary table)."""
        city, cl = self.city, self.clusters
        last_q = int(city["quarter"].max())
        end = cl[cl["quarter"] == last_q].set_index("cluster")
        start = cl[cl["quarter"] == 0].set_index("cluster")
        out: dict[str, float] = {}
        top_tier = cl.groupby("cluster", sort=False)["energy_tier"].max()
        for key, index, tier in zip(end.index, end["energy_index"].to_numpy(), end["energy_tier"].to_numpy()):
            out[f"energy_index_final_{key}"] = float(index)
            out[f"energy_tier_final_{key}"] = int(tier)
            out[f"reached_national_{key}"] = bool(top_tier[key] >= NATIONAL_TIER)
        out["tiers_climbed_total"] = int((end["energy_tier"] - start["energy_tier"]).sum())
        six = [k for k in end.index if k != "other"]  # the paper's six clusters
        out["tiers_climbed_clusters"] = int((end.loc[six, "energy_tier"] - start.loc[six, "energy_tier"]).sum())
        out["n_national_clusters"] = int(sum(out[f"reached_national_{k}"] for k in six))
        out["any_national"] = out["n_national_clusters"] > 0
        out.update(graduate_outcomes(city))
        for name in ("outflow_beijing", "outflow_tianjin", "outflow_elsewhere", "return_inflow"):
            out[f"{name}_total"] = float(city[name].sum())
        out["spending_total"] = float(city["spending_total"].sum())
        talent_cols = ["spending_talent_settlement_subsidy", "spending_industry_education_consortium",
                       "spending_in_house_cultivation"]
        out["spending_talent_total"] = float(city[talent_cols].to_numpy().sum())
        out["cost_per_retained_graduate"] = float(city["cost_per_retained_graduate"].iloc[-1])
        out["talent_city_final"] = float(city["talent_city"].iloc[-1])
        mat = end[[f"maturity_l{i}" for i in range(1, 6)]].to_numpy()
        w = end["firms"].to_numpy()
        shares = (mat * w[:, None]).sum(axis=0) / max(w.sum(), 1)
        out["mean_maturity_final"] = float((shares * np.arange(1, 6)).sum())
        out["share_l1_l2_final"] = float(shares[:2].sum())
        out["chain_completeness_final_mean"] = float(end["chain_completeness"].mean())
        out["homogeneity_final_mean"] = float(end["homogeneity"].mean())
        out["mean_energy_index_final"] = float(end["energy_index"].mean())
        out["revenue_final"] = float(city["revenue"].iloc[-1])
        out["value_added_final"] = float(city["value_added"].iloc[-1])
        out["firms_final"] = float(city["firms"].iloc[-1])
        out["little_giants_final"] = float(end["little_giants"].sum())
        out["leaders_final"] = float(end["leaders"].sum())
        return out


def graduate_outcomes(city) -> dict[str, float]:
    """Graduates' shares over a run from its city table (a DataFrame, or the recorder's column lists):
    staying at graduation, leaving for Beijing / Tianjin at graduation, and ``retention_{1,3,5}y``
    pooled over the cohorts observed 1 / 3 / 5 years after graduating within the run (NaN when none)."""

    def total(name: str) -> float:
        return float(np.sum(np.asarray(city[name], float)))

    grads = total("graduates")
    out = {"graduate_retention": total("graduates_retained") / grads if grads else np.nan}
    for name in ("beijing", "tianjin"):
        out[f"graduates_to_{name}_share"] = total(f"graduates_to_{name}") / grads if grads else np.nan
    for years in (1, 3, 5):
        size = total(f"cohort_size_{years}y")
        out[f"retention_{years}y"] = total(f"cohort_in_city_{years}y") / size if size else np.nan
    return out


def run_scenario(config: Config | str | dict | None = None, seed: int = 0, quarters: int | None = None,
                 progress: bool = False, record: str = "all") -> ScenarioResult:
    """Run one scenario for its horizon and return its tables.

    Args:
        config: Config, scenario TOML path, mapping in the TOML layout, or None (baseline).
        seed: integer seed; the same (config, seed) gives identical tables in any process.
        quarters: optional horizon override.
        progress: show a tqdm progress bar (quarters) on stderr.
        record: the tables to keep (``ClusterModel``'s ``record``): ``"all"``, ``"city+clusters"``
            (``summary()`` needs no more; the districts table is then empty) or ``"city"``.
    """
    from sim.model import ClusterModel

    cfg = resolve_config(config)
    if quarters is not None:
        cfg = cfg.with_overrides({}, quarters=quarters)
    model = ClusterModel(config=cfg, rng=int(seed), record=record)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.quarters, unit="quarter", desc=cfg.scenario["name"])
    while model.running:
        model.step()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return ScenarioResult.from_recorder(model.recorder, cfg, seed=seed)
