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

from sim.state.tables import cell_sums, group_sum


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


def split_orders(key, n_groups, total, cap, weight, passes=3):
    """Split each group's orders ``total[g]`` among its firms in proportion to ``weight``, each firm
    capped at ``cap``; what capped firms cannot take is passed on to the others (``passes`` rounds).
    Returns the orders per firm (yuan per quarter)."""
    sales = np.zeros_like(cap)
    remaining = np.asarray(total, float).copy()
    free = cap > 0
    for _ in range(passes):
        w_g = np.bincount(key, weights=np.where(free, weight, 0.0), minlength=n_groups)
        share = np.where(free & (w_g[key] > 0), weight / np.maximum(w_g[key], 1e-12), 0.0)
        take = np.minimum(remaining[key] * share, cap - sales)
        sales += take
        remaining -= np.bincount(key, weights=take, minlength=n_groups)
        free = free & (sales < cap - 1e-9)
        if remaining.max(initial=0.0) <= 1e-6 * max(float(np.max(total, initial=0.0)), 1.0):
            break
    return sales


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
    key_cs = cluster.astype(np.int64) * n_s + segment
    key_n = key_cs * n_n + niche
    cap = np.where(alive, cap, 0.0)
    reserved = np.where(alive, np.minimum(reserved, cap), 0.0)
    reserved_cs = np.bincount(key_cs, weights=reserved, minlength=n_c * n_s)
    open_demand = np.maximum(demand.ravel() - reserved_cs, 0.0)
    addressable = ceiling.ravel() * open_demand
    left = cap - reserved
    niche_orders = (addressable[:, None] * niche_share.reshape(n_c * n_s, n_n)).ravel()
    sales = split_orders(key_n, n_c * n_s * n_n, niche_orders, left, left * competitiveness)
    served_n = np.bincount(key_n, weights=sales, minlength=n_c * n_s * n_n)
    unmet = np.bincount(np.arange(n_c * n_s * n_n) // n_n, weights=np.maximum(niche_orders - served_n, 0.0),
                        minlength=n_c * n_s)
    left = left - sales
    sales = sales + split_orders(key_cs, n_c * n_s, substitution * unmet, left, left * competitiveness)
    open_sales = np.bincount(key_cs, weights=sales, minlength=n_c * n_s)
    sales = sales + reserved
    local = (open_sales + reserved_cs).reshape(n_c, n_s)
    open_share = np.where(open_demand > 0, open_sales / np.maximum(open_demand, 1e-9), 0.0).reshape(n_c, n_s)
    return sales, local, open_share, niche_orders.reshape(n_c, n_s, n_n)


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
