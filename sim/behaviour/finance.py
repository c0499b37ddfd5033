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

from sim.state.compiled import kernel, pairwise_sum
from sim.state.constants import SizeClass


def credit_limit(m) -> np.ndarray:
    f = m.firms
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
    # exit hazards per (size class above scale?, year of life, leader?), by numpy's power
    profile = age_profile(m)
    yearly = np.array([p["exit_rate_small"], p["exit_rate_above_scale"]])[:, None] * profile[None, :]
    hazard = 1.0 - (1.0 - np.minimum(yearly, 1.0)) ** 0.25
    hazard = hazard[:, :, None] * np.array([1.0, m.city["economy"]["leader_exit_hazard_factor"]])[None, None, :]
    sums, tax_by_district, exits = _accounts(
        f.alive, f.employees, f.tech, f.size_class, f.debt, f.cash, f.value_added, f.rd_spend, f.rd_subsidy, f.sales,
        f.capacity, f.profit, f.district, f.above_scale, f.age, credit_limit(m), cash_buffer(m, f.sales), hazard,
        rng.random(len(f)), m.n_districts, m.city_wage(), m.policy.level("credit.interest_discount"),
        p["interest_rate"], p["local_tax_rate"], p["debt_repayment_share"], p["payout_ratio"], m.productivity(),
        p["target_utilisation"], p["employment_adjustment"])
    m.spend("preferential_credit", sums[DISCOUNT])
    m.tax_by_district = tax_by_district
    for name, j in FLOWS.items():
        fl[name] = sums[j]
    remove_firms(m, exits)
    f.age[f.alive] += 1


# the quarter's sums _accounts returns (yuan): the ledger's flows (sim.state.records.LEDGER), by index
FLOWS = {"tax_revenue": 0, "firm_value_added": 1, "wage_bill": 2, "rd_spending": 3, "rd_subsidies": 4,
         "interest_paid": 5, "interest_discount": 6, "firm_profit": 7, "new_borrowing": 8, "debt_repayment": 9,
         "payouts": 10, "investment": 11}
DISCOUNT, N_FLOWS = FLOWS["interest_discount"], len(FLOWS)
WAGE_LEVEL, WAGE_TECH = 0.85, 0.5  # a firm's wage level = city wage x (WAGE_LEVEL + WAGE_TECH x technology)


@kernel
def _accounts(alive, employees, tech, size_class, debt, cash, value_added, rd_spend, rd_subsidy, sales, capacity,
              profit, district, above_scale, age, limit, buffer, hazard, u_exit, n_districts, city_wage, discount_rate,
              interest_rate, tax_rate, repayment_share, payout_ratio, productivity, utilisation, adjustment):
    """The quarter's accounts of every firm (module docstring): profit after wages, net R&D, interest
    (SMEs get the discount) and local tax; credit up to the limit when cash is short; cash above the
    buffer repays debt, and of what remains a profitable firm pays out ``payout_ratio`` and invests the
    rest; employment moves toward the target use of capacity; exits by insolvency or the random
    hazard (``hazard[above scale, year of life, leader]`` a quarter, ``u_exit`` the uniforms).
    Returns (the ledger's sums, in FLOWS order; local tax by district; the rows that exit). The sums
    add in numpy's order (``pairwise_sum``): the flows of the alive firms, the credit and cash flows
    over every row (zero for the others), the tax over the districts."""
    n = alive.size
    per_alive = np.zeros((8, n))  # value added, wages, R&D, subsidies, interest, discount, profit (alive rows)
    per_row = np.zeros((4, n))  # borrowing, repayment, payouts, investment (every row)
    k = 0
    tax_by_district = np.zeros(n_districts)
    exits = np.zeros(n, np.bool_)
    for i in range(n):
        a = alive[i]
        wage_bill = employees[i] * city_wage * (WAGE_LEVEL + WAGE_TECH * tech[i]) / 4.0
        discount = discount_rate * (1.0 if size_class[i] != LEADER else 0.0)
        interest = debt[i] * (interest_rate - discount) / 4.0
        discount_paid = debt[i] * discount / 4.0
        tax = tax_rate * value_added[i]
        p = value_added[i] - wage_bill - (rd_spend[i] - rd_subsidy[i]) - interest - tax
        profit[i] = p if a else 0.0
        cash[i] += profit[i]
        borrow = min(-cash[i], max(0.0, limit[i] - debt[i])) if a and cash[i] < 0 else 0.0
        debt[i] += borrow
        cash[i] += borrow
        repay = (min(debt[i], repayment_share * (cash[i] - buffer[i]))
                 if a and cash[i] > buffer[i] and debt[i] > 0 else 0.0)
        debt[i] -= repay
        cash[i] -= repay
        surplus = max(0.0, cash[i] - buffer[i]) if a and profit[i] > 0 else 0.0
        cash[i] -= surplus
        payout = payout_ratio * surplus
        per_row[0, i], per_row[1, i], per_row[2, i], per_row[3, i] = borrow, repay, payout, surplus - payout
        per_employee = capacity[i] / max(employees[i], MIN_EMPLOYEES) if employees[i] > 0 else productivity
        target = sales[i] / (utilisation * max(per_employee, 1.0))
        if a:
            employees[i] = max(1.0, employees[i] + adjustment * (target - employees[i]))
            tax_by_district[district[i]] += tax
            per_alive[0, k], per_alive[1, k], per_alive[2, k], per_alive[3, k] = (value_added[i], wage_bill,
                                                                                  rd_spend[i], rd_subsidy[i])
            per_alive[4, k], per_alive[5, k], per_alive[6, k] = interest, discount_paid, profit[i]
            k += 1
            year = min(age[i] // 4, hazard.shape[1] - 1)
            exits[i] = cash[i] < 0 or u_exit[i] < hazard[1 if above_scale[i] else 0, year,
                                                           1 if size_class[i] == LEADER else 0]
    sums = np.empty(N_FLOWS)
    sums[0] = pairwise_sum(tax_by_district, 0, n_districts)
    for j in range(7):
        sums[1 + j] = pairwise_sum(per_alive[j], 0, k)
    for j in range(4):
        sums[8 + j] = pairwise_sum(per_row[j], 0, n)
    return sums, tax_by_district, np.flatnonzero(exits)


MIN_EMPLOYEES = 1e-9  # (guards a division)
LEADER = int(SizeClass.LEADER)


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
