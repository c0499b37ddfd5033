"""Why a cluster climbed (or fell): its energy index broken into the seven components (``idx_*``
columns of the clusters table, weighted as in the index) and the tier criteria met or unmet, now vs
the start of the run; and, after an A/B comparison, each component of B − A at the end.

Each view leads with words (:mod:`app.why_words`): the effect view (:mod:`app.explain`) with where the
current levers' effect comes from (:func:`EffectWords`), the cluster view with how its index moved in
this run and which component moved it most; at quarter 0, before anything has moved, a sentence says
what the view will show instead of a table of zeros.
"""

from __future__ import annotations

import html
from functools import lru_cache

import numpy as np
import pandas as pd
import solara

import sim
from app import a11y, charts, why_words
from app.i18n import Lang, cluster_label, t, tier_label
from app.state import Snapshot
from sim.behaviour import energy


@lru_cache(maxsize=1)
def index_weights() -> tuple[float, ...]:
    return tuple(float(w) for w in energy.weights(sim.default_config().values))


def criteria(row: pd.Series) -> list[tuple[str, bool]]:
    """The tier criteria of one cluster-quarter: (label key and values, met?)."""
    thr = charts.tier_thresholds()
    idx = float(row["energy_index"])
    return [
        ("crit_county", bool(row["county_criteria_met"])),
        ("crit_provincial", idx >= thr[0]),
        ("crit_national", idx >= thr[1]),
        ("crit_world", idx >= thr[2]),
    ]


def criteria_html(clusters: pd.DataFrame, cluster: str, lang: Lang) -> str:
    df = clusters[clusters["cluster"] == cluster]
    first, last = df.iloc[0], df.iloc[-1]
    thr = charts.tier_thresholds()
    marks = {True: "<span style='color:#1b7f3b'>✔</span>", False: "<span style='color:#b3261e'>✘</span>"}
    rows = []
    for (key, a), (_k, b) in zip(criteria(first), criteria(last)):
        rows.append(f"<tr class='{key}'><td>{html.escape(t(key, lang, p=thr[0], n=thr[1], w=thr[2]))}</td>"
                    f"<td>{marks[a]}</td><td>{marks[b]}</td></tr>")
    rows.append(f"<tr class='crit-tier'><td><b>{html.escape(t('crit_tier', lang))}</b></td>"
                f"<td>{html.escape(tier_label(int(first['energy_tier']), lang))}</td>"
                f"<td><b>{html.escape(tier_label(int(last['energy_tier']), lang))}</b></td></tr>")
    head = (f"<tr><th>{html.escape(t('crit_title', lang))}</th><th>{html.escape(str(first['period']))}</th>"
            f"<th>{html.escape(str(last['period']))}</th></tr>")
    style = ("<style>.crit-table{border-collapse:collapse;font-size:0.875rem}.crit-table td,.crit-table th"
             "{border-bottom:1px solid #ddd;padding:1px 8px;line-height:1.35}</style>")
    return f"{style}<table class='crit-table'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def components_html(clusters: pd.DataFrame, cluster: str, lang: Lang) -> str:
    df = clusters[clusters["cluster"] == cluster]
    first, last = df.iloc[0], df.iloc[-1]
    w = np.array(index_weights())
    rows = []
    for c, wi in zip(energy.COMPONENTS, w):
        a, b = float(first[f"idx_{c}"]), float(last[f"idx_{c}"])
        d = (b - a) * wi
        colour = "#1b7f3b" if d > 0.0005 else "#b3261e" if d < -0.0005 else "#333"
        rows.append(f"<tr class='comp-{c}'><td>{html.escape(t(f'comp_{c}', lang))}</td><td>{wi:.2f}</td>"
                    f"<td>{a:.3f}</td><td>{b:.3f}</td><td style='color:{colour};font-weight:600'>{d:+.3f}</td></tr>")
    head = "".join(f"<th>{html.escape(t(k, lang))}</th>" for k in
                   ("comp_col", "comp_weight", "comp_start", "comp_now", "comp_contrib"))
    style = ("<style>.comp-table{border-collapse:collapse;font-size:0.875rem}.comp-table td,.comp-table th"
             "{border-bottom:1px solid #ddd;padding:1px 8px;line-height:1.35;text-align:right}.comp-table td:first-child,"
             ".comp-table th:first-child{text-align:left}</style>")
    return f"{style}<table class='comp-table'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def ab_components_html(comparison, lang: Lang) -> str:
    """B − A per cluster and component (mean of the paired replicates), coloured only where every
    replicate agrees on the sign (as the A/B table: green B higher, red B lower, else black)."""
    from app.compare import component_agreement, component_table

    table = component_table(comparison.runs_a, comparison.runs_b, lang)
    agree = component_agreement(comparison.runs_a, comparison.runs_b, lang).to_numpy()
    colours = {1: "#1b7f3b", -1: "#b3261e", 0: "#333"}
    head = (f"<th><span class='sr-only'>{html.escape(t('why_cluster', lang))}</span></th>"  # named for screen readers
            + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns))
    body = "".join("<tr><td>" + html.escape(str(i)) + "</td>" + "".join(
        f"<td class='agree{int(a):+d}' style='color:{colours[int(a)]}'>{v:+.3f}</td>" for v, a in zip(row, agree[r]))
        + "</tr>" for r, (i, row) in enumerate(table.iterrows()))
    style = ("<style>.ab-comp{border-collapse:collapse;font-size:0.8rem}.ab-comp td,.ab-comp th"
             "{border-bottom:1px solid #ddd;padding:2px 5px;text-align:right}</style>")
    note = f"<div style='font-size:0.8rem;color:#555'>{html.escape(t('why_ab_rule', lang, m=len(comparison.replicates)))}</div>"
    return f"{style}<table class='ab-comp'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


WORDS_STYLE = {"font-size": "1rem", "line-height": "1.45", "max-width": "75em"}


@solara.component
def EffectWords(ex, plan, quarters: int, lang: Lang):
    """The top of the effect view: where the effect comes from, in sentences, once ``ex`` (an
    :class:`app.explain.Explanation` of ``plan``) is there; before that, what the button will explain;
    nothing at the status quo (``plan`` None: the view says so beside its button)."""
    words = solara.use_memo(lambda: why_words.effect_html(ex, lang) if ex is not None else None,
                            dependencies=[ex, lang])
    if words is not None:
        solara.HTML(tag="div", unsafe_innerHTML=words, classes=["why-words-effect"])
    elif plan is not None:
        solara.Text(why_words.plan_sentence(plan, quarters, lang), classes=["why-words-plan"], style=WORDS_STYLE)


@solara.component
def WhyPanel(snap: Snapshot, lang: Lang, comparison=None):
    keys = list(dict.fromkeys(snap.clusters["cluster"]))
    choice = solara.use_reactive(keys[0])
    cluster = choice.value if choice.value in keys else keys[0]
    names = {k: cluster_label(k, lang) for k in keys}
    started = snap.clusters["quarter"].max() > snap.clusters["quarter"].min()  # quarter 0: nothing has moved
    png = solara.use_memo(
        lambda: charts.to_png(charts.components_figure(snap.clusters, cluster, lang, index_weights()))
        if started else None, dependencies=[id(snap), lang, cluster, started])
    with solara.Row(gap="16px", style={"align-items": "center", "flex-wrap": "wrap"}):
        labels = [names[k] for k in keys]
        a11y.Select(t("why_cluster", lang), labels, names[cluster], lambda v: choice.set(keys[labels.index(v)]),
                    classes=["why-cluster"], style={"max-width": "16em", "flex": "0 0 16em"})
        solara.Text(t("why_intro", lang), style={"flex": "1 1 20em", "font-size": "0.9rem"})
    if not started:  # a sentence, not a chart and a table of zeros; the criteria met at the start stay
        solara.Text(why_words.start_sentence(str(snap.clusters["period"].iloc[0]), names[cluster], lang),
                    classes=["why-words-start"], style=WORDS_STYLE)
        solara.HTML(tag="div", unsafe_innerHTML=criteria_html(snap.clusters, cluster, lang), classes=["why-criteria"])
    else:
        solara.Text(why_words.cluster_sentence(snap.clusters, cluster, names[cluster], index_weights(),
                                               energy.COMPONENTS, lang),
                    classes=["why-words-cluster"], style=WORDS_STYLE)
        # one screen at 1280x720: the chart is limited to the window's height, the two tables stand beside
        # it, components first (what moved the index), then the tier criteria
        with solara.Div(classes=["why-grid"]):
            a11y.Picture(png, t("alt_why", lang, cluster=names[cluster]), classes=["why-chart"])
            with solara.Column(gap="6px"):
                solara.HTML(tag="div", unsafe_innerHTML=components_html(snap.clusters, cluster, lang),
                            classes=["why-components"])
                solara.HTML(tag="div", unsafe_innerHTML=criteria_html(snap.clusters, cluster, lang),
                            classes=["why-criteria"])
    if comparison is not None:
        solara.Text(t("why_ab", lang, m=len(comparison.replicates)), style={"font-weight": "600"})
        solara.HTML(tag="div", unsafe_innerHTML=ab_components_html(comparison, lang), classes=["why-ab"])
