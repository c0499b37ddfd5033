"""A/B compare: two policy settings, same seed, same horizon; their key outcomes side by side.

Both runs call :func:`sim.run_scenario` (the same function the experiments use) in a background
thread, so the page stays responsive. :func:`outcomes` reduces a run's tables to the figures a
workshop compares; the page's key-figure row uses the same function.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import solara
import solara.lab

import sim
from app import charts
from app.i18n import Lang, preset_label, t
from app.state import lever_defaults, make_config, presets
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Outcome:
    key: str  # key in outcomes(); also the i18n key of the live label
    label: str  # i18n key of the A/B label (whole-run wording)
    better: int  # +1 higher is better, -1 lower is better, 0 neutral
    digits: int


OUTCOMES = (
    Outcome("kpi_energy", "ab_energy", +1, 3),
    Outcome("kpi_tiers", "ab_tiers", +1, 0),
    Outcome("kpi_retention", "ab_retention", +1, 1),
    Outcome("kpi_out_total", "ab_out_total", -1, 0),
    Outcome("kpi_out_bj", "ab_out_bj", -1, 0),
    Outcome("kpi_out_tj", "ab_out_tj", -1, 0),
    Outcome("kpi_maturity", "ab_maturity", +1, 1),
    Outcome("kpi_employment", "ab_employment", +1, 0),
    Outcome("kpi_value_added", "ab_value_added", +1, 1),
    Outcome("kpi_spend_total", "ab_spend_total", 0, 0),
)


def _last(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["quarter"] == df["quarter"].max()]


def outcomes(city: pd.DataFrame, clusters: pd.DataFrame, cumulative: bool = True) -> dict[str, float]:
    """Key figures of a run. ``cumulative``: outflows and retention over the whole run (A/B compare);
    otherwise the latest quarter / latest graduation cohort (the live key-figure row)."""
    now = _last(clusters)
    firms = now["firms"].to_numpy(dtype=float)
    l3 = now[["maturity_l3", "maturity_l4", "maturity_l5"]].to_numpy(dtype=float).sum(1)
    run = city[city["quarter"] > 0]
    last = city.iloc[-1]
    if cumulative:
        grads = run["graduates"].sum()
        retention = float(run["graduates_retained"].sum() / grads) if grads > 0 else math.nan
        out_bj, out_tj = run["outflow_beijing"].sum(), run["outflow_tianjin"].sum()
    else:
        cohorts = city["graduate_retention"].dropna()
        retention = float(cohorts.iloc[-1]) if len(cohorts) else math.nan
        out_bj, out_tj = last["outflow_beijing"], last["outflow_tianjin"]
    out_total = run[["outflow_beijing", "outflow_tianjin", "outflow_elsewhere"]].to_numpy().sum()
    return {
        "kpi_energy": float(now["energy_index"].mean()),
        "kpi_tiers": float((now["energy_tier"] >= 2).sum()),
        "kpi_retention": 100 * retention,
        "kpi_out_total": float(out_total),
        "kpi_out_bj": float(out_bj),
        "kpi_out_tj": float(out_tj),
        "kpi_maturity": float(100 * (l3 * firms).sum() / max(firms.sum(), 1.0)),
        "kpi_employment": float(last["employment"]),
        "kpi_value_added": float(last["value_added"]) / 1e9,
        "kpi_spend": float(last["spending_total"]) / 1e6,
        "kpi_spend_total": float(run["spending_total"].sum()) / 1e6,
    }


def fmt(value: float, digits: int, sign: bool = False) -> str:
    """``1,234.5``; with ``sign`` ``+1,234.5`` / ``-3.0`` / ``0`` (a difference that rounds to zero)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if sign and round(value, digits) == 0:
        return "0"
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def setting_levers(choice: str, current: Mapping[str, float]) -> dict[str, float]:
    """Lever values of a choice: ``"current"`` (the left panel) or a preset key."""
    if choice == "current":
        return dict(current)
    return {**lever_defaults(), **presets()[choice].levers}


def run_pair(levers_a: Mapping, levers_b: Mapping, seed: int, quarters: int):
    """Run A then B with the same seed and horizon; returns the two ScenarioResults."""
    res_a = sim.run_scenario(make_config(levers_a, quarters), seed=seed)
    res_b = sim.run_scenario(make_config(levers_b, quarters), seed=seed)
    return res_a, res_b


def compare_figure(res_a, res_b, lang: Lang) -> Figure:
    """Four small panels over time, A solid and B dashed."""
    fig = Figure(figsize=(8.0, 4.6), dpi=charts.DPI)
    axes = fig.subplots(2, 2)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.88, bottom=0.08, hspace=0.45, wspace=0.25)

    def series(res):
        e = res.clusters.groupby("quarter")["energy_index"].mean()
        c = res.city.set_index("quarter")
        return {
            "compare_energy": e,
            "compare_retention": 100 * c["graduate_retention"].dropna(),
            "compare_outflow": (c["outflow_beijing"] + c["outflow_tianjin"]).iloc[1:],
            "compare_spending": c["spending_total"].iloc[1:] / 1e6,
        }

    sa, sb = series(res_a), series(res_b)
    for ax, key in zip(axes.ravel(), sa):
        ax.plot(sa[key].index, sa[key].values, "-", color="#1f4e79", lw=1.6, marker=".", label="A")
        ax.plot(sb[key].index, sb[key].values, "--", color="#c55a11", lw=1.6, marker=".", label="B")
        ax.set_title(t(key, lang), fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.suptitle(t("compare_chart", lang), fontsize=9)
    return fig


def outcome_table_html(res_a, res_b, lang: Lang) -> str:
    oa = outcomes(res_a.city, res_a.clusters)
    ob = outcomes(res_b.city, res_b.clusters)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in
                   (t("outcome", lang), t("setting_a", lang), t("setting_b", lang), t("compare_diff", lang)))
    rows = []
    for o in OUTCOMES:
        a, b = oa[o.key], ob[o.key]
        d = b - a
        colour = "#333"
        if o.better and not np.isnan(d) and abs(d) > 10 ** -(o.digits + 1):
            colour = "#1b7f3b" if d * o.better > 0 else "#b3261e"
        label = t(o.label, lang)
        rows.append(f"<tr class='outcome-{o.key}'><td>{html.escape(label)}</td><td>{fmt(a, o.digits)}</td>"
                    f"<td>{fmt(b, o.digits)}</td><td style='color:{colour};font-weight:600'>"
                    f"{fmt(d, o.digits, sign=True)}</td></tr>")
    style = ("<style>.ab-table{border-collapse:collapse;font-size:0.9rem}.ab-table td,.ab-table th"
             "{border-bottom:1px solid #ddd;padding:3px 10px;text-align:right}.ab-table td:first-child,"
             ".ab-table th:first-child{text-align:left}</style>")
    return f"{style}<table class='ab-table'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


@solara.component
def ComparePanel(current_levers: Mapping[str, float], seed: int, lang: Lang):
    packages = presets()
    choice_a = solara.use_reactive("status_quo")
    choice_b = solara.use_reactive("current")
    quarters = solara.use_reactive(12)

    def run():
        la = setting_levers(choice_a.value, current_levers)
        lb = setting_levers(choice_b.value, current_levers)
        return run_pair(la, lb, seed, quarters.value), (choice_a.value, choice_b.value, seed, quarters.value)

    task = solara.lab.use_task(run, dependencies=None, prefer_threaded=True, raise_error=False)
    done = task.value if task.finished else None

    def chart():
        return charts.to_png(compare_figure(done[0][0], done[0][1], lang)) if done else None

    png = solara.use_memo(chart, dependencies=[id(done), lang])
    names = {"current": t("current_levers", lang), **{k: preset_label(p, lang) for k, p in packages.items()}}
    keys = list(names)

    solara.Text(t("compare_intro", lang))
    with solara.Row(gap="16px", style={"align-items": "center", "flex-wrap": "wrap"}):
        with solara.Column(style={"min-width": "240px"}, classes=["choice-a"]):
            solara.Select(t("setting_a", lang), values=[names[k] for k in keys], value=names[choice_a.value],
                          on_value=lambda v: choice_a.set(keys[[names[k] for k in keys].index(v)]))
        with solara.Column(style={"min-width": "240px"}, classes=["choice-b"]):
            solara.Select(t("setting_b", lang), values=[names[k] for k in keys], value=names[choice_b.value],
                          on_value=lambda v: choice_b.set(keys[[names[k] for k in keys].index(v)]))
        with solara.Column(style={"min-width": "260px"}, classes=["compare-quarters"]):
            solara.Text(f"{t('compare_quarters', lang)}: {quarters.value}", style={"font-size": "0.85rem"})
            solara.SliderInt("", value=quarters, min=4, max=40, step=4, thumb_label=False)
        solara.Button(t("compare_run", lang), icon_name="mdi-compare", color="primary",
                      on_click=lambda: task(), disabled=task.pending, classes=["btn-compare"])
    if task.pending:
        solara.Text(t("compare_running", lang), classes=["compare-running"])
        solara.ProgressLinear(True)
    elif task.error:
        solara.Error(t("compare_error", lang, err=str(task.exception)))
    elif done:
        (res_a, res_b), (ka, kb, used_seed, used_q) = done
        solara.Text(f"A = {names[ka]} · B = {names[kb]} · " + t("compare_seed", lang, seed=used_seed, n=used_q),
                    classes=["compare-caption"])
        with solara.Columns([5, 7]):
            solara.HTML(tag="div", unsafe_innerHTML=outcome_table_html(res_a, res_b, lang),
                        classes=["compare-table"])
            solara.Image(png, width="100%", classes=["compare-chart"])
    else:
        solara.Text(t("compare_none", lang), style={"color": "#666"})
