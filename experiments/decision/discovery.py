"""Scenario discovery: in which part of the levers and uncertainties does a condition on the outcomes
hold? PRIM from EMA Workbench (``ema_workbench.analysis.prim``; CART from ``...analysis.cart`` as a
second opinion) over the swept factors of a sweep, one row per ok run.

    python -m experiments discover results/futures_lhs --where "any_national == 0"

Writes ``DIR/discovery/``: ``boxes.csv`` (the chosen box: per restricted dimension its limits, the
whole range, quasi-p values, and the box's coverage, density, mass), ``trajectory.csv`` (the
peeling trajectory), ``cart_boxes.csv``, ``tradeoff.png`` (coverage against density along the
trajectory), ``box.png`` (the box limits) and the report section (plain words).

Terms: *coverage* = share of all runs where the condition holds that fall in the box; *density* =
share of the runs in the box where it holds; *mass* = share of all runs in the box; *quasi-p* = a
one-sided binomial test of each restriction (small: the restriction is unlikely to be chance).
The box shown is, unless ``box=`` picks another, the one on the trajectory with the best balance of
coverage and density (highest harmonic mean) among boxes that restrict at least one dimension.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.decision import data, sections
from experiments.running.goals import evaluate

PEEL_ALPHA = 0.05
MASS_MIN = 0.05
SIGNIFICANT = 0.05  # quasi-p below which a box restriction is reported as unlikely to be chance


class DiscoveryError(ValueError):
    """The sweep cannot answer the question (no ok runs, no varying factor, the condition never or always holds)."""


@dataclass
class Discovery:
    root: Path
    where: str
    n: int  # ok runs analysed
    k: int  # runs where the condition holds
    box: int  # chosen box on the peeling trajectory
    stats: dict[str, float]  # coverage, density, mass, n, k of the chosen box
    limits: pd.DataFrame  # one row per restricted dimension (boxes.csv)
    trajectory: pd.DataFrame
    cart: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    section: str = ""
    among: str | None = None  # the runs analysed: those where this holds (None: all ok runs)


def _ema():
    with warnings.catch_warnings():  # ipyparallel / altair notices of ema_workbench at import
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import cart, prim
    return prim, cart


def inputs(sw: data.SweepData, ok: pd.DataFrame | None = None) -> pd.DataFrame:
    """The factors that vary across the ok runs (or the runs ``ok``), typed for PRIM: numbers as
    float/int, others categorical."""
    ok = sw.ok if ok is None else ok
    x = pd.DataFrame(index=ok.index)
    for f in sw.factors:
        col = ok[f]
        if col.nunique(dropna=False) < 2:
            continue
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            x[f] = pd.Categorical(col.astype(str))
        elif pd.api.types.is_integer_dtype(col):
            x[f] = col.astype("int64")
        else:
            x[f] = col.astype("float64")
    return x


def discover(root: str | Path, where: str, *, among: str | None = None, box: int | None = None,
             peel_alpha: float = PEEL_ALPHA, mass_min: float = MASS_MIN, write: bool = True) -> Discovery:
    """Run PRIM (and CART) for the condition ``where`` over the sweep in ``root``; write the outputs.

    ``among``: analyse only the runs where this condition on factors and outcomes holds, e.g.
    ``package == 'all_five'`` (in which futures does that package fail?)."""
    sw = data.read(root)
    ok = sw.ok
    if ok.empty:
        raise DiscoveryError(f"{sw.root}: no finished (ok) runs to analyse yet")
    if among:
        ok = ok[evaluate(ok, among, columns=[*sw.factors, *sw.outcomes], where="--among").to_numpy()]
        ok = ok.reset_index(drop=True)
        if ok.empty:
            raise DiscoveryError(f"--among {among!r} holds in none of the ok runs")
    y = evaluate(ok, where, columns=sw.outcomes, where="--where").to_numpy()
    x = inputs(sw, ok)
    if x.shape[1] == 0:
        raise DiscoveryError(f"{sw.root}: no lever or uncertainty varies across the runs; PRIM needs a swept factor")
    n, k = len(y), int(y.sum())
    if k == 0 or k == n:
        raise DiscoveryError(f"--where {where!r} holds in {k} of {n} ok runs; PRIM needs runs where it holds "
                             "and runs where it does not (change the threshold)")
    prim, cart = _ema()
    finder = prim.Prim(x, y, peel_alpha=peel_alpha, mass_min=mass_min)
    found = finder.find_box()
    traj = found.peeling_trajectory.reset_index(drop=True)
    chosen = _choose(traj, box)
    found.select(chosen)
    limits = _limits(found, finder, chosen, x, sw, where).assign(among=among or "")
    stats = {key: float(traj.loc[chosen, key]) for key in ("coverage", "density", "mass", "n", "k", "res_dim")}
    result = Discovery(root=sw.root, where=where, n=n, k=k, box=chosen, stats=stats, limits=limits,
                       trajectory=traj, cart=_cart(cart, x, y, mass_min), among=among)
    if write:
        _write(result, found, chosen)
    return result


def _choose(traj: pd.DataFrame, box: int | None) -> int:
    last = len(traj) - 1
    if box is not None:
        if isinstance(box, bool) or not isinstance(box, int) or not 0 <= box <= last:
            raise DiscoveryError(f"--box: {box!r} is not allowed; give a box id from 0 to {last} "
                                 "(see discovery/trajectory.csv)")
        return box
    c, d = traj["coverage"].astype(float), traj["density"].astype(float)
    f1 = (2 * c * d / (c + d)).where((c + d) > 0, 0.0).where(traj["res_dim"] > 0, -1.0)
    return int(f1.idxmax())


def _limits(found: Any, finder: Any, i: int, x: pd.DataFrame, sw: data.SweepData, where: str) -> pd.DataFrame:
    lims, init, qp = found.box_lims[i], finder.box_init, found.p_values[i]
    traj = found.peeling_trajectory.iloc[i]
    rows = []
    for dim, (q_low, q_high) in qp.items():
        row: dict[str, Any] = {"where": where, "box": i, "dimension": dim,
                               "role": "lever" if dim in sw.levers else
                               "behaviour (posterior draw)" if dim in sw.drawn else "uncertainty"}
        if isinstance(x[dim].dtype, pd.CategoricalDtype):
            row.update(type="categorical", values=" | ".join(sorted(map(str, lims[dim].iloc[0]))),
                       all_values=" | ".join(sorted(map(str, init[dim].iloc[0]))))
        else:
            row.update(type="numeric", lower=float(lims[dim].iloc[0]), upper=float(lims[dim].iloc[1]),
                       range_min=float(init[dim].iloc[0]), range_max=float(init[dim].iloc[1]))
        row.update(qp_lower=_qp(q_low), qp_upper=_qp(q_high), coverage=float(traj["coverage"]),
                   density=float(traj["density"]), mass=float(traj["mass"]), n=int(traj["n"]), k=int(traj["k"]))
        rows.append(row)
    cols = ["where", "box", "dimension", "role", "type", "lower", "upper", "range_min", "range_max", "values",
            "all_values", "qp_lower", "qp_upper", "coverage", "density", "mass", "n", "k"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    order = out[["qp_lower", "qp_upper"]].min(axis=1).sort_values(kind="stable").index  # most significant first
    return out.loc[order].reset_index(drop=True)


def _qp(v: Any) -> float:
    v = float(v)
    return math.nan if v < 0 else v  # EMA marks an unrestricted side with -1


def _cart(cart: Any, x: pd.DataFrame, y: np.ndarray, mass_min: float) -> pd.DataFrame:
    """CART leaves as boxes: one row per leaf and restricted dimension, with the leaf's stats."""
    # EMA's CART asks for leaves of int(mass_min * n) runs: at least one, also in a small sweep
    tree = cart.CART(x, y, mass_min=max(mass_min, 1.0 / max(len(y), 1)))
    tree.build_tree()
    init = tree.boxes[0].copy()
    for dim in x.columns:  # the whole range of each dimension, to see which a leaf restricts
        col = x[dim]
        init[dim] = [set(col.cat.categories), set(col.cat.categories)] if isinstance(col.dtype, pd.CategoricalDtype) \
            else [col.min(), col.max()]
    rows = []
    for j, (lims, st) in enumerate(zip(tree.boxes, tree.stats, strict=True)):
        for dim in x.columns:
            lo, hi = lims[dim].iloc[0], lims[dim].iloc[1]
            if isinstance(x[dim].dtype, pd.CategoricalDtype):
                if set(lo) == set(init[dim].iloc[0]):
                    continue
                shown = {"values": " | ".join(sorted(map(str, lo)))}
            else:
                if lo <= init[dim].iloc[0] and hi >= init[dim].iloc[1]:
                    continue
                shown = {"lower": float(lo), "upper": float(hi)}
            rows.append({"leaf": j, "dimension": dim, **shown, "coverage": float(st["coverage"]),
                         "density": float(st["density"]), "mass": float(st["mass"])})
    return pd.DataFrame(rows, columns=["leaf", "dimension", "lower", "upper", "values", "coverage", "density", "mass"])


def _write(res: Discovery, found: Any, i: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.reading import plots

    plots.style()
    out = res.root / "discovery"
    out.mkdir(parents=True, exist_ok=True)
    res.limits.to_csv(out / "boxes.csv", index=False)
    res.trajectory.to_csv(out / "trajectory.csv", index=False)
    res.cart.to_csv(out / "cart_boxes.csv", index=False)
    fig = found.show_tradeoff(annotated=True)
    fig.suptitle(f"PRIM peeling trajectory for {res.where!r}: coverage vs density (box {i} chosen)", fontsize=9)
    fig.savefig(out / "tradeoff.png", dpi=plots.DPI, bbox_inches="tight")
    plt.close(fig)
    fig = found.inspect(i, style="graph")[0]
    fig.suptitle(f"PRIM box {i} for {res.where!r}: limits of the restricted dimensions (quasi-p)", fontsize=9)
    fig.savefig(out / "box.png", dpi=plots.DPI, bbox_inches="tight")
    plt.close(fig)
    res.files = [out / "boxes.csv", out / "trajectory.csv", out / "cart_boxes.csv", out / "tradeoff.png",
                 out / "box.png"]
    res.section = section(res)
    res.files.append(sections.put(res.root, "discovery", res.section))


def conditions(limits: pd.DataFrame) -> list[str]:
    """The box in words, one condition per restricted dimension (most significant first)."""
    lab, pk = data.labels(), data.package_labels()
    out = []
    for _, r in limits.iterrows():
        name = lab.get(r["dimension"], r["dimension"])
        if r["type"] == "categorical":
            inside = str(r["values"]).split(" | ")
            left_out = [v for v in str(r["all_values"]).split(" | ") if v not in inside]
            vals, rest = [pk.get(v, v) for v in inside], [pk.get(v, v) for v in left_out]
            if len(vals) == 1:
                out.append(f"{name} is {vals[0]}")
            elif len(rest) < len(vals):
                out.append(f"{name} is anything but {' or '.join(rest)}")
            else:
                out.append(f"{name} is one of {', '.join(vals)}")
            continue
        low = r["lower"] > r["range_min"] + 1e-12 * max(1.0, abs(r["range_min"]))
        high = r["upper"] < r["range_max"] - 1e-12 * max(1.0, abs(r["range_max"]))
        lo, hi = data.fmt(r["lower"]), data.fmt(r["upper"])
        if low and high:
            out.append(f"{name} is between {lo} and {hi}")
        elif high:
            out.append(f"{name} is at most {hi}")
        else:
            out.append(f"{name} is at least {lo}")
    return out


def section(res: Discovery) -> str:
    """The report section in plain words."""
    s, lim = res.stats, res.limits
    cond = conditions(lim)
    words = " and ".join(cond) if cond else "anywhere"
    lines = [
        "## Scenario discovery (PRIM)", "",
        f"Question: where does **`{res.where}`** hold"
        + (f", among the runs where `{res.among}`" if res.among else "") + f"? It holds in {res.k} of {res.n} finished runs "
        f"({res.k / res.n:.0%}). PRIM (EMA Workbench) peeled the swept levers and uncertainties down to one box:",
        "",
        f"> **When {words}, `{res.where}` holds in {s['density']:.0%} of the runs** (against {res.k / res.n:.0%} "
        f"overall). The box holds {s['coverage']:.0%} of all runs where it holds (coverage) and {s['mass']:.0%} of "
        f"all runs (mass).",
        "",
        "| dimension | role | in the box | whole range | quasi-p |", "|---|---|---|---|---|",
    ]
    lab, pk = data.labels(), data.package_labels()
    for _, r in lim.iterrows():
        if r["type"] == "categorical":
            box = ", ".join(pk.get(v, v) for v in str(r["values"]).split(" | "))
            whole = ", ".join(pk.get(v, v) for v in str(r["all_values"]).split(" | "))
        else:
            box = f"{data.fmt(r['lower'])} – {data.fmt(r['upper'])}"
            whole = f"{data.fmt(r['range_min'])} – {data.fmt(r['range_max'])}"
        q = np.nanmin([r["qp_lower"], r["qp_upper"]]) if np.isfinite([r["qp_lower"], r["qp_upper"]]).any() else np.nan
        lines.append(f"| {lab.get(r['dimension'], r['dimension'])} (`{r['dimension']}`) | {r['role']} | {box} | "
                     f"{whole} | {q:.2g} |")
    qmin = lim[["qp_lower", "qp_upper"]].min(axis=1, skipna=True) if len(lim) else pd.Series(dtype=float)
    if len(lim) and not (qmin < SIGNIFICANT).any():
        lines += ["", f"**Not clear of chance:** no restriction of this box has quasi-p below {SIGNIFICANT:g} "
                  f"(lowest {qmin.min():.2g}). With {res.k} run(s) where the condition holds, the sweep cannot say "
                  "where it holds; read the box as a lead for a larger sweep, not as a finding."]
    second = cart_words(res)
    cart_line = [f"CART (a classification tree) as a second opinion: {second}", ""] if second else []
    lines += ["", f"Box {res.box} of {len(res.trajectory) - 1} on the peeling trajectory (the best balance of "
              "coverage and density; pick another with `--box N`). Quasi-p below 0.05: the restriction is unlikely "
              "to be chance. The whole range is that of the runs.", "", *cart_line,
              "![PRIM trade-off](discovery/tradeoff.png)", "",
              "*Coverage against density for each box on PRIM's peeling trajectory (colour: number of restricted "
              "dimensions).*", "", "![PRIM box](discovery/box.png)", "",
              "*The chosen box: limits of each restricted dimension within its range, with quasi-p values.*", "",
              "Files: `discovery/boxes.csv` (limits, coverage, density, quasi-p per dimension), "
              "`discovery/trajectory.csv`, `discovery/cart_boxes.csv`.", ""]
    return "\n".join(lines)


def cart_words(res: Discovery) -> str:
    """CART's leaf with the highest density (ties: the larger coverage), in words; '' if none is useful."""
    c = res.cart
    if c.empty:
        return ""
    leaves = c.drop_duplicates("leaf").sort_values(["density", "coverage"], ascending=False)
    best = leaves.iloc[0]
    if best["density"] <= res.k / res.n:
        return ""
    lab, pk = data.labels(), data.package_labels()
    parts = []
    for _, r in c[c["leaf"] == best["leaf"]].iterrows():
        name = lab.get(r["dimension"], r["dimension"])
        if isinstance(r["values"], str):
            parts.append(f"{name} is one of {', '.join(pk.get(v, v) for v in r['values'].split(' | '))}")
        else:
            parts.append(f"{name} in {data.fmt(r['lower'])} – {data.fmt(r['upper'])}")
    return (f"its purest leaf, {' and '.join(parts)}, has density {best['density']:.0%} and coverage "
            f"{best['coverage']:.0%}.")
