"""Where the effect comes from: the current levers against the status quo, split by channel.

The same computation as ``python -m experiments explain`` (:mod:`sim.policy.attribution`: the
package's channels, its variants, the per-world decomposition and Student-t intervals), run on the
page's warm process pool (:func:`app.runs.run_many`) over a few paired replicates: the status quo,
the current levers, the current levers with each of their channels switched off in turn ("without"),
and with all of them off. Replicate r of every variant shares seed r and, when the page's A/B
replicates vary the posterior, posterior draw r (:func:`app.runs.ab_replicates`), so each difference
is paired.

Per headline outcome (:data:`HEADLINES`, summary outcomes of the model as in explain: first the
outcomes a statistics bureau could check — real value added, local sourcing share, manufacturing
employment, the net fiscal balance, whose difference is extra tax minus extra spending, retention after
3 years — then the energy levels climbed, then public spending) the table shows the **full effect**
(current − status quo), each channel's **contribution** (full effect − effect without it), their sum,
the all-off run (0 but for spending and so the net fiscal balance: a programme runs and costs
whatever its channels do) and the **interaction** (full − all off − sum of the contributions), each as
the mean over the paired runs with its 95 % t interval. A figure is black only when its interval
excludes 0 (and it does not display as 0); otherwise grey: nothing is shown as a difference the runs
cannot tell from none. Channels stay in their declaration order (no ranking by noisy means). One
sentence under the table says whether the parts add up.

Results are cached per (levers, replicates, quarters) in the server process (:func:`cached`), so a
second look, or a return to the same levers, is instant; the runs themselves are in
:mod:`app.runs`' cache too (the status quo often is already, from the A/B prefetch).
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import solara
import solara.lab

from app import a11y, runs
from app.compare import fmt, progress_reporter, run_vary, to_display, unit_text
from app.i18n import Lang, channel_short, channel_text, lever_label, t
from app.state import lever_defaults, make_config
from sim.policy import attribution as at

REFERENCE = "status_quo"
PACKAGE = "current"
DEFAULT_REPLICATES = 4
REPLICATE_CHOICES = (4, 8)
QUARTERS = 40  # as the A/B default: 3-year retention needs cohorts three years on within the run
# seconds per 40-quarter run per worker while two run at once (44 runs on 2 workers: 10.7 s on a shared,
# busy 2-core machine; a run alone takes 0.2-0.3 s): for the time estimate before the button only
RUN_SECONDS = 0.45
CACHE_MAX = 16
ROWS = ("full", "sum", "none", "interaction")  # summary rows (channels go between "full" and "sum")


@dataclass(frozen=True)
class Headline:
    key: str  # summary outcome of the model (ScenarioResult.summary, as explain reads)
    label: str  # i18n key
    digits: int
    unit: str  # i18n key of the unit, or "money:<kind>"
    scale: float = 1.0  # raw value x scale = value in ``unit`` (before money conversion)
    group: str = "headline"  # "headline" (sim.state.records.HEADLINE_OUTCOMES), "tiers", "other"


# The headline outcomes explain reports (sim.state.records.HEADLINE_OUTCOMES, same order; the outflows,
# counted in persons over the run, are in explain's report and the A/B table), then the paper's energy
# levels, then public spending (what the net fiscal balance subtracts).
HEADLINES = (
    Headline("value_added_real_final", "ex_value_added", 2, "money:value_added"),
    Headline("local_sourcing_share_final", "ex_sourcing", 2, "unit_pp", 100.0),
    Headline("employment_final", "ex_employment", 0, "unit_persons"),
    Headline("net_fiscal_balance_total", "ex_fiscal", 2, "money:total"),
    Headline("retention_3y", "ex_retention_3y", 2, "unit_pp", 100.0),
    Headline("tiers_climbed_clusters", "ex_levels", 2, "unit_levels", group="tiers"),
    Headline("spending_total", "ex_spending", 2, "money:total", group="other"),
)


GROUP_STARTS = frozenset(h.key for prev, h in zip(HEADLINES, HEADLINES[1:]) if h.group != prev.group)


def display(value: float, h: Headline, lang: Lang) -> float:
    return to_display(value * h.scale, h.unit, lang)


def headline_label(h: Headline, lang: Lang) -> str:
    unit = unit_text(h.unit, lang)
    return t(h.label, lang) + (f" ({unit})" if lang == "en" else f"（{unit}）")


# ------------------------------------------------------------------------------------ what to run
@dataclass(frozen=True)
class Plan:
    """The variants to run for one lever setting: the status quo, the setting, each channel off, all off."""

    levers: tuple  # ((name, value), ...) sorted
    channels: tuple  # sim.inputs.config.Channel, in lever then declaration order
    variants: tuple  # sim.policy.attribution.Variant: reference, package, without each channel, none

    def jobs(self, replicates: Sequence[runs.Replicate]) -> list[tuple]:
        """``(levers, replicate, channels off)`` for :func:`app.runs.run_many`: variant by variant."""
        return [(v.levers, rep, v.off) for v in self.variants for rep in replicates]

    @property
    def levers_changed(self) -> list[str]:
        return list(dict.fromkeys(c.lever for c in self.channels))


def levers_key(levers: Mapping[str, float]) -> tuple:
    return tuple(sorted((k, float(v)) for k, v in levers.items()))


def plan_for(levers: Mapping[str, float]) -> Plan | None:
    """The plan for ``levers`` against the status quo; None when they are the status quo."""
    defaults = lever_defaults()
    levers = {**defaults, **dict(levers)}
    try:
        chans = at.package_channels(make_config(defaults), make_config(levers))
    except at.AttributionError as exc:
        if exc.problem == "unchanged":
            return None
        raise
    variants = [at.Variant(REFERENCE, "reference", None, defaults)]
    variants += at.package_variants(PACKAGE, levers, chans, alone=False)
    return Plan(levers_key(levers), tuple(chans), tuple(variants))


def estimate_seconds(n_runs: int, quarters: int = QUARTERS) -> int:
    """About how long ``n_runs`` new runs take on the pool (for the line before the button)."""
    workers = max(1, runs.n_workers())
    per = RUN_SECONDS * quarters / 40
    return max(1, int(math.ceil(per * n_runs / min(workers, max(n_runs, 1)))))


# ------------------------------------------------------------------------------------ result
@dataclass(frozen=True)
class Cell:
    mean: float
    lo: float
    hi: float

    @property
    def measurable(self) -> bool:
        """The 95 % interval excludes 0."""
        return at.excludes_zero(self.lo, self.hi)


@dataclass(frozen=True, eq=False)
class Explanation:
    """A finished decomposition: per headline outcome, the values of every variant in every replicate."""

    plan: Plan
    replicates: tuple
    quarters: int
    values: Mapping[str, np.ndarray]  # outcome -> (variants, replicates), in plan.variants order
    seconds: float
    runs: int

    @property
    def key(self) -> tuple:
        return cache_key(self.plan.levers, self.replicates, self.quarters)

    @property
    def m(self) -> int:
        return len(self.replicates)

    @cached_property
    def decompositions(self) -> dict[str, at.Decomposition]:
        """Per outcome, :func:`sim.policy.attribution.decompose` of the paired runs."""
        out = {}
        kinds = [(v.kind, v.channel) for v in self.plan.variants]
        for key, vals in self.values.items():
            row = {kc: vals[i] for i, kc in enumerate(kinds)}
            out[key] = at.decompose(row[("reference", None)], row[("package", None)],
                                    {c.name: row[("without", c.name)] for c in self.plan.channels},
                                    row[("none", None)])
        return out

    @cached_property
    def cells(self) -> dict[str, dict[str, Cell]]:
        """row -> outcome -> mean and 95 % t interval; rows: "full", each channel's name, "sum", "none",
        "interaction"."""
        out: dict[str, dict[str, Cell]] = {}
        for key, dec in self.decompositions.items():
            series = {"full": dec.effect, **dec.contribution, "sum": dec.sum_contributions, "none": dec.none,
                      "interaction": dec.interaction}
            for row, d in series.items():
                out.setdefault(row, {})[key] = Cell(*at.mean_ci(d))
        return out


_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()


def cache_key(levers, replicates: Sequence[runs.Replicate], quarters: int) -> tuple:
    lk = levers if isinstance(levers, tuple) else levers_key({**lever_defaults(), **dict(levers)})
    return lk, tuple(replicates), int(quarters)


def cached(levers, replicates: Sequence[runs.Replicate], quarters: int = QUARTERS) -> Explanation | None:
    with _CACHE_LOCK:
        hit = _CACHE.get(cache_key(levers, replicates, quarters))
        if hit is not None:
            _CACHE.move_to_end(hit.key)
        return hit


def _store(ex: Explanation) -> None:
    with _CACHE_LOCK:
        _CACHE[ex.key] = ex
        _CACHE.move_to_end(ex.key)
        while len(_CACHE) > CACHE_MAX:
            _CACHE.popitem(last=False)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def explain_levers(levers: Mapping[str, float], replicates: Sequence[runs.Replicate], quarters: int = QUARTERS,
                   on_done=None) -> Explanation:
    """Run (or take from the cache) the plan of ``levers`` over ``replicates``; ValueError at the status quo."""
    plan = plan_for(levers)
    if plan is None:
        raise ValueError("the levers are the status quo: there is no effect to explain")
    hit = cached(plan.levers, replicates, quarters)
    if hit is not None:
        if on_done:
            on_done(hit.runs, hit.runs)
        return hit
    started = time.monotonic()
    jobs = plan.jobs(replicates)
    res = runs.run_many(jobs, quarters, on_done)
    m = len(replicates)
    values = {h.key: np.array([[float(r.summary[h.key]) for r in res[i * m:(i + 1) * m]]
                               for i in range(len(plan.variants))], dtype=float) for h in HEADLINES}
    ex = Explanation(plan, tuple(replicates), int(quarters), values, time.monotonic() - started, len(jobs))
    _store(ex)
    return ex


# ------------------------------------------------------------------------------------ words and table
def cell_shows_difference(cell: Cell, h: Headline) -> bool:
    """Black (a difference) only when the interval excludes 0 and the mean does not display as 0 in
    either language's unit (as the A/B table never colours a +0.00)."""
    if not cell.measurable:
        return False
    return all(round(display(cell.mean, h, lang), h.digits) != 0 for lang in ("en", "zh"))


def _cell_html(cell: Cell, h: Headline, lang: Lang) -> str:
    conv = lambda x: display(x, h, lang)  # noqa: E731
    black = cell_shows_difference(cell, h)
    ci = ("" if not (math.isfinite(cell.lo) and math.isfinite(cell.hi)) else
          f"<span class='ci'>({fmt(conv(cell.lo), h.digits, sign=True)} … {fmt(conv(cell.hi), h.digits, sign=True)})</span>")
    cls = "measurable" if black else "noise"
    colour = "#111" if black else "#9a9a9a"
    weight = "600" if black else "400"
    rule = "border-left:2px solid #888;" if h.key in GROUP_STARTS else ""  # between groups of outcomes
    return (f"<td class='cell {cls} out-{h.key}' style='{rule}color:{colour};font-weight:{weight}'>"
            f"{fmt(conv(cell.mean), h.digits, sign=True)}{ci}</td>")


def row_label(row: str, ex: Explanation, lang: Lang) -> str:
    if row in ROWS:
        return t(f"why_effect_{row}", lang)
    chan = next(c for c in ex.plan.channels if c.name == row)
    short = channel_short(chan, lang)
    return short[:1].upper() + short[1:]


def table_html(ex: Explanation, lang: Lang) -> str:
    """Rows: the full effect, each lever with its channels' contributions, their sum, all off, the
    interaction; a column per headline outcome (mean and, under it, the 95 % interval, grey where it
    includes 0; a rule between the headline outcomes, the energy levels and spending)."""
    head = "".join(f"<th class='{'group-start' if h.key in GROUP_STARTS else ''}' "
                   f"title='{html.escape(t(f'group_{h.group}', lang), quote=True)}'>"
                   f"{html.escape(headline_label(h, lang))}</th>" for h in HEADLINES)
    cells = ex.cells
    n = len(HEADLINES) + 1

    def row(key: str, cls: str, title: str = "") -> str:
        tip = f" title='{html.escape(title, quote=True)}'" if title else ""
        return (f"<tr class='{cls}'><td class='label'{tip}>{html.escape(row_label(key, ex, lang))}</td>"
                + "".join(_cell_html(cells[key][h.key], h, lang) for h in HEADLINES) + "</tr>")

    body = [row("full", "row-full")]
    for lever in ex.plan.levers_changed:
        body.append(f"<tr class='lever-row'><td colspan='{n}'>{html.escape(lever_label(lever, lang))}</td></tr>")
        for c in ex.plan.channels:
            if c.lever == lever:
                body.append(row(c.name, f"row-channel chan-{c.name.replace('.', '-')}", channel_text(c, lang)))
    body += [row("sum", "row-sum"), row("none", "row-none"), row("interaction", "row-interaction")]
    style = ("<style>.effect-table{border-collapse:collapse;font-size:0.8rem;line-height:1.3}"
             ".effect-table td,.effect-table th{border-bottom:1px solid #ddd;padding:1px 6px;text-align:right}"
             ".effect-table th{vertical-align:bottom;max-width:9.5em}"
             ".effect-table td.label,.effect-table th:first-child{text-align:left}"
             ".effect-table td.label{padding-left:14px;white-space:nowrap}"
             ".effect-table .ci{display:block;font-size:0.7rem;line-height:1.1;font-weight:400;white-space:nowrap}"
             ".effect-table td.cell{white-space:nowrap}"
             ".effect-table tr.lever-row td{font-weight:600;color:#1f4e79;text-align:left;padding-top:3px}"
             ".effect-table tr.row-full td,.effect-table tr.row-sum td{border-top:1.5px solid #999}"
             ".effect-table .group-start{border-left:2px solid #888}"
             ".effect-table tr.row-full td.label,.effect-table tr.row-sum td.label,"
             ".effect-table tr.row-none td.label,.effect-table tr.row-interaction td.label{padding-left:6px}</style>")
    return (f"{style}<table class='effect-table'><thead><tr><th>{html.escape(t('why_effect_channel', lang))}</th>"
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def interaction_sentence(ex: Explanation, lang: Lang) -> str:
    """One sentence: do the parts (channels' contributions + all off) add up to the full effect? Only an
    interaction whose interval excludes 0 is named."""
    cells = ex.cells
    items = []
    for h in HEADLINES:
        i = cells["interaction"][h.key]
        if cell_shows_difference(i, h):
            conv = lambda x: fmt(display(x, h, lang), h.digits, sign=True)  # noqa: E731
            items.append(t("why_effect_item", lang, outcome=t(h.label, lang), parts=conv(cells["sum"][h.key].mean),
                           full=conv(cells["full"][h.key].mean), i=f"{conv(i.mean)} ({conv(i.lo)} … {conv(i.hi)})",
                           unit=unit_text(h.unit, lang)))
    if not items:
        return t("why_effect_adds_up", lang, m=ex.m)
    text = t("why_effect_interacts", lang, items=pick_join(items, lang))
    if len(items) < len(HEADLINES):
        text += t("why_effect_rest", lang)
    return text


def pick_join(items: Sequence[str], lang: Lang) -> str:
    return ("；" if lang == "zh" else "; ").join(items)


def caption(ex: Explanation, lang: Lang) -> str:
    reps = ex.replicates
    if any(r.draw is not None for r in reps):
        which = t("why_effect_seeds_posterior", lang, m=len(reps), first=reps[0].seed, last=reps[-1].seed,
                  dlast=len(reps) - 1)
    else:
        which = t("why_effect_seeds", lang, m=len(reps), first=reps[0].seed, last=reps[-1].seed)
    return t("why_effect_caption", lang, k=len(ex.plan.channels), reps=which, q=ex.quarters, n=ex.runs,
             s=ex.seconds)


def plan_text(plan: Plan, m: int, new_runs: int, lang: Lang) -> str:
    """How many channels, variants and runs, and about how long the runs not cached yet take."""
    kw = dict(k=len(plan.channels), n=len(plan.variants) * m, v=len(plan.variants), m=m)
    if new_runs == 0:
        return t("why_effect_plan_done", lang, **kw)
    return t("why_effect_plan", lang, s=estimate_seconds(new_runs), **kw)


# ------------------------------------------------------------------------------------ panel
def _replicates(kind: str | None, seed: int, m: int, status: runs.PosteriorStatus | None):
    """The replicates a run would use now, or None while that is not known (posterior still checked)."""
    if kind is None or (kind == "posterior" and (status is None or not status.usable)):
        return None
    return tuple(runs.ab_replicates(kind, seed, m))


@solara.component
def EffectSources(levers: Mapping[str, float], seed: int, lang: Lang, vary: str | None = None,
                  status: runs.PosteriorStatus | None = None):
    """The "where does the effect come from?" button, its plan and time estimate, progress, and the
    table with its sentence. ``vary`` / ``status``: what the page's A/B replicates vary and the
    posterior's status (None while it is checked; a run then waits for the check in its thread)."""
    key = levers_key(levers)
    plan = solara.use_memo(lambda: plan_for(levers), dependencies=[key])
    n_rep = solara.use_reactive(DEFAULT_REPLICATES)
    progress = solara.use_reactive((0, 0))
    last = solara.use_reactive(None)  # the Explanation this panel computed last
    before = solara.use_ref(None)
    kind = run_vary(vary, status) if status is not None else vary
    reps = solara.use_memo(lambda: _replicates(kind, seed, n_rep.value, status),
                           dependencies=[kind, seed, n_rep.value, status])

    def run():
        known = status if status is not None else runs.posterior_status()
        replicates = runs.ab_replicates(run_vary(vary, known), seed, n_rep.value)
        res = explain_levers(levers, replicates, QUARTERS, on_done=progress_reporter(progress))
        last.set(res)  # shown at once; the task itself ends a moment later
        return res

    task = solara.lab.use_task(run, dependencies=None, prefer_threaded=True, raise_error=False)

    def start():
        before.current = last.value
        progress.set((0, 0))
        task()

    # what to show: the cached result for these levers and replicates (instant on a second look)
    done = cached(plan.levers, reps, QUARTERS) if plan is not None and reps is not None else None
    if done is None and last.value is not None and plan is not None and last.value.plan.levers == plan.levers \
            and (reps is None or last.value.replicates == reps):
        done = last.value
    running = task.pending and last.value is before.current
    table = solara.use_memo(lambda: table_html(done, lang) if done is not None else None, dependencies=[done, lang])
    from app.why import EffectWords  # here, not at the top: app.why_words reads this module's outcomes

    with solara.Column(gap="4px", classes=["why-effect"]):
        with solara.Row(gap="12px", style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.Button(t("why_effect_button", lang), icon_name="mdi-chart-timeline-variant", color="primary",
                          on_click=start, disabled=plan is None or task.pending, classes=["btn-why-effect"])
            a11y.Select(t("why_effect_replicates", lang), [str(x) for x in REPLICATE_CHOICES], str(n_rep.value),
                        lambda v: n_rep.set(int(v)), disabled=task.pending, classes=["why-effect-replicates"],
                        style={"min-width": "8em", "max-width": "9em"})
            if plan is None:
                solara.Text(t("why_effect_status_quo", lang), classes=["why-effect-sq"],
                            style={"font-size": "0.85rem", "flex": "1 1 20em"})
            else:
                jobs = plan.jobs(reps) if reps is not None else None
                new = len(jobs) - runs.cached_count(jobs, QUARTERS) if jobs is not None \
                    else len(plan.variants) * n_rep.value
                with solara.Column(gap="0px", style={"flex": "1 1 24em"}):
                    solara.Text(plan_text(plan, n_rep.value, new, lang), classes=["why-effect-plan"],
                                style={"font-size": "0.85rem"})
                    solara.Text(t("why_effect_intro", lang), classes=["why-effect-intro"],
                                style={"font-size": "0.75rem", "color": "#555"})
        if running:
            d, n = progress.value
            total = n or (len(plan.variants) * n_rep.value if plan is not None else 1)
            solara.Text(t("why_effect_running", lang, done=d, n=total), classes=["why-effect-running"])
            a11y.Progress(100.0 * d / max(total, 1), t("progress", lang))
        elif task.error and not task.pending:
            solara.Error(t("why_effect_error", lang, err=str(task.exception)), classes=["why-effect-error"])
        EffectWords(done if plan is not None else None, plan, QUARTERS, lang)  # words first, then the table
        if done is not None and plan is not None:
            solara.Text(caption(done, lang), classes=["why-effect-caption"], style={"font-size": "0.8rem"})
            solara.HTML(tag="div", unsafe_innerHTML=table, classes=["why-effect-table"],
                        style={"overflow-x": "auto", "max-width": "100%"})
            solara.Text(interaction_sentence(done, lang), classes=["why-effect-sum"],
                        style={"font-size": "0.85rem", "max-width": "70em"})
            solara.Text(t("why_effect_rule", lang, m=done.m), classes=["why-effect-rule"],
                        style={"font-size": "0.75rem", "color": "#555", "max-width": "70em"})
