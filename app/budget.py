"""Budget view: government spending per quarter and per year by lever, against a ceiling the
facilitator sets; cost per retained graduate and per energy level climbed (also against the
status quo with the same seed, when the run differs from it).

All money is read from the run's city table (``spending_<lever>``, yuan per quarter) and shown in
万元 (Chinese) or million yuan (English).
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd
import solara

from app import a11y, charts
from app.compare import fmt, outcomes, significant_digits
from app.i18n import Lang, lever_label, money_unit, t
from app.state import CEILING_MAX, CEILING_MIN, Snapshot, check_ceiling

DEFAULT_CEILING = 500_000_000.0  # yuan per year (5亿元): a starting value the facilitator changes


# ------------------------------------------------------------------------------- costs before running
BASIS_QUARTERS = 8  # the status-quo run whose records give the uptake a cost rule needs (two years)
BASIS_SEED = 1  # app.state.DEFAULT_SEED


@dataclass(frozen=True)
class CostBasis:
    """What the cost rules need of the status quo, per year over its first :data:`BASIS_QUARTERS`
    quarters (the model's own records, ``city`` table of a status-quo run with seed :data:`BASIS_SEED`):
    firms' R&D spending, graduates and those staying, engineers enrolled in in-house training (yuan and
    persons per year), the firms' debt at the start (yuan), the 产学研 co-funding and the digital grants
    paid (yuan per year)."""

    rd_spending: float
    graduates: float
    stayers: float
    enrolled: float
    firm_debt: float
    iur_paid: float
    grants_paid: float


_BASIS_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _basis() -> CostBasis:
    import sim

    cfg = sim.default_config().with_overrides({}, quarters=BASIS_QUARTERS)
    city = sim.run_scenario(cfg, seed=BASIS_SEED, record="city+clusters").city
    flows = city[city["quarter"] > 0]
    per_year = lambda name: float(flows[name].sum()) * 4.0 / len(flows)  # noqa: E731
    v = _values()
    programme = v["iur_platform_strength"] * v[_schema()["iur_platform_strength"].cost["parameter"]]
    return CostBasis(rd_spending=per_year("rd_spending"), graduates=per_year("graduates"),
                     stayers=per_year("graduates_retained"), enrolled=per_year("training_enrolled"),
                     firm_debt=float(city["firm_debt"].iloc[0]),
                     iur_paid=max(per_year("spending_iur_platform_strength") - programme, 0.0),
                     grants_paid=per_year("spending_digital_grant_budget"))


def cost_basis() -> CostBasis:
    """The status quo's uptake (:class:`CostBasis`), measured once per process (a two-year run, about
    0.2 s once the model is compiled); the server measures it as it starts (``app.page.warm_server``)."""
    with _BASIS_LOCK:
        return _basis()


@lru_cache(maxsize=1)
def _schema() -> dict:
    import sim

    return sim.default_config().schema


@lru_cache(maxsize=1)
def _values() -> dict:
    """Every parameter's status-quo value (levers, uncertainties, facts) and the city's programme figures."""
    import sim

    cfg = sim.default_config()
    return {**{n: p.default for n, p in cfg.schema.items()}, **cfg.city["programmes"]}


@dataclass(frozen=True)
class CostEstimate:
    """A lever's yearly cost at a setting (yuan per year): ``low`` … ``high`` (equal where the cost rule
    needs no uptake), ``central`` the rule at the status quo's uptake and the config's values, ``basis``
    the i18n key saying what the range rests on, ``own`` False where the lever has no cost of its own."""

    lever: str
    low: float
    high: float
    central: float
    basis: str
    own: bool = True

    @property
    def exact(self) -> bool:
        return math.isclose(self.low, self.high, rel_tol=1e-9, abs_tol=1e-6)


def lever_cost(name: str, value: float, levers: Mapping[str, float] | None = None) -> CostEstimate:
    """The yearly cost of lever ``name`` at ``value`` from its cost rule (``cost`` in
    configs/parameters.toml, :data:`sim.inputs.config.COST_KINDS`) and, where it depends on uptake,
    the status quo's uptake (:func:`cost_basis`) with the model's response where it has a rule for it:

    * ``budget``: the value itself, booked in full each quarter; ``programme``: the value times the
      running cost at full strength (its uncertainty's config value); ``none``: nothing of its own.
    * R&D subsidy rate s: s x firms' R&D, which rises by ``rd_elasticity`` e per unit of s / (1 − s)
      (sim.behaviour.innovation); the status quo's R&D deflated to s = 0, e over its uncertainty range.
    * talent settlement subsidy: the subsidy x graduates who stay: as many as in the status quo up to
      all graduates (more stay when it rises; fewer when it falls, down to none).
    * in-house cultivation: the share x the training cost x engineers enrolled, the status quo's
      enrolment moved by the uptake rule ``exp(-training_cost_sensitivity x net cost / (success x wage))``
      (sim.behaviour.labour) at the start's wage (an upper estimate: firms' cash caps enrolment).
    * preferential credit: the discount x SMEs' debt: up to the discount x all firms' debt at the start.
    * weak-link incentive: up to the budget (half of each funded move). Digital grants: up to the
      budget, from the status quo's grants scaled by the cost share. The grant's cost share pays out of
      the grant budget (no cost of its own).
    * 产学研 platform: the running cost x strength plus the co-funding of running projects: the status
      quo's, scaled by the strength (the co-funded share) and, for the high end, by the chance of a new
      project ``1 + iur_match_gain x strength``.
    """
    spec = _schema()[name]
    kind = spec.cost["kind"]
    v = float(value)
    p = _values()
    v0 = float(spec.default)
    levers = dict(levers or {})

    def fixed(x: float, basis: str, own: bool = True) -> CostEstimate:
        return CostEstimate(name, x, x, x, basis, own)

    def ranged(a: float, b: float, central: float, basis: str) -> CostEstimate:
        return CostEstimate(name, min(a, b), max(a, b), central, basis)

    if kind == "none":
        return fixed(0.0, "cost_none", own=False)
    if kind == "budget":
        return fixed(v, "cost_budget")
    if kind == "programme":
        return fixed(v * p[spec.cost["parameter"]], "cost_programme")
    b = cost_basis()
    if name == "rd_subsidy_rate":
        e0, lo, hi = p["rd_elasticity"], _schema()["rd_elasticity"].low, _schema()["rd_elasticity"].high
        # the status quo's R&D without its subsidy's response, then with the response to v (same e)
        cost = lambda e: v * b.rd_spending * (1.0 + e * v / (1.0 - v)) / (1.0 + e * v0 / (1.0 - v0))  # noqa: E731
        return ranged(cost(lo), cost(hi), cost(e0), "cost_rd")
    if name == "talent_settlement_subsidy":
        stay = v * b.stayers  # at the status quo's subsidy exactly what it paid
        return ranged(stay, stay if v == v0 else v * b.graduates if v > v0 else 0.0, stay, "cost_talent")
    if name == "in_house_cultivation":
        c = p["training_cost_per_person"]
        moved = math.exp(p["training_cost_sensitivity"] * c * (v - v0) / (p["training_success_rate"] * p["wage_qinhuangdao"]))
        now = v * c * b.enrolled
        return ranged(now, now * moved, now * moved, "cost_training")
    if name == "preferential_credit":
        return ranged(0.0, v * b.firm_debt, v * b.firm_debt, "cost_credit")
    if name == "weak_link_incentive":
        return ranged(0.0, v, v, "cost_up_to_budget")
    if name == "digital_grant_budget":
        share = float(levers.get("digital_grant_cost_share", _schema()["digital_grant_cost_share"].default))
        share0 = float(_schema()["digital_grant_cost_share"].default)
        asked = b.grants_paid * (share / share0 if share0 > 0 else 1.0)
        if v == v0 and share == share0:  # the status quo: what it paid
            return ranged(asked, asked, asked, "cost_grants")
        return ranged(min(v, asked), v, min(v, asked), "cost_grants")
    if name == "digital_grant_cost_share":
        return fixed(0.0, "cost_from_grant_budget", own=False)
    if name == "iur_platform_strength":
        running = v * p[spec.cost["parameter"]]
        same = b.iur_paid * (v / v0 if v0 > 0 else 0.0)
        more = same * (1.0 + p["iur_match_gain"] * v) / (1.0 + p["iur_match_gain"] * v0)
        return ranged(running + same, running + more, running + same, "cost_iur")
    raise KeyError(f"lever_cost: no cost rule for lever {name!r} of kind {kind!r}")


def package_cost(levers: Mapping[str, float]) -> tuple[float, float]:
    """The yearly cost of a whole setting (yuan per year): the sums of the levers' low and high ends."""
    est = [lever_cost(n, v, levers) for n, v in levers.items() if n in _schema() and _schema()[n].kind == "levers"]
    return sum(e.low for e in est), sum(e.high for e in est)


def cost_text(est: CostEstimate, lang: Lang, bare: bool = False) -> str:
    """A lever's yearly cost as shown beside it: "Cost ≈ 1,200 万元/年" (exact) or "Cost 1,200–3,400
    万元/年" (a range: uptake); ``bare`` without the word "Cost" (the budget tab's table)."""
    if not est.own:
        return t(est.basis, lang)
    label, div = money_unit("year", lang)
    digits = lambda x: significant_digits(x / div, 0)  # noqa: E731
    if est.exact:
        v = fmt(est.low / div, digits(est.low))
        return f"≈ {v} {label}" if bare else t("cost_exact", lang, v=v, unit=label)
    lo, hi = fmt(est.low / div, digits(est.high)), fmt(est.high / div, digits(est.high))
    return f"{lo}–{hi} {label}" if bare else t("cost_range", lang, lo=lo, hi=hi, unit=label)


def yearly_by_lever(city: pd.DataFrame) -> pd.DataFrame:
    """Spending (yuan) per calendar year (columns) and lever (rows); quarter 0 (the start) excluded."""
    flows = city[city["quarter"] > 0]
    cols = [c for c in flows.columns if c.startswith("spending_") and c != "spending_total"]
    if not len(flows):
        return pd.DataFrame(index=[c.removeprefix("spending_") for c in cols])
    years = flows["period"].str[:4]
    table = flows[cols].groupby(years).sum().T
    table.index = [c.removeprefix("spending_") for c in table.index]
    return table


def quarters_in_year(city: pd.DataFrame) -> pd.Series:
    flows = city[city["quarter"] > 0]
    return flows.groupby(flows["period"].str[:4]).size()


def cost_figures(snap: Snapshot) -> dict[str, float]:
    """Cost per retained graduate and per level climbed (yuan), and the same per *extra* unit vs the
    status quo (same seed) when the ghost run exists."""
    o = outcomes(snap.city, snap.clusters)
    run = snap.city[snap.city["quarter"] > 0]
    retained = float(run["graduates_retained"].sum())
    out = {"spend_total": o["kpi_spend_total"], "retained": retained, "climbed": o["kpi_climbed"],
           "per_retained_talent": o["kpi_cost_retained"],
           "per_retained_all": o["kpi_spend_total"] / retained if retained > 0 else math.nan,
           "per_level": o["kpi_cost_level"], "extra_per_retained": math.nan, "extra_per_level": math.nan}
    if snap.ghost_city is not None:
        g_city = snap.ghost_city[snap.ghost_city["quarter"] <= snap.quarter]
        g_cl = snap.ghost_clusters[snap.ghost_clusters["quarter"] <= snap.quarter]
        g = outcomes(g_city, g_cl)
        g_ret = float(g_city[g_city["quarter"] > 0]["graduates_retained"].sum())
        extra = o["kpi_spend_total"] - g["kpi_spend_total"]
        if retained - g_ret > 0:
            out["extra_per_retained"] = extra / (retained - g_ret)
        if o["kpi_climbed"] - g["kpi_climbed"] > 0:
            out["extra_per_level"] = extra / (o["kpi_climbed"] - g["kpi_climbed"])
    return out


def budget_table_html(snap: Snapshot, ceiling: float, lang: Lang) -> str:
    label, div = money_unit("year", lang)
    table = yearly_by_lever(snap.city)
    if table.shape[1] == 0:
        return f"<p>{html.escape(t('no_spending', lang))}</p>"
    nq = quarters_in_year(snap.city)
    head = "".join(f"<th>{html.escape(y)}{'*' if nq.get(y, 4) < 4 else ''}</th>" for y in table.columns)
    rows = []
    for name, row in table.iterrows():
        if not row.any():
            continue
        cells = "".join(f"<td>{v / div:,.0f}</td>" for v in row)
        rows.append(f"<tr class='budget-{name}'><td>{html.escape(lever_label(name, lang))}</td>{cells}</tr>")
    totals = table.sum()
    cells = []
    for y, v in totals.items():
        limit = ceiling * nq.get(y, 4) / 4  # a partial year gets its share of the ceiling
        over = v > limit
        style = "color:#b3261e;font-weight:700" if over else "font-weight:700"
        cells.append(f"<td class='{'over' if over else 'under'}' style='{style}'>{v / div:,.0f}</td>")
    rows.append(f"<tr class='budget-total'><td><b>{html.escape(t('budget_total', lang))}</b></td>{''.join(cells)}</tr>")
    limits = "".join(f"<td>{ceiling * nq.get(y, 4) / 4 / div:,.0f}</td>" for y in totals.index)
    rows.append(f"<tr class='budget-ceiling'><td>{html.escape(t('budget_ceiling_row', lang))}</td>{limits}</tr>")
    style = ("<style>.budget-table{border-collapse:collapse;font-size:0.85rem}.budget-table td,.budget-table th"
             "{border-bottom:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}"
             ".budget-table td:first-child,.budget-table th:first-child{text-align:left;white-space:normal}</style>")
    caption = html.escape(t("budget_table_caption", lang, unit=label))
    return (f"{style}<p style='margin:2px 0'>{caption}</p><table class='budget-table'><thead><tr>"
            f"<th><span class='sr-only'>{html.escape(t('why_effect_lever', lang))}</span></th>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _money(value: float, kind: str, lang: Lang, digits: int = 1) -> str:
    """``value`` (yuan) in the unit of ``kind`` with at most ``digits`` decimals and, as the A/B table,
    no more than :data:`app.compare.MONEY_SIGNIFICANT` significant figures ("42,000 yuan")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    label, div = money_unit(kind, lang)
    return f"{fmt(value / div, significant_digits(value / div, digits))} {label}"


@solara.component
def BudgetPanel(snap: Snapshot, ceiling: float, on_ceiling, lang: Lang):
    label, div = money_unit("year", lang)
    error = solara.use_reactive(None)

    def set_text(text):
        try:
            v = check_ceiling(float((text or "").replace(",", "").strip()) * div)
        except (ValueError, OverflowError):
            error.set(t("budget_ceiling_invalid", lang, unit=label, low=f"{CEILING_MIN / div:,.0f}",
                        high=f"{CEILING_MAX / div:,.0f}"))
            return
        error.set(None)
        on_ceiling(v)

    costs = cost_figures(snap)
    BeforeRunning(snap.levers, ceiling, lang)
    png = solara.use_memo(
        lambda: charts.to_png(charts.spending_chart(snap.city, lang, snap.quarters, ghost=snap.ghost_city,
                                                    changes=snap.changes, ceiling=ceiling, size=(6.2, 3.2))),
        dependencies=[id(snap), lang, ceiling])
    with solara.Row(gap="16px", style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.InputText(t("budget_ceiling", lang, unit=label), value=f"{ceiling / div:,.0f}", on_value=set_text,
                         error=error.value or False, classes=["budget-ceiling-input"], style={"max-width": "16em"})
        with solara.Column(gap="0px", classes=["budget-costs"]):
            solara.Text(t("budget_per_retained", lang, v=_money(costs["per_retained_talent"], "per_unit", lang, 2),
                          w=_money(costs["per_retained_all"], "per_unit", lang, 2)), classes=["cost-retained"])
            per_level = (_money(costs["per_level"], "total", lang, 2) if not math.isnan(costs["per_level"])
                         else t("budget_no_level", lang))
            solara.Text(t("budget_per_level", lang, v=per_level), classes=["cost-level"])
            if snap.ghost_city is not None:
                solara.Text(t("budget_extra", lang, r=_money(costs["extra_per_retained"], "per_unit", lang, 2),
                              l=_money(costs["extra_per_level"], "total", lang, 2)),
                            classes=["cost-extra"], style={"color": "#555"})
    with solara.Columns([6, 6]):
        a11y.Picture(png, t("alt_chart", lang, name=t("short_spending", lang), period=snap.city["period"].iloc[-1]),
                     width="100%", classes=["budget-chart", "chart-image-wide"])
        solara.HTML(tag="div", unsafe_innerHTML=budget_table_html(snap, ceiling, lang), classes=["budget-table-box"])


def ceiling_verdict(low: float, high: float, ceiling: float) -> str:
    """``budget_within`` (the whole range fits), ``budget_exceeds`` (even the low end is above) or
    ``budget_may_exceed``."""
    return "budget_within" if high <= ceiling else "budget_exceeds" if low > ceiling else "budget_may_exceed"


def costs_table_html(levers: Mapping[str, float], lang: Lang) -> str:
    """Each lever with a cost at this setting: its yearly cost (or range) and what the estimate rests on."""
    rows = []
    for name, value in levers.items():
        if name not in _schema() or _schema()[name].kind != "levers":
            continue
        est = lever_cost(name, value, levers)
        if not est.own or est.high == 0:
            continue
        rows.append(f"<tr class='cost-{name}'><td>{html.escape(lever_label(name, lang))}</td>"
                    f"<td>{html.escape(cost_text(est, lang, bare=True))}</td><td>{html.escape(t(est.basis, lang))}</td></tr>")
    label = money_unit("year", lang)[0]
    return (f"<p style='margin:2px 0'>{html.escape(t('budget_costs_caption', lang, unit=label))}</p>"
            f"<table class='budget-table costs-table'><thead><tr><th>{html.escape(t('why_effect_lever', lang))}</th>"
            f"<th>{html.escape(t('budget_cost_col', lang))}</th><th>{html.escape(t('budget_cost_rule', lang))}</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


@solara.component
def BeforeRunning(levers: Mapping[str, float], ceiling: float, lang: Lang):
    """The setting's cost per year before any step (the levers' cost rules) against the ceiling, and
    each lever's share of it."""
    low, high = package_cost(levers)
    label, div = money_unit("year", lang)
    digits = significant_digits(high / div, 0)
    verdict = ceiling_verdict(low, high, ceiling)
    solara.Text(t("budget_before", lang, lo=fmt(low / div, digits), hi=fmt(high / div, digits), unit=label,
                  c=fmt(ceiling / div, 0), verdict=t(verdict, lang)),
                classes=["budget-before", verdict], style={"font-size": "1rem", "font-weight": "600",
                                                           "color": "#b3261e" if verdict == "budget_exceeds" else "#111"})
    solara.HTML(tag="div", unsafe_innerHTML=costs_table_html(levers, lang), classes=["budget-costs-box"])
