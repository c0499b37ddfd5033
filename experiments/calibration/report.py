"""Outputs of a fit: ``posterior.parquet``, posterior-predictive checks, figures, ``calibration_report.md``.

* posterior.parquet — one row per particle of the last generation: the fitted parameters (named as in
  parameters.toml) and ``weight`` (sums to 1).
* Posterior predictive — ``posterior_predictive`` particles drawn by weight are re-run (one seed each,
  new seeds); per target: median and 90% interval against the target and its band.
* Identifiability — per parameter, posterior sd / prior sd (uniform prior: range / sqrt(12)):
  < 0.5 "pinned down by the targets", 0.5-0.8 "partly", > 0.8 "prior-driven" (the data say little).
* Convergence — epsilon and acceptance rate by generation.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.calibration.fit import FitModel, FitResult, posterior
from experiments.calibration.spec import CalibrationSpec

PINNED, PARTLY = 0.5, 0.8


def correlations(post: pd.DataFrame, spec: CalibrationSpec, threshold: float = 0.4) -> pd.DataFrame:
    """Weighted posterior correlations between fitted parameters with |r| >= ``threshold``: pairs the
    targets pin down only in combination (a ridge), strongest first."""
    w = post["weight"].to_numpy(float)
    names = list(spec.parameters)
    x = post[names].to_numpy(float)
    mean = w @ x
    cov = ((x - mean) * w[:, None]).T @ (x - mean)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    r = cov / np.outer(sd, sd)
    rows = [{"a": names[i], "b": names[j], "r": float(r[i, j])} for i in range(len(names))
            for j in range(i + 1, len(names)) if abs(r[i, j]) >= threshold]
    return pd.DataFrame(rows, columns=["a", "b", "r"]).sort_values("r", key=np.abs, ascending=False, ignore_index=True)


def identifiability(post: pd.DataFrame, spec: CalibrationSpec) -> pd.DataFrame:
    rows = []
    w = post["weight"].to_numpy()
    for name, (lo, hi) in spec.priors().items():
        x = post[name].to_numpy(float)
        mean = float(np.sum(w * x))
        sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
        ratio = sd / ((hi - lo) / math.sqrt(12.0))
        verdict = "pinned down" if ratio < PINNED else ("partly" if ratio < PARTLY else "prior-driven")
        q = np.interp([0.05, 0.5, 0.95], np.cumsum(w[np.argsort(x)]) - w[np.argsort(x)] / 2, np.sort(x))
        rows.append({"parameter": name, "prior_low": lo, "prior_high": hi, "posterior_mean": mean,
                     "posterior_p05": q[0], "posterior_median": q[1], "posterior_p95": q[2],
                     "sd_ratio": ratio, "verdict": verdict})
    return pd.DataFrame(rows)


def predictive(post: pd.DataFrame, spec: CalibrationSpec, n: int | None = None, seed: int = 1) -> pd.DataFrame:
    """Re-run ``n`` weighted draws of the posterior (one fresh seed each): per target, median and 90% interval."""
    from sim.outputs.calibration import target_measures

    rng = np.random.default_rng([spec.seed, seed])
    n = n or spec.posterior_predictive
    idx = rng.choice(len(post), size=n, p=post["weight"].to_numpy())
    base = spec.base_config()
    names = [t.name for t in spec.targets]
    values = []
    for i, row in enumerate(idx):
        particle = {k: float(post.at[row, k]) for k in spec.parameters}
        cfg = base.with_overrides(particle)
        run_seed = int(FitModel(spec).seeds({**particle, "_draw": float(i)})[0])
        values.append(target_measures(cfg, run_seed))
    from sim.outputs.calibration import predictive_table

    df = pd.DataFrame(values)[names]
    return predictive_table({t.name: {"target": t.value, "low": t.low, "high": t.high} for t in spec.targets}, df)


def _figures(root: Path, post, ident, pred, pops, spec) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = root / "figures"
    figs.mkdir(exist_ok=True)
    out = []
    k = len(spec.parameters)
    cols = min(4, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, (name, (lo, hi)) in zip(axes.ravel(), spec.priors().items()):
        ax.hist(post[name], bins=15, range=(lo, hi), weights=post["weight"], density=True, color="#4477aa",
                alpha=0.8, label="posterior")
        ax.axhline(1.0 / (hi - lo), color="#999", ls="--", lw=1, label="prior")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Prior (dashed) and posterior marginals", fontsize=10)
    fig.tight_layout()
    fig.savefig(figs / "marginals.png", dpi=120)
    plt.close(fig)
    out.append(("figures/marginals.png", "Prior (dashed, uniform over the parameter's range) and posterior marginal "
                                         "of each fitted parameter (weighted particles of the last generation)."))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(pred) + 1.2))
    y = np.arange(len(pred))
    scale = np.maximum((pred["band_high"] - pred["band_low"]).to_numpy(), 1e-12)
    z = lambda col: (pred[col].to_numpy() - pred["band_low"].to_numpy()) / scale  # noqa: E731 (band -> [0, 1])
    ax.axvspan(0, 1, color="#ddeedd", label="target band")
    ax.errorbar(z("median"), y, xerr=[z("median") - z("p05"), z("p95") - z("median")], fmt="o", color="#4477aa",
                label="posterior predictive median, 90% interval")
    ax.plot(z("value"), y, "k|", ms=14, label="target")
    ax.set_yticks(y, pred["target"], fontsize=7)
    ax.set_xlabel("position within the target band (0 = low end, 1 = high end)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(figs / "predictive.png", dpi=120)
    plt.close(fig)
    out.append(("figures/predictive.png", "Posterior-predictive median and 90% interval of each calibration target, "
                                          "scaled to its band, with the target value."))
    fig, ax = plt.subplots(1, 2, figsize=(8, 3))
    ax[0].plot(pops["t"] + 1, pops["epsilon"], "o-")
    ax[0].set(xlabel="generation", ylabel="epsilon (tolerances)", title="epsilon")
    ax[1].plot(pops["t"] + 1, pops["particles"] / pops["samples"], "o-")
    ax[1].set(xlabel="generation", ylabel="accepted / simulated", title="acceptance rate")
    fig.tight_layout()
    fig.savefig(figs / "convergence.png", dpi=120)
    plt.close(fig)
    out.append(("figures/convergence.png", "Convergence of the fit: epsilon and acceptance rate by generation."))
    return out


def write_outputs(spec: CalibrationSpec, fit: FitResult) -> Path:
    """posterior.parquet, predictive and identifiability tables, figures and calibration_report.md."""
    root = fit.root
    post, history = posterior(fit.db, fit.run_id)
    post.to_parquet(root / "posterior.parquet", index=False)
    ident = identifiability(post, spec)
    ident.to_csv(root / "identifiability.csv", index=False)
    corr = correlations(post, spec)
    corr.to_csv(root / "posterior_correlations.csv", index=False)
    pred = predictive(post, spec)
    pred.to_csv(root / "posterior_predictive.csv", index=False)
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    figures = _figures(root, post, ident, pred, pops, spec)
    lines = [f"# Calibration report: {spec.name}", "", f"> {spec.description}", "",
             "## Fit", "",
             f"- ABC-SMC (pyabc), {len(spec.parameters)} parameters with uniform priors over their ranges in "
             f"`configs/parameters.toml`, {len(spec.targets)} calibration targets (set-up checks are not fitted: "
             f"they hold by construction).",
             f"- Population {spec.population}, {fit.generations} generations ({fit.stopped}); "
             f"{int(pops['samples'].sum())} simulations of {spec.seeds_per_particle} run(s) each; "
             f"final epsilon {pops['epsilon'].iloc[-1]:.4g} (in tolerances: half of each target's band).",
             f"- Wall time of this invocation {fit.wall_s / 60:.1f} min{' (resumed)' if fit.resumed else ''}; "
             f"history: `{fit.db.name}` (pyabc run {fit.run_id}).", "",
             "## Targets: posterior predictive", "",
             f"{int(pred['covered'].sum())} of {len(pred)} targets are inside the 90% posterior-predictive interval "
             f"(*covered*); for {int(pred['pass'].sum())} the interval overlaps the band (*pass*: runs of the "
             f"ensemble reproduce the source within its uncertainty); {int(pred['median_in_band'].sum())} have their "
             "predictive median inside the band.", "",
             "| target | value | band | median | 90% interval | covered | pass |", "|---|---|---|---|---|---|---|"]
    for _, r in pred.iterrows():
        lines.append(f"| {r['target']} | {r['value']:.4g} | {r['band_low']:.4g}–{r['band_high']:.4g} | "
                     f"{r['median']:.4g} | {r['p05']:.4g}–{r['p95']:.4g} | {'yes' if r['covered'] else 'no'} | "
                     f"{'pass' if r['pass'] else 'FAIL'} |")
    lines += ["", "## Parameters: what the data pin down", "",
              f"sd ratio = posterior sd / prior sd: < {PINNED} pinned down, < {PARTLY} partly, otherwise prior-driven "
              "(the targets say little about it; its range is still swept).", "",
              "| parameter | prior | posterior median [5%, 95%] | sd ratio | verdict |", "|---|---|---|---|---|"]
    for _, r in ident.iterrows():
        lines.append(f"| {r['parameter']} | {r['prior_low']:.4g}–{r['prior_high']:.4g} | {r['posterior_median']:.4g} "
                     f"[{r['posterior_p05']:.4g}, {r['posterior_p95']:.4g}] | {r['sd_ratio']:.2f} | {r['verdict']} |")
    lines += ["", "Pairs the targets pin down only in combination (weighted posterior correlation |r| >= 0.4; "
              "`posterior_correlations.csv`): " + ("none." if corr.empty else "; ".join(
                  f"{r['a']} ~ {r['b']} (r = {r['r']:+.2f})" for _, r in corr.head(8).iterrows()) + ".")]
    lines += ["", "## Figures", ""]
    for i, (rel, caption) in enumerate(figures, 1):
        lines += [f"![Figure {i}]({rel})", "", f"*Figure {i}.* {caption}", ""]
    lines += ["## Convergence", "", "| generation | epsilon | accepted | simulated | acceptance |", "|---|---|---|---|---|"]
    for _, r in pops.iterrows():
        lines.append(f"| {int(r['t']) + 1} | {r['epsilon']:.4g} | {int(r['particles'])} | {int(r['samples'])} | "
                     f"{r['particles'] / max(r['samples'], 1):.2f} |")
    path = root / "calibration_report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
