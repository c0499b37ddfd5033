"""Budget view: government spending per quarter and per year by lever, against a ceiling the
facilitator sets; cost per retained graduate and per energy level climbed (also against the
status quo with the same seed, when the run differs from it).

All money is read from the run's city table (``spending_<lever>``, yuan per quarter) and shown in
万元 (Chinese) or million yuan (English).
"""

from __future__ import annotations

import html
import math

import pandas as pd
import solara

from app import a11y, charts
from app.compare import fmt, outcomes, significant_digits
from app.i18n import Lang, lever_label, money_unit, t
from app.state import CEILING_MAX, CEILING_MIN, Snapshot, check_ceiling

DEFAULT_CEILING = 500_000_000.0  # yuan per year (5亿元): a starting value the facilitator changes


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
