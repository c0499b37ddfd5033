"""The energy level (能级) of each cluster: a documented index, MIIT-style tiers, reviews that can demote.

No official formula exists (MISSION §4), so the model defines an index from the dimensions official
texts use, and every number of it (weights, ceilings, tier thresholds) is a swept uncertainty in
``parameters.toml``. Each component is in [0, 1] and is *measured* from what agents did:

* scale         log(annual revenue / county_output_min) / log(scale_ceiling / county_output_min)
                (real terms; 40亿 = the MIIT county-cluster output floor -> 0);
* innovation    (R&D intensity / rd_intensity_ceiling + log1p(patent stock per firm) / log1p(ceiling)) / 2;
                the patent stock depreciates (``patent_depreciation``, sim.behaviour.innovation);
* chain         chain completeness (share of the chain's demand local firms win, sim.behaviour.market);
* digital       mean (maturity - 1) / 4 over firms (GB/T 39116 levels; maturity can fall, sim.behaviour.digital);
* leaders       (3 x leaders + little giants that are not leaders) / leaders_ceiling; both statuses are
                reviewed (sim.behaviour.entry), so the count can fall;
* talent        skilled share of staff / talent_ceiling;
* collaboration (1 - w) x (1 - homogeneity) + w x (what links do), with w = ``collaboration_link_weight``:
                homogeneity is niche crowding (sim.behaviour.market); what links do is the mean of three
                measured results, each over its swept ceiling and capped at 1: the local sourcing share of
                the cluster's parts and processing inputs (本地配套率, ``local_sourcing_ceiling``), the
                technology its firms gained from universities per firm and year (``knowledge_flow_ceiling``;
                joint projects raise it), and the share of its SMEs' capacity borrowed through the
                resource-sharing platform (``shared_use_ceiling``). A link or membership that changes
                nothing scores nothing. No lever enters.

The index is the weighted mean (weights ``energy_weight_*``, normalised to sum 1).

Tiers 0-4: emerging, county SME specialty cluster, provincial, national, world-class.

* **County tier (1)** follows the MIIT rule as written (促进中小企业特色产业集群发展暂行办法, MISSION §4),
  not the index, in *nominal* terms (real output x ``sim.behaviour.rules.price_level``, producer prices
  growing at ``price_inflation``): nominal output >= ``county_output_min`` in every quarter of the last
  ``county_window_quarters`` (3 years), SMEs (not large by the NBS standard,
  ``sim.behaviour.rules.large_enterprise``) make more than ``county_sme_share_min`` of output, and
  nominal output grew at least ``county_growth_min`` (10%) a year over the window. Like MIIT's
  designations the status is reviewed on a three-year cycle (quarters 12, 24, ...); at the start (2025)
  it is granted to clusters meeting the output and SME-share criteria (their past growth is not
  modelled: an assumption).
* **Index tiers (2-4)**: provincial / national / world-class when the index has been at or above
  ``tier_threshold_*`` for ``hysteresis_quarters`` consecutive quarters; a cluster falls one index
  tier after as many quarters below the threshold minus ``hysteresis_band``.
* tier = max(index tier, 1 if county status else 0). At the start the index tier is read off the
  index directly. Nothing in the start state depends on levers. The two ladders are also recorded
  apart (``index_tier`` and ``county_status`` in the clusters table, ``index_tiers_climbed`` and
  ``county_clusters_final`` in the summary): the combined tier can hide a fall on one and a rise on
  the other.
"""

from __future__ import annotations

import numpy as np

from sim.behaviour.rules import large_enterprise, price_level
from sim.state.compiled import kernel
from sim.state.constants import SizeClass

COMPONENTS = ("scale", "innovation", "chain", "digital", "leaders", "talent", "collaboration")
INDEX_TIER_OFFSET = 1  # index tier k (1..3 thresholds passed) is energy tier k + 1 (provincial = 2)


def weights(p) -> np.ndarray:
    """Component weights (normalised to sum 1) from the parameter values ``energy_weight_*``."""
    w = np.array([p[f"energy_weight_{c}"] for c in COMPONENTS], float)
    return w / w.sum()


def index_thresholds(p) -> np.ndarray:
    """Index thresholds of the provincial, national and world-class tiers (increasing)."""
    return np.array([p["tier_threshold_provincial"], p["tier_threshold_national"], p["tier_threshold_world"]])


def cluster_stats(m) -> dict[str, np.ndarray]:
    """Per-cluster aggregates used by the index and the records (arrays of length n_clusters)."""
    f = m.firms
    n = m.n_clusters
    large = large_enterprise(f.employees, 4.0 * f.sales * price_level(m), m.p)  # NBS size standard, nominal
    links = m.link_state
    # per-cluster sums over alive firms (SUMMED), firm counts and counts by maturity level, in one pass
    sums, firms, counts = _cluster_sums(
        f.alive, f.cluster, n, f.sales, large, f.value_added, f.employees, f.skilled, f.rd_spend, f.patents_q,
        f.patent_stock, f.maturity, f.tech, f.segment, f.size_class, f.little_giant, links["any"], links["supplier"],
        links["iur"], f.data_member, links["shared"], f.knowledge_q, f.borrowed, f.capacity)
    s = dict(zip(SUMMED, sums))
    sales = s["sales"]
    return {
        "firms": firms,
        "revenue": 4.0 * sales,
        "sme_revenue_share": s["sme_sales"] / np.maximum(sales, 1.0),
        "value_added": 4.0 * s["value_added"],
        "employment": s["employment"],
        "skilled": s["skilled"],
        "rd_intensity": s["rd_spend"] / np.maximum(sales, 1.0),
        "patents": s["patents"],
        "patent_stock": s["patent_stock"],
        "maturity_shares": counts / np.maximum(firms, 1.0)[:, None],
        "mean_maturity": s["maturity"] / np.maximum(firms, 1.0),
        "technology": s["technology"] / np.maximum(firms, 1.0),
        "midchain_share": s["midchain"] / np.maximum(firms, 1.0),
        "leaders": s["leaders"],
        "little_giants": s["little_giants"],
        "little_giants_not_leaders": s["little_giants_not_leaders"],
        "chain_completeness": m.chain.copy(),
        "homogeneity": m.homogeneity.copy(),
        "link_share": s["link_share"] / np.maximum(firms, 1.0),
        "supply_links": s["supply_links"],
        "iur_projects": s["iur_projects"],
        "data_members": s["data_members"],
        "shared_matches": s["shared_matches"],
        "local_sourcing": m.local_sourcing.copy(),
        "knowledge_flow": 4.0 * s["knowledge"] / np.maximum(firms, 1.0),
        "shared_use": s["borrowed"] / np.maximum(s["sme_capacity"], 1.0),
    }


SUMMED = ("sales", "sme_sales", "value_added", "employment", "skilled", "rd_spend", "patents", "patent_stock",
          "maturity", "technology", "midchain", "leaders", "little_giants", "little_giants_not_leaders", "link_share",
          "supply_links", "iur_projects", "data_members", "shared_matches", "knowledge", "borrowed", "sme_capacity")


@kernel
def _cluster_sums(alive, cluster, n_clusters, sales, large, value_added, employees, skilled, rd_spend, patents,
                  patent_stock, maturity, tech, segment, size_class, little_giant, any_link, supplier, iur, data_member,
                  shared, knowledge, borrowed, capacity):
    """Per cluster, over alive firms, in row order: the sums named by SUMMED (sales; sales of SMEs by
    the NBS standard; ...; capacity of non-leaders), the firm count and the count by maturity level."""
    sums = np.zeros((N_SUMMED, n_clusters))
    firms = np.zeros(n_clusters)
    counts = np.zeros((n_clusters, 5))
    for i in range(alive.size):
        if not alive[i]:
            continue
        c = cluster[i]
        leader = size_class[i] == LEADER
        row = (sales[i], 0.0 if large[i] else sales[i], value_added[i], employees[i], skilled[i], rd_spend[i],
               patents[i], patent_stock[i], float(maturity[i]), tech[i], 1.0 if segment[i] == 1 else 0.0,
               1.0 if leader else 0.0, 1.0 if little_giant[i] else 0.0,
               1.0 if little_giant[i] and not leader else 0.0, 1.0 if any_link[i] else 0.0,
               1.0 if supplier[i] else 0.0, 1.0 if iur[i] else 0.0, 1.0 if data_member[i] else 0.0,
               1.0 if shared[i] else 0.0, knowledge[i], borrowed[i], 0.0 if leader else capacity[i])
        for j in range(len(row)):
            sums[j, c] += row[j]
        firms[c] += 1.0
        counts[c, maturity[i] - 1] += 1.0
    return sums, firms, counts


LEADER, N_SUMMED = int(SizeClass.LEADER), len(SUMMED)


def components(m, st: dict[str, np.ndarray]) -> np.ndarray:
    """(n_clusters, 7) component scores in [0, 1], columns as :data:`COMPONENTS`."""
    p, e = m.p, m.city["energy"]
    floor = p["county_output_min"]
    scale = np.log(np.maximum(st["revenue"], 1.0) / floor) / np.log(p["scale_ceiling"] / floor)
    per_firm = st["patent_stock"] / np.maximum(st["firms"], 1.0)
    innovation = 0.5 * st["rd_intensity"] / p["rd_intensity_ceiling"] + 0.5 * np.log1p(per_firm) / np.log1p(
        p["patents_per_firm_ceiling"])
    digital = (st["mean_maturity"] - 1.0) / 4.0
    leaders = (3.0 * st["leaders"] + st["little_giants_not_leaders"]) / p["leaders_ceiling"]
    talent = st["skilled"] / np.maximum(st["employment"], 1.0) / p["talent_ceiling"]
    w = e["collaboration_link_weight"]
    results = np.column_stack([st["local_sourcing"] / p["local_sourcing_ceiling"],
                               st["knowledge_flow"] / p["knowledge_flow_ceiling"],
                               st["shared_use"] / p["shared_use_ceiling"]])
    collaboration = (1.0 - w) * (1.0 - st["homogeneity"]) + w * np.minimum(results, 1.0).mean(axis=1)
    comp = np.column_stack([scale, np.minimum(innovation, 1.0), st["chain_completeness"], digital, leaders, talent,
                            collaboration])
    return np.clip(comp, 0.0, 1.0)


def tier_of(index: np.ndarray, thresholds) -> np.ndarray:
    """Number of thresholds at or below each index value."""
    return np.searchsorted(np.asarray(thresholds), index, side="right")


def county_criteria(m) -> np.ndarray:
    """Per cluster: are the MIIT county SME-cluster criteria met over the window (bool)? ``revenue_history``
    holds nominal annualised output (yuan per year at the quarter's prices)."""
    p = m.p
    hist = np.array(m.revenue_history)  # (quarters kept, clusters), oldest first
    window = hist[-(m.city["energy"]["county_window_quarters"] + 1):]
    years = max((len(window) - 1) / 4.0, 0.25)
    growth = (window[-1] / np.maximum(window[0], 1.0)) ** (1.0 / years) - 1.0
    big = (window >= p["county_output_min"]).all(axis=0)
    sme = m.stats["sme_revenue_share"] > p["county_sme_share_min"]
    return big & sme & (growth > p["county_growth_min"])  # 产值年均增速高于10%


def init(m) -> None:
    p = m.p
    m.stats = cluster_stats(m)
    m.energy_components = components(m, m.stats)
    m.energy_index = m.energy_components @ weights(p)
    m.revenue_history = [m.stats["revenue"] * price_level(m)]  # nominal; the start's prices are 1
    m.county_status = (m.revenue_history[0] >= p["county_output_min"]) & (
        m.stats["sme_revenue_share"] > p["county_sme_share_min"])
    m.county_criteria_met = m.county_status.copy()
    m.index_tier = tier_of(m.energy_index, index_thresholds(p))
    m.energy_tier = _tier(m)
    m.initial_tier = m.energy_tier.copy()
    m.initial_index_tier = m.index_tier.copy()
    m.max_tier = m.energy_tier.copy()
    m._above = np.zeros(m.n_clusters, int)
    m._below = np.zeros(m.n_clusters, int)


def _tier(m) -> np.ndarray:
    return np.maximum(np.where(m.index_tier > 0, m.index_tier + INDEX_TIER_OFFSET, 0), m.county_status.astype(int))


def update(m) -> None:
    p, e = m.p, m.city["energy"]
    m.stats = cluster_stats(m)
    m.energy_components = components(m, m.stats)
    m.energy_index = m.energy_components @ weights(p)
    window = e["county_window_quarters"]
    m.revenue_history.append(m.stats["revenue"] * price_level(m))
    del m.revenue_history[: max(0, len(m.revenue_history) - (window + 1))]
    m.county_criteria_met = county_criteria(m)
    if m.quarter % window == 0:  # MIIT's three-year review of the county designation
        m.county_status = m.county_criteria_met.copy()
    thresholds = np.append(index_thresholds(p), np.inf)
    tier = m.index_tier
    up_thr = thresholds[tier]
    down_thr = np.where(tier > 0, thresholds[np.maximum(tier - 1, 0)] - e["hysteresis_band"], -np.inf)
    m._above = np.where(m.energy_index >= up_thr, m._above + 1, 0)
    m._below = np.where(m.energy_index < down_thr, m._below + 1, 0)
    k = e["hysteresis_quarters"]
    up = m._above >= k
    down = m._below >= k
    m.index_tier = tier + up - down
    m._above[up] = 0
    m._below[down] = 0
    m.energy_tier = _tier(m)
    m.max_tier = np.maximum(m.max_tier, m.energy_tier)


def reweighted_index(clusters, weights) -> "np.ndarray":
    """Energy index recomputed from a clusters table's ``idx_*`` columns with other weights.

    For sensitivity analysis of the index definition (MISSION §4: no official formula exists).
    ``weights`` is a mapping component -> weight (normalised here).
    """
    names = list(weights)
    w = np.array([weights[n] for n in names], float)
    return clusters[[f"idx_{n}" for n in names]].to_numpy() @ (w / w.sum())
