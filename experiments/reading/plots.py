"""Figures of a sweep (matplotlib, PNG). Each function takes tables from :mod:`experiments.reading.analysis`
and writes one file; it returns the path, or None when the sweep lacks the data for it.

Labels are English; cluster names come from ``configs/city.toml`` and get their Chinese name too
when a CJK font is found (:mod:`sim.outputs.fonts`: the Noto Sans SC ``make`` fetches, or e.g. Debian
``fonts-noto-cjk``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.outputs import fonts as sim_fonts  # noqa: E402

DPI = 110
TIER_NAMES = ("provincial", "national", "world-class")  # index tiers; the county tier follows MIIT criteria


def cjk_font() -> str | None:
    """Family name of a font file with Chinese glyphs, registered with matplotlib by
    :mod:`sim.outputs.fonts` (the venv's Noto Sans SC, else a system CJK font), or None."""
    font = sim_fonts.find_cjk_font()
    return font.family if font else None


def style() -> None:
    sim_fonts.use_cjk_font(latin_first="DejaVu Sans")  # Latin from DejaVu Sans, Chinese from the CJK font
    plt.rcParams.update({
        "font.size": 9,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "figure.dpi": DPI, "savefig.bbox": "tight",
    })


def cluster_title(key: str, en: Mapping[str, str], zh: Mapping[str, str]) -> str:
    return f"{en.get(key, key)} {zh.get(key, '')}".strip() if cjk_font() else en.get(key, key)


def _colors(n: int) -> list:
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _wrap(label: str, width: int = 18) -> str:
    words, lines, cur = str(label).split(" "), [], ""
    for w in words:
        if cur and len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "\n".join([*lines, cur])


def energy_trajectories(traj: pd.DataFrame, clusters: Sequence[str], en: Mapping[str, str], zh: Mapping[str, str],
                        thresholds: Sequence[float], path: Path) -> Path | None:
    """Energy index over time per cluster: one line per group with its 95% CI band; tier thresholds dashed."""
    if traj.empty:
        return None
    groups = list(traj["group"].cat.categories) if hasattr(traj["group"], "cat") else list(traj["group"].unique())
    n = len(clusters)
    cols = 4 if n > 4 else n
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.7 * rows + 0.8), sharex=True, sharey=True,
                             squeeze=False)
    colors = _colors(len(groups))
    for ax, c in zip(axes.flat, clusters, strict=False):
        sub = traj[traj["cluster"] == c]
        for g, col in zip(groups, colors, strict=True):
            s = sub[sub["group"] == g]
            ax.plot(s["year"], s["mean"], color=col, lw=1.4, label=g)
            ax.fill_between(s["year"], s["ci_low"], s["ci_high"], color=col, alpha=0.15, lw=0)
        for t, name in zip(thresholds, TIER_NAMES, strict=False):
            ax.axhline(t, color="grey", ls="--", lw=0.7)
            ax.text(ax.get_xlim()[0], t, f" {name}", fontsize=6, color="grey", va="bottom")
        ax.set_title(cluster_title(c, en, zh), fontsize=9)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("energy index (0–1)")
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    for ax in axes[-1, :]:
        ax.set_xlabel("year")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(groups)), frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.03 * np.ceil(len(groups) / 4)))
    fig.suptitle("Cluster energy level (能级) over time — mean and 95% CI over runs", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def outcomes_by_group(table: pd.DataFrame, outcomes: Mapping[str, str], order: Sequence[str], path: Path,
                      scales: Mapping[str, float] | None = None) -> Path | None:
    """Mean and 95% CI of a few outcomes per group (policy package), one panel per outcome
    (values divided by ``scales[outcome]`` if given, e.g. 1e8 for 亿 yuan)."""
    scales = scales or {}
    present = [o for o in outcomes if o in set(table["outcome"])]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 0.35 * len(order) + 1.6), sharey=True,
                             squeeze=False)
    y = np.arange(len(order))[::-1]
    for ax, o in zip(axes[0], present, strict=True):
        t = table[table["outcome"] == o].set_index("group").reindex(order)[["mean", "ci_low", "ci_high"]]
        t = t / scales.get(o, 1.0)
        err = np.vstack([t["mean"] - t["ci_low"], t["ci_high"] - t["mean"]])
        ax.errorbar(t["mean"], y, xerr=np.nan_to_num(err), fmt="o", color="C0", ecolor="C0", capsize=3, ms=4)
        ax.set_title(outcomes[o], fontsize=9)
    axes[0, 0].set_yticks(y, [_wrap(g, 26) for g in order])
    fig.suptitle("Outcomes by policy package — mean and 95% CI over replicates", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def outcome_vs_lever(runs: pd.DataFrame, factors: Sequence[str], outcomes: Mapping[str, str], bins: int,
                     labels: Mapping[str, str], path: Path) -> Path | None:
    """Outcome against each swept lever: binned means with 95% CI bands (other factors vary within a bin)."""
    from experiments.reading.analysis import binned, mean_ci

    outs = [o for o in outcomes if o in runs]
    if not factors or not outs:
        return None
    fig, axes = plt.subplots(len(outs), len(factors), figsize=(2.8 * len(factors), 2.3 * len(outs) + 0.6),
                             squeeze=False, sharey="row")
    for j, f in enumerate(factors):
        b = binned(runs[f], bins)
        centres = runs.groupby(b, observed=False)[f].median()
        for i, o in enumerate(outs):
            ax = axes[i, j]
            stats_ = [mean_ci(runs.loc[b == cat, o]) for cat in b.cat.categories]
            m = np.array([s[1] for s in stats_])
            lo = np.array([s[2] for s in stats_])
            hi = np.array([s[3] for s in stats_])
            x = centres.to_numpy(dtype=float)
            ax.plot(x, m, "o-", color="C0", ms=3)
            ax.fill_between(x, lo, hi, color="C0", alpha=0.2, lw=0)
            if j == 0:
                ax.set_ylabel(_wrap(outcomes[o], 22))
            if i == len(outs) - 1:
                ax.set_xlabel(_wrap(labels.get(f, f), 28), fontsize=8)
    fig.suptitle("Outcomes against levers — binned mean and 95% CI", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def national_heatmap_groups(nat: pd.DataFrame, order: Sequence[str], clusters: Sequence[str], en: Mapping[str, str],
                            zh: Mapping[str, str], year: float, path: Path) -> Path | None:
    """P(cluster reaches national tier by the year): groups (rows) x clusters (columns)."""
    if nat.empty:
        return None
    grid = nat.pivot(index="group", columns="cluster", values="p").reindex(index=order, columns=list(clusters))
    fig, ax = plt.subplots(figsize=(1.25 * len(clusters) + 3, 0.42 * len(order) + 1.8))
    im = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if v < 0.6 else "black")
    ax.set_xticks(range(len(clusters)), [_wrap(cluster_title(c, en, zh), 14) for c in clusters], fontsize=8)
    ax.set_yticks(range(len(order)), [_wrap(g, 30) for g in order])
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="probability", shrink=0.8)
    ax.set_title(f"Probability that a cluster reaches the national tier by {year:.0f}", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def national_heatmap_levers(runs: pd.DataFrame, reached: pd.DataFrame, a: str, b: str, bins: int,
                            clusters: Sequence[str], en: Mapping[str, str], zh: Mapping[str, str],
                            labels: Mapping[str, str], year: float, path: Path) -> Path | None:
    """P(national tier by the year) over two binned levers, one panel per cluster."""
    from experiments.reading.analysis import binned

    if reached.empty:
        return None
    r = runs[["run_id", a, b]].assign(ba=binned(runs[a], bins), bb=binned(runs[b], bins))
    m = reached.merge(r, on="run_id")
    n = len(clusters)
    cols = 4 if n > 4 else n
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols + 1.5, 2.6 * rows + 1.2), squeeze=False, sharex=True,
                             sharey=True, layout="constrained")
    cats_a, cats_b = r["ba"].cat.categories, r["bb"].cat.categories
    im = None
    for ax, c in zip(axes.flat, clusters, strict=False):
        sub = m[m["cluster"] == c]
        grid = (sub.groupby(["bb", "ba"], observed=False)["reached"].mean().unstack("ba")
                .reindex(index=cats_b, columns=cats_a))
        im = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6, color="white" if v < 0.6 else "black")
        ax.set_xticks(range(len(cats_a)), cats_a, rotation=45, ha="right", fontsize=6)
        ax.set_yticks(range(len(cats_b)), cats_b, fontsize=6)
        ax.tick_params(labelbottom=True)
        ax.grid(False)
        ax.set_title(cluster_title(c, en, zh), fontsize=8)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.supxlabel(labels.get(a, a), fontsize=9)
    fig.supylabel(labels.get(b, b), fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=axes, label="probability (blank: no runs in the cell)", shrink=0.7)
    fig.suptitle(f"Probability of reaching the national tier by {year:.0f}", fontsize=11)
    return _save(fig, path)


def talent_outflow(table: pd.DataFrame, order: Sequence[str], path: Path) -> Path | None:
    """Talent leaving the city by destination (and graduate retention), mean and 95% CI per group."""
    dests = [("outflow_beijing_total", "Beijing 北京" if cjk_font() else "Beijing"),
             ("outflow_tianjin_total", "Tianjin 天津" if cjk_font() else "Tianjin"),
             ("outflow_elsewhere_total", "elsewhere")]
    dests = [(k, lab) for k, lab in dests if k in set(table["outcome"])]
    if not dests:
        return None
    has_ret = "graduate_retention" in set(table["outcome"])
    fig, axes = plt.subplots(1, 2 if has_ret else 1, figsize=(10 if has_ret else 7, 0.45 * len(order) + 1.8),
                             squeeze=False, gridspec_kw={"width_ratios": [2, 1]} if has_ret else None, sharey=True)
    y = np.arange(len(order))[::-1]
    h = 0.8 / len(dests)
    ax = axes[0, 0]
    for k, (key, lab) in enumerate(dests):
        t = table[table["outcome"] == key].set_index("group").reindex(order)
        err = np.nan_to_num(np.vstack([t["mean"] - t["ci_low"], t["ci_high"] - t["mean"]]))
        ax.barh(y + (len(dests) / 2 - k - 0.5) * h, t["mean"], height=h, xerr=err, capsize=2, label=lab, color=f"C{k}")
    ax.set_yticks(y, [_wrap(g, 26) for g in order])
    ax.set_xlabel("persons leaving over the horizon")
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(dests))
    ax.set_title("Talent outflow by destination", fontsize=10)
    if has_ret:
        t = table[table["outcome"] == "graduate_retention"].set_index("group").reindex(order)
        err = np.nan_to_num(np.vstack([t["mean"] - t["ci_low"], t["ci_high"] - t["mean"]]))
        axes[0, 1].errorbar(t["mean"], y, xerr=err, fmt="o", capsize=3, color="C3")
        axes[0, 1].set_xlabel("share of graduates who stay")
        axes[0, 1].set_title("Graduate retention", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def cost_effectiveness(ce: pd.DataFrame, runs: pd.DataFrame, path: Path) -> Path | None:
    """Spending against levels climbed and graduates retained, one point per group (mean, 95% CI)."""
    from experiments.reading.analysis import mean_ci

    panels = [c for c in ("tiers_climbed_clusters", "retained_3y_graduates") if c in ce]
    if "retained_3y_graduates" not in panels and "retained_graduates" in ce:
        panels.append("retained_graduates")
    if ce.empty or not panels:
        return None
    titles = {"tiers_climbed_clusters": "energy levels climbed (six clusters)",
              "retained_graduates": "graduates retained at graduation (persons)",
              "retained_3y_graduates": "graduates still in the city after 3 years (persons)"}
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    colors = _colors(len(ce))
    for ax, col in zip(axes[0], panels, strict=True):
        for (_, row), c in zip(ce.iterrows(), colors, strict=True):
            sub = runs[runs["group"] == row["group"]]
            _, mx, lx, hx = mean_ci(sub["spending_total"] / 1e8)
            _, my, ly, hy = mean_ci(sub[col])
            ax.errorbar(mx, my, xerr=[[mx - lx], [hx - mx]] if np.isfinite(lx) else None,
                        yerr=[[my - ly], [hy - my]] if np.isfinite(ly) else None, fmt="o", color=c, capsize=2,
                        label=row["group"])
        ax.set_xlabel("public spending over the horizon (亿 yuan = 100 M)" if cjk_font()
                      else "public spending over the horizon (100 M yuan)")
        ax.set_ylabel(titles[col])
    axes[0, 0].legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle("Cost-effectiveness — mean and 95% CI per group", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def sensitivity_bars(sens: pd.DataFrame, kind: str, labels: Mapping[str, str], path: Path) -> Path | None:
    """Sobol S1/ST or Morris mu* with confidence bars, one panel per outcome."""
    if sens.empty:
        return None
    outs = list(dict.fromkeys(sens["outcome"]))
    factors = list(dict.fromkeys(sens["factor"]))
    fig, axes = plt.subplots(1, len(outs), figsize=(3.6 * len(outs) + 1.5, 0.28 * len(factors) + 1.6), sharey=True,
                             squeeze=False)
    y = np.arange(len(factors))[::-1]
    for ax, o in zip(axes[0], outs, strict=True):
        t = sens[sens["outcome"] == o].set_index("factor").reindex(factors)
        if kind == "sobol":
            ax.barh(y + 0.2, t["ST"], height=0.4, xerr=t["ST_conf"], label="total (ST)", color="C1", capsize=2)
            ax.barh(y - 0.2, t["S1"], height=0.4, xerr=t["S1_conf"], label="first order (S1)", color="C0", capsize=2)
        else:
            ax.barh(y, t["mu_star"], height=0.6, xerr=t["mu_star_conf"], label="mu*", color="C0", capsize=2)
            ax.plot(t["sigma"], y, "k|", ms=8, label="sigma")
        ax.set_title(o, fontsize=9)
    axes[0, 0].set_yticks(y, [_wrap(labels.get(f, f), 34) for f in factors], fontsize=7)
    axes[0, -1].legend(frameon=False, fontsize=7)
    fig.suptitle("Sobol indices" if kind == "sobol" else "Morris elementary effects (inputs scaled to 0–1)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.98))  # keep the panel titles clear of the figure title
    return _save(fig, path)


def paired_effects(effects: pd.DataFrame, outcome_labels: Mapping[str, str], package_labels: Mapping[str, str],
                   path: str | Path, scales: Mapping[str, float] | None = None, by: str = "package",
                   title: str | None = None) -> Path:
    """Forest plot of paired package effects: one panel per outcome, one row per package; dot = mean
    effect, thick bar = 95% CI of the mean, thin bar = 5-95% of the effect across worlds; the share of
    worlds where the package beats the reference is written beside each row. ``by`` names the column of
    what is compared (a package, a design point, a factor's level; ``package_labels`` labels it) and
    ``title`` replaces the packages' title."""
    scales = scales or {}
    outcomes = list(dict.fromkeys(effects["outcome"]))
    packages = list(dict.fromkeys(effects[by]))
    fig, axes = plt.subplots(1, len(outcomes), figsize=(3.4 * len(outcomes), 0.5 * len(packages) + 1.4),
                             sharey=True, squeeze=False)
    y = np.arange(len(packages))[::-1]
    for ax, outcome in zip(axes[0], outcomes):
        sub = effects[effects["outcome"] == outcome].set_index(by).reindex(packages)
        s = scales.get(outcome, 1.0)
        ax.axvline(0, color="#888", lw=0.8)
        ax.hlines(y, sub["effect_p05"] / s, sub["effect_p95"] / s, color="#9ab", lw=1.2)
        ax.hlines(y, sub["effect_ci_low"] / s, sub["effect_ci_high"] / s, color="#246", lw=3.5)
        ax.plot(sub["effect_mean"] / s, y, "o", color="#d62", ms=5, zorder=3)
        if "p_beats" in sub:
            for yi, p in zip(y, sub["p_beats"]):
                if np.isfinite(p):
                    ax.annotate(f"P={p:.2f}", (1.0, yi), xycoords=("axes fraction", "data"), xytext=(3, 0),
                                textcoords="offset points", va="center", fontsize=7, color="#444")
        ax.set_title(outcome_labels.get(outcome, outcome), fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_yticks(y, [package_labels.get(p, p) for p in packages])
    fig.suptitle(title or "Paired effect against the status quo: mean (dot), 95% CI (thick), 5-95% of worlds (thin); "
                 "P = share of worlds where the package is better", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
