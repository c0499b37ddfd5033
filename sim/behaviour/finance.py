"""Profit, tax, credit, cash management, employment and exit (per firm, per quarter, simultaneous).

* wage bill = employees x city wage x (0.85 + 0.5 x tech) / 4 (yuan per quarter; households' income);
* interest = debt x (loan rate - SME discount) / 4 (to banks); the discount (preferential credit lever) is
  paid by the government to the banks and, for SMEs, credit limits rise by up to 50% at the full 3-point
  discount;
* local tax = local_tax_rate x value added (to the district and city governments);
* profit = value added - wages - R&D net of subsidy - interest - tax.
  Value added is gross (it includes the wear of the firm's equipment, which the model does not hold
  as a stock), so "profit" here is before depreciation: see investment below.
* **Credit**: cash below zero is borrowed up to the credit limit (credit_limit_to_revenue x annual revenue).
* **Cash management** (a target buffer; nothing piles up by construction): a firm keeps
  ``cash_buffer_to_revenue`` x annual revenue as working cash (Chinese listed firms hold cash of 14-17%
  of assets and above-scale industry turns its assets over 0.75-1.2 times a year: parameters.toml).
  Cash above the buffer first repays debt (``debt_repayment_share`` of the excess a quarter). A firm that
  made a profit this quarter then releases the rest of its excess: ``payout_ratio`` of it to its owners
  (dividends, sourced from the exchanges' cash-dividend guidance and listed firms' payout ratios) and the
  remainder as fixed investment (replacing and extending the equipment the capacity rule presumes;
  capital is not a state of the model, so this is an outflow to capital-goods suppliers). Paid-out and
  invested money leaves the firm and is recorded (``payouts``, ``investment``). Loss-making firms keep
  their cash.
* **Exit**: a firm whose cash is still negative after borrowing to its limit exits (insolvency). On
  top, a random exit hazard for reasons outside the model (owners retiring, relocation, takeovers):
  above-scale ``exit_rate_above_scale``, small ``exit_rate_small`` (rates of firms past their seventh
  year), ``leader_exit_hazard_factor`` times that for leaders, times an age profile by year of life from
  the SAIC survey of enterprise survival (``[economy] exit_hazard_by_age``: hazard 1.6% in the first
  year, 6.3% in the second, 9.5% in the third, above 8% to the seventh, lower afterwards): firms are
  safest in their first year (start capital) and most at risk in years 3-7 (the "bottleneck").
* employees move ``employment_adjustment`` of the way toward sales / (target_utilisation x revenue per
  employee).

Every money flow is booked in ``m.flows_q`` (yuan this quarter) for the city table's ledger
(``sim.state.records.LEDGER``): ``firm_value_added``, ``wage_bill``, ``tax_revenue``, ``rd_spending``,
``rd_subsidies``, ``interest_paid``, ``interest_discount``, ``firm_profit``, ``new_borrowing``,
``debt_repayment``, ``payouts``, ``investment``, and, in :func:`remove_firms`, ``exit_cash`` /
``exit_debt`` (what exiting firms hold when they leave: to their owners, or, when negative, a loss to
creditors). Firms' other cash spending is booked where it happens (digital upgrades, segment moves,
training, 产学研 shares) and entrants' start capital and loans at entry.
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


def cash_buffer(m, sales: np.ndarray) -> np.ndarray:
    """Target cash (yuan) of firms selling ``sales`` a quarter: ``cash_buffer_to_revenue`` x annual revenue."""
    return m.p["cash_buffer_to_revenue"] * 4.0 * np.asarray(sales, float)


def age_profile(m) -> np.ndarray:
    """Random exit hazard by year of life relative to the hazard after the surveyed years (last entry 1).

    ``[economy] exit_hazard_by_age`` gives the surveyed yearly hazard of years 1, 2, ... and
    ``exit_hazard_after`` the hazard of the years after them (both per cent)."""
    eco = m.city["economy"]
    after = float(eco["exit_hazard_after"])
    return np.append(np.asarray(eco["exit_hazard_by_age"], float), after) / after


def step(m) -> None:
    f, p, rng = m.firms, m.p, m.rng
    fl = m.flows_q
    a = f.alive
    wage_bill = f.employees * m.city_wage() * (0.85 + 0.5 * f.tech) / 4.0
    sme = f.size_class != SizeClass.LEADER
    discount = m.policy.level("credit.interest_discount") * sme
    interest = f.debt * (p["interest_rate"] - discount) / 4.0
    discount_paid = (f.debt * discount / 4.0)[a].sum()
    m.spend("preferential_credit", discount_paid)
    tax = p["local_tax_rate"] * f.value_added
    profit = f.value_added - wage_bill - (f.rd_spend - f.rd_subsidy) - interest - tax
    f.profit[:] = np.where(a, profit, 0.0)
    f.cash += f.profit
    m.tax_by_district = group_sum(f.district[a].astype(np.int64), tax[a], m.n_districts)
    fl["tax_revenue"] = m.tax_by_district.sum()
    fl["firm_value_added"] = f.value_added[a].sum()
    fl["wage_bill"] = wage_bill[a].sum()
    fl["rd_spending"] = f.rd_spend[a].sum()
    fl["rd_subsidies"] = f.rd_subsidy[a].sum()
    fl["interest_paid"] = interest[a].sum()
    fl["interest_discount"] = discount_paid
    fl["firm_profit"] = f.profit[a].sum()
    # credit
    limit = credit_limit(m)
    short = a & (f.cash < 0)
    borrow = np.where(short, np.minimum(-f.cash, np.maximum(0.0, limit - f.debt)), 0.0)
    f.debt += borrow
    f.cash += borrow
    # cash management: repay from cash above the buffer, then release the rest if profitable
    buffer = cash_buffer(m, f.sales)
    spare = a & (f.cash > buffer) & (f.debt > 0)
    repay = np.where(spare, np.minimum(f.debt, p["debt_repayment_share"] * (f.cash - buffer)), 0.0)
    f.debt -= repay
    f.cash -= repay
    surplus = np.where(a & (f.profit > 0), np.maximum(0.0, f.cash - buffer), 0.0)
    f.cash -= surplus
    payout = p["payout_ratio"] * surplus
    fl["new_borrowing"] = borrow.sum()
    fl["debt_repayment"] = repay.sum()
    fl["payouts"] = payout.sum()
    fl["investment"] = (surplus - payout).sum()
    # employment toward 90% capacity use
    per_employee = np.where(f.employees > 0, f.capacity / np.maximum(f.employees, 1e-9), m.productivity())
    target = f.sales / (p["target_utilisation"] * np.maximum(per_employee, 1.0))
    adjust = p["employment_adjustment"]
    f.employees[:] = np.where(a, np.maximum(1.0, f.employees + adjust * (target - f.employees)), f.employees)
    # exit: insolvency, or the random hazard by size and year of life
    yearly = np.where(f.above_scale, p["exit_rate_above_scale"], p["exit_rate_small"])
    profile = age_profile(m)
    yearly = yearly * profile[np.minimum(f.age // 4, profile.size - 1)]
    hazard = 1.0 - (1.0 - np.minimum(yearly, 1.0)) ** 0.25
    hazard = hazard * np.where(f.size_class == SizeClass.LEADER, m.city["economy"]["leader_exit_hazard_factor"], 1.0)
    insolvent = a & (f.cash < 0)
    exits = a & (insolvent | (rng.random(len(f)) < hazard))
    remove_firms(m, np.flatnonzero(exits))
    f.age[f.alive] += 1


def remove_firms(m, idx: np.ndarray) -> None:
    """Firms leave the market: their staff become job seekers, their Mesa agents are removed, the orders
    an anchor brought leave with it, and what they hold is booked as ``exit_cash`` / ``exit_debt``."""
    f = m.firms
    idx = np.asarray(idx, np.int64)
    m.flows_q["exit_cash"] += f.cash[idx].sum()
    m.flows_q["exit_debt"] += f.debt[idx].sum()
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
