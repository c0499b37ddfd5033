"""New firms, anchor firms, moves along the chain and niche positioning (paper §3.1, §3.3).

* **Entry** (spin-offs and outside investment): per cluster ~ Poisson(entry_rate x firms x
  clip(margin / margin in the first quarter, entry_margin_ratio_min, entry_margin_ratio_max) **
  entry_margin_elasticity): profitable clusters attract more entrants. Every entrant draws its
  technology (Beta(2, 5)) and works in a segment its technology allows. The coordination office
  (链长制 working groups) steers at most ``steering_capacity`` x the planned-entry channel entrants a
  year (``_steered``): a steered entrant's segment is drawn in proportion to each allowed segment's
  local supply gap, its niche is the one with the least local capacity per yuan of open-market orders
  (:func:`capacity_per_order`: the office knows where customers are not served), its district is
  drawn in proportion to sqrt(district firm share) (spreading beyond Haigang/ETDZ). The others herd:
  segments as the cluster's firms are (among those their technology allows), niches by popularity
  (Zipf), districts where firms already are.
* **Anchor firms** (链主): the yearly attraction budget (less duplication waste) accumulates; each time
  it reaches ``anchor_cost`` one anchor lands: with the plan (probability k = anchor targeting) in the cluster-segment
  with the largest gap x demand x (1 + 10 x demand growth); otherwise in a cluster drawn in proportion
  to its demand, in that cluster's largest-gap segment. It enters as an ordinary firm with its own
  revenue (``anchor_revenue`` x LogNormal(0, 0.3)), technology ``anchor_tech`` and maturity L3; it
  becomes a leader only if it meets the leader criterion at a review, like any firm. It brings its own
  orders, buys ``anchor_input_share`` of its revenue from local core-parts and assembly firms (both are
  recorded on the anchor, grow with the cluster's demand and leave with it: ``finance.remove_firms``), and
  pulls ~Poisson(anchor_supplier_pull) suppliers next to it (they enter linked to it, in core parts if
  their own technology allows, else in processing; it can take more local suppliers through
  ``sim.behaviour.links`` while its input needs have room).
* **Weak links**: assembly firms move to the weak segment (core parts, design, service) with the largest
  local supply gap among those their technology allows, with a small quarterly probability, higher when
  the weak-link incentive pays half the switching cost.
* **Niche re-positioning** (:func:`_reposition`): with the city's advice, firms weigh a move to the
  niche with unserved orders; the move costs ``reposition_cost`` x annual revenue, takes
  ``reposition_quarters`` and succeeds with ``reposition_success``; in the new niche the firm must win
  its share of that niche's customers (``sim.behaviour.market``).
* **Statuses are reviewed, not kept for ever** (at the first quarter of each year, like MIIT's yearly
  batches). Little giants (专精特新"小巨人") follow MIIT's 2022 criteria only (工信部企业〔2022〕63号), as
  far as the model can observe them (``sim.behaviour.rules``: SME by the NBS standard, one of the six
  clusters, >= 3 years in its niche, >= 5% nominal revenue growth a year over 2 years, a leading
  share of its niche, R&D intensity by revenue band in each of the last 2 years, >= 2 Class-I IP
  rights, technology >= ``little_giant_tech``), read from the last completed year's records, which
  ``_designate`` keeps every quarter. A firm meeting them all is designated; a little giant is
  re-reviewed ``little_giant_review_years`` after its designation and loses the status if it fails any
  then (MIIT's three-year 复核). Firms meeting every criterion but the two earned by R&D (intensity
  record, IP) and making a profit are marked aspirants (``lg_aspirant``): they raise R&D to the band's
  requirement (``sim.behaviour.innovation``). Leaders (龙头) follow current size and technology: a firm
  whose revenue reaches ``leader_revenue_threshold`` with technology >= ``leader_min_tech`` becomes a
  leader; a leader whose revenue has fallen below ``leader_review_band`` x the threshold, or whose
  technology below ``leader_review_band`` x ``leader_min_tech``, returns to the ordinary ladder (little
  giant if designated).
"""

from __future__ import annotations

import numpy as np

from sim.behaviour.finance import credit_limit
from sim.behaviour import rules
from sim.state.compiled import kernel, pairwise_sum
from sim.state.constants import SizeClass
from sim.state.initial import place_near
from sim.state.tables import cell_counts, cell_sums, group_sum, weighted_rows


def step(m) -> None:
    _entrants(m)
    _anchors(m)
    _weak_links(m)
    _reposition(m)
    _designate(m)


def _gap(m) -> np.ndarray:
    """(clusters, segments) share of demand not met locally."""
    return 1.0 - m.local_sales / np.maximum(m.demand, 1e-9)


def _place(m, districts: np.ndarray, near_cells: np.ndarray | None = None) -> np.ndarray:
    """Cells for new firms of ``districts``: near the district seat (6 km scale), or near ``near_cells``
    (4 km, suppliers around an anchor); see :func:`sim.state.initial.place_near`."""
    cells = np.empty(len(districts), np.int64)
    for d in np.unique(districts):
        idx = np.flatnonzero(districts == d)
        d = int(d)
        if near_cells is not None:
            cells[idx] = place_near(m.rng, m.cell_km, m.district_cells[d], m.cell_km[near_cells[idx[0]]], idx.size,
                                    scale_km=4.0)
        else:
            cells[idx] = place_near(m.rng, m.cell_km, m.district_cells[d], m.seat_km[d], idx.size, cdf=m.seat_cdf[d])
    return cells


def _new_firms(m, cluster, segment, niche, district, revenue_year, tech, cells, size_class, supplies,
               maturity=None, rd_rate=None):
    n = len(cluster)
    if n == 0:
        return np.zeros(0, np.int64)
    p, prog, eco = m.p, m.prog, m.city["economy"]
    if maturity is None:
        maturity = np.where(m.rng.random(n) < 0.2, 2, 1)
    if rd_rate is None:
        rd_rate = np.full(n, p["rd_intensity_sme"])
    sales = revenue_year / 4.0
    dg = p["digital_gain_per_level"]
    employees = sales / (m.productivity() * (1 + tech) * (1 + dg * (maturity - 1)))
    # start capital: the owners pay in the target cash buffer; a bank loan as incumbents have (the ledger)
    cash, debt = p["cash_buffer_to_revenue"] * revenue_year, eco["debt_to_revenue"] * revenue_year
    m.flows_q["entrant_capital"] += cash.sum()
    m.flows_q["entrant_debt"] += debt.sum()
    idx = m.firms.append(
        n, alive=True, cluster=cluster, segment=segment, niche=niche, size_class=size_class, district=district,
        cell=cells, employees=employees, sales=sales, capacity=sales, tech=tech, rd_rate=rd_rate,
        maturity=maturity, cash=cash, debt=debt,
        supplies=supplies, above_scale=revenue_year >= prog["above_scale_revenue"], entered=m.quarter,
        exited=-1,
    )
    if m._firm_views:  # Mesa agents exist once somebody looked (ClusterModel._make_firm_agents)
        for row in idx:
            m.add_firm_agent(int(row))
    m.events_q["entries"] = np.concatenate((m.events_q.get("entries", np.zeros(0, np.int64)), idx))
    return idx


def capacity_per_order(m) -> np.ndarray:
    """(clusters, segments, niches): local firms' capacity per yuan of the niche's open-market orders
    last quarter (lower = more customers not served). A typical entrant's capacity is added to both
    sides, so an empty niche with few orders does not look infinitely attractive."""
    f = m.firms
    a = f.alive
    capacity = cell_sums(m.niche_orders.shape, f.capacity[a], f.cluster[a], f.segment[a], f.niche[a])
    typical = m.prog["entrant_revenue"] / 4.0
    return (capacity + typical) / (m.niche_orders + typical)


def _choose_niche(m, cluster: np.ndarray, segment: np.ndarray, planned: np.ndarray) -> np.ndarray:
    """The niche with the most open-market orders per unit of local capacity under the plan (the
    city's information on where customers are not served), otherwise a popularity-weighted draw
    (herding).

    Entrant i draws ``k_i`` uniforms (noise on its cluster's ``k_i`` niche scores), then one more to
    pick a niche if it herds, in entrant order: the draws of a loop over entrants, taken as one
    ``rng.random`` call and computed for all entrants of equal ``k`` at once (the same numbers).
    """
    f = m.firms
    a = f.alive
    n = len(cluster)
    out = np.empty(n, np.int16)
    if n == 0:
        return out
    occupancy = cell_counts((m.n_clusters, m.n_segments, m.max_niches), f.cluster[a], f.segment[a], f.niche[a])
    crowding = capacity_per_order(m)
    herd = m.prog["herding_exponent"]
    k = m.n_niches[cluster]
    planned = np.asarray(planned, bool)
    draws = k + ~planned  # k noise draws, and one more to pick a niche when herding
    start = np.cumsum(draws) - draws
    u = m.rng.random(int(start[-1] + draws[-1]))
    rank_weight = 1.0 / (np.arange(m.max_niches) + 1.0) ** herd  # herding weight of the r-th most popular niche
    _pick_niches(cluster, segment, planned, k, start, u, crowding, occupancy, rank_weight, out)
    return out


@kernel
def _pick_niches(cluster, segment, planned, k, start, u, crowding, occupancy, rank_weight, out):
    """:func:`_choose_niche` entrant by entrant: planned ones take the niche of least capacity per
    order (noise 1% x its uniform), the others draw by popularity rank (occupancy + 0.1 x noise, the
    r-th most popular weighted ``rank_weight[r]``), placing their extra uniform in the normalised
    cumulative weights as ``Generator.choice`` does."""
    for i in range(cluster.size):
        c, s, size, first = cluster[i], segment[i], k[i], start[i]
        if planned[i]:
            best, pick = np.inf, 0
            for j in range(size):  # the first smallest (np.argmin)
                v = crowding[c, s, j] * (1.0 + 0.01 * u[first + j])
                if j == 0 or v < best:
                    best, pick = v, j
            out[i] = pick
            continue
        value = np.empty(size)
        for j in range(size):
            value[j] = occupancy[c, s, j] + u[first + j] * 0.1
        w = np.empty(size)
        for j in range(size):  # rank = how many niches are more popular (draws make ties impossible)
            rank = 0
            for l in range(size):
                if -value[l] < -value[j]:
                    rank += 1
            w[j] = rank_weight[rank]
        w = w / pairwise_sum(w, 0, size)
        cdf = np.cumsum(w)
        cdf /= cdf[size - 1]
        pick = 0
        for j in range(size):
            if cdf[j] <= u[first + size]:
                pick += 1
        out[i] = pick


def _steered(m, n: int) -> np.ndarray:
    """Which of this quarter's ``n`` entrants the coordination office steers (bool per entrant).

    The office's capacity, ``steering_capacity`` entrants a year at full strength x the planned-entry
    channel, accrues each quarter and is kept for at most a year; it approaches entrants in random
    order while it has capacity left."""
    per_year = m.p["steering_capacity"] * m.policy.level("coordination.planned_entry")
    m.steering_pot = min(m.steering_pot + per_year / 4.0, per_year)
    planned = np.zeros(n, bool)
    take = min(n, int(m.steering_pot))
    if take:
        planned[m.rng.permutation(n)[:take]] = True
        m.steering_pot -= take
    return planned


def _entrants(m) -> None:
    f, p, rng = m.firms, m.p, m.rng
    a = f.alive
    n_c = group_sum(f.cluster[a].astype(np.int64), None, m.n_clusters)
    sales_c = group_sum(f.cluster[a].astype(np.int64), f.sales[a], m.n_clusters)
    profit_c = group_sum(f.cluster[a].astype(np.int64), f.profit[a], m.n_clusters)
    margin = profit_c / np.maximum(sales_c, 1.0)
    if m.margin0 is None:
        m.margin0 = np.maximum(margin, 0.01)  # the first quarter's margins are the reference
    prog = m.prog
    ratio = np.clip(margin / m.margin0, prog["entry_margin_ratio_min"], prog["entry_margin_ratio_max"])
    lam = p["entry_rate"] * n_c * ratio ** p["entry_margin_elasticity"]
    counts = rng.poisson(lam)
    cluster = np.repeat(np.arange(m.n_clusters), counts).astype(np.int8)
    n = cluster.size
    if n == 0:
        _steered(m, 0)  # the office's capacity accrues even in a quarter without entrants
        return
    planned = _steered(m, n)
    gap = _gap(m)
    seg_mix = cell_counts((m.n_clusters, m.n_segments), f.cluster[a], f.segment[a])
    tech = np.clip(rng.beta(2.0, 5.0, n), 0.02, 0.8)
    # every entrant works in a segment its technology allows; the plan steers it to the weak links
    # among those (the local supply gap), the others herd (segments as the cluster's firms are)
    allowed = m.tech_required[None, :] <= tech[:, None]
    w = np.where(planned[:, None], np.maximum(gap[cluster], 0.0) + 1e-3, seg_mix[cluster] + 1e-3) * allowed
    segment = weighted_rows(rng, w / w.sum(axis=1, keepdims=True)).astype(np.int8)
    niche = _choose_niche(m, cluster, segment, planned)
    shares = np.sqrt([m.city["districts"][d]["firm_share"] for d in m.layout.district_names])
    where_firms = group_sum(f.district[a].astype(np.int64), None, m.n_districts) + 1e-3
    dist_p = np.where(planned[:, None], shares[None, :], (where_firms / where_firms.sum())[None, :])
    district = weighted_rows(rng, dist_p / dist_p.sum(axis=1, keepdims=True)).astype(np.int8)
    revenue = rng.lognormal(np.log(m.prog["entrant_revenue"]), 0.6, n)
    _new_firms(m, cluster, segment, niche, district, revenue, tech, _place(m, district),
               np.full(n, SizeClass.SME, np.int8), np.full(n, -1))


def _anchors(m) -> None:
    p = m.p
    m.spend("anchor_attraction_budget", m.policy.value("anchor_attraction_budget") / 4.0)
    m.anchor_pot += m.policy.level("anchors.attraction") / 4.0 * (1.0 - m.waste())
    while m.anchor_pot >= p["anchor_cost"]:
        m.anchor_pot -= p["anchor_cost"]
        _land_anchor(m)


def _land_anchor(m) -> None:
    p, prog, rng, f = m.p, m.prog, m.rng, m.firms
    gap = np.maximum(_gap(m), 0.0)
    k = m.policy.level("coordination.anchor_targeting")
    if rng.random() < k:  # city plan: the biggest gap in the fastest-growing clusters
        score = gap * m.demand * (1.0 + 10.0 * np.maximum(m.demand_growth, 0.0))[:, None]
        score[m.cluster_keys.index("other")] *= 0.2
        c, s = np.unravel_index(int(np.argmax(score)), score.shape)
    else:
        sales_c = m.demand.sum(axis=1)
        c = rng.choice(m.n_clusters, p=sales_c / sales_c.sum())
        s = int(np.argmax(gap[c]))
    revenue = p["anchor_revenue"] * rng.lognormal(0.0, 0.3)
    district = np.array([m.core_districts[rng.integers(len(m.core_districts))] if rng.random() > k
                         else rng.integers(m.n_districts)], np.int8)
    tech = max(p["anchor_tech"], m.tech_required[s])
    anchor = _new_firms(m, np.array([c], np.int8), np.array([s], np.int8), np.array([0], np.int16), district,
                        np.array([revenue]), np.array([tech]), _place(m, district), np.array([SizeClass.SME]),
                        np.array([-1]), maturity=np.array([3]))
    # the anchor's own orders, and what it buys from local suppliers; recorded on the anchor, they leave
    # with it (sim.behaviour.finance.remove_firms) and grow with the cluster's demand until then
    split = prog["anchor_input_split"]  # core parts, assembly
    inputs = prog["anchor_input_share"] * revenue / 4.0
    m.demand[c, s] += revenue / 4.0
    m.demand[c, 0] += split[0] * inputs
    m.demand[c, 1] += split[1] * inputs
    f.anchor_orders[anchor] = revenue / 4.0
    f.anchor_inputs[anchor] = inputs
    f.anchor_segment[anchor] = s
    n_sup = rng.poisson(p["anchor_supplier_pull"])
    m.firms.anchor[anchor] = True
    if n_sup:
        seg = rng.choice([0, 1], size=n_sup, p=list(split)).astype(np.int8)
        tech_s = np.clip(rng.beta(2.5, 4.0, n_sup), 0.05, 0.8)
        seg = np.where(tech_s >= m.tech_required[seg], seg, 1).astype(np.int8)  # parts need the technology
        cl = np.full(n_sup, c, np.int8)
        niche = _choose_niche(m, cl, seg, rng.random(n_sup) < k)
        dist = np.full(n_sup, district[0], np.int8)
        rev = rng.lognormal(np.log(m.prog["entrant_revenue"] * 2), 0.5, n_sup)
        _new_firms(m, cl, seg, niche, dist, rev, tech_s, _place(m, dist, near_cells=np.full(n_sup, f.cell[anchor[0]])),
                   np.full(n_sup, SizeClass.SME, np.int8), np.full(n_sup, anchor[0]))
    m.events_q["anchors"] = np.concatenate((m.events_q.get("anchors", np.zeros(0, np.int64)), anchor))


def _weak_links(m) -> None:
    f, prog, rng = m.firms, m.prog, m.rng
    budget = m.policy.level("weak_links.switch_grants") / 4.0 * (1.0 - m.waste())
    # each assembly firm looks at the weak segments its technology allows and picks the largest gap
    tgt, eligible = _weak_link_options(f.alive, f.segment, f.cluster, f.tech, f.cash, _gap(m), m.tech_required,
                                       WEAK_SEGMENTS, MIN_GAP)
    if eligible.size == 0:
        m.spend("weak_link_incentive", 0.0)
        return
    cost = prog["segment_switch_cost"] * 4.0 * f.sales[eligible]
    order = rng.random(eligible.size)
    funded = np.zeros(eligible.size, bool)
    if budget > 0:
        ranked = np.argsort(order)
        cum = np.cumsum(0.5 * cost[ranked])
        funded[ranked[cum <= budget]] = True
    prob = np.where(funded, prog["segment_switch_funded"], prog["segment_switch_base"])
    move = rng.random(eligible.size) < prob
    idx = eligible[move]
    paid = np.where(funded[move], 0.5 * cost[move], 0.0)
    f.cash[idx] -= cost[move] - paid
    m.flows_q["firm_switch_spending"] += (cost[move] - paid).sum()
    f.segment[idx] = tgt[idx]
    f.niche[idx] = _choose_niche(m, f.cluster[idx], f.segment[idx],
                                 rng.random(idx.size) < m.policy.level("coordination.repositioning"))
    m.spend("weak_link_incentive", paid.sum())


WEAK_SEGMENTS = np.array([0, 2, 3])  # core parts, design, service: the chain's weak links (paper §2.2)
MIN_GAP = 0.1  # a weak segment counts when more than this share of its demand is bought outside


@kernel
def _weak_link_options(alive, segment, cluster, tech, cash, gap, tech_required, weak, min_gap):
    """Per firm: the weak segment of the largest local gap its technology allows (the first such);
    and the rows that may move there (alive assembly firms with cash and some allowed gap)."""
    n = alive.size
    target = np.empty(n, np.int64)
    ok = np.zeros(n, np.bool_)
    for i in range(n):
        best, pick = -np.inf, 0
        for j in range(weak.size):
            s = weak[j]
            g = gap[cluster[i], s]
            v = g if tech[i] >= tech_required[s] and g > min_gap else -1.0
            if j == 0 or v > best:
                best, pick = v, j
        target[i] = weak[pick]
        ok[i] = alive[i] and segment[i] == 1 and best > 0 and cash[i] > 0
    return target, np.flatnonzero(ok)


def _reposition(m) -> None:
    """Moves to another niche: decided with the city's advice, paid for, slow and uncertain.

    Moves under way count down; at the end a move succeeds with probability ``reposition_success``
    (the firm then sells in the target niche, where it must win customers from the firms there) or
    fails (the firm stays; the money is spent). New moves: each quarter a non-leader firm weighs a
    move with probability ``reposition_consider_rate`` x the repositioning channel: the city's advice
    shows it the niche where it would gain most (:func:`_advise_moves`: customers not served, price-war
    margins, positions already advised); it moves if the value added it expects to gain there over ``reposition_horizon_years``,
    times the chance of success,
    exceeds ``reposition_cost`` x annual revenue, and it can pay that from cash and unused credit. The
    move takes ``reposition_quarters``.
    """
    f, p, rng = m.firms, m.p, m.rng
    going = f.alive & (f.move_left > 0)
    f.move_left[going] -= 1
    done = np.flatnonzero(going & (f.move_left == 0))
    success = rng.random(done.size) < p["reposition_success"]
    ok = done[success]
    f.niche[ok] = f.move_target[ok]
    m.events_q["moves_done"] = ok
    m.events_q["moves_failed"] = done[~success]
    k = m.policy.level("coordination.repositioning")
    if k <= 0:
        return
    cand = np.flatnonzero(f.alive & (f.move_left == 0) & (f.size_class != SizeClass.LEADER)
                          & (rng.random(len(f)) < p["reposition_consider_rate"] * k))
    if cand.size == 0:
        return
    cand = rng.permutation(cand)  # the office advises them in random order
    target, gain = _advise_moves(m, cand)
    cost = p["reposition_cost"] * 4.0 * f.sales[cand]
    worth = p["reposition_success"] * 4.0 * m.prog["reposition_horizon_years"] * gain > cost
    headroom = f.cash[cand] + np.maximum(0.0, credit_limit(m)[cand] - f.debt[cand])
    go = (target != f.niche[cand]) & worth & (cost <= headroom) & (cost > 0)
    idx = cand[go]
    f.cash[idx] -= cost[go]
    m.flows_q["firm_switch_spending"] += cost[go].sum()  # the ledger's segment and niche moves
    f.move_left[idx] = max(1, int(round(p["reposition_quarters"])))
    f.move_target[idx] = target[go]
    m.events_q["moves_started"] = idx


def _advise_moves(m, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The city's advice to firms ``rows`` (in random order): for each, the niche of its segment where it
    would gain most and that gain (value added a quarter, yuan; -inf when no other niche exists).

    The gain counts the use of the firm's capacity the niches' open-market orders allow (own niche: its
    orders over the capacity there; another: over the capacity there plus the firm's) and each niche's
    price-war margin (its share of the segment's other firms), at last quarter's orders. The office
    advises firms one after another and counts each advised move (and the moves under way) in its
    target niche, so it does not send a crowd into the same empty niche (错位: staggered positions).
    """
    f, p = m.firms, m.p
    a = f.alive
    where = np.where(f.move_left > 0, f.move_target, f.niche)[a]  # moves under way count at their target
    codes = (f.cluster[a], f.segment[a], where)
    capacity = cell_sums(m.niche_orders.shape, f.capacity[a], *codes)
    count = cell_counts(m.niche_orders.shape, *codes)
    return _advise(rows, f.cluster, f.segment, f.niche, f.capacity, m.n_niches, m.niche_orders, capacity, count,
                   m.va_rate, p["homogeneity_margin_penalty"])


@kernel
def _advise(rows, cluster, segment, niche, firm_capacity, n_niches, niche_orders, capacity, count, va_rate, penalty):
    """:func:`_advise_moves`'s loop: firm after firm, the gain of each niche of its segment over its own
    (``capacity`` and ``count`` per (cluster, segment, niche) updated with each advised move)."""
    target = np.zeros(rows.size, np.int16)
    gain = np.full(rows.size, -np.inf)
    for i in range(rows.size):  # a few dozen a quarter: advised one by one
        r = rows[i]
        c, s, own, cap = cluster[r], segment[r], niche[r], firm_capacity[r]
        k = n_niches[c]
        others = max(pairwise_sum(count[c, s, :k].copy(), 0, k) - 1.0, 1.0)
        value = np.empty(k)
        for j in range(k):
            mine = j == own
            cap_there = capacity[c, s, j] if mine else capacity[c, s, j] + cap
            crowd_there = (count[c, s, j] - 1.0 if mine else count[c, s, j]) / others
            value[j] = (min(1.0, niche_orders[c, s, j] / max(cap_there, MIN_CAPACITY)) * cap * va_rate[s]
                        * (1.0 - penalty * crowd_there))
        t, best = 0, -np.inf
        for j in range(k):  # the first niche of the largest gain (np.argmax)
            g = -np.inf if j == own else value[j] - value[own]
            if j == 0 or g > best:
                t, best = j, g
        target[i], gain[i] = t, best
        if best > 0:  # the advised position is taken (for the next firm's advice)
            capacity[c, s, own] -= cap
            capacity[c, s, t] += cap
            count[c, s, own] -= 1.0
            count[c, s, t] += 1.0
    return target, gain


MIN_CAPACITY = 1e-9  # (yuan) keeps an empty niche's orders per capacity finite


def _designate(m) -> None:
    """Keep the records the reviews read (every quarter, after this quarter's moves) and, in the first
    quarter of a year, review little-giant and leader status (see module docstring)."""
    rules.track_niches(m)
    if m.quarter_of_year == 1:
        rules.close_year(m)
        f, eco = m.firms, m.city["economy"]
        a = f.alive
        criteria = rules.little_giant_criteria(m)
        meets = rules.meets_all(criteria)
        f.lg_aspirant[:] = (rules.meets_all(criteria, skip=rules.R_AND_D_CRITERIA) & ~meets & ~f.little_giant
                            & (f.profit > 0))
        new_lg = meets & ~f.little_giant
        due = a & f.little_giant & (m.quarter - f.lg_since >= 4 * eco["little_giant_review_years"])
        f.lg_since[new_lg | (due & meets)] = m.quarter
        lost = due & ~meets
        m.lg_reviewed += int(due.sum())
        m.lg_kept += int((due & meets).sum())
        f.little_giant[new_lg] = True
        f.little_giant[lost] = False
        revenue = 4.0 * f.sales
        leader = f.size_class == SizeClass.LEADER
        threshold, band, bar = eco["leader_revenue_threshold"], eco["leader_review_band"], eco["leader_min_tech"]
        promote = a & ~leader & (revenue >= threshold) & (f.tech >= bar)
        demote = a & leader & ((revenue < band * threshold) | (f.tech < band * bar))
        f.size_class[promote] = SizeClass.LEADER
        f.size_class[demote] = np.where(f.little_giant[demote], SizeClass.LITTLE_GIANT, SizeClass.SME)
        lg_class = a & f.little_giant & (f.size_class != SizeClass.LEADER)
        f.size_class[lg_class] = SizeClass.LITTLE_GIANT
        f.size_class[a & ~f.little_giant & (f.size_class == SizeClass.LITTLE_GIANT)] = SizeClass.SME
        f.above_scale[a] = revenue[a] >= m.prog["above_scale_revenue"]
    rules.book_quarter(m)
