"""The energy level (能级) of each cluster: a documented index and tiers with hysteresis.

No official formula exists (MISSION §4), so the model defines one from the dimensions official texts
use. Each component is in [0, 1]:

* scale         log(annual revenue / scale_floor) / log(scale_ceiling / scale_floor)
                (40亿 = MIIT county-cluster output floor -> 0);
* innovation    (R&D intensity / rd_intensity_ceiling + log1p(patents per firm) / log1p(ceiling)) / 2;
* chain         chain completeness (share of the chain's demand met locally, sim.market);
* digital       mean (maturity - 1) / 4 over firms (GB/T 39116 levels);
* leaders       (3 x leaders + little giants that are not leaders) / leaders_ceiling;
* talent        skilled share of staff / talent_ceiling;
* collaboration 0.6 x (1 - homogeneity) + 0.4 x openness (coordination, data sharing).

The index is their weighted mean (``city.toml [energy] weights``). Tiers 0-4 (emerging, county SME
cluster, provincial, national, world-class) follow ``tier_thresholds``. Hysteresis: a cluster climbs
a tier after ``hysteresis_quarters`` consecutive quarters above its threshold and falls after as many
quarters below the threshold minus ``hysteresis_band`` (like MIIT's "three consecutive years" rules).
"""

from __future__ import annotations

import numpy as np

from sim.constants import SizeClass
from sim.innovation import firm_openness
from sim.tables import group_sum


def cluster_stats(m) -> dict[str, np.ndarray]:
    """Per-cluster aggregates used by the index and the records (arrays of length n_clusters)."""
    f = m.firms
    a = f.alive
    c = f.cluster[a].astype(np.int64)
    n = m.n_clusters

    def s(values):
        return group_sum(c, values[a], n)

    firms = group_sum(c, None, n)
    sales = s(f.sales)
    counts = np.zeros((n, 5))
    np.add.at(counts, (c, f.maturity[a] - 1), 1.0)
    return {
        "firms": firms,
        "revenue": 4.0 * sales,
        "value_added": 4.0 * s(f.value_added),
        "employment": s(f.employees),
        "skilled": s(f.skilled),
        "rd_intensity": s(f.rd_spend) / np.maximum(sales, 1.0),
        "patents": s(f.patents_q),
        "patent_stock": s(f.patent_stock),
        "maturity_shares": counts / np.maximum(firms, 1.0)[:, None],
        "mean_maturity": s(f.maturity.astype(float)) / np.maximum(firms, 1.0),
        "technology": s(f.tech) / np.maximum(firms, 1.0),
        "midchain_share": s((f.segment == 1).astype(float)) / np.maximum(firms, 1.0),
        "leaders": s((f.size_class == SizeClass.LEADER).astype(float)),
        "little_giants": s(f.little_giant.astype(float)),
        "little_giants_not_leaders": s((f.little_giant & (f.size_class != SizeClass.LEADER)).astype(float)),
        "chain_completeness": m.chain.copy(),
        "homogeneity": m.homogeneity.copy(),
    }


def components(m, st: dict[str, np.ndarray]) -> np.ndarray:
    """(n_clusters, 7) component scores in [0, 1], columns as ``[energy] components``."""
    e = m.city["energy"]
    scale = np.log(np.maximum(st["revenue"], 1.0) / e["scale_floor"]) / np.log(e["scale_ceiling"] / e["scale_floor"])
    per_firm = st["patent_stock"] / np.maximum(st["firms"], 1.0)
    innovation = 0.5 * st["rd_intensity"] / e["rd_intensity_ceiling"] + 0.5 * np.log1p(per_firm) / np.log1p(
        e["patents_per_firm_ceiling"])
    digital = (st["mean_maturity"] - 1.0) / 4.0
    leaders = (3.0 * st["leaders"] + st["little_giants_not_leaders"]) / e["leaders_ceiling"]
    talent = st["skilled"] / np.maximum(st["employment"], 1.0) / e["talent_ceiling"]
    openness = firm_openness(m.p)
    collaboration = 0.6 * (1.0 - st["homogeneity"]) + 0.4 * openness
    comp = np.column_stack([scale, np.minimum(innovation, 1.0), st["chain_completeness"], digital, leaders, talent,
                            collaboration])
    return np.clip(comp, 0.0, 1.0)


def tier_of(index: np.ndarray, thresholds) -> np.ndarray:
    return np.searchsorted(np.asarray(thresholds), index, side="right")


def init(m) -> None:
    e = m.city["energy"]
    m.stats = cluster_stats(m)
    m.energy_components = components(m, m.stats)
    m.energy_index = m.energy_components @ np.array(e["weights"])
    m.energy_tier = tier_of(m.energy_index, e["tier_thresholds"])
    m.initial_tier = m.energy_tier.copy()
    m.max_tier = m.energy_tier.copy()
    m._above = np.zeros(m.n_clusters, int)
    m._below = np.zeros(m.n_clusters, int)


def update(m) -> None:
    e = m.city["energy"]
    m.stats = cluster_stats(m)
    m.energy_components = components(m, m.stats)
    m.energy_index = m.energy_components @ np.array(e["weights"])
    thresholds = np.r_[np.asarray(e["tier_thresholds"]), np.inf]
    tier = m.energy_tier
    up_thr = thresholds[np.minimum(tier, len(thresholds) - 1)]
    down_thr = np.where(tier > 0, thresholds[np.maximum(tier - 1, 0)] - e["hysteresis_band"], -np.inf)
    m._above = np.where(m.energy_index >= up_thr, m._above + 1, 0)
    m._below = np.where(m.energy_index < down_thr, m._below + 1, 0)
    k = e["hysteresis_quarters"]
    up = m._above >= k
    down = m._below >= k
    m.energy_tier = tier + up - down
    m._above[up] = 0
    m._below[down] = 0
    m.max_tier = np.maximum(m.max_tier, m.energy_tier)


def reweighted_index(clusters, weights) -> "np.ndarray":
    """Energy index recomputed from a clusters table's ``idx_*`` columns with other weights.

    For sensitivity analysis of the index definition (MISSION §4: no official formula exists).
    ``weights`` is a mapping component -> weight (normalised here).
    """
    names = list(weights)
    w = np.array([weights[n] for n in names], float)
    return clusters[[f"idx_{n}" for n in names]].to_numpy() @ (w / w.sum())
