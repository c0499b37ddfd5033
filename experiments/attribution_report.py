"""Figures and plain words for ``python -m experiments explain`` (see :mod:`experiments.attribution`).

Every word that says a channel matters or not follows from its 95% interval, never from the point
estimate: "adds nothing measurable" = the interval of its contribution includes 0; a share is only
given where the package's own effect is measurable; "the parts do not add up" = the interval of the
interaction excludes 0. In the figures the same rule sets the colour: grey bars have intervals that
include 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.attribution import DISPLAY, excludes_zero

UP, DOWN, NOISE, WHOLE = "#2a7f62", "#c0504d", "#c8c8c8", "#34495e"


def display(outcome: str) -> tuple[str, float, str]:
    return DISPLAY.get(outcome, (outcome.replace("_", " "), 1.0, ""))


def short(channel: str, info: Mapping[str, Any]) -> str:
    """``planned entry`` from the channel's English description (``planned entry: this share ...``)."""
    en = info.get(channel, {}).get("en", "")
    return en.split(":")[0].strip() if en else channel


def _num(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _signed(x: float) -> str:
    s = _num(x)
    return f"+{s}" if np.isfinite(x) and x > 0 else s.replace("-", "−")


def _ci(m: float, lo: float, hi: float, scale: float = 1.0) -> str:
    if not np.isfinite(m):
        return "–"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{_signed(m / scale)} (no interval: fewer than 2 independent worlds or posterior draws)"
    return f"{_signed(m / scale)} [{_signed(lo / scale)}, {_signed(hi / scale)}]"


def _p(v: float, digits: int) -> str:
    return f"{v * 100:.{digits}f}".replace("-", "−")


def _pct(s: float, lo: float, hi: float) -> str:
    """``60% [45, 75]``; one decimal when a bound is under 10% (``0.4% [0.2, 0.6]``)."""
    if not np.isfinite(s):
        return "–"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{_p(s, 0 if abs(s) >= 0.1 else 1)}% (no interval)"
    d = 0 if min(abs(s), abs(lo), abs(hi)) >= 0.1 else 1
    return f"{_p(s, d)}% [{_p(lo, d)}, {_p(hi, d)}]"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------------- words
def outcome_words(pkg: pd.Series, rows: pd.DataFrame, info: Mapping[str, Any]) -> str:
    """One paragraph: what a package does to one outcome and which channels carry it."""
    label, scale, unit = display(pkg["outcome"])
    u = f" {unit}" if unit else ""
    e, elo, ehi = pkg["effect"], pkg["effect_lo"], pkg["effect_hi"]
    parts = [f"**{label}**{f' ({unit})' if unit else ''}:"]
    if not np.isfinite(e):
        return " ".join(parts) + (" no value in these runs (the model reports none, e.g. the horizon is shorter "
                                  "than the outcome needs).")
    measurable = excludes_zero(elo, ehi)
    none_note = ""
    if np.isfinite(pkg["effect_none"]) and pkg["effect_none"] != 0:
        none_note = (f" With all its channels off the package still changes it by {_ci(pkg['effect_none'], pkg['effect_none_lo'], pkg['effect_none_hi'], scale)}"
                     f"{u} (its programmes run, and cost, whatever their channels do).")
    ps = pkg.get("parameter_share", math.nan)
    split = f" (spread across worlds: {ps:.0%} between posterior draws, the rest seed noise)" if np.isfinite(ps) else ""
    if measurable:
        parts.append(f"the package changes it by {_ci(e, elo, ehi, scale)}{u}{split}.{none_note}")
    else:
        parts.append(f"no measurable effect ({_ci(e, elo, ehi, scale)}{u}; the interval includes 0), so no shares "
                     f"are given.{none_note}")
    keyed = rows.assign(mag=rows["contribution"].abs()).sort_values("mag", ascending=False, kind="stable")
    sure = keyed[[excludes_zero(lo, hi) for lo, hi in zip(keyed["contribution_lo"], keyed["contribution_hi"])]]
    unsure = keyed.drop(sure.index)
    said = []
    for _, r in sure.iterrows():
        name = short(r["channel"], info)
        contrib = f"{_ci(r['contribution'], r['contribution_lo'], r['contribution_hi'], scale)}{u} lost without it"
        if measurable and np.isfinite(r["share"]):
            against = np.sign(r["contribution"]) != np.sign(e)
            if against:
                k = -np.sign(e)  # contribution of the other sign: the effect is larger without the channel
                ends = sorted((k * r["contribution_lo"] / scale, k * r["contribution_hi"] / scale))
                larger = f"{_num(k * r['contribution'] / scale)} [{_num(ends[0])}, {_num(ends[1])}]"
                said.append(f"{name} works against it: without it the effect is larger by {larger}{u} "
                            f"({_pct(r['share'], r['share_lo'], r['share_hi'])} of the effect)")
            else:
                said.append(f"{_pct(r['share'], r['share_lo'], r['share_hi'])} of it comes from {name} ({contrib})")
        else:
            said.append(f"{name} moves it by {_ci(r['contribution'], r['contribution_lo'], r['contribution_hi'], scale)}"
                        f"{u} (lost without it)")
    if said:
        parts.append(_cap("; ".join(said)) + "." if measurable else
                     "Yet some channels move it measurably: " + "; ".join(said) + ".")
    if len(unsure):
        names = [short(c, info) for c in unsure["channel"]]
        few = unsure["contribution_lo"].isna().any()
        if few:
            parts.append(_cap(f"{_names(names)}: cannot be told with fewer than 2 independent worlds or posterior "
                              "draws."))
        else:
            verb = "adds" if len(names) == 1 else "add"
            parts.append(_cap(f"{_names(names)} {verb} nothing measurable (interval includes 0)."))
    if pkg["channels"] >= 2:
        i, ilo, ihi = pkg["interaction"], pkg["interaction_lo"], pkg["interaction_hi"]
        total = _ci(pkg["sum_contributions"], pkg["sum_contributions_lo"], pkg["sum_contributions_hi"], scale)
        # the number printed is the interaction column: effect - effect_none - sum of the contributions
        rest = f"the rest, effect − all channels off − the sum, is {_ci(i, ilo, ihi, scale)}{u}"
        if excludes_zero(ilo, ihi):
            how = ("more than the effect they share: the channels reinforce each other (taking one away also "
                   "weakens others)" if i < 0 else
                   "less than the effect: the channels stand in for one another (without one, the others make up "
                   "part of it)")
            parts.append(f"The parts do not add up: the contributions sum to {total}{u}, {how}; {rest} "
                         "(the interaction).")
        elif np.isfinite(ilo):
            parts.append(f"No interaction measurable: the contributions sum to {total}{u}; {rest} and its "
                         "interval includes 0.")
    return " ".join(parts)


def markdown(folder: str | Path, link_prefix: str = "", heading: str = "##") -> str:
    """The report section from the files of an explain folder (``channels.csv``, ``packages.csv``,
    ``settings.json``); figure links get ``link_prefix`` (e.g. ``explain/`` from the sweep's report)."""
    folder = Path(folder)
    meta = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    ch = pd.read_csv(folder / "channels.csv")
    pk = pd.read_csv(folder / "packages.csv")
    info = meta.get("channel_info", {})
    labels = meta.get("package_labels", {})
    ref = labels.get(meta["reference"], meta["reference"])
    draws = meta.get("posterior_draws") or 0
    n = meta["replicates"]
    seeds_per_draw = n // draws if draws else 0
    split = (" Beside a measurable effect: how much of its spread across worlds lies between posterior draws (what "
             "we do not know about behaviour) rather than in seed noise (chance within one world); a one-way ANOVA "
             f"over {draws} draws x {seeds_per_draw} seeds, so a rough split (no interval)." if draws and seeds_per_draw >= 2 else
             " With one seed per draw, parameter uncertainty and chance are not told apart here." if draws else "")
    worlds = (f"{n} paired worlds: posterior draw r % {draws} of the behavioural coefficients and seed r"
              if draws else f"{n} paired worlds (seeds only: no posterior, so parameter uncertainty is not in "
                            "these intervals)")
    off = meta.get("channels_off_in_base") or {}
    base_off = ""
    if off:
        names = sorted({c for cs in off.values() for c in cs})
        one = len(names) == 1
        base_off = (f" The spec's base switches off {_names([f'`{c}`' for c in names])}: off in every run here, the "
                    f"reference's too, so {'it contributes' if one else 'they contribute'} nothing by construction "
                    f"and {'is' if one else 'are'} not among the packages' channels.")
    lines = [f"{heading} What carries each package's effect: its channels", "",
             f"Each package against **{ref}**, {meta['horizon']} quarters from {meta.get('start', '?')}, in "
             f"{worlds}; the reference, the package and every variant below run in the same worlds (common random "
             f"numbers). Variants: each channel switched off in turn (*without*: it acts at its lever's status-quo "
             f"value), each channel alone (the package's other channels off), all channels off. A channel's "
             f"*contribution* = effect − effect without it; its *share* = contribution / effect, given only where the "
             f"effect is measurable. Intervals: {meta['interval']}. \"Nothing measurable\" means the interval includes "
             f"0 (the channel may still matter by less than the interval's width). Spec `{meta.get('spec_file')}`, "
             f"{meta['distinct_runs']:,} runs ({meta['failed_runs']} failed) in {meta['wall_s'] / 60:.1f} min. "
             f"Tables: `{link_prefix}channels.csv`, `{link_prefix}packages.csv`.{base_off}{split}", ""]
    for key in meta["packages"]:
        rows = ch[ch["package"] == key]
        prow = pk[pk["package"] == key]
        if prow.empty:
            continue
        levers = meta.get("package_levers", {}).get(key, {})
        nch = int(prow["channels"].iloc[0])
        lines += [f"{heading}# {labels.get(key, key)} (`{key}`: {', '.join(f'{k} = {v:g}' for k, v in levers.items())}; "
                  f"{nch} channel{'s' * (nch != 1)}, {int(prow['n'].iloc[0])} worlds)", ""]
        failed = int(prow["failed_replicates"].iloc[0])
        if failed:
            lines += [f"*{failed} replicate(s) left out: a run of theirs failed (see runs.csv).*", ""]
        for _, p in prow.iterrows():
            lines += [f"- {outcome_words(p, rows[rows['outcome'] == p['outcome']], info)}"]
        lines += ["", f"![Channels of {key}]({link_prefix}figures/{key}.png)", "",
                  f"*{labels.get(key, key)}: each channel's contribution (bar: effect − effect without it; whisker: "
                  "95% CI; grey: the interval includes 0) and its effect alone (◇), beside the full effect, the sum of "
                  "the contributions, the interaction and the package with all channels off.*", ""]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- figures
def figures(channels: pd.DataFrame, packages: pd.DataFrame, meta: Mapping[str, Any], folder: Path) -> list[Path]:
    """One PNG per package: a panel per outcome, a bar per channel, then the whole."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.reading import plots

    plots.style()
    folder.mkdir(parents=True, exist_ok=True)
    info = meta.get("channel_info", {})
    labels = meta.get("package_labels", {})
    out = []
    for key in meta["packages"]:
        rows = channels[channels["package"] == key]
        prow = packages[packages["package"] == key].set_index("outcome")
        if prow.empty:
            continue
        outcomes = list(prow.index)
        chans = list(dict.fromkeys(rows["channel"]))
        names = ["full effect", "sum of contributions", "interaction", "all channels off"] + \
                [short(c, info) for c in chans]
        y = -np.arange(len(names), dtype=float)
        y[4:] -= 0.6  # a gap between the whole and the parts
        ncols = min(3, len(outcomes))
        nrows = math.ceil(len(outcomes) / ncols)
        height = 0.24 * len(names) + 1.3
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols + 1.6, height * nrows), sharey=True,
                                 squeeze=False, layout="constrained")
        for ax in axes.flat[len(outcomes):]:
            ax.set_visible(False)
        for ax, o in zip(axes.flat, outcomes):
            label, scale, unit = display(o)
            p = prow.loc[o]
            sub = rows[rows["outcome"] == o].set_index("channel").reindex(chans)
            whole = [("effect", WHOLE), ("sum_contributions", WHOLE), ("interaction", WHOLE), ("effect_none", WHOLE)]
            m = [p[k] / scale for k, _ in whole] + list(sub["contribution"] / scale)
            lo = [p[f"{k}_lo"] / scale for k, _ in whole] + list(sub["contribution_lo"] / scale)
            hi = [p[f"{k}_hi"] / scale for k, _ in whole] + list(sub["contribution_hi"] / scale)
            colours = []
            for i, (mi, li, hi_) in enumerate(zip(m, lo, hi)):
                if not excludes_zero(li, hi_):
                    colours.append(NOISE)
                elif i < 4:
                    colours.append(WHOLE)
                else:
                    colours.append(UP if mi > 0 else DOWN)
            m_, lo_, hi_ = (np.asarray(v, dtype=float) for v in (m, lo, hi))
            err = np.vstack([np.where(np.isfinite(lo_), m_ - lo_, 0), np.where(np.isfinite(hi_), hi_ - m_, 0)])
            ax.barh(y, np.nan_to_num(m_), color=colours, height=0.7)
            ax.errorbar(m_, y, xerr=np.abs(err), fmt="none", ecolor="#333", elinewidth=0.9, capsize=2)
            alone = sub["effect_alone"].to_numpy(float) / scale
            ax.plot(alone, y[4:], "D", mfc="none", mec="#555", ms=4, label="channel alone")
            ax.axvline(0, color="#666", lw=0.8)
            ax.axhline((y[3] + y[4]) / 2, color="#aaa", lw=0.6, ls=":")
            unit = unit.replace("亿 yuan", "100 M yuan")  # no CJK glyph needed in the figure
            ax.set_title(f"{label}" + (f" ({unit})" if unit else ""), fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes[:, 0]:
            ax.set_yticks(y, names)
        axes.flat[0].legend(fontsize=7, loc="lower right", frameon=False)
        n = int(prow["n"].iloc[0])
        g = int(prow["draws"].iloc[0]) if "draws" in prow and np.isfinite(prow["draws"].iloc[0]) else 0
        over = f"{g} posterior draws ({n} paired worlds)" if g else f"{n} paired worlds"
        fig.suptitle(f"{labels.get(key, key)}: contribution of each channel (effect − effect without it), mean and 95% CI "
                     f"over {over}; grey = interval includes 0", fontsize=8)
        out.append(plots._save(fig, folder / f"{key}.png"))
    return out
