"""Profit, tax, credit, employment and exit (per firm, per quarter, simultaneous).

* wage bill = employees x city wage x (0.85 + 0.5 x tech) / 4 (yuan per quarter);
* interest = debt x (loan rate - SME discount) / 4; the discount (preferential credit lever) is paid by
  the government and, for SMEs, credit limits rise by up to 50% at the full 3-point discount;
* local tax = local_tax_rate x value added (to the district and city governments);
* profit = value added - wages - R&D net of subsidy - interest - tax;
* cash below zero is borrowed up to the credit limit (credit_limit_to_revenue x annual revenue); a firm
  that still cannot pay exits (insolvency). On top, a random exit hazard for reasons outside the model
  (owners retiring, relocation, takeovers): above-scale 2-4%/yr, small 6-10%/yr (MISSION §3), ``leader_exit_hazard_factor``
  times that for leaders. Firms with cash above 15% of annual revenue repay a quarter of that excess.
* employees move ``employment_adjustment`` of the way toward sales / (target_utilisation x revenue per
  employee).
"""

from __future__ import annotations

import numpy as np

from sim.state.constants import SizeClass
from sim.state.tables import group_sum


def credit_limit(m) -> np.ndarray:
    f, p = m.firms, m.p
    sme = f.size_class != SizeClass.LEADER
    boost = 1.0 + 0.5 * (m.policy.level("credit.limit") / 0.03) * sme
    return m.city["economy"]["credit_limit_to_revenue"] * 4.0 * f.sales * boost


def step(m) -> None:
    f, p, rng = m.firms, m.p, m.rng
    a = f.alive
    wage_bill = f.employees * m.city_wage() * (0.85 + 0.5 * f.tech) / 4.0
    sme = f.size_class != SizeClass.LEADER
    discount = m.policy.level("credit.interest_discount") * sme
    interest = f.debt * (p["interest_rate"] - discount) / 4.0
    m.spend("preferential_credit", (f.debt * discount / 4.0)[a].sum())
    tax = p["local_tax_rate"] * f.value_added
    profit = f.value_added - wage_bill - (f.rd_spend - f.rd_subsidy) - interest - tax
    f.profit[:] = np.where(a, profit, 0.0)
    f.cash += f.profit
    m.tax_by_district = group_sum(f.district[a].astype(np.int64), tax[a], m.n_districts)
    m.flows_q["tax_revenue"] = m.tax_by_district.sum()
    # credit
    limit = credit_limit(m)
    short = a & (f.cash < 0)
    borrow = np.where(short, np.minimum(-f.cash, np.maximum(0.0, limit - f.debt)), 0.0)
    f.debt += borrow
    f.cash += borrow
    spare = a & (f.cash > 0.15 * 4.0 * f.sales) & (f.debt > 0)
    repay = np.where(spare, np.minimum(f.debt, 0.25 * (f.cash - 0.15 * 4.0 * f.sales)), 0.0)
    f.debt -= repay
    f.cash -= repay
    # employment toward 90% capacity use
    per_employee = np.where(f.employees > 0, f.capacity / np.maximum(f.employees, 1e-9), m.productivity())
    target = f.sales / (p["target_utilisation"] * np.maximum(per_employee, 1.0))
    adjust = p["employment_adjustment"]
    f.employees[:] = np.where(a, np.maximum(1.0, f.employees + adjust * (target - f.employees)), f.employees)
    # exit
    yearly = np.where(f.above_scale, p["exit_rate_above_scale"], p["exit_rate_small"])
    hazard = 1.0 - (1.0 - yearly) ** 0.25
    hazard = hazard * np.where(f.size_class == SizeClass.LEADER, m.city["economy"]["leader_exit_hazard_factor"], 1.0)
    insolvent = a & (f.cash < 0)
    exits = a & (insolvent | (rng.random(len(f)) < hazard))
    remove_firms(m, np.flatnonzero(exits))
    f.age[f.alive] += 1


def remove_firms(m, idx: np.ndarray) -> None:
    """Firms leave the market: their staff become job seekers, their Mesa agents are removed and the orders
    an anchor brought leave with it."""
    f = m.firms
    idx = np.asarray(idx, np.int64)
    withdraw_anchor_demand(m, idx)
    f.alive[idx] = False
    f.exited[idx] = m.quarter
    f.sales[idx] = 0.0
    m.events_q["exits"] = idx
    for i in idx:
        agent = m.firm_agents.pop(int(i), None)
        if agent is not None:
            agent.remove()


def withdraw_anchor_demand(m, idx: np.ndarray) -> None:
    """Take the orders anchors among ``idx`` brought (``sim.behaviour.entry._land_anchor``) out of their
    cluster's demand: their own orders from their segment, their input purchases from core parts and
    assembly (split ``anchor_input_split``). Both grew with the cluster's demand since landing."""
    f = m.firms
    rows = idx[(f.anchor_orders[idx] > 0) | (f.anchor_inputs[idx] > 0)]
    if rows.size == 0:
        return
    c = f.cluster[rows].astype(np.int64)
    np.subtract.at(m.demand, (c, f.anchor_segment[rows].astype(np.int64)), f.anchor_orders[rows])
    for seg, share in enumerate(m.prog["anchor_input_split"]):
        np.subtract.at(m.demand, (c, np.full(rows.size, seg)), share * f.anchor_inputs[rows])
    f.anchor_orders[rows] = 0.0
    f.anchor_inputs[rows] = 0.0
