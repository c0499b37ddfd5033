"""Digital and intelligent transformation (智改数转; paper §2.3 problem 3, §3.4 remedies).

Maturity follows GB/T 39116-2020 levels 1 (规划级) .. 5 (引领级), climbed one level at a time (the
paper's tiered, step-by-step path); an upgrade takes ``upgrade_quarters`` and may fail.

Decision (each quarter, a share ``digital_consider_rate`` of firms below L5 and not upgrading weigh it):

* cost ``C = cost_rate * annual revenue * (1 + 0.5 * (m - 1))`` clipped to [50万, 3000万] (yuan);
* expected gain ``G = horizon * 4 * VA_q * gain_per_level * (1 + data_sharing_gain * x * share)``
  where x = 1 for a firm that exchanges data through the data-sharing centre (``sim.behaviour.links``) and share
  the share of its cluster's firms that are members (shared data and compatible interfaces let
  upgrades link firms, paper §2.3: the gain grows with the partners one can exchange with), times
  ``(1 + peer_effect * share of the cluster's firms already above m + benchmark_gain * benchmark)``
  (benchmark firms are information: they show the gain);
* success probability ``q = min(0.95, digital_success_base + 0.4 * coverage(cell)
  + 0.25 * min(1, digital staff share / 0.1) + data_success_gain * x)``;
* the firm upgrades with probability ``sigmoid(steepness * ln(q * G / (C * (1 - grant))))`` if it can pay
  ``C * (1 - grant)`` from cash plus unused credit.

Grants: ``grant = cost_share`` while the budget lasts. The quarter's budget (minus duplication waste)
is split into district pots: at coordination k a share (1 - k) follows each district's own tax base
(districts fund their own firms) and k follows where applicants' needs are (a city plan; each class of
pot, SMEs or the rest, by its own applicants' needs). Each district pot
is split again: ``digital_grant_sme_priority`` of it is reserved for non-leaders, the rest for
leaders; applicants queue in random order within their pot. Firms refused a grant decide again
without it.

Ageing: each quarter a firm above L1 that is not upgrading is reassessed one level lower with
probability ``1 - (1 - digital_decay_rate) ** 0.25`` (systems that are not renewed age), so maturity
is a state that has to be maintained, not a ratchet.

Infrastructure: coverage (5G / industrial internet, 0-1 per cell) is a property layer; each quarter the
investment buys ``investment / infra_cost_per_cell`` full-cell equivalents, spread over cells with
firms in proportion to the firms there and the coverage gap; without coordination the core districts
(Haigang, ETDZ) get three times the weight, with it the other districts get twice. Telecoms add 1% of
the gap per quarter on their own.
"""

from __future__ import annotations

import numpy as np

from sim.behaviour import finance, links
from sim.state.compiled import kernel, pairwise_sum
from sim.state.constants import SizeClass
from sim.state.tables import allocate_budget, cell_counts, group_sum


def spread_infrastructure(m) -> None:
    p = m.p
    m.spend("digital_infrastructure_investment", m.policy.value("digital_infrastructure_investment") / 4.0)
    invest = m.policy.level("infrastructure.coverage") / 4.0
    cov = m.layer_values("digital_coverage").copy()
    f = m.firms
    k = m.policy.level("coordination.infrastructure_targeting")
    cells_bought = invest * (1.0 - m.waste()) / p["infra_cost_per_cell"]
    _cover(cov, f.cell, f.alive, m.cell_in_core, m.cell_district, cells_bought,
           3.0 * (1 - k) + 1.0 * k, 1.0 * (1 - k) + 2.0 * k)
    m.set_layer("digital_coverage", cov)


@kernel
def _cover(cov, firm_cell, alive, in_core, cell_district, cells_bought, core_bias, other_bias):
    """The coverage bought goes to cells in proportion to their firms x the gap to full coverage x the
    targeting bias (core or other cells); then every land cell gains ``BACKGROUND_GROWTH`` of its gap
    (operators' own roll-out); sea cells stay 0."""
    firms = np.zeros(cov.size)
    for i in range(firm_cell.size):
        if alive[i]:
            firms[firm_cell[i]] += 1.0
    w = np.empty(cov.size)
    for c in range(cov.size):
        w[c] = firms[c] * (1.0 - cov[c]) * (core_bias if in_core[c] else other_bias)
    total = pairwise_sum(w, 0, w.size)
    for c in range(cov.size):
        if total > 0:
            cov[c] += cells_bought * w[c] / total
        cov[c] = min(1.0, cov[c] + BACKGROUND_GROWTH * (1.0 - cov[c])) if cell_district[c] >= 0 else 0.0


BACKGROUND_GROWTH = 0.01  # share of a cell's coverage gap closed each quarter without the programme


def step(m) -> None:
    f, p, prog, rng = m.firms, m.p, m.prog, m.rng
    # 1. upgrades in progress succeed with probability q, maturity decays; 2. who weighs an upgrade
    # (three uniforms per firm, drawn as the numpy code drew them: success, decay, consideration)
    n = len(f)
    u_success, u_decay, u_consider = rng.random(n), rng.random(n), rng.random(n)
    exchange = m.link_state["data"]
    q, success, cand = _upgrades(f.alive, f.upgrading, f.maturity, m.layer_values("digital_coverage"), f.cell,
                                 f.skilled, f.digital_staff, exchange, u_success, u_decay, u_consider,
                                 p["digital_success_base"], prog["data_success_gain"],
                                 1.0 - (1.0 - p["digital_decay_rate"]) ** 0.25, p["digital_consider_rate"])
    m.events_q["upgrades"] = success
    if cand.size == 0:
        return
    mat = f.maturity[cand]
    annual = 4.0 * f.sales[cand]
    cost = np.clip(p["digital_cost_rate"] * annual * (1 + 0.5 * (mat - 1)), 5e5, 3e7)
    share_above = _share_above(m)[f.cluster[cand], mat - 1]
    mult = 1.0 + p["digital_peer_effect"] * share_above + p["benchmark_gain"] * m.policy.level("benchmarks.demonstration")
    member_share = links.member_share(m)
    data = exchange[cand] * member_share[f.cluster[cand]]
    gain = (prog["digital_horizon_years"] * 4.0 * f.value_added[cand] * p["digital_gain_per_level"]
            * (1.0 + p["data_sharing_gain"] * data) * mult)
    value = q[cand] * gain
    headroom = f.cash[cand] + np.maximum(0.0, finance.credit_limit(m)[cand] - f.debt[cand])
    share = m.policy.level("digital_grants.cost_share")
    steep = p["digital_decision_steepness"]
    want_with = _decide(value, cost * (1 - share), headroom, rng, steep)
    granted = _allocate_grants(m, cand, cost * share, want_with)
    want_without = _decide(value, cost, headroom, rng, steep)
    go = np.where(granted, want_with, want_without)
    grant = np.where(granted & go, cost * share, 0.0)
    idx = cand[go]
    f.upgrading[idx] = prog["upgrade_quarters"]
    f.upgrade_cost[idx] = cost[go]
    f.cash[idx] -= cost[go] - grant[go]
    m.flows_q["firm_digital_spending"] += (cost[go] - grant[go]).sum()
    m.spend("digital_grant_budget", grant.sum())
    m.events_q["upgrade_starts"] = idx


@kernel
def _upgrades(alive, upgrading, maturity, coverage, cell, skilled, digital_staff, exchange, u_success, u_decay,
              u_consider, base, data_gain, decay_q, consider_rate):
    """Upgrades under way count down and, at the end, succeed with probability ``q`` (coverage at the
    firm's cell, digital staff share, data exchange; the module docstring); firms not upgrading lose a
    level with probability ``decay_q``; firms not upgrading and below L5 weigh an upgrade with
    probability ``consider_rate``. Returns (q per firm, success per firm, the rows weighing one)."""
    n = alive.size
    q = np.empty(n)
    success = np.zeros(n, np.bool_)
    weigh = np.zeros(n, np.bool_)
    for i in range(n):
        done = False
        if alive[i] and upgrading[i] > 0:
            upgrading[i] -= 1
            done = upgrading[i] == 0
        share = digital_staff[i] / max(skilled[i], MIN_STAFF) if skilled[i] > 0 else 0.0
        q[i] = min(MAX_SUCCESS, base + COVERAGE_GAIN * coverage[cell[i]]
                   + STAFF_GAIN * min(1.0, share / STAFF_SHARE_FULL) + data_gain * (1.0 if exchange[i] else 0.0))
        if done and u_success[i] < q[i]:
            success[i] = True
            maturity[i] += 1
        if alive[i] and upgrading[i] == 0 and maturity[i] > 1 and not done and u_decay[i] < decay_q:
            maturity[i] -= 1
        weigh[i] = alive[i] and upgrading[i] == 0 and maturity[i] < 5 and u_consider[i] < consider_rate
    return q, success, np.flatnonzero(weigh)


# chance an upgrade succeeds (module docstring): at most MAX_SUCCESS; + COVERAGE_GAIN x the cell's
# digital coverage; + STAFF_GAIN when digital staff are STAFF_SHARE_FULL of the skilled staff (pro rata below)
MAX_SUCCESS, COVERAGE_GAIN, STAFF_GAIN, STAFF_SHARE_FULL = 0.95, 0.4, 0.25, 0.1
MIN_STAFF = 1e-9  # (guards a division)


def _decide(value, net_cost, headroom, rng, steepness) -> np.ndarray:
    ratio = np.log(np.maximum(value, 1.0) / np.maximum(net_cost, 1.0))
    prob = 1.0 / (1.0 + np.exp(-steepness * ratio))
    return (rng.random(len(value)) < prob) & (net_cost <= headroom)


def _share_above(m) -> np.ndarray:
    """(clusters, 5): share of each cluster's firms at a maturity above level l (column l-1)."""
    f = m.firms
    a = f.alive
    counts = cell_counts((m.n_clusters, 5), f.cluster[a], f.maturity[a] - 1)
    n = counts.sum(axis=1, keepdims=True)
    above = n - np.cumsum(counts, axis=1)
    return above / np.maximum(n, 1.0)


def _allocate_grants(m, cand, grant_cost, wants) -> np.ndarray:
    """Which candidate firms get a grant (see module docstring: district pots, SMEs first)."""
    f = m.firms
    budget = m.policy.level("digital_grants.budget") / 4.0 * (1.0 - m.waste())
    if budget <= 0 or cand.size == 0:
        return np.zeros(cand.size, bool)
    nd = m.n_districts
    district = f.district[cand].astype(np.int64)
    tax = group_sum(f.district[f.alive].astype(np.int64), f.value_added[f.alive], nd)
    tax_share = tax / max(tax.sum(), 1e-9)
    k = m.policy.level("coordination.grant_pooling")
    sme = f.size_class[cand] != SizeClass.LEADER
    prio = m.policy.level("digital_grants.sme_reserve")
    # pots: first nd for SMEs (reserved share), next nd for everyone else; pooled money follows the
    # needs of each pot's own applicants (SMEs' needs for the SME pots, the others' for theirs)
    pots = []
    for share, mine in ((prio, sme), (1 - prio, ~sme)):
        need = group_sum(district[mine], (grant_cost * wants)[mine], nd)
        pots.append(budget * share * ((1 - k) * tax_share + k * need / max(need.sum(), 1e-9)))
    pots = np.concatenate(pots)
    pot_of = np.where(sme, district, district + nd)
    order = m.rng.random(cand.size)
    granted = np.zeros(cand.size, bool)
    ask = wants.copy()
    granted[ask] = allocate_budget(grant_cost[ask], pots, pot_of[ask], order[ask])
    return granted



