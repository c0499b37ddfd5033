"""The outputs of an optimisation: ``pareto.csv``, the parallel-coordinates figures and ``report.md``.

**Output.** ``DIR/pareto.csv`` (per case, the non-dominated set of every candidate evaluated within the
constraints: lever values, objectives, ``slack_<i>`` = how far inside constraint *i*, ``in_archive`` =
kept by the optimiser's ε-archive), ``DIR/figures/pareto_<case>.png`` (parallel coordinates, EMA
Workbench's ``ParallelAxes``), ``DIR/optimize/packages.csv`` (the paper's packages with the same
replicates) and ``DIR/report.md`` (the Pareto set against the packages: which are dominated, which
break a budget). The report prints its caveats first (generations run, horizon, seeds, in-sample
scores, whether the front still moved at the end) and calls a package dominated beyond seed noise only
when the paired per-seed gain of a Pareto point holds at 95% (:func:`dominates_clearly`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.decision import data
from experiments.decision.optimize_scoring import CaseResult, OptimizeResult, compare_packages, paired_gains
from experiments.decision.optimize_spec import DERIVED, OptimizeSpec
from experiments.running.store import write_text

# The report's convergence check looks at the last 3 generations (assumption: long enough that one quiet
# generation is not read as convergence, short enough to flag a front that still moved at the end of a
# short search, e.g. the 2-generation smoke spec).
CONVERGENCE_WINDOW = 3


def write_outputs(res: OptimizeResult) -> list[Path]:
    spec, root = res.spec, res.root
    frames = []
    for c in res.cases:
        a = c.pareto.copy()
        a.insert(0, "point", np.arange(1, len(a) + 1))
        a.insert(0, "budget", c.case.budget if c.case.budget is not None else np.nan)
        a.insert(0, "case", c.case.name)
        frames.append(a)
    pareto = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    keep = ["case", "budget", "point", *spec.lever_names, *spec.objective_names, *DERIVED,
            *[f"slack_{i + 1}" for i in range(len(spec.constraints))], "replicates_ok", "generation", "in_archive"]
    pareto = pareto[[c for c in dict.fromkeys(keep) if c in pareto]]
    files = [root / "pareto.csv"]
    pareto.to_csv(files[0], index=False)
    (root / "figures").mkdir(parents=True, exist_ok=True)
    for c in res.cases:
        files.append(figure(spec, c, res.packages, root / "figures" / f"pareto_{c.case.name}.png"))
    report = root / "report.md"
    write_text(markdown(res), report)
    files.append(report)
    return files


def figure(spec: OptimizeSpec, case: CaseResult, packages: pd.DataFrame, path: Path) -> Path:
    """Parallel coordinates (EMA Workbench ``ParallelAxes``): the Pareto points over the decision levers and
    the objectives (better up), the paper's packages dashed."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import parcoords

    from experiments.reading import plots

    levers, objectives = spec.lever_names, spec.objective_names
    cols = [*levers, *objectives]
    pts = case.pareto[cols] if len(case.pareto) else pd.DataFrame(columns=cols)
    pk = packages[["label", *cols]] if len(packages) else pd.DataFrame(columns=["label", *cols])
    both = pd.concat([pts, pk[cols]], ignore_index=True).apply(pd.to_numeric, errors="coerce")
    lows = {f.name: (min(f.values) if f.values is not None else f.params["min"]) for f in spec.levers}
    highs = {f.name: (max(f.values) if f.values is not None else f.params["max"]) for f in spec.levers}
    for o in objectives:
        lo, hi = float(both[o].min()), float(both[o].max())
        if not np.isfinite(lo) or lo == hi:
            lo, hi = (lo - 1, hi + 1) if np.isfinite(lo) else (0.0, 1.0)
        lows[o], highs[o] = lo, hi
    limits = pd.DataFrame([lows, highs])[cols]
    labels = data.labels()
    with plt.rc_context():
        plots.style()
        axes = parcoords.ParallelAxes(limits, formatter={c: ".3g" for c in cols}, fontsize=7, rot=60)
        plots.style()  # again: ParallelAxes sets seaborn's style (fonts without the Chinese glyphs of 亿)
        cmap = plt.get_cmap("viridis")
        first = objectives[0]
        span = (highs[first] - lows[first]) or 1.0
        for _, row in pts.iterrows():
            axes.plot(row.to_frame().T.astype(float), color=cmap((row[first] - lows[first]) / span), lw=1.2)
        for i, (_, row) in enumerate(pk.iterrows()):
            axes.plot(row[cols].to_frame().T.astype(float), color=f"C{i % 10}", lw=1.4, linestyle="--",
                      label=str(row["label"]))
        for o, d in spec.objectives:
            if d < 0:
                axes.invert_axis(o)
        fig = axes.fig
        fig.set_size_inches(1.0 * len(cols) + 4.0, 5.2)
        for ax, name in zip(axes.axes[:-1], cols, strict=False):
            ax.xaxis.set_ticklabels([plots._wrap(labels.get(name, name), 18)], rotation=60, fontsize=7)
        axes.axes[-1].xaxis.set_ticklabels([plots._wrap(labels.get(c, c), 18) for c in cols[-2:]], rotation=60,
                                           fontsize=7)
        if len(pk):
            axes.legend()
        fig.suptitle(f"{spec.name} — {case.case.label}: {len(pts)} Pareto points (colour: {first}); packages dashed; "
                     "minimised objectives flipped (better is up)", fontsize=9)
        fig.savefig(path, dpi=130, bbox_inches="tight")
        plt.close(fig)
    return path


def caveats(res: OptimizeResult) -> list[str]:
    """What limits every claim of the report, said before any of them: the search's length, the horizon,
    the seeds the scores rest on, and that the scores are in-sample."""
    spec = res.spec
    reps = spec.sweep.replicates
    done = sorted({c.generation for c in res.cases})
    ran = "/".join(map(str, done)) if done else "0"
    posterior = (f" and {spec.sweep.n_draws} posterior draws (replicate r uses draw r mod {spec.sweep.n_draws})"
                 if spec.sweep.n_draws else "")
    return ["**Caveats.** "
            f"{ran} of {spec.generations} generations run (population {spec.population}); horizon "
            f"{spec.sweep.horizon} quarters; every score is the mean over the same {reps} "
            f"seed{'s' if reps != 1 else ''}{posterior}. The scores are **in-sample**: the Pareto points were "
            f"selected on these {reps} seeds and are reported on them, so their lead over the packages is biased "
            "upwards (a point can look better because its seeds were lucky); re-score the points on new seeds "
            "(another `[experiment] seed`) before relying on a gap. A package counts as *dominated beyond seed "
            f"noise* only when the point's gain, paired over the {reps} seeds, has a 95% interval above -ε in every "
            "objective (not worse by a difference that matters) and above 0, with a mean of at least ε, in one"
            + ("; with one seed the noise is not measured and no domination is claimed." if reps < 2 else ".")
            + ("" if res.finished else " **Not finished yet**: run the same command to continue."), ""]


def convergence_words(spec: OptimizeSpec, c: CaseResult) -> str:
    """How much the front still moved at the end: the ε-improvements of the archive and the Pareto points
    first found in the last :data:`CONVERGENCE_WINDOW` generations."""
    window = min(CONVERGENCE_WINDOW, c.generation)
    if window == 0:
        return "Convergence: no generation run yet."
    recent = _diffs(c.improvements)[-window:] if c.improvements else []
    first = pd.to_numeric(c.pareto.get("generation", pd.Series(dtype=float)), errors="coerce")
    new = int((first > c.generation - window).sum())
    moving = new > 0 or any(recent)
    return (f"Convergence: in the last {window} of {c.generation} generations the archive improved "
            f"{sum(recent)} time(s) ({', '.join(map(str, recent))}) and {new} of the {len(c.pareto)} Pareto points "
            "were found; " + ("**the front was still moving**, so more generations may change it." if moving else
                              "the front did not change (with so few generations this is no proof of convergence)."))


def markdown(res: OptimizeResult) -> str:
    spec = res.spec
    names = spec.objective_names
    reps = spec.sweep.replicates
    posterior = f", posterior draws {spec.sweep.n_draws}" if spec.sweep.n_draws else ""
    obj = ", ".join(f"{'maximise' if d > 0 else 'minimise'} `{o}` (ε {data.fmt(spec.epsilons[o])})"
                    for o, d in spec.objectives)
    cons = "; ".join(f"({i + 1}) `{c.text}`" for i, c in enumerate(spec.constraints)) or "none"
    lines = [f"# {spec.name}: best packages under a budget", "",
             spec.sweep.description or "", "",
             f"Search: ε-NSGA-II (`platypus.EpsNSGAII`, as in EMA Workbench) over {len(spec.levers)} levers "
             f"({', '.join(f'`{n}`' for n in spec.lever_names)}), population {spec.population}, "
             f"{spec.generations} generations per case. Objectives: {obj}. Constraints: {cons}"
             + (f", with budget = {', '.join(data.fmt(b) for b in spec.budgets)} yuan a year (one search each)."
                if spec.budgets else "."),
             f"Each evaluation is the mean over {reps} replicates (seeds{posterior}), the same for every candidate "
             f"and package; horizon {spec.sweep.horizon} quarters. This session: {res.runs} model runs, "
             f"{res.reused} reused from the store, {res.seconds / 60:.1f} min.", "", *caveats(res)]
    for c in res.cases:
        cmp = compare_packages(spec, c, res.packages, res.package_replicates)
        lines += [f"## {c.case.label.capitalize()} (`{c.case.name}`)", "",
                  f"{len(c.evaluations)} candidates evaluated in {c.generation} generations: **{len(c.pareto)} "
                  f"non-dominated points** among those within the constraints ({int(c.pareto['in_archive'].sum())} "
                  f"of them in the optimiser's ε-archive; all in `pareto.csv`, case `{c.case.name}`). "
                  + convergence_words(spec, c), ""]
        if len(c.pareto):
            show = c.pareto.head(12)
            lines += ["| point | " + " | ".join(f"`{o}`" for o in names) + " | " +
                      " | ".join(f"`{n}`" for n in spec.lever_names) + " |",
                      "|---" * (1 + len(names) + len(spec.lever_names)) + "|"]
            for i, r in show.iterrows():
                lines.append(f"| {i + 1} | " + " | ".join(data.fmt(r[o]) for o in names) + " | " +
                             " | ".join(data.fmt(r[n]) for n in spec.lever_names) + " |")
            if len(c.pareto) > len(show):
                lines.append(f"| … | {len(c.pareto) - len(show)} more in `pareto.csv` |")
            lines.append("")
        else:
            lines += ["No evaluated candidate met every constraint: loosen a constraint or widen the lever ranges.",
                      ""]
        if len(cmp):
            lines += _package_words(spec, c, cmp, res.package_replicates)
        lines += [f"![Pareto set](figures/pareto_{c.case.name}.png)", "",
                  "*Parallel coordinates: one line per Pareto point (colour: first objective), the paper's packages "
                  "dashed; each axis spans the lever's range or the objectives' values; minimised objectives are "
                  "flipped so that better is up.*", ""]
    lines += ["A package is *dominated* when some Pareto point is no worse in every objective and better by at least "
              "that objective's ε in one (differences below ε are noise or do not matter), on the means over the "
              "seeds; *beyond seed noise* when that also holds for the paired 95% interval (see the caveats). "
              "Packages are evaluated with the same seeds as the candidates; a package that breaks a constraint can "
              "still be dominated.",
              "", "Files: `pareto.csv` (per case: lever values, objectives, `slack_<i>` = how far inside constraint "
              "*i* in its units, `in_archive`), `optimize/packages.csv`, `optimize/<case>/evaluations.parquet` (every "
              "candidate evaluated), `figures/pareto_<case>.png`.", ""]
    return "\n".join(lines)


def _diffs(cum: Sequence[int]) -> list[int]:
    return [b - a for a, b in zip([0, *cum[:-1]], cum, strict=True)]


def _package_words(spec: OptimizeSpec, c: CaseResult, cmp: pd.DataFrame,
                   package_replicates: np.ndarray | None = None) -> list[str]:
    """Which packages are dominated: beyond seed noise (with the paired gains' intervals), or on the means
    only (then indistinguishable at this sample size), and which break a constraint."""
    from experiments.reading.analysis import INDISTINGUISHABLE

    names, dirs = spec.objective_names, [d for _, d in spec.objectives]
    reps = spec.sweep.replicates

    def gains(k: int, p: pd.Series, points: str) -> str:
        best = int(points.split()[0]) - 1
        a = c.pareto.iloc[best]
        paired = (paired_gains(c.replicates[best], package_replicates[k], dirs)
                  if p["noise_checked"] else [(0, np.nan, np.nan, np.nan)] * len(names))
        parts = []
        for o, d, (_, _, lo, hi) in zip(names, dirs, paired, strict=True):
            diff = a[o] - p[o]
            if abs(diff) < spec.epsilons[o]:
                continue
            low, high = (lo, hi) if d > 0 else (-hi, -lo)  # the gain's interval back in the outcome's units
            ci = f" [{_signed(low)}, {_signed(high)}]" if np.isfinite(lo) else ""
            parts.append(f"{_signed(diff)}{ci} `{o}`")
        return f"{p['label']} (by point {best + 1}: {', '.join(parts)})"

    index = {pk: k for k, pk in enumerate(cmp["package"])}
    clear = cmp[cmp["dominated_beyond_noise"]]
    loose = cmp[cmp["dominated"] & ~cmp["dominated_beyond_noise"]]
    over = cmp[~cmp["within_constraints"]]
    words = []
    if len(clear):
        words.append(f"**{len(clear)} of {len(cmp)} packages are dominated beyond seed noise** by a Pareto point "
                     f"(paired over {reps} seeds, 95% interval in brackets; in-sample, see the caveats): "
                     + "; ".join(gains(index[p["package"]], p, p["clear_by"]) for _, p in clear.iterrows()) + ".")
    if len(loose):
        checked = bool(loose["noise_checked"].all())
        why = (f"on the means over {reps} seeds, but not beyond seed noise ({INDISTINGUISHABLE})" if checked and
               reps >= 2 else f"on the means over {reps} seed{'s' if reps != 1 else ''} only: seed noise not measured")
        words.append(f"{len(loose)} {'more ' if len(clear) else ''}of {len(cmp)} look dominated {why}: "
                     + "; ".join(gains(index[p["package"]], p, p["dominated_by"]) for _, p in loose.iterrows())
                     + ".")
    if not len(clear) and not len(loose):
        words.append(f"No package is dominated by a Pareto point of this search ({len(cmp)} compared).")
    if len(over):
        words.append(f"{len(over)} break a constraint: " + ", ".join(over["label"]) + ".")
    lines = [" ".join(words), "", "| package | " + " | ".join(f"`{o}`" for o in names)
             + " | within constraints | dominated by points (means) | beyond seed noise |",
             "|---" * (4 + len(names)) + "|"]
    for _, p in cmp.iterrows():
        noise = (p["clear_by"] or "no") if p["dominated"] and p["noise_checked"] else "–"
        lines.append(f"| {p['label']} | " + " | ".join(data.fmt(p[o]) for o in names) + " | "
                     + ("yes" if p["within_constraints"] else "**no**") + " | " + (p["dominated_by"] or "–") + " | "
                     + noise + " |")
    return [*lines, ""]


def _signed(v: float) -> str:
    return ("+" if v >= 0 else "") + data.fmt(v)


__all__ = ["caveats", "convergence_words", "figure", "markdown", "write_outputs"]
