"""Links firms form and use: supply links, 产学研 projects, data exchange (paper §2.1, §3.1-3.4).

Collaboration is *measured* from these links (``sim.behaviour.energy``); levers only change the chance or the
cost of forming them. Each quarter, before trade (simultaneous within each kind of link):

* **Supply links** (``firms.supplies`` = the buyer's row, -1 = none) are contracts for the buyer's
  inputs. A firm's *chain inputs* are ``chain_input_share`` x its intermediate inputs
  (sales x (1 - value-added rate)): parts and processing its cluster's supplier segments make. A
  linked supplier fills a contract of ``linked_output_share`` of its capacity (:func:`contracts`),
  scaled down when a buyer's suppliers together would deliver more than its chain inputs; the buyer
  would otherwise place these orders on the open market, where local firms win only the local-share
  ceiling (``sim.behaviour.market.clear``). So a link does two stated things: it keeps the buyer's
  orders in the city (import substitution, and the linked supplier's orders are not contested by its
  rivals), and it saves the buyer ``local_sourcing_saving`` per yuan bought under contract (logistics,
  inventory, coordination; added to its value added). It also opens information (peer learning,
  ``sim.behaviour.innovation``). A buyer takes suppliers while its chain inputs can absorb another
  typical contract: ``slots = floor(chain inputs / typical contract)``, the typical contract being
  ``linked_output_share`` x the median capacity of the cluster's eligible suppliers
  (:func:`supplier_slots`). Links end when either side exits and with ``supply_link_churn`` a year.
  Unlinked SMEs of the same cluster in core parts or assembly with technology >= ``supplier_min_tech``
  find a buyer with a free slot with probability ``supply_link_rate x (1 + matchmaking_gain x
  matchmaking)`` per quarter (the city's chain matchmaking is information: it raises the chance, it
  creates no link by itself, and it does nothing when buyers' input needs are already covered);
  buyers' free slots are filled in random order.
* **产学研 projects** (``firms.iur_left`` quarters left, ``firms.iur_univ`` the partner). A firm that
  does R&D, has technology >= ``iur_min_tech`` and can pay its share starts a project with chance
  ``iur_project_rate x (1 + iur_match_gain x iur_platform_strength)``; the partner university is drawn
  in proportion to graduates x exp(-distance / spillover_decay_km). Only firms whose yearly R&D
  spending covers their share of the project take one. A project costs
  ``iur_project_cost`` a year, of which the platform pays ``iur_cofund_share x strength`` (booked as
  spending on ``iur_platform_strength``); the firm pays the rest from cash each quarter and drops the
  project when it cannot. Projects last ``iur_project_quarters``.
* **Data exchange** (``firms.data_member``). Firms at maturity >= L2 join the data-sharing centre
  with chance ``data_join_rate x data_sharing_centre x (1 + data_network_effect x member share of the
  cluster)``; members leave with ``data_leave_rate`` a year. A member exchanges data when the centre
  is open (lever > 0) and another firm of its cluster is a member.

At set-up the supply links of ``sim.state.initial`` exist and further links are drawn at their steady state
without matchmaking (each eligible SME linked with probability rate / (rate + quarterly churn), as
slots allow), a share ``iur_project_rate x iur_project_quarters``
of eligible firms is in a project (the base rate, no platform: the start state is independent of the
levers), each university's alignment with no projects is solved so that its start alignment
(city.toml) is the target its start projects give, and nobody is a data member (paper: no such
centre exists).
"""

from __future__ import annotations

import numpy as np

from sim.state.compiled import kernel
from sim.state.constants import SizeClass
from sim.state.tables import group_sum

SUPPLIER_SEGMENTS = (0, 1)  # core parts, processing & assembly
PARTS_SEGMENT = 0  # materials & core parts (city.toml [segments] keys): where buyers source parts


def member_share(m) -> np.ndarray:
    """Per cluster: share of its alive firms that are members of the data-sharing centre."""
    f = m.firms
    a = f.alive
    members = a & f.data_member
    return group_sum(f.cluster[members].astype(np.int64), None, m.n_clusters) / np.maximum(
        group_sum(f.cluster[a].astype(np.int64), None, m.n_clusters), 1.0)


def university_km(m, rows: np.ndarray) -> np.ndarray:
    """(len(rows), universities) km from each firm row to each university."""
    return m.cell_univ_km[m.firms.cell[rows]]


def chain_inputs(m) -> np.ndarray:
    """Per firm: parts and processing it buys per quarter (yuan): ``chain_input_share`` x intermediate
    inputs, at this quarter's sales so far (last quarter's before trade)."""
    f = m.firms
    return _chain_inputs(f.alive, f.segment, f.sales, m.va_rate, m.p["chain_input_share"])


@kernel
def _chain_inputs(alive, segment, sales, va_rate, share):
    out = np.zeros(alive.size)
    for i in range(alive.size):
        if alive[i]:
            out[i] = share * (1.0 - va_rate[segment[i]]) * sales[i]
    return out


def _eligible_suppliers(m) -> np.ndarray:
    f = m.firms
    supplier_segment = np.zeros(m.n_segments, bool)
    supplier_segment[list(SUPPLIER_SEGMENTS)] = True
    return (f.alive & (f.size_class != SizeClass.LEADER) & supplier_segment[f.segment]
            & (f.tech >= m.prog["supplier_min_tech"]))


def typical_contract(m) -> np.ndarray:
    """Per cluster: a typical supply contract (yuan per quarter), ``linked_output_share`` x the median
    capacity of the cluster's eligible suppliers (the cluster's median firm if it has none)."""
    f = m.firms
    return _typical_contract(_eligible_suppliers(m), f.alive, f.cluster, f.capacity, m.n_clusters,
                             m.p["linked_output_share"])


@kernel
def _typical_contract(eligible, alive, cluster, capacity, n_clusters, share):
    out = np.empty(n_clusters)
    for c in range(n_clusters):
        pool = capacity[eligible & (cluster == c)]
        if pool.size == 0:
            pool = capacity[alive & (cluster == c)]
        out[c] = share * (np.median(pool) if pool.size else 0.0)
    return out


def supplier_slots(m) -> np.ndarray:
    """Local suppliers each firm can source from (integer per row): its chain inputs over a typical
    contract of its cluster."""
    f = m.firms
    return _slots(f.alive, f.cluster, chain_inputs(m), typical_contract(m))


@kernel
def _slots(alive, cluster, inputs, contract):
    out = np.zeros(alive.size, np.int64)
    for i in range(alive.size):
        c = contract[cluster[i]]
        if alive[i] and c > 0:
            out[i] = np.int64(np.floor(inputs[i] / max(c, MIN_CONTRACT)))
    return out


MIN_CONTRACT = 1e-9  # yuan (guards a division)


def contracts(m, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orders under supply contracts this quarter (yuan): per supplier (what it delivers, within its
    capacity) and per buyer (what it buys under contract). Each linked supplier offers
    ``linked_output_share`` of its capacity; a buyer takes at most its chain inputs, pro rata."""
    f = m.firms
    return _contracts(f.alive, f.supplies, capacity, chain_inputs(m), m.p["linked_output_share"])


@kernel
def _contracts(alive, supplies, capacity, need, share):
    n = alive.size
    offer = np.zeros(n)
    buyer = np.zeros(n, np.int64)
    offered = np.zeros(n)
    for i in range(n):
        b = supplies[i]
        if alive[i] and b >= 0 and alive[b]:
            offer[i] = share * capacity[i]
            buyer[i] = b
        offered[buyer[i]] += offer[i]
    supplied = np.empty(n)
    bought = np.zeros(n)
    for i in range(n):
        b = buyer[i]
        supplied[i] = offer[i] * (need[b] / max(offered[b], MIN_OFFER) if offered[b] > need[b] else 1.0)
        bought[b] += supplied[i]
    return supplied, bought


MIN_OFFER = 1e-12  # yuan (guards a division)


def local_sourcing(m) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: share of its firms' parts and processing inputs (:func:`chain_inputs`) bought from
    local firms (本地配套率): under contract, plus the open-market rest at the local firms' open-market
    share of materials and core parts (the segment buyers source parts from; processing capacity is
    local anyway, paper §2.2); and the cluster's chain inputs (yuan per quarter). Read after trade."""
    f = m.firms
    return _local_sourcing(f.cluster, chain_inputs(m), f.bought_local,
                           np.ascontiguousarray(m.open_local_share[:, PARTS_SEGMENT]), m.n_clusters)


@kernel
def _local_sourcing(cluster, need, bought_local, open_share, n_clusters):
    local = np.zeros(n_clusters)
    total = np.zeros(n_clusters)
    for i in range(cluster.size):
        bought = min(bought_local[i], need[i])
        local[cluster[i]] += bought + (need[i] - bought) * open_share[cluster[i]]
        total[cluster[i]] += need[i]
    share = np.empty(n_clusters)
    for c in range(n_clusters):
        share[c] = local[c] / max(total[c], MIN_CONTRACT)
    return share, total


def init(m) -> None:
    """Set-up projects at the base rate (lever-free) and the derived link state."""
    f, p, prog = m.firms, m.p, m.prog
    eligible = _iur_eligible(m)
    start_share = min(1.0, p["iur_project_rate"] * prog["iur_project_quarters"])
    start = eligible & (m.rng.random(len(f)) < start_share)
    idx = np.flatnonzero(start)
    f.iur_left[idx] = m.rng.integers(1, prog["iur_project_quarters"] + 1, idx.size)
    f.iur_univ[idx] = _pick_university(m, idx)
    _calibrate_base_alignment(m)
    churn_q = 1.0 - (1.0 - p["supply_link_churn"]) ** 0.25
    _form_supply_links(m, p["supply_link_rate"] / (p["supply_link_rate"] + churn_q))
    refresh(m)


def step(m) -> None:
    _supply_links(m)
    _iur_projects(m)
    _data_exchange(m)
    refresh(m)


def refresh(m) -> None:
    """Derived per-firm link flags used by trade, innovation, digital and the energy index."""
    f = m.firms
    flags = _link_flags(f.alive, f.supplies, f.iur_left, f.data_member, f.shared, f.cluster, m.n_clusters,
                        m.policy.level("data_centre.exchange") > 0)
    m.link_state = dict(zip(LINK_KINDS, flags))


LINK_KINDS = ("supplier", "buyer", "iur", "data", "shared", "any")


@kernel
def _link_flags(alive, supplies, iur_left, data_member, shared, cluster, n_clusters, exchange_on):
    """Per firm (alive firms only): supplies a local buyer; buys from a local supplier; in a joint
    project; exchanges data (a member of the data centre, the exchange on, at least two members in its
    cluster); matched on the sharing platform; any of these."""
    n = alive.size
    out = np.zeros((6, n), np.bool_)
    members = np.zeros(n_clusters)
    for i in range(n):
        if alive[i] and data_member[i]:
            members[cluster[i]] += 1
    for i in range(n):
        if not alive[i]:
            continue
        b = supplies[i]
        if b >= 0 and alive[b]:
            out[0, i] = True
            if alive[b]:
                out[1, b] = True
        out[2, i] = iur_left[i] > 0
        out[3, i] = data_member[i] and exchange_on and members[cluster[i]] >= 2
        out[4, i] = shared[i]
    for i in range(n):
        out[5, i] = out[0, i] or out[1, i] or out[2, i] or out[3, i] or out[4, i]
    return out[0], out[1], out[2], out[3], out[4], out[5]


def _supply_links(m) -> None:
    f, p, rng = m.firms, m.p, m.rng
    _end_links(f.alive, f.supplies, rng.random(len(f)), 1.0 - (1.0 - p["supply_link_churn"]) ** 0.25)
    chance = p["supply_link_rate"] * (1.0 + p["matchmaking_gain"] * m.policy.level("coordination.matchmaking"))
    _form_supply_links(m, chance)


@kernel
def _end_links(alive, supplies, u, churn_q):
    """Links end when the supplier or the buyer has left, or by churn (probability ``churn_q``)."""
    for i in range(alive.size):
        b = supplies[i]
        if b >= 0 and (not alive[i] or not alive[b] or u[i] < churn_q):
            supplies[i] = -1


def _form_supply_links(m, chance: float) -> None:
    """Unlinked eligible SMEs find a buyer of their cluster with a free slot with probability ``chance``."""
    f, rng = m.firms, m.rng
    slots = supplier_slots(m)
    eligible = _eligible_suppliers(m)
    who, who_start, seats, seat_start = _link_candidates(f.alive, f.supplies, slots, eligible, rng.random(len(f)),
                                                        chance, f.cluster, m.n_clusters)
    for c in range(m.n_clusters):  # each cluster's seekers take its free slots in random order
        w, st = who[who_start[c]:who_start[c + 1]], seats[seat_start[c]:seat_start[c + 1]]
        if w.size == 0 or st.size == 0:
            continue
        st = st.copy()
        rng.shuffle(st)
        k = min(w.size, st.size)
        f.supplies[w[:k]] = st[:k]


@kernel
def _link_candidates(alive, supplies, slots, eligible, u, chance, cluster, n_clusters):
    """Unlinked eligible suppliers that look for a buyer this quarter (``u < chance``) and the buyers'
    free slots (one entry per slot, buyers in row order), by cluster: rows of cluster c are
    ``who[who_start[c]:who_start[c + 1]]`` and ``seats[seat_start[c]:seat_start[c + 1]]``. Nothing
    when nobody looks or no slot is free."""
    n = alive.size
    free = slots.copy()
    for i in range(n):
        if alive[i] and supplies[i] >= 0:
            free[supplies[i]] -= 1
    found = np.zeros(n, np.bool_)
    n_who = np.zeros(n_clusters, np.int64)
    any_free = False
    for i in range(n):
        free[i] = max(free[i], 0)
        any_free = any_free or free[i] > 0
        found[i] = eligible[i] and supplies[i] < 0 and u[i] < chance
        if found[i]:
            n_who[cluster[i]] += 1
    who_start = np.zeros(n_clusters + 1, np.int64)
    seat_start = np.zeros(n_clusters + 1, np.int64)
    if n_who.sum() == 0 or not any_free:
        return np.zeros(0, np.int64), who_start, np.zeros(0, np.int64), seat_start
    n_seats = np.zeros(n_clusters, np.int64)
    for i in range(n):
        if free[i] > 0 and not found[i] and n_who[cluster[i]] > 0:
            n_seats[cluster[i]] += free[i]
    for c in range(n_clusters):
        who_start[c + 1] = who_start[c] + n_who[c]
        seat_start[c + 1] = seat_start[c] + n_seats[c]
    who = np.empty(who_start[n_clusters], np.int64)
    seats = np.empty(seat_start[n_clusters], np.int64)
    wp = who_start[:n_clusters].copy()
    sp = seat_start[:n_clusters].copy()
    for i in range(n):
        c = cluster[i]
        if found[i]:
            who[wp[c]] = i
            wp[c] += 1
        if free[i] > 0 and not found[i] and n_who[c] > 0:
            for _ in range(free[i]):
                seats[sp[c]] = i
                sp[c] += 1
    return who, who_start, seats, seat_start


def _iur_eligible(m) -> np.ndarray:
    f = m.firms
    return f.alive & (f.iur_left == 0) & (f.rd_spend > 0) & (f.tech >= m.prog["iur_min_tech"])


def _pick_university(m, idx: np.ndarray) -> np.ndarray:
    d = university_km(m, idx)
    size = np.array([u.graduates_per_year for u in m.universities], float)
    w = size[None, :] * np.exp(-d / m.p["spillover_decay_km"])
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    return (m.rng.random(idx.size)[:, None] > cum).sum(axis=1).clip(0, len(m.universities) - 1)


def _iur_projects(m) -> None:
    f, p, prog, rng = m.firms, m.p, m.prog, m.rng
    chance = p["iur_project_rate"] * (1.0 + p["iur_match_gain"] * m.policy.level("iur.matching"))
    cost_q = p["iur_project_cost"] / 4.0
    cofund = prog["iur_cofund_share"] * m.policy.level("iur.cofunding")
    firm_cost = cost_q * (1.0 - cofund)
    # projects count down; eligible firms whose yearly R&D covers their share take a new one with
    # probability ``chance``
    idx = _new_projects(f.alive, f.iur_left, f.cash, f.rd_spend, f.tech, rng.random(len(f)), chance, firm_cost,
                        prog["iur_min_tech"])
    f.iur_left[idx] = prog["iur_project_quarters"]
    f.iur_univ[idx] = _pick_university(m, idx)
    paying = _pay_projects(f.alive, f.iur_left, f.cash, firm_cost)
    m.flows_q["firm_iur_spending"] += paying * firm_cost
    m.spend("iur_platform_strength", paying * cost_q * cofund)


@kernel
def _new_projects(alive, iur_left, cash, rd_spend, tech, u, chance, firm_cost, min_tech):
    """Running projects count a quarter down; then the rows starting one (``_iur_eligible``, can pay their
    share from cash and their yearly R&D covers it, and the draw ``u`` < ``chance``)."""
    for i in range(alive.size):
        if alive[i] and iur_left[i] > 0:
            iur_left[i] -= 1
    new = np.zeros(alive.size, np.bool_)
    for i in range(alive.size):
        new[i] = (alive[i] and iur_left[i] == 0 and rd_spend[i] > 0 and tech[i] >= min_tech and cash[i] > firm_cost
                  and 4.0 * rd_spend[i] >= 4.0 * firm_cost and u[i] < chance)
    return np.flatnonzero(new)


@kernel
def _pay_projects(alive, iur_left, cash, firm_cost):
    """Firms in a project pay their share; one that cannot drops the project. Returns the payers."""
    paying = 0
    for i in range(alive.size):
        if alive[i] and iur_left[i] > 0:
            if cash[i] > firm_cost:
                cash[i] -= firm_cost
                paying += 1
            else:
                iur_left[i] = 0
    return paying


def _data_exchange(m) -> None:
    f, p, rng = m.firms, m.p, m.rng
    n = len(f)
    leave_q = 1.0 - (1.0 - m.prog["data_leave_rate"]) ** 0.25
    _leave_data_centre(f.alive, f.data_member, rng.random(n), leave_q)
    centre = m.policy.level("data_centre.joining")
    if centre <= 0:
        return
    share = member_share(m)
    _join_data_centre(f.alive, f.data_member, f.maturity, f.cluster, rng.random(n), p["data_join_rate"] * centre,
                      p["data_network_effect"], share)


@kernel
def _leave_data_centre(alive, member, u, leave_q):
    for i in range(alive.size):
        if member[i] and (not alive[i] or u[i] < leave_q):
            member[i] = False


@kernel
def _join_data_centre(alive, member, maturity, cluster, u, rate, network_effect, share):
    """Firms at L2 or above join with probability ``rate x (1 + network_effect x`` their cluster's member share)."""
    join = np.zeros(alive.size, np.bool_)
    for i in range(alive.size):
        join[i] = (alive[i] and not member[i] and maturity[i] >= 2
                   and u[i] < rate * (1.0 + network_effect * share[cluster[i]]))
    for i in range(alive.size):
        if join[i]:
            member[i] = True


def _calibrate_base_alignment(m) -> None:
    """Start alignment (city.toml) is the steady state of the start projects: solve for the alignment a
    university would have with no projects, so nothing drifts at the start (clipped at 0)."""
    f = m.firms
    active = f.alive & (f.iur_left > 0)
    projects = np.bincount(f.iur_univ[active], minlength=len(m.universities)).astype(float)
    x = projects / (projects + m.p["iur_alignment_half"])
    top = m.prog["max_alignment"]
    for u, xi in zip(m.universities, x):
        u.base_alignment = max(0.0, (u.alignment - top * xi) / (1.0 - xi))


def university_alignment_targets(m) -> np.ndarray:
    """Per university: alignment it moves toward, from its active projects with local firms."""
    f, p = m.firms, m.p
    active = f.alive & (f.iur_left > 0)
    projects = np.bincount(f.iur_univ[active], minlength=len(m.universities)).astype(float)
    base = np.array([u.base_alignment for u in m.universities])
    top = m.prog["max_alignment"]
    return base + (top - base) * projects / (projects + p["iur_alignment_half"])
