"""A/B compare with uncertainty: M paired replicates of two policy settings, same horizon.

Replicate r of A and replicate r of B share a seed and, when the replicates vary the behavioural
coefficients too (``vary="posterior"``, the default when the fitted posterior is current), the same
posterior draw r (see :mod:`app.runs`): common random numbers, so each difference B − A is paired.
With seeds only, the ranges show chance alone; with posterior draws, chance and what the calibration
leaves unknown about behaviour. The page says which under the table.
For every outcome the table shows the means of A and B, the mean paired difference, the range
(smallest … largest) of the M differences and "B better in N of M". A difference is coloured only
when it is clear of the spread of the runs: **every one of the M paired runs agrees on its sign**
(a sign test; by chance alone that happens with probability 2 × 0.5^M, 0.8 % for M = 8), counting
only differences that show as non-zero at the table's precision (in both languages' units), so a
colour never rests on a difference displayed as 0.00. Otherwise it is grey. Outcomes without a "better" direction (spending) are never coloured.

The rows (:data:`OUTCOMES`) lead with the **headline outcomes** a statistics bureau could check, in
the order and words of :data:`sim.state.records.HEADLINE_OUTCOMES`: real value added at the end, the
local sourcing share of the six clusters' parts and processing inputs, manufacturing employment, the
net fiscal balance over the run (local tax minus programme spending: its B − A reads as extra tax
minus extra spending), graduates still in the city after 3 years, the outflows to Beijing and Tianjin;
then the energy tiers (the paper's vocabulary), then the other figures. A rule separates the groups;
the CSV names each row's group.

:func:`outcomes` reduces a run's tables to the figures a workshop compares (raw units: yuan,
persons, per cent); the page's key figures use the same function, and at the end of a run its
headline figures equal ``ScenarioResult.summary()``'s (:attr:`Outcome.summary`). Display units depend on the
language (万元 / 亿元 for officials, million / billion yuan in English; :data:`app.i18n.MONEY`).
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import reacton.ipyvuetify as rv
import solara
import solara.lab

from app import a11y, charts, runs
from app.i18n import Lang, cluster_label, money_unit, preset_label, t
from app.state import lever_defaults, presets
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DEFAULT_REPLICATES = 8
DEFAULT_QUARTERS = 40
PROGRESS_EVERY_S = 0.5  # the A/B progress line is updated at most this often (s), and when done
REPLICATE_CHOICES = (4, 8, 16)
# Money in the A/B outputs (page table, CSV, PDF) carries at most this many significant figures: the
# paired runs' spread is wider than that, so "+41,979.31 yuan" claimed seven digits the model does
# not have ("+42,000 yuan" says what it knows). The per-run CSV keeps one more (raw data).
MONEY_SIGNIFICANT = 3
COMPARE_SIZE = (6.0, 4.8)  # inches: the A/B figure


@dataclass(frozen=True)
class Outcome:
    key: str  # key in outcomes(); also the i18n key of the live label
    label: str  # i18n key of the A/B label (whole-run wording)
    better: int  # +1 higher is better, -1 lower is better, 0 neutral
    digits: int  # decimals shown (in display units)
    unit: str = ""  # i18n key of the unit, or "money:<kind>" (app.i18n.MONEY)
    group: str = "other"  # "headline" (a statistics bureau could check it), "tiers" (the paper's vocabulary), "other"
    summary: str = ""  # the ScenarioResult.summary() key it equals at the end of a run (headline outcomes)
    reading: str = ""  # i18n key: how to read B − A, where the difference has a name of its own


# The headline outcomes lead, in the order of sim.state.records.HEADLINE_OUTCOMES; then the energy tiers
# (the paper's vocabulary); then the other figures of the workshop.
OUTCOMES = (
    Outcome("kpi_value_added", "ab_value_added", +1, 2, "money:value_added", "headline", "value_added_real_final"),
    Outcome("kpi_sourcing", "ab_sourcing", +1, 2, "unit_pct", "headline", "local_sourcing_share_final"),
    Outcome("kpi_employment", "ab_employment", +1, 0, "unit_persons", "headline", "employment_final"),
    Outcome("kpi_fiscal", "ab_fiscal", +1, 2, "money:total", "headline", "net_fiscal_balance_total",
            reading="ab_fiscal_reading"),
    Outcome("kpi_retention_3y", "ab_retention_3y", +1, 2, "unit_pct", "headline", "retention_3y"),
    Outcome("kpi_out_bj", "ab_out_bj", -1, 0, "unit_persons", "headline", "outflow_beijing_total"),
    Outcome("kpi_out_tj", "ab_out_tj", -1, 0, "unit_persons", "headline", "outflow_tianjin_total"),
    Outcome("kpi_energy", "ab_energy", +1, 3, "unit_index", "tiers"),
    Outcome("kpi_tiers", "ab_tiers", +1, 1, "unit_clusters", "tiers"),
    Outcome("kpi_climbed", "ab_climbed", +1, 1, "unit_levels", "tiers"),
    Outcome("kpi_cost_level", "ab_cost_level", -1, 2, "money:total", "tiers"),  # 亿元 / million yuan, as in the budget tab
    Outcome("kpi_retention", "ab_retention", +1, 2, "unit_pct"),
    Outcome("kpi_out_total", "ab_out_total", -1, 0, "unit_persons"),
    Outcome("kpi_maturity", "ab_maturity", +1, 2, "unit_pct"),
    Outcome("kpi_spend_total", "ab_spend_total", 0, 2, "money:total"),
    Outcome("kpi_cost_retained", "ab_cost_retained", -1, 2, "money:per_unit"),
)
GROUPS = ("headline", "tiers", "other")
OUTCOME_BY_KEY = {o.key: o for o in OUTCOMES}


def unit_text(unit: str, lang: Lang) -> str:
    if unit.startswith("money:"):
        return money_unit(unit.split(":", 1)[1], lang)[0]
    return t(unit, lang) if unit else ""


def to_display(value: float, unit: str, lang: Lang) -> float:
    """A raw outcome value (yuan for money) in the display unit of ``lang``."""
    if unit.startswith("money:"):
        return value / money_unit(unit.split(":", 1)[1], lang)[1]
    return value


def _last(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["quarter"] == df["quarter"].max()]


def outcomes(city: pd.DataFrame, clusters: pd.DataFrame) -> dict[str, float]:
    """Key figures of a run so far (raw units: yuan, persons, per cent), from its city and clusters tables.

    Stocks are the latest quarter's (value added at an annual rate, employment, local sourcing share,
    energy index and tiers); flows are summed over the run so far (outflows, spending, tax): the
    headline outcomes equal ``ScenarioResult.summary()``'s of the same names at the end of a run
    (:attr:`Outcome.summary`). ``kpi_retention_3y`` pools the cohorts seen three years after graduating
    (NaN while none is); ``kpi_retention_latest`` is the latest cohort's share staying at graduation
    (the live row shows it until a cohort is three years on); ``kpi_retention`` pools every graduation
    of the run. Plain numpy on the tables' columns: the page calls it after every step and for every
    run of a comparison."""
    cq = clusters["quarter"].to_numpy()
    now, first = cq == cq.max(), cq == cq.min()
    col = lambda name: clusters[name].to_numpy(dtype=float)  # noqa: E731
    firms = col("firms")[now]
    l3 = (col("maturity_l3") + col("maturity_l4") + col("maturity_l5"))[now]
    energy, tier = col("energy_index")[now], col("energy_tier")
    start_tier = dict(zip(clusters["cluster"].to_numpy()[first].tolist(), tier[first].tolist()))
    tier_now = tier[now]
    climbed = float(sum(max(0.0, t1 - start_tier.get(k, t1))
                        for k, t1 in zip(clusters["cluster"].to_numpy()[now].tolist(), tier_now.tolist())))
    city_col = lambda name: city[name].to_numpy(dtype=float)  # noqa: E731
    run = city["quarter"].to_numpy() > 0
    grads = city_col("graduates")[run].sum()
    retained = city_col("graduates_retained")[run].sum()
    cohorts = city_col("graduate_retention")
    cohorts = cohorts[~np.isnan(cohorts)]
    size_3y, in_city_3y = city_col("cohort_size_3y")[run].sum(), city_col("cohort_in_city_3y")[run].sum()
    bj, tj = city_col("outflow_beijing")[run], city_col("outflow_tianjin")[run]
    other = city_col("outflow_elsewhere")[run]
    spending = city_col("spending_total")
    spend_total = float(spending[run].sum())
    tax_total = float(city_col("tax_revenue")[run].sum())
    cost = city_col("cost_per_retained_graduate") if "cost_per_retained_graduate" in city else np.zeros(0)
    cost = cost[~np.isnan(cost)]
    return {
        "kpi_value_added": float(city_col("value_added")[-1]),
        "kpi_sourcing": float(100 * city_col("local_sourcing_share")[-1]),
        "kpi_employment": float(city_col("employment")[-1]),
        "kpi_fiscal": tax_total - spend_total,  # a difference B − A: extra tax minus extra spending
        "kpi_retention_3y": float(100 * in_city_3y / size_3y) if size_3y > 0 else math.nan,
        "kpi_out_bj": float(bj.sum()),
        "kpi_out_tj": float(tj.sum()),
        "kpi_energy": float(energy.mean()),
        "kpi_tiers": float((tier_now >= 2).sum()),
        "kpi_climbed": climbed,
        "kpi_cost_level": spend_total / climbed if climbed > 0 else math.nan,
        "kpi_retention": float(100 * retained / grads) if grads > 0 else math.nan,
        "kpi_retention_latest": float(100 * cohorts[-1]) if len(cohorts) else math.nan,
        "kpi_out_total": float(bj.sum() + tj.sum() + other.sum()),
        "kpi_maturity": float(100 * (l3 * firms).sum() / max(firms.sum(), 1.0)),
        "kpi_spend": float(spending[-1]),
        "kpi_spend_total": spend_total,
        "kpi_tax_total": tax_total,
        "kpi_cost_retained": float(cost[-1]) if len(cost) else math.nan,
    }


def fmt(value: float, digits: int, sign: bool = False) -> str:
    """``1,234.5``; with ``sign`` ``+1,234.5`` / ``-3.0``; a difference that rounds to zero shows as
    ``0.0`` (no sign, so it is not read as a gain or a loss). Negative ``digits`` round to tens,
    hundreds, ... (``fmt(41979.3, -2)`` = ``42,000``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    value, digits = round(value, digits), max(digits, 0)
    if sign and value == 0:
        return f"{0:.{digits}f}"
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def significant_digits(scale: float, digits: int, significant: int = MONEY_SIGNIFICANT) -> int:
    """Decimals for numbers of magnitude ``scale``: ``digits`` at most, and no more than ``significant``
    significant figures of ``scale`` (negative: round to tens, hundreds, ...). ``scale`` 0 or not
    finite: ``digits``."""
    scale = abs(scale)
    if not (scale > 0 and math.isfinite(scale)):
        return digits
    return min(digits, significant - 1 - math.floor(math.log10(scale)))


def setting_levers(choice: str, current: Mapping[str, float]) -> dict[str, float]:
    """Lever values of a choice: ``"current"`` (the left panel) or a preset key."""
    if choice == "current":
        return dict(current)
    return {**lever_defaults(), **presets()[choice].levers}


# ------------------------------------------------------------------------------------ statistics
@dataclass(frozen=True)
class PairedStat:
    """One outcome over M paired replicates (values in raw units)."""

    outcome: Outcome
    a: np.ndarray
    b: np.ndarray

    @property
    def d(self) -> np.ndarray:
        return self.b - self.a

    @property
    def valid(self) -> np.ndarray:
        return ~(np.isnan(self.a) | np.isnan(self.b))

    @property
    def m(self) -> int:
        return int(self.valid.sum())

    def _nanstat(self, f, x) -> float:
        x = x[self.valid]
        return float(f(x)) if len(x) else math.nan

    @property
    def mean_a(self) -> float:
        return self._nanstat(np.mean, self.a)

    @property
    def mean_b(self) -> float:
        return self._nanstat(np.mean, self.b)

    @property
    def mean_d(self) -> float:
        return self._nanstat(np.mean, self.d)

    @property
    def min_d(self) -> float:
        return self._nanstat(np.min, self.d)

    @property
    def max_d(self) -> float:
        return self._nanstat(np.max, self.d)

    def digits(self, lang: Lang) -> int:
        """Decimals this row shows in ``lang``'s display unit: the outcome's, and for money no more than
        :data:`MONEY_SIGNIFICANT` significant figures of the larger mean (negative: tens, hundreds, ...),
        so A, B and the differences of a row share one precision."""
        o = self.outcome
        if not o.unit.startswith("money:"):
            return o.digits
        scale = max(abs(to_display(self.mean_a, o.unit, lang)), abs(to_display(self.mean_b, o.unit, lang)))
        return significant_digits(scale, o.digits)

    def shown(self, x) -> np.ndarray:
        """``x`` (raw differences) where it shows as non-zero at the table's precision in every
        language's display unit, 0 where it would display as 0 (a tie for the colouring rule)."""
        o = self.outcome
        x = np.asarray(x, float)
        keep = np.ones(x.shape, bool)
        for lang in ("en", "zh"):
            keep &= np.round(to_display(x, o.unit, lang), self.digits(lang)) != 0
        return np.where(keep, x, 0.0)

    def n_better(self) -> int:
        """Paired runs in which B is better by a displayed amount (a tie at the shown precision counts
        for neither side)."""
        if not self.outcome.better:
            return 0
        return int((self.shown(self.d[self.valid]) * self.outcome.better > 0).sum())

    def n_worse(self) -> int:
        if not self.outcome.better:
            return 0
        return int((self.shown(self.d[self.valid]) * self.outcome.better < 0).sum())

    @property
    def verdict(self) -> str:
        """"better" / "worse" when all M paired runs agree on the sign (the colouring rule), "unclear"
        when they do not, "neutral" for outcomes without a direction or without data."""
        if not self.outcome.better or self.m == 0:
            return "neutral"
        if self.shown(self.mean_d) == 0:
            return "unclear"  # the mean difference displays as zero
        if self.n_better() == self.m:
            return "better"
        if self.n_worse() == self.m:
            return "worse"
        return "unclear"


def paired_stats(runs_a: Sequence, runs_b: Sequence) -> list[PairedStat]:
    """Per outcome, the M values of A and of B (replicate order)."""
    oa = [outcomes(r.city, r.clusters) for r in runs_a]
    ob = [outcomes(r.city, r.clusters) for r in runs_b]
    return [PairedStat(o, np.array([x[o.key] for x in oa], float), np.array([x[o.key] for x in ob], float))
            for o in OUTCOMES]


def chance_all_agree(m: int) -> float:
    """Probability that M paired runs all agree on the sign by chance alone (no effect, two-sided)."""
    return min(1.0, 2 * 0.5 ** m) if m > 0 else 1.0


VERDICT_COLOURS = {"better": "#1b7f3b", "worse": "#b3261e", "unclear": "#666", "neutral": "#333"}


def comparison_table(stats: Sequence[PairedStat], lang: Lang) -> pd.DataFrame:
    """The A/B table in display units and ``lang`` (the page, the CSV and the PDF show this)."""
    rows = []
    for st in stats:
        o, digits = st.outcome, st.digits(lang)
        conv = lambda x: round(to_display(x, o.unit, lang), digits)  # noqa: E731
        rows.append({
            t("outcome", lang): t(o.label, lang),
            t("col_unit", lang): unit_text(o.unit, lang),
            t("col_mean_a", lang): conv(st.mean_a),
            t("col_mean_b", lang): conv(st.mean_b),
            t("compare_diff", lang): conv(st.mean_d),
            t("col_min_diff", lang): conv(st.min_d),
            t("col_max_diff", lang): conv(st.max_d),
            t("col_b_better", lang): (f"{st.n_better()}/{st.m}" if o.better and st.m else "–"),
            t("col_verdict", lang): t(f"verdict_{st.verdict}", lang),
            t("col_group", lang): t(f"group_{o.group}", lang),
            t("col_reading", lang): t(o.reading, lang) if o.reading else "",
        })
    return pd.DataFrame(rows)


def outcome_table_html(stats: Sequence[PairedStat], lang: Lang) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (
        t("outcome", lang), t("col_mean_a", lang), t("col_mean_b", lang), t("compare_diff", lang),
        t("col_range", lang), t("col_b_better", lang)))
    rows = []
    group = None
    for st in stats:
        o, digits = st.outcome, st.digits(lang)
        conv = lambda x: to_display(x, o.unit, lang)  # noqa: E731
        colour = VERDICT_COLOURS[st.verdict]
        unit = unit_text(o.unit, lang)
        label = html.escape(t(o.label, lang) + (f" ({unit})" if unit and lang == "en" else f"（{unit}）" if unit else ""))
        if o.reading:  # what B − A is called, under the label (e.g. extra tax minus extra spending)
            label += f"<div class='reading'>{html.escape(t(o.reading, lang))}</div>"
        rng = f"{fmt(conv(st.min_d), digits, sign=True)} … {fmt(conv(st.max_d), digits, sign=True)}"
        better = t("b_better_n", lang, n=st.n_better(), m=st.m) if o.better and st.m else "–"
        start = " group-start" if group is not None and o.group != group else ""
        group = o.group
        rows.append(f"<tr class='outcome-{o.key} verdict-{st.verdict} group-{o.group}{start}'>"
                    f"<td title='{html.escape(t(f'group_{o.group}', lang), quote=True)}'>{label}</td>"
                    f"<td>{fmt(conv(st.mean_a), digits)}</td><td>{fmt(conv(st.mean_b), digits)}</td>"
                    f"<td class='diff' style='color:{colour};font-weight:600'>{fmt(conv(st.mean_d), digits, sign=True)}"
                    f"</td><td class='range'>{rng}</td><td class='nbetter' style='color:{colour}'>{better}</td></tr>")
    # compact rows, labels on one line: every outcome in view under the controls at 1280x720; a rule
    # between the groups (headline outcomes, energy tiers, the rest)
    style = ("<style>.ab-table{border-collapse:collapse;font-size:0.875rem;line-height:1.25}.ab-table td,.ab-table th"
             "{border-bottom:1px solid #ddd;padding:1px 6px;text-align:right;white-space:nowrap}"
             ".ab-table td:first-child,.ab-table th:first-child{text-align:left}"
             ".ab-table tr.group-start td{border-top:2px solid #888}"
             ".ab-table .reading{font-size:0.72rem;color:#555;line-height:1.1}</style>")
    return f"{style}<table class='ab-table'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def replicate_kind(rep: runs.Replicate) -> str:
    """``"posterior"`` for a replicate with a posterior draw, ``"seeds"`` otherwise."""
    return "posterior" if rep.draw is not None else "seeds"


def parameter_label(name: str, lang: Lang) -> str:
    """A fitted coefficient as a column header: its label in ``lang`` and its name in the config."""
    import sim

    spec = sim.default_config().schema[name]
    return f"{spec.label_en} ({name})" if lang == "en" else f"{spec.label_zh}（{name}）"


def replicate_table(runs_a: Sequence, runs_b: Sequence, lang: Lang) -> pd.DataFrame:
    """Every replicate's outcomes for A and B (display units), for the CSV export: per run the
    setting, seed, what the replicates vary and, for posterior draws, the draw (0-based), its particle
    (row of the posterior table) and the value of every fitted coefficient the run used."""
    rows = []
    for name, rs in (("A", runs_a), ("B", runs_b)):
        for r in rs:
            o = outcomes(r.city, r.clusters)
            rep = r.replicate
            row = {t("col_setting", lang): name, t("seed", lang): int(rep.seed),
                   t("col_vary", lang): replicate_kind(rep)}
            if rep.draw is not None:
                row[t("col_draw", lang)] = int(rep.draw)
                row[t("col_particle", lang)] = int(rep.particle) if rep.particle is not None else None
            for oc in OUTCOMES:
                unit = unit_text(oc.unit, lang)
                value = to_display(o[oc.key], oc.unit, lang)
                digits = significant_digits(value, oc.digits + 1, MONEY_SIGNIFICANT + 1) if oc.unit.startswith("money:") \
                    else oc.digits + 1
                row[f"{t(oc.label, lang)} [{unit}]"] = round(value, digits)
            for pname, value in rep.overrides:
                row[parameter_label(pname, lang)] = value
            rows.append(row)
    return pd.DataFrame(rows)


def _component_ends(runs) -> list[pd.DataFrame]:
    from sim.behaviour.energy import COMPONENTS

    return [_last(r.clusters).set_index("cluster")[[f"idx_{c}" for c in COMPONENTS] + ["energy_index"]]
            for r in runs]


def _component_labels(d: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    from sim.behaviour.energy import COMPONENTS

    d = d.copy()
    d.index = [cluster_label(k, lang) for k in d.index]
    d.columns = [t(f"comp_{c}", lang) for c in COMPONENTS] + [t("kpi_energy", lang)]
    return d


def _component_diffs(runs_a: Sequence, runs_b: Sequence) -> tuple[np.ndarray, pd.DataFrame]:
    """B − A of every component at the end, per paired replicate: (replicates, clusters, columns), and
    the frame whose index and columns those axes follow."""
    ea, eb = _component_ends(runs_a), _component_ends(runs_b)
    return np.stack([(b - a).to_numpy(float) for a, b in zip(ea, eb)]), ea[0]


def component_table(runs_a: Sequence, runs_b: Sequence, lang: Lang) -> pd.DataFrame:
    """Per cluster: the mean (over replicates) of each energy-index component at the end, B − A."""
    diffs, like = _component_diffs(runs_a, runs_b)
    d = pd.DataFrame(diffs.mean(axis=0), index=like.index, columns=like.columns)
    return _component_labels(d, lang).round(3)


def component_agreement(runs_a: Sequence, runs_b: Sequence, lang: Lang) -> pd.DataFrame:
    """Per cluster and component: +1 when B − A is above zero at the table's three decimals in every
    paired replicate, −1 when below in every one, 0 otherwise (the A/B table's colouring rule)."""
    diffs, like = _component_diffs(runs_a, runs_b)
    shown = np.where(np.round(diffs, 3) != 0, diffs, 0.0)
    sign = np.where((shown > 0).all(axis=0), 1, np.where((shown < 0).all(axis=0), -1, 0))
    return _component_labels(pd.DataFrame(sign, index=like.index, columns=like.columns), lang)


# ------------------------------------------------------------------------------------ figure
def _series(r) -> dict[str, np.ndarray]:
    """The four panels' values per quarter of the run (NaN where a panel has no value that quarter)."""
    cq = r.clusters["quarter"].to_numpy()
    n = int(r.city["quarter"].to_numpy().max()) + 1
    energy = (np.bincount(cq, weights=r.clusters["energy_index"].to_numpy(dtype=float), minlength=n)
              / np.maximum(np.bincount(cq, minlength=n), 1))
    city = {k: np.full(n, np.nan) for k in ("retention", "outflow", "spending")}
    q = r.city["quarter"].to_numpy()
    col = lambda name: r.city[name].to_numpy(dtype=float)  # noqa: E731
    city["retention"][q] = 100 * col("graduate_retention")
    city["outflow"][q] = col("outflow_beijing") + col("outflow_tianjin")
    city["spending"][q] = col("spending_total")
    city["outflow"][0] = city["spending"][0] = np.nan  # quarter 0 is the start state: no flows yet
    return {"compare_energy": energy, "compare_retention": city["retention"],
            "compare_outflow": city["outflow"], "compare_spending": city["spending"]}


def band(series: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quarters with a value in some run, and the smallest, mean and largest value over the runs."""
    width = max(len(s) for s in series)
    y = np.full((len(series), width), np.nan)
    for i, s in enumerate(series):
        y[i, :len(s)] = s
    x = np.flatnonzero(~np.isnan(y).all(axis=0))
    y = y[:, x]
    return x, np.nanmin(y, axis=0), np.nanmean(y, axis=0), np.nanmax(y, axis=0)


def compare_figure(runs_a: Sequence, runs_b: Sequence, lang: Lang, dpi: float | None = None) -> Figure:
    """Four panels over time: the mean of A (solid) and B (dashed), each with its min–max band. 6 inches
    wide, so the page (about 600 px for it at 1280 px) shows its 11-pt text at >= 14 px."""
    fs = charts.FONT
    fig = Figure(figsize=COMPARE_SIZE, dpi=dpi or charts.DPI)
    axes = fig.subplots(2, 2)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.87, bottom=0.12, hspace=0.62, wspace=0.36)
    money_label, money_div = money_unit("quarter", lang)
    sa = [_series(r) for r in runs_a]
    sb = [_series(r) for r in runs_b]
    for ax, key in zip(axes.ravel(), sa[0]):
        div = money_div if key == "compare_spending" else 1.0
        for ss, colour, style, name in ((sa, "#1f4e79", "-", "A"), (sb, "#c55a11", "--", "B")):
            x, low, mean, high = band([s[key] / div for s in ss])
            ax.fill_between(x, low, high, color=colour, alpha=0.18, lw=0)
            ax.plot(x, mean, style, color=colour, lw=1.8, label=name, marker="o" if len(x) <= 2 else None)
        title = t(key, lang, unit=money_label) if key == "compare_spending" else t(key, lang)
        ax.set_title(title, fontsize=fs)
        ax.tick_params(labelsize=fs)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_formatter(charts.GROUPED)  # persons and 万元 run into the thousands
    for ax in axes[1]:
        ax.set_xlabel(t("compare_x", lang), fontsize=fs)
    axes[0, 0].legend(fontsize=fs, frameon=False)
    fig.suptitle(t("compare_chart", lang, m=len(runs_a)), fontsize=fs)
    return fig


# ------------------------------------------------------------------------------------ panel
@dataclass(frozen=True)
class Comparison:
    """A finished comparison (what the page shows and the export writes)."""

    choice_a: str
    choice_b: str
    levers_a: dict
    levers_b: dict
    replicates: tuple
    quarters: int
    runs_a: tuple
    runs_b: tuple
    vary: str = "seeds"  # what the replicates vary (runs.VARY_KINDS)

    @cached_property
    def stats(self) -> list[PairedStat]:
        """Computed once per comparison (the panel re-renders on every progress line of the next one)."""
        return paired_stats(self.runs_a, self.runs_b)


def run_comparison(choice_a: str, choice_b: str, current: Mapping[str, float], first_seed: int, m: int,
                   quarters: int, on_done=None, replicates: Sequence[runs.Replicate] | None = None,
                   vary: str = "seeds") -> Comparison:
    """Run A and B over the same ``m`` replicates from ``first_seed``: seeds only (``vary="seeds"``) or
    seeds with posterior draws (``"posterior"``; :func:`app.runs.ab_replicates`), or ``replicates`` as given."""
    la = setting_levers(choice_a, current)
    lb = setting_levers(choice_b, current)
    reps = list(replicates) if replicates is not None else runs.ab_replicates(vary, first_seed, m)
    kind = "posterior" if any(r.draw is not None for r in reps) else "seeds"
    ra, rb = runs.run_pairs(la, lb, reps, quarters, on_done)
    return Comparison(choice_a, choice_b, la, lb, tuple(reps), int(quarters), tuple(ra), tuple(rb), kind)


def caption(done: Comparison, lang: Lang) -> str:
    """Which replicates a comparison ran: seeds, posterior draws, horizon."""
    reps = done.replicates
    if done.vary == "posterior":
        return t("compare_seed_posterior", lang, m=len(reps), first=reps[0].seed, last=reps[-1].seed,
                 dlast=len(reps) - 1, n=done.quarters)
    return t("compare_seed", lang, m=len(reps), first=reps[0].seed, last=reps[-1].seed, n=done.quarters)


def rule_text(m: int, vary: str, lang: Lang) -> str:
    """The help under the table: the colour rule and what the ranges include (chance only, or chance and
    the posterior's uncertainty about behaviour)."""
    n = sum(o.group == "headline" for o in OUTCOMES)
    return (t("compare_order", lang, n=n) + " " + t("compare_rule", lang, m=m, p=100 * chance_all_agree(m)) + " "
            + t("compare_range_posterior" if vary == "posterior" else "compare_range_seeds", lang))


def vary_reason(status: runs.PosteriorStatus | None, lang: Lang) -> str:
    """One line: why posterior draws cannot be chosen ("" when they can; while ``status`` is None, that
    the posterior is still being checked)."""
    if status is None:
        return t("vary_checking", lang)
    return "" if status.usable else t(f"vary_{status.problem}", lang)


def run_vary(vary: str | None, status: runs.PosteriorStatus) -> str:
    """What a comparison's replicates vary: the choice (the default if none was made yet), seeds when
    posterior draws are chosen but cannot be used."""
    if vary is None:
        return status.default_vary
    return vary if vary == "seeds" or status.usable else "seeds"


def progress_reporter(progress: solara.Reactive, every: float = PROGRESS_EVERY_S):
    """``on_done(done, total)`` for :func:`app.runs.run_many` that sets ``progress`` to ``(done, total)``
    at most every ``every`` seconds, and when all are done: each update re-renders the page on the
    server (every widget is walked), CPU the two cores would rather give the runs."""
    shown_at = [-math.inf]

    def report(d: int, n: int) -> None:
        now = time.monotonic()
        if d >= n or now - shown_at[0] >= every:
            shown_at[0] = now
            progress.set((d, n))

    return report


def setting_names(lang: Lang) -> dict[str, str]:
    return {"current": t("current_levers", lang), **{k: preset_label(p, lang) for k, p in presets().items()}}


@solara.component
def VaryChoice(vary: solara.Reactive, status: runs.PosteriorStatus | None, lang: Lang, disabled: bool = False):
    """What the replicates vary: chance only (seeds) or chance and behaviour (seeds + posterior draws);
    the posterior option is disabled, with a one-line reason, when the posterior is missing or stale,
    and while it is still being checked (``status`` None; then nothing may be chosen yet)."""
    usable = status is not None and status.usable
    with solara.Column(gap="0px", classes=["compare-vary"]):
        rv.RadioGroup(label=t("vary_label", lang), v_model=vary.value, on_v_model=vary.set, row=True,
                      dense=True, hide_details=True, disabled=disabled, class_="mt-0", children=[
                          rv.Radio(label=t("vary_seeds", lang), value="seeds", class_="vary-seeds"),
                          rv.Radio(label=t("vary_posterior", lang), value="posterior", disabled=not usable,
                                   class_="vary-posterior")])
        if not usable:
            solara.Text(vary_reason(status, lang), classes=["vary-reason"] + (["vary-checking"] if status is None else []),
                        style={"font-size": "0.8rem", "color": "#666"})


@solara.component
def ComparePanel(current_levers: Mapping[str, float], seed: int, lang: Lang,
                 result: solara.Reactive | None = None, vary: solara.Reactive | None = None,
                 status: runs.PosteriorStatus | None = None):
    """Settings A and B, what the replicates vary, number of replicates and quarters, Run; then the
    table, help and chart. ``result`` (optional) receives the finished :class:`Comparison` (the export
    and PDF use it); ``vary`` (optional, ``"posterior"`` / ``"seeds"`` / None = not chosen yet) and
    ``status`` (the posterior's, :func:`app.runs.posterior_status`; None while the page is still
    checking it) come from the page, which prefetches the same replicates. On its own (no ``vary``)
    the panel checks the posterior itself when it is first drawn (a test / notebook use)."""
    standalone = vary is None
    own_status = solara.use_memo(lambda: status if status is not None or not standalone else runs.posterior_status(),
                                 dependencies=[status, standalone])
    status = own_status
    own_vary = solara.use_reactive(status.default_vary if status is not None else None)
    vary = vary if vary is not None else own_vary
    choice_a = solara.use_reactive("status_quo")
    choice_b = solara.use_reactive("current")
    quarters = solara.use_reactive(DEFAULT_QUARTERS)
    n_rep = solara.use_reactive(DEFAULT_REPLICATES)
    progress = solara.use_reactive((0, 0))
    own = solara.use_reactive(None)
    result = result if result is not None else own
    before = solara.use_ref(None)  # the result shown when the running comparison started

    def run():
        # the posterior's status: the page's; if it is still being checked, wait for that check here
        # (a second or so, in this thread), so the comparison runs what is chosen and its caption says so
        known = status if status is not None else runs.posterior_status()
        res = run_comparison(choice_a.value, choice_b.value, current_levers, seed, n_rep.value, quarters.value,
                             on_done=progress_reporter(progress), vary=run_vary(vary.value, known))
        result.set(res)  # shown at once; the task itself ends a moment later
        return res

    task = solara.lab.use_task(run, dependencies=None, prefer_threaded=True, raise_error=False)

    def start():
        before.current = result.value  # set before the task's first "pending" render
        progress.set((0, 0))
        task()
    done: Comparison | None = result.value

    def chart():
        return charts.to_png(compare_figure(done.runs_a, done.runs_b, lang)) if done else None

    png = solara.use_memo(chart, dependencies=[id(done), lang])
    names = setting_names(lang)
    keys = list(names)

    solara.Text(t("compare_intro", lang))
    with solara.Row(gap="16px", style={"align-items": "center", "flex-wrap": "wrap"}):
        labels = [names[k] for k in keys]
        a11y.Select(t("setting_a", lang), labels, names[choice_a.value],
                    lambda v: choice_a.set(keys[labels.index(v)]), classes=["choice-a"], style={"min-width": "220px"})
        a11y.Select(t("setting_b", lang), labels, names[choice_b.value],
                    lambda v: choice_b.set(keys[labels.index(v)]), classes=["choice-b"], style={"min-width": "220px"})
        a11y.Select(t("compare_replicates", lang), [str(x) for x in REPLICATE_CHOICES], str(n_rep.value),
                    lambda v: n_rep.set(int(v)), classes=["compare-replicates"], style={"min-width": "120px"})
        with solara.Column(style={"min-width": "220px"}, classes=["compare-quarters", "sr-label"]):
            solara.Text(f"{t('compare_quarters', lang)}: {quarters.value}", style={"font-size": "0.85rem"})
            solara.SliderInt(t("compare_quarters", lang), value=quarters, min=4, max=40, step=4, thumb_label=False)
        solara.Button(t("compare_run", lang), icon_name="mdi-compare", color="primary",
                      on_click=start, disabled=task.pending, classes=["btn-compare"])
    VaryChoice(vary, status, lang, disabled=task.pending)
    # running: until this comparison's result is shown (it is stored just before the task ends)
    running = task.pending and result.value is before.current
    if running:
        d, n = progress.value
        solara.Text(t("compare_running", lang, done=d, n=n or 2 * n_rep.value), classes=["compare-running"])
        # determinate: an indeterminate bar animates without pause, and on a 2-core laptop the
        # browser's drawing of it takes CPU from the runs it reports on
        a11y.Progress(100.0 * d / max(n or 2 * n_rep.value, 1), t("progress", lang))
    elif task.error and not task.pending:
        solara.Error(t("compare_error", lang, err=str(task.exception)))
    if done:
        reps = done.replicates
        solara.Text(f"A = {names[done.choice_a]} · B = {names[done.choice_b]} · " + caption(done, lang),
                    classes=["compare-caption"])
        stats = done.stats
        # the table across the page (one line per outcome: all of them in view at 1280x720), then the
        # colour rule and the chart over time
        solara.HTML(tag="div", unsafe_innerHTML=outcome_table_html(stats, lang), classes=["compare-table"])
        solara.Text(rule_text(len(reps), done.vary, lang), classes=["compare-rule", f"vary-{done.vary}"],
                    style={"font-size": "0.8rem", "color": "#555", "max-width": "70em"})
        a11y.Picture(png, t("alt_compare", lang), width="min(100%, 620px)", classes=["compare-chart"])
    elif not running:
        solara.Text(t("compare_none", lang), style={"color": "#666"})
