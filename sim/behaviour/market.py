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

from sim.state.compiled import kernel
from sim.state.tables import cell_sums


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
    return _niche_crowding(cluster, segment, niche, alive, n_clusters, n_segments, max_niches)


@kernel
def _niche_crowding(cluster, segment, niche, alive, n_clusters, n_segments, max_niches):
    n = cluster.size
    n_seg = np.zeros(n_clusters * n_segments)
    n_niche = np.zeros(n_clusters * n_segments * max_niches)
    key_seg = np.empty(n, np.int64)
    key_niche = np.empty(n, np.int64)
    for i in range(n):
        key_seg[i] = np.int64(cluster[i]) * n_segments + segment[i]
        key_niche[i] = key_seg[i] * max_niches + niche[i]
        w = 1.0 if alive[i] else 0.0
        n_seg[key_seg[i]] += w
        n_niche[key_niche[i]] += w
    crowd = np.empty(n)
    n_c = np.zeros(n_clusters)
    total = np.zeros(n_clusters)
    for i in range(n):
        others = n_seg[key_seg[i]] - 1.0
        crowd[i] = (n_niche[key_niche[i]] - 1.0) / max(others, 1.0) if others > 0 else 0.0
        w = 1.0 if alive[i] else 0.0
        n_c[cluster[i]] += w
        total[cluster[i]] += crowd[i] * w
    homogeneity = np.empty(n_clusters)
    for c in range(n_clusters):
        homogeneity[c] = total[c] / max(n_c[c], 1.0)
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
    mean, count = _segment_tech(cluster, segment, tech, cap, alive, n_clusters * n_segments, n_segments)
    return mean.reshape(n_clusters, n_segments), count.reshape(n_clusters, n_segments)


@kernel
def _segment_tech(cluster, segment, tech, cap, alive, n_cells, n_segments):
    num = np.zeros(n_cells)
    den = np.zeros(n_cells)
    count = np.zeros(n_cells)
    for i in range(cluster.size):
        k = np.int64(cluster[i]) * n_segments + segment[i]
        w = cap[i] if alive[i] else 0.0
        num[k] += w * tech[i]
        den[k] += w
        count[k] += 1.0 if alive[i] else 0.0
    for k in range(n_cells):
        num[k] = num[k] / max(den[k], MIN_CAPACITY)
    return num, count


MIN_CAPACITY = 1e-9  # yuan (guards a division)


def split_orders(key, n_groups, total, cap, weight, passes=3):
    """Split each group's orders ``total[g]`` among its firms in proportion to ``weight``, each firm
    capped at ``cap``; what capped firms cannot take is passed on to the others (``passes`` rounds).
    Returns the orders per firm (yuan per quarter)."""
    return _split_orders(key, n_groups, np.asarray(total, float), cap, weight, passes)


@kernel
def _split_orders(key, n_groups, total, cap, weight, passes):
    """:func:`split_orders`, row by row: group sums in row order (as ``np.bincount`` adds them)."""
    n = key.size
    sales = np.zeros(n)
    remaining = total.copy()
    free = cap > 0
    limit = STOP_SHARE * max(total.max() if total.size else 0.0, 1.0)
    for _ in range(passes):
        w_g = np.zeros(n_groups)
        for i in range(n):
            if free[i]:
                w_g[key[i]] += weight[i]
        taken = np.zeros(n_groups)
        for i in range(n):
            g = key[i]
            share = weight[i] / max(w_g[g], MIN_WEIGHT) if free[i] and w_g[g] > 0 else 0.0
            take = min(remaining[g] * share, cap[i] - sales[i])
            sales[i] += take
            taken[g] += take
        for g in range(n_groups):
            remaining[g] -= taken[g]
        for i in range(n):
            free[i] = free[i] and sales[i] < cap[i] - CAPPED
        if max(remaining.max() if n_groups else 0.0, 0.0) <= limit:
            break
    return sales


STOP_SHARE = 1e-6  # orders left below this share of the largest group's stop the passes
MIN_WEIGHT = 1e-12  # (guards a division: a group with positive weight)
CAPPED = 1e-9  # yuan: a firm this close to its capacity takes no more


def clear(demand, cluster, segment, niche, cap, competitiveness, alive, ceiling, niche_share, reserved,
          substitution):
    """Orders of every (cluster, segment, niche) market this quarter.

    1. **Contracts.** A supplier with a local buyer first fills its contract ``reserved`` (yuan, within
       its capacity, ``sim.behaviour.links.contracts``): the buyer's own input orders, which it would
       otherwise place on the open market. They count against the segment's demand.
    2. **Open market.** Local firms can win ``ceiling x`` the rest of each (cluster, segment)'s demand
       (the local-share ceiling, :func:`local_share_ceiling`); that addressable demand is split over
       the segment's niches by ``niche_share`` (each niche's own customers). The firms of a niche
       share its orders in proportion to capacity x competitiveness, each capped at its capacity left.
    3. **Substitution.** Of a niche's orders its firms cannot serve, a share ``substitution`` goes to
       the segment's other local firms with capacity left (buyers take a near variant); the rest is
       bought outside the city.

    Returns ``(sales per firm, local sales per (c, s), open-market local share per (c, s), orders per
    (c, s, niche) on the open market)``.
    """
    n_c, n_s = demand.shape
    n_n = niche_share.shape[2]
    sales, local, open_share, niche_orders = _clear(
        np.ascontiguousarray(demand, float).ravel(), cluster, segment, niche, cap, competitiveness, alive,
        np.ascontiguousarray(ceiling, float).ravel(), np.ascontiguousarray(niche_share, float).ravel(),
        reserved, float(substitution), n_s, n_n)
    return sales, local.reshape(n_c, n_s), open_share.reshape(n_c, n_s), niche_orders.reshape(n_c, n_s, n_n)


@kernel
def _clear(demand, cluster, segment, niche, cap, competitiveness, alive, ceiling, niche_share, reserved,
           substitution, n_s, n_n):
    """:func:`clear` on flat (cluster x segment [x niche]) arrays, row by row."""
    n = cluster.size
    n_cs = demand.size
    key_cs = np.empty(n, np.int64)
    key_n = np.empty(n, np.int64)
    capa = np.empty(n)
    res = np.empty(n)
    reserved_cs = np.zeros(n_cs)
    for i in range(n):
        key_cs[i] = np.int64(cluster[i]) * n_s + segment[i]
        key_n[i] = key_cs[i] * n_n + niche[i]
        capa[i] = cap[i] if alive[i] else 0.0
        res[i] = min(reserved[i], capa[i]) if alive[i] else 0.0
        reserved_cs[key_cs[i]] += res[i]
    open_demand = np.empty(n_cs)
    niche_orders = np.empty(n_cs * n_n)
    for g in range(n_cs):
        open_demand[g] = max(demand[g] - reserved_cs[g], 0.0)
        addressable = ceiling[g] * open_demand[g]
        for j in range(n_n):
            niche_orders[g * n_n + j] = addressable * niche_share[g * n_n + j]
    left = capa - res
    sales = _split_orders(key_n, n_cs * n_n, niche_orders, left, left * competitiveness, 3)
    served_n = np.zeros(n_cs * n_n)
    for i in range(n):
        served_n[key_n[i]] += sales[i]
    unmet = np.zeros(n_cs)
    for k in range(n_cs * n_n):
        unmet[k // n_n] += max(niche_orders[k] - served_n[k], 0.0)
    left = left - sales
    sales = sales + _split_orders(key_cs, n_cs, substitution * unmet, left, left * competitiveness, 3)
    open_sales = np.zeros(n_cs)
    for i in range(n):
        open_sales[key_cs[i]] += sales[i]
    sales = sales + res
    local = open_sales + reserved_cs
    open_share = np.empty(n_cs)
    for g in range(n_cs):
        open_share[g] = open_sales[g] / max(open_demand[g], MIN_DEMAND) if open_demand[g] > 0 else 0.0
    return sales, local, open_share, niche_orders


MIN_DEMAND = 1e-9  # yuan (guards a division)


def niche_shares_of(sales, cluster, segment, niche, alive, n_clusters, n_segments, max_niches, n_niches):
    """(clusters, segments, niches) share of each segment's local sales made in each niche; a segment
    with no sales spreads its share evenly over the cluster's ``n_niches`` niches."""
    by_niche = cell_sums((n_clusters, n_segments, max_niches), np.where(alive, sales, 0.0), cluster, segment, niche)
    total = by_niche.sum(axis=2, keepdims=True)
    return np.where(total > 0, by_niche / np.maximum(total, 1e-12), _even_shares(n_niches, max_niches))


def renew_niche_shares(share, n_niches, renewal_q):
    """Customers' demand moves a share ``renewal_q`` of the way per quarter toward an even spread over
    the cluster's niches (product variety: buyers' needs are not where the firms crowd)."""
    return (1.0 - renewal_q) * share + renewal_q * _even_shares(n_niches, share.shape[2])


def _even_shares(n_niches, max_niches) -> np.ndarray:
    """(clusters, 1, niches): an even spread over each cluster's ``n_niches`` niches (0 beyond them)."""
    return ((np.arange(max_niches)[None, :] < n_niches[:, None]) / n_niches[:, None])[:, None, :]


def chain_completeness(local_sales, demand):
    """Share of each cluster's chain demand met by local firms (0-1)."""
    return local_sales.sum(axis=1) / np.maximum(demand.sum(axis=1), 1e-9)
