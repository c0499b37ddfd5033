"""Orders, capacity and margins: the quarterly market of each cluster's value chain.

Each cluster c has demand ``D[c, s]`` (yuan per quarter) for each chain segment s. Local firms in
(c, s) compete for it: sales are split in proportion to capacity times competitiveness, capped by each
firm's capacity; what local firms cannot supply is bought outside the city (short chains, paper
§2.2 problem 2). Firms in the same (cluster, segment, niche) make near-identical products, so their
value-added rate falls with the share of competitors in their niche (homogeneous competition, paper
§2.1 problem 1). All updates are simultaneous array operations.
"""

from __future__ import annotations

import numpy as np

from sim.state.tables import group_sum


def capacity(employees, tech, maturity, skilled_fill, productivity, digital_gain, sharing_boost, fill_elasticity):
    """Revenue a firm could make in a quarter (real yuan).

    productivity (yuan/employee/quarter) x employees x (1 + tech) x (1 + digital_gain per level above
    L1) x skilled-staff fill ** skilled_fill_elasticity (firms short of graduates/technicians produce
    less) x ``sharing_boost`` (1 in the model: shared equipment is added by ``sim.behaviour.sharing`` as matched
    capacity, not as a multiplier).
    """
    return (employees * productivity * (1.0 + tech) * (1.0 + digital_gain * (maturity - 1))
            * np.clip(skilled_fill, 0.05, 1.0) ** fill_elasticity * sharing_boost)


def niche_crowding(cluster, segment, niche, alive, n_clusters, n_segments, max_niches):
    """Per firm: share of its segment's other firms that sit in its own niche (0 = alone, 1 = all).

    Also returns per-cluster homogeneity: the firm-average of that share.
    """
    key_seg = cluster.astype(np.int64) * n_segments + segment
    key_niche = key_seg * max_niches + niche
    w = alive.astype(float)
    n_seg = np.bincount(key_seg, weights=w, minlength=n_clusters * n_segments)
    n_niche = np.bincount(key_niche, weights=w, minlength=n_clusters * n_segments * max_niches)
    others_seg = n_seg[key_seg] - 1.0
    crowd = np.where(others_seg > 0, (n_niche[key_niche] - 1.0) / np.maximum(others_seg, 1.0), 0.0)
    n_c = group_sum(cluster, w, n_clusters)
    homogeneity = group_sum(cluster, crowd * w, n_clusters) / np.maximum(n_c, 1.0)
    return crowd, homogeneity


def local_share_ceiling(tech_cs, tech0_cs, n_cs, n0_cs, initial_share, max_local_share, tech_elasticity,
                        variety_elasticity):
    """Most of each (cluster, segment)'s demand local firms can win against outside suppliers.

    Buyers source from outside what local firms cannot make well or in enough variety (paper §2.2:
    design, core parts and high-end equipment come from outside). The ceiling starts at the segment's
    initial local share and moves with the local firms' capacity-weighted technology and with the
    number of local firms in the segment (more suppliers, more options), both relative to the start:
    ``min(max_local_share, initial_share x max_local_share x (T / T0) ** e_T x (N / N0) ** e_N)``.
    Variety is a count, not capacity, so productivity growth alone does not lengthen the chain (v1 did).
    """
    t_ratio = np.where(tech0_cs > 0, tech_cs / np.maximum(tech0_cs, 1e-9), 1.0)
    n_ratio = np.where(n0_cs > 0, n_cs / np.maximum(n0_cs, 1e-9), np.where(n_cs > 0, 2.0, 1.0))
    return np.minimum(max_local_share,
                      initial_share * max_local_share * t_ratio ** tech_elasticity * n_ratio ** variety_elasticity)


def segment_tech(cluster, segment, tech, cap, alive, n_clusters, n_segments):
    """(clusters, segments) capacity-weighted mean technology, and the number of alive firms."""
    key = cluster.astype(np.int64) * n_segments + segment
    w = np.where(alive, cap, 0.0)
    num = np.bincount(key, weights=w * tech, minlength=n_clusters * n_segments)
    den = np.bincount(key, weights=w, minlength=n_clusters * n_segments)
    count = np.bincount(key, weights=alive.astype(float), minlength=n_clusters * n_segments)
    shape = (n_clusters, n_segments)
    return (num / np.maximum(den, 1e-9)).reshape(shape), count.reshape(shape)


def clear(demand, cluster, segment, cap, competitiveness, alive, ceiling):
    """Split each (cluster, segment) demand among local firms.

    Returns ``(sales per firm, local sales per (c, s))``. Total local sales in (c, s) are
    ``min(sum of capacity, ceiling x demand)``; each firm gets its weight's share, capped at its
    capacity, with the excess of capped firms passed on to the others (three passes).
    """
    n_c, n_s = demand.shape
    key = cluster.astype(np.int64) * n_s + segment
    cap = np.where(alive, cap, 0.0)
    weight = cap * competitiveness
    cap_cs = np.bincount(key, weights=cap, minlength=n_c * n_s)
    total = np.minimum(cap_cs, (ceiling * demand).ravel())
    sales = np.zeros_like(cap)
    remaining = total.copy()
    free = cap > 0
    for _ in range(3):  # a few redistribution passes of what capped firms could not take
        w_cs = np.bincount(key, weights=np.where(free, weight, 0.0), minlength=n_c * n_s)
        share = np.where(free & (w_cs[key] > 0), weight / np.maximum(w_cs[key], 1e-12), 0.0)
        offer = remaining[key] * share
        take = np.minimum(offer, cap - sales)
        sales += take
        remaining -= np.bincount(key, weights=take, minlength=n_c * n_s)
        free = free & (sales < cap - 1e-9)
        if remaining.max(initial=0.0) <= 1e-6 * max(total.max(initial=0.0), 1.0):
            break
    local = np.bincount(key, weights=sales, minlength=n_c * n_s).reshape(n_c, n_s)
    return sales, local


def chain_completeness(local_sales, demand):
    """Share of each cluster's chain demand met by local firms (0-1)."""
    return local_sales.sum(axis=1) / np.maximum(demand.sum(axis=1), 1e-9)
