"""Money and firm life (issue 22): the ledger adds up, cash is managed to a buffer, anchors' orders leave
with them, entrants' exit hazard by age stays in the surveyed range, housing prices have a floor and no
non-finite number enters a utility or a table."""

import numpy as np
import pandas as pd
import pytest

import sim
from sim.behaviour import finance, labour
from sim.state.constants import Loc
from sim.state.records import LEDGER

# a package that makes every ledger flow happen: credit discount, grants, moves, training, 产学研, anchors
BUSY = {"preferential_credit": 0.03, "digital_grant_budget": 200_000_000.0, "weak_link_incentive": 100_000_000.0,
        "in_house_cultivation": 0.5, "iur_platform_strength": 1.0, "anchor_attraction_budget": 400_000_000.0,
        "anchor_cost": 100_000_000.0, "rd_subsidy_rate": 0.2}


def _numbers(table: pd.DataFrame) -> pd.DataFrame:
    return table.select_dtypes("number")


@pytest.fixture(scope="module")
def busy():
    return sim.run_scenario(sim.default_config().with_overrides(BUSY, quarters=16), seed=4)


def test_the_money_ledger_adds_up_every_quarter(busy):
    c = _numbers(busy.city)
    for name in (*LEDGER, "tax_revenue", "firm_cash", "firm_debt", "fiscal_balance"):
        assert name in c, name
    flows = c.iloc[1:]
    assert (flows[list(LEDGER)].abs().max() > 0).all(), "every flow happens at least once in this package"
    d = c.diff().iloc[1:]
    scale = c["firm_cash"].abs().max()
    own_spending = flows[["firm_digital_spending", "firm_switch_spending", "firm_training_spending",
                          "firm_iur_spending"]].sum(axis=1)
    cash = (flows["firm_profit"] + flows["new_borrowing"] - flows["debt_repayment"] - flows["payouts"]
            - flows["investment"] - own_spending + flows["entrant_capital"] - flows["exit_cash"])
    assert np.allclose(d["firm_cash"], cash, rtol=0, atol=1e-9 * scale)
    debt = flows["new_borrowing"] - flows["debt_repayment"] + flows["entrant_debt"] - flows["exit_debt"]
    assert np.allclose(d["firm_debt"], debt, rtol=0, atol=1e-9 * scale)
    profit = (flows["firm_value_added"] - flows["wage_bill"] - (flows["rd_spending"] - flows["rd_subsidies"])
              - flows["interest_paid"] - flows["tax_revenue"])
    assert np.allclose(flows["firm_profit"], profit, rtol=0, atol=1e-9 * scale)
    assert np.allclose(d["fiscal_balance"], flows["government_income"] - flows["spending_total"],
                       rtol=0, atol=1e-9 * scale)
    # the government's side of the paid flows is the lever spending booked for them
    assert np.allclose(flows["interest_discount"], flows["spending_preferential_credit"])
    assert np.allclose(flows["rd_subsidies"], flows["spending_rd_subsidy_rate"])


def test_net_fiscal_balance_is_tax_minus_programme_spending(busy):
    s = busy.summary()
    c = busy.city
    assert s["net_fiscal_balance_total"] == pytest.approx(c["tax_revenue"].sum() - c["spending_total"].sum())
    quo_run = sim.run_scenario(sim.default_config().with_overrides({}, quarters=16), seed=4)
    quo = quo_run.summary()
    extra_tax = c["tax_revenue"].sum() - quo_run.city["tax_revenue"].sum()
    extra_spending = s["spending_total"] - quo["spending_total"]
    assert extra_spending > 0 and extra_tax != 0
    assert s["net_fiscal_balance_total"] - quo["net_fiscal_balance_total"] == pytest.approx(extra_tax - extra_spending)


def _end_cash(overrides, seed=2, quarters=16):
    m = sim.ClusterModel(rng=seed, quarters=quarters, record="city", **overrides)
    while m.running:
        m.step()
    f = m.firms
    a = f.alive & (f.sales > 0)
    return m, f.cash[a] / (4.0 * f.sales[a])


@pytest.mark.parametrize("buffer", [0.10, 0.25])
def test_cash_is_kept_near_its_buffer_instead_of_piling_up(buffer):
    m, ratio = _end_cash({"cash_buffer_to_revenue": buffer})
    assert np.median(ratio) == pytest.approx(buffer, rel=0.05)
    # v2: cash only grew (0.10 -> 0.56 of revenue on average, 6x at most); now profitable firms release the excess
    assert np.quantile(ratio, 0.95) < 1.5 * buffer and ratio.mean() < 1.2 * buffer
    c = m.recorder.city
    assert sum(c["payouts"]) > 0 and sum(c["investment"]) > 0


def test_payout_ratio_splits_the_surplus_between_owners_and_investment():
    """Paired seeds at the ends of payout_ratio: the same surplus leaves the firms, split differently."""
    low, _ = _end_cash({"payout_ratio": 0.2}, quarters=8)
    high, _ = _end_cash({"payout_ratio": 0.5}, quarters=8)
    lo, hi = low.recorder.city, high.recorder.city
    for c, ratio in ((lo, 0.2), (hi, 0.5)):
        released = np.add(c["payouts"], c["investment"])
        assert np.allclose(np.asarray(c["payouts"]), ratio * released)
    # the split does not feed back within the quarter it is paid: the first quarter's surplus is the same
    assert lo["payouts"][1] + lo["investment"][1] == pytest.approx(hi["payouts"][1] + hi["investment"][1])
    assert sum(hi["payouts"]) > 2 * sum(lo["payouts"])


def test_anchor_orders_are_recorded_and_leave_with_the_anchor():
    m = sim.ClusterModel(rng=1, quarters=12, anchor_attraction_budget=600_000_000.0, anchor_cost=50_000_000.0)
    demand0 = m.demand.copy()
    grow = (1.0 + m.demand_growth) ** 0.25
    for _ in range(8):
        m.step()
    f = m.firms
    anchors = np.flatnonzero(f.anchor & f.alive)
    assert anchors.size >= 10 and (f.anchor_orders[anchors] > 0).all()

    def brought(rows):
        out = np.zeros_like(m.demand)
        np.add.at(out, (f.cluster[rows], f.anchor_segment[rows]), f.anchor_orders[rows])
        for seg, share in enumerate(m.prog["anchor_input_split"]):
            np.add.at(out, (f.cluster[rows], np.full(rows.size, seg)), share * f.anchor_inputs[rows])
        return out

    # demand = the start demand grown + what the alive anchors brought (grown since they landed)
    base = demand0 * (grow ** m.quarter)[:, None]
    assert np.allclose(m.demand, base + brought(anchors), rtol=1e-9)
    gone = anchors[:3]
    before = m.demand.copy()
    expected = before - brought(gone)
    finance.remove_firms(m, gone)
    assert np.allclose(m.demand, expected, rtol=1e-12)
    assert (f.anchor_orders[gone] == 0).all() and (f.anchor_inputs[gone] == 0).all()
    assert (m.demand < before - 1.0).any()
    left = np.flatnonzero(f.anchor & f.alive & (f.anchor_orders > 0))
    assert np.allclose(m.demand, base + brought(left), rtol=1e-9)


def _age_hazard(ppa: int, seeds, quarters=40, years=9):
    """Entrants' exit hazard by year of life (exits / firm-years at risk), pooled over ``seeds``."""
    at_risk, exits = np.zeros(years), np.zeros(years)
    for seed in seeds:
        m = sim.ClusterModel(rng=seed, quarters=quarters, persons_per_agent=ppa, record="city")
        while m.running:
            m.step()
        f = m.firms
        new = np.flatnonzero(f.entered >= 1)
        life = np.where(f.alive, m.quarter, f.exited)[new] - f.entered[new]  # quarters in the market
        for y in range(years):
            at_risk[y] += np.clip(life - 4 * y, 0, 4).sum() / 4.0
        out = ~f.alive[new]
        year = np.minimum((life[out] - 1) // 4, years - 1)
        exits += np.bincount(year, minlength=years)[:years]
    return exits / np.maximum(at_risk, 1e-9)


# The SAIC survey of enterprise survival (configs/city.toml [economy] exit_hazard_by_age): 1.6% in the
# founding year, 6.3% in the 2nd, 9.5% in the 3rd, above 8% to the 7th; 5-year survival ~0.71.
# Before issue 22's resolution fix, entrants needing less than one talent agent at the default 10 persons
# per agent often got none, produced at ~40% and failed in years 3-5 (measured 22-39%/yr): this test
# catches that. With staff in whole persons and exit_rate_small 0.07 (seeds 1-6): 1.0, 6.9, 9.1, 7.2,
# 7.8, 7.0, 7.4 %/yr in years 1-7, 5-year survival 0.72 (survey ~0.71).
AGE_TEST_PPA = 10  # the default: staff are whole persons at any resolution since issue 22


def test_entrants_exit_hazard_by_age_stays_in_the_surveyed_range():
    h = _age_hazard(AGE_TEST_PPA, seeds=(1, 2, 3, 4, 5, 6))
    assert h[0] <= 0.04  # start capital carries the first year (survey 1.6%)
    assert h[0] < 0.5 * h[2:7].mean()  # the hazard rises into the bottleneck years 3-7 (survey: 1.6 vs 8-9.5) ...
    assert 0.05 <= h[2:7].mean() <= 0.12  # ... where the survey has 8-9.5% a year
    assert h.max() <= 0.15  # no year of life near v2's 23%/yr
    survival_5y = np.prod(1.0 - h[:5])
    assert 0.60 <= survival_5y <= 0.85  # survey ~0.71


def test_random_exit_hazard_follows_the_surveyed_age_profile():
    m = sim.ClusterModel(rng=1, quarters=1)
    profile = finance.age_profile(m)
    eco = m.city["economy"]
    assert profile[-1] == 1.0 and profile.size == len(eco["exit_hazard_by_age"]) + 1
    assert profile[0] < 0.5 and profile.argmax() == 2  # safest in the founding year, the peak in year 3


def test_housing_price_has_a_floor_and_utilities_stay_finite():
    m = sim.ClusterModel(rng=1, quarters=4)
    m.step()
    f = m.firms
    district = int(np.argmax(m._district_jobs()))
    gone = np.flatnonzero(f.alive & (f.district == district))
    finance.remove_firms(m, gone)  # the district loses every job
    m._update_housing()
    price = m.layer_values("housing_price")[m.cell_district == district]
    assert np.allclose(price, m.p["housing_price_floor"])  # v2: 0, and log(0) made staying worth +inf
    t = m.talent
    here = np.flatnonzero(t.loc == Loc.CITY)
    u = labour._utilities(m, here, np.zeros(here.size, bool))
    assert np.isfinite(u).all()
    m.step()  # and the model goes on
    assert np.isfinite(m.layer_values("housing_price")).all()


def _check_finite(m, label: str) -> None:
    res = m.result()
    for name, table in (("city", res.city), ("clusters", res.clusters), ("districts", res.districts)):
        num = _numbers(table)
        values = num.to_numpy(float)
        assert not np.isinf(values).any(), f"{label}: infinite value in {name}"
        nan_cols = set(num.columns[np.isnan(values).any(axis=0)])
        # NaN means "not defined" in exactly two documented places: retention in a quarter without
        # graduates, and cost per retained graduate before anybody was retained
        assert nan_cols <= {"graduate_retention", "cost_per_retained_graduate"}, f"{label}: NaN in {name}: {nan_cols}"
        if "graduate_retention" in nan_cols:
            assert (table.loc[table["graduate_retention"].isna(), "graduates"] == 0).all(), label
        if "cost_per_retained_graduate" in nan_cols:
            assert (table.loc[table["cost_per_retained_graduate"].isna(), "graduates_retained"] == 0).all(), label
    t = m.talent
    here = np.flatnonzero(t.loc == Loc.CITY)
    for new_grad in (False, True):
        u = labour._utilities(m, here, np.full(here.size, new_grad))
        assert np.isfinite(u).all(), f"{label}: non-finite utility"


def _run_short(label: str, overrides: dict, quarters: int = 6) -> None:
    m = sim.ClusterModel(config=sim.default_config().with_overrides(overrides, quarters=quarters), rng=1)
    while m.running:
        m.step()
    _check_finite(m, label)


@pytest.mark.slow
def test_no_non_finite_values_at_the_ends_of_every_range():
    """Every uncertainty and fact at its min and at its max (one at a time), every lever at its max."""
    cfg = sim.default_config()
    for kind in ("uncertainties", "facts", "levers"):
        for name in cfg.names(kind):
            spec = cfg.schema[name]
            ends = (spec.high,) if kind == "levers" else (spec.low, spec.high)
            for value in ends:
                _run_short(f"{name}={value}", {name: value})


@pytest.mark.slow
def test_no_non_finite_values_with_the_most_extreme_posterior_particles(repo_root):
    post = pd.read_parquet(repo_root / "configs/posterior.parquet")
    params = [c for c in post.columns if c != "weight"]
    rows = sorted({int(post[c].idxmin()) for c in params} | {int(post[c].idxmax()) for c in params})
    for row in rows:
        particle = {c: float(post.loc[row, c]) for c in params}
        _run_short(f"posterior particle {row}", particle, quarters=8)
