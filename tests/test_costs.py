"""Costs before running (app.budget.lever_cost): each lever's yearly cost from its cost rule, checked
against the model's own spending records of short real runs; the page shows it beside each lever and
the budget tab shows the setting's cost against the ceiling before any step."""

from __future__ import annotations

import pytest
import solara

import sim
from app import budget
from app.state import lever_defaults

QUARTERS = budget.BASIS_QUARTERS  # two years, as the estimate
SEED = 2  # not the basis run's seed: the check is against a run the estimate has not seen


def spent_per_year(levers: dict, seed: int = SEED) -> dict[str, float]:
    """Yuan per year each lever cost in a short real run (the city table's spending records)."""
    cfg = sim.load_config().with_overrides(levers, quarters=QUARTERS)
    city = sim.run_scenario(cfg, seed=seed, record="city+clusters").city
    flows = city[city["quarter"] > 0]
    return {c.removeprefix("spending_"): float(flows[c].sum()) * 4 / len(flows)
            for c in flows.columns if c.startswith("spending_")}


def schema():
    return sim.default_config().schema


def test_rules_without_uptake_equal_the_cost_rule_and_a_real_run():
    """Budgets cost themselves; programmes the lever times their running cost at full strength."""
    setting = {**lever_defaults(), "anchor_attraction_budget": 2e8, "digital_infrastructure_investment": 1.2e8,
               "city_coordination": 0.7, "data_sharing_centre": 0.4, "benchmark_programme": 1.0,
               "industry_education_consortium": 0.55, "resource_sharing_platform": 0.25}
    spent = spent_per_year(setting)
    values = {n: p.default for n, p in schema().items()}
    checked = 0
    for name, value in setting.items():
        cost = schema()[name].cost
        if cost["kind"] not in ("budget", "programme"):
            continue
        est = budget.lever_cost(name, value, setting)
        rule = value if cost["kind"] == "budget" else value * values[cost["parameter"]]
        assert est.exact and est.low == pytest.approx(rule, rel=1e-12), name
        assert spent[name] == pytest.approx(est.low, rel=1e-9), name
        checked += 1
    kinds = [p.cost["kind"] for p in schema().values() if p.kind == "levers"]
    assert checked == kinds.count("budget") + kinds.count("programme") == 7  # every one of parameters.toml


@pytest.mark.parametrize("name, value, extra", [
    ("rd_subsidy_rate", 0.24, {}),
    ("rd_subsidy_rate", 0.30, {}),
    ("talent_settlement_subsidy", 100_000.0, {}),
    ("in_house_cultivation", 1.0, {}),
    ("preferential_credit", 0.01, {}),
    ("iur_platform_strength", 1.0, {}),
    ("digital_grant_budget", 3e8, {"digital_grant_cost_share": 0.6}),
    ("weak_link_incentive", 2e8, {}),
])
def test_uptake_ranges_hold_a_real_runs_spending(name, value, extra):
    setting = {**lever_defaults(), **extra, name: value}
    est = budget.lever_cost(name, value, setting)
    spent = spent_per_year(setting)[name]
    assert not est.exact and est.low <= spent <= est.high, (name, est.low, spent, est.high)
    assert est.low <= est.central <= est.high


def test_the_status_quo_costs_what_it_spent():
    """At the status quo the uptake is the basis run's: every estimate is exact and they sum to it."""
    d = lever_defaults()
    low, high = budget.package_cost(d)
    assert low == pytest.approx(high)
    assert low == pytest.approx(spent_per_year(d, seed=budget.BASIS_SEED)["total"], rel=1e-9)


def test_rd_subsidy_cost_is_several_yi_a_year_not_one():
    """Issue 25 said a 24 % R&D subsidy costs ~0.8-1.2亿 a year; the model spends several 亿 (firms'
    R&D is ~23亿 a year, and rises with the rate)."""
    est = budget.lever_cost("rd_subsidy_rate", 0.24)
    assert est.low > 5e8 and est.high < 9e8
    assert spent_per_year({**lever_defaults(), "rd_subsidy_rate": 0.24})["rd_subsidy_rate"] > 5e8


def test_cost_words_in_both_languages():
    rd = budget.lever_cost("rd_subsidy_rate", 0.24)
    en, zh = budget.cost_text(rd, "en"), budget.cost_text(rd, "zh")
    assert en.startswith("Cost ") and "–" in en and en.endswith("million yuan/yr")
    assert zh.startswith("年度成本 ") and zh.endswith("万元/年")
    bench = budget.lever_cost("benchmark_programme", 1.0)
    assert budget.cost_text(bench, "en") == "Cost ≈ 20 million yuan/yr"
    assert budget.cost_text(bench, "zh", bare=True) == "≈ 2,000 万元/年"
    share = budget.lever_cost("digital_grant_cost_share", 0.5)
    assert not share.own and "grant budget" in budget.cost_text(share, "en")


def test_ceiling_verdicts():
    assert budget.ceiling_verdict(1e8, 2e8, 5e8) == "budget_within"
    assert budget.ceiling_verdict(4e8, 6e8, 5e8) == "budget_may_exceed"
    assert budget.ceiling_verdict(6e8, 7e8, 5e8) == "budget_exceeds"


def test_levers_and_budget_tab_show_costs_before_any_step():
    from app.controls import LeverPanel
    from app.state import Session
    try:
        from tests.test_app import one, texts
    except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
        from test_app import one, texts

    setting = {**lever_defaults(), "rd_subsidy_rate": 0.24}
    tab = solara.reactive(1)  # the second tab: group 2 (cultivate high-level industry) holds the R&D subsidy rate
    box, rc = solara.render(LeverPanel(setting, lambda *a: None, "en", group_tab=tab), handle_error=False)
    try:
        shown = texts(one(box, "lever-rd_subsidy_rate"))
        assert budget.cost_text(budget.lever_cost("rd_subsidy_rate", 0.24, setting), "en") in shown
    finally:
        rc.close()
    snap = Session(1, setting).snapshot()  # quarter 0: nothing spent yet
    box, rc = solara.render(budget.BudgetPanel(snap, 5e8, lambda v: None, "zh"), handle_error=False)
    try:
        line = " ".join(texts(one(box, "budget-before")))
        low, high = budget.package_cost(setting)
        assert f"{low / 1e4:,.0f}"[:3] in line and "上限 50,000 万元/年" in line and "超过上限" in line
        assert "研发" in " ".join(texts(one(box, "budget-costs-box")))
    finally:
        rc.close()
