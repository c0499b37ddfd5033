"""Command line: ``python -m sim run`` (one scenario -> tables + PNGs) and ``python -m sim calibrate``."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from sim.config import ConfigError, load_config


def _run(args) -> int:
    from sim import plots
    from sim.scenario import run_scenario

    cfg = load_config(args.config)
    if args.quarters is not None:
        cfg = cfg.with_overrides({}, quarters=args.quarters)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ConfigError(f"--out {out} exists and is not empty; pass --force to replace it")
    result = run_scenario(cfg, seed=args.seed, progress=not args.quiet)
    # write everything into a temporary folder beside the target, then move it in place:
    # a failure leaves no half-written output.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name in ("city", "clusters", "districts"):
            table = getattr(result, name)
            table.to_parquet(tmp / f"{name}.parquet", index=False)
            table.to_csv(tmp / f"{name}.csv", index=False)
        plots.save_all(result, tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    s = result.summary()
    print(f"{cfg.scenario['name']} seed {args.seed}: {cfg.quarters} quarters -> {out}/")
    print(f"  graduate retention {s['graduate_retention']:.1%}; left for Beijing {s['outflow_beijing_total']:,.0f}, "
          f"Tianjin {s['outflow_tianjin_total']:,.0f}, elsewhere {s['outflow_elsewhere_total']:,.0f} persons")
    tiers = ", ".join(f"{k} {s[f'energy_tier_final_{k}']}" for k in cfg.city["clusters"])
    print(f"  energy tiers at the end (0 emerging .. 4 world-class): {tiers}")
    print("  tables: city/clusters/districts .parquet + .csv; plots: energy_levels.png talent_flows.png maturity.png")
    return 0


def _calibrate(args) -> int:
    import pandas as pd
    from tqdm.auto import tqdm

    from sim.calibration import calibration_table, load_targets

    cfg = load_config(args.config)
    seeds = load_targets()["settings"]["seeds"]
    with tqdm(total=len(seeds), unit="run", desc="calibration", disable=args.quiet) as bar:
        table = calibration_table(cfg, progress=lambda: bar.update(1))
    show = table[["kind", "target", "target_value", "model", "low", "high", "pass", "paper_or_source"]].copy()
    show["pass"] = show["pass"].map({True: "pass", False: "FAIL"})
    with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.float_format", "{:,.4g}".format):
        print(show.to_string(index=False))
    n_fail = int((~table["pass"]).sum())
    kinds = table["kind"].value_counts().to_dict()
    print(f"\n{len(table) - n_fail}/{len(table)} rows pass ({kinds.get('set-up check', 0)} set-up checks, "
          f"{kinds.get('calibration target', 0)} calibration targets)")
    return 1 if n_fail else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description="Qinhuangdao cluster simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario; write tables (Parquet, CSV) and PNG plots")
    run.add_argument("--config", default="configs/baseline.toml", help="scenario TOML (default: the status quo)")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--out", default="results/baseline", help="output folder (default results/baseline)")
    run.add_argument("--quarters", type=int, default=None, help="override the horizon (quarters)")
    run.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    cal = sub.add_parser("calibrate", help="print the calibration table (target, source, model, band, pass)")
    cal.add_argument("--config", default="configs/baseline.toml")
    cal.add_argument("--quiet", action="store_true")
    sub.add_parser("params", help="print the parameter table (markdown) generated from configs/parameters.toml")
    args = parser.parse_args(argv)
    if args.command == "params":
        from sim.paramdoc import markdown

        sys.stdout.write(markdown())
        return 0
    try:
        return _run(args) if args.command == "run" else _calibrate(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
