"""Command line: ``python -m sim run`` (one scenario -> tables + PNGs; ``--firms`` adds the firm panel),
``python -m sim calibrate`` and ``python -m sim validate``."""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path

from sim.inputs.base import VERSION, ConfigError
from sim.inputs.config import load_config

MAX_SEED = 2**63  # seeds are 0 <= seed < 2**63 (numpy SeedSequence, int64 columns)
MARKER = ".sim-run"  # written into every --out folder `sim run` creates; --force replaces only such folders
TABLE_NAMES = ("city", "clusters", "districts")
PANEL_NAME = "firms"  # the firm panel (ScenarioResult.firms), written with --firms
PLOT_NAMES = ("energy_levels", "talent_flows", "maturity", "district_map")  # = sim.outputs.plots.FIGURES
_OUTPUT_FILES = frozenset({MARKER, *(f"{t}.{ext}" for t in (*TABLE_NAMES, PANEL_NAME) for ext in ("parquet", "csv")),
                           *(f"{p}.png" for p in PLOT_NAMES)})


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (no usage block), exit status 2."""

    def error(self, message: str):  # noqa: ANN201 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_arg(flag: str, low: int, high: int, shown: str):  # noqa: ANN202
    """An argparse type: an integer with ``low <= value < high``; the error names flag, value and range."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed {shown}") from None
        if not low <= value < high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed {shown}")
        return value

    parse.__name__ = flag  # argparse names the type in some messages
    return parse


def own_output(path: Path) -> bool:
    """Is ``path`` (in an --out folder) a file `sim run` writes?"""
    return path.name in _OUTPUT_FILES and path.is_file()


def _check_out(out: Path, shown: str, force: bool) -> None:
    """Refuse an --out that cannot be written (or must not be replaced) before anything runs.

    ``--force`` replaces a folder only if `sim run` wrote it (it holds the :data:`MARKER` file) and it
    holds nothing else: files a user added (notes, an analysis) are never deleted, the run is refused
    naming them instead.
    """
    if not shown:
        raise ConfigError("--out '': empty path; give an output folder, e.g. results/baseline")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {shown}: is an existing file, not a folder; give a folder path (it is created)")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"--out {shown} exists and is not empty; pass --force to replace it")
        if not (out / MARKER).is_file():
            raise ConfigError(
                f"--out {shown} is not a folder written by `python -m sim run` (no {MARKER} file), so --force "
                "will not replace it; choose a new or empty folder"
            )
        foreign = sorted(p.name for p in out.iterdir() if not own_output(p))
        if foreign:
            listed = ", ".join(foreign[:6]) + (" ..." if len(foreign) > 6 else "")
            raise ConfigError(
                f"--out {shown} holds files `python -m sim run` did not write ({listed}); --force replaces only "
                "its own output and never deletes yours: move them out, or choose another --out"
            )
    problem = unwritable_folder(out)
    if problem:
        raise ConfigError(f"--out {shown}: {problem}")


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and run the same command again",
    errno.EDQUOT: "the disk quota is used up: free some space and run the same command again",
    errno.EROFS: "the disk is read-only: choose a writable folder",
}


def os_error_line(exc: OSError) -> str:
    """One ``error: ...`` line for an OSError met while reading or writing (a full or read-only disk, a
    permission): the file if known, what went wrong, and for a full disk what to do."""
    what = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    where = f"{exc.filename}: " if exc.filename else ""
    hint = _OS_HINTS.get(exc.errno)
    return f"error: {where}{what}" + (f" ({hint})" if hint and hint not in what else "")


def unwritable_folder(out: Path) -> str | None:
    """Why a folder could not be created or written in (its nearest existing ancestor decides), or None."""
    here = out if out.exists() else out.parent
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        return f"{here} is a file, not a folder"
    if not os.access(here, os.W_OK | os.X_OK):
        return f"cannot write in {here} (permission denied); choose a writable folder"
    return None


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished folder ``tmp`` to ``out``: an old ``out`` is renamed aside first, removed last."""
    aside = None
    if out.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
        os.rmdir(aside)
        os.rename(out, aside)
    try:
        os.rename(tmp, out)
    except BaseException:
        if aside is not None:
            os.rename(aside, out)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _run(args) -> int:
    from sim.outputs import plots
    from sim.scenario import run_scenario

    if args.config == "":
        raise ConfigError("--config '': empty path; give a scenario TOML file, e.g. configs/baseline.toml")
    cfg = load_config(args.config)
    if args.quarters is not None:
        cfg = cfg.with_overrides({}, quarters=args.quarters)
    out = Path(os.path.abspath(args.out)) if args.out else Path()
    _check_out(out, args.out, args.force)
    # write everything into a temporary folder beside the target, then move it in place:
    # a failure leaves no half-written output and the old --out untouched.
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    except OSError as exc:
        raise ConfigError(f"--out {args.out}: cannot create a folder there: {exc.strerror or exc}") from None
    try:
        result = run_scenario(cfg, seed=args.seed, progress=not args.quiet,
                              record="all+firms" if args.firms else "all")
        (tmp / MARKER).write_text(
            f"written by `python -m sim run` (config {args.config}, seed {args.seed}); "
            "`--force` may replace this folder\n", encoding="utf-8")
        for name in (*TABLE_NAMES, PANEL_NAME) if args.firms else TABLE_NAMES:
            table = getattr(result, name)
            table.to_parquet(tmp / f"{name}.parquet", index=False)
            table.to_csv(tmp / f"{name}.csv", index=False)
        plots.save_all(result, tmp)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    out = Path(args.out)
    s = result.summary()
    print(f"{cfg.scenario['name']} seed {args.seed}: {cfg.quarters} quarters -> {out}/")
    print(f"  graduate retention {s['graduate_retention']:.1%}; left for Beijing {s['outflow_beijing_total']:,.0f}, "
          f"Tianjin {s['outflow_tianjin_total']:,.0f}, elsewhere {s['outflow_elsewhere_total']:,.0f} persons")
    tiers = ", ".join(f"{k} {s[f'energy_tier_final_{k}']}" for k in cfg.city["clusters"])
    print(f"  energy tiers at the end (0 emerging .. 4 world-class): {tiers}")
    tables = "city/clusters/districts" + (f"/{PANEL_NAME} (firm x year)" if args.firms else "")
    print(f"  tables: {tables} .parquet + .csv; plots: energy_levels.png talent_flows.png maturity.png "
          "district_map.png")
    return 0


def _calibrate(args) -> int:
    import pandas as pd
    from tqdm.auto import tqdm

    if args.posterior is not None:
        return _check_posterior(args)

    from sim.outputs.calibration import calibration_table, load_targets

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


def _check_posterior(args) -> int:
    """``calibrate --posterior``: is the committed posterior current, and does it still fit the targets?"""
    import pandas as pd
    from tqdm.auto import tqdm

    from sim.outputs.calibration import posterior_predictive
    from sim.outputs.posterior import POSTERIOR_FILE, load_posterior, stale_reasons

    cfg = load_config(args.config)
    post = load_posterior(args.posterior or POSTERIOR_FILE, cfg)
    prov = post.provenance
    print(f"posterior {post.path}: {len(post.table)} particles, {len(post.parameters)} parameters; fitted "
          f"{prov.get('date', '?')} by `{prov.get('command', '?')}` on model {prov.get('model_version', '?')}")
    for c in prov.get("carried_over", []) if isinstance(prov.get("carried_over"), list) else []:
        if isinstance(c, dict):
            print(f"carried over (not re-fitted) to model {c.get('to_model_version', '?')} on {c.get('date', '?')}: "
                  f"{c.get('reason', '?')}; re-check then: {c.get('recheck', {}).get('targets_pass', '?')} targets pass")
    with tqdm(total=args.draws + 2, unit="run", desc="posterior check", disable=args.quiet) as bar:
        stale = stale_reasons(post, cfg)
        bar.update(2)
        _, table = posterior_predictive(post, n=args.draws, seed=1, config=cfg, progress=lambda: bar.update(1))
    show = table[["target", "value", "band_low", "band_high", "median", "p05", "p95", "covered", "pass"]].copy()
    show["covered"] = show["covered"].map({True: "yes", False: "no"})
    show["pass"] = show["pass"].map({True: "pass", False: "FAIL"})
    with pd.option_context("display.width", 200, "display.float_format", "{:,.4g}".format):
        print(show.to_string(index=False))
    n_pass, n_cov = int(table["pass"].sum()), int(table["covered"].sum())
    print(f"\n{n_pass}/{len(table)} targets pass (90% posterior-predictive interval of {args.draws} draws overlaps "
          f"the band); {n_cov}/{len(table)} have the target value inside the interval")
    for reason in stale:
        print(f"stale: {reason}. Re-fit: python -m experiments calibrate configs/experiments/calibrate.toml "
              f"--publish", file=sys.stderr)
    if not stale:
        print("current: the model and the targets are those the posterior was fitted to")
    return 1 if stale or n_pass < len(table) else 0


def _validate(args) -> int:
    """``validate``: the validation table (stylised facts, held-out trends) over baseline seeds or
    posterior draws x seeds; exit 0 only when every check with a model counterpart passes."""
    import pandas as pd
    from tqdm.auto import tqdm

    from sim.outputs import validation

    spec = validation.load_spec(args.spec or None)
    cfg = load_config(args.config)
    s = spec["settings"]
    seeds = args.seeds or s.seeds
    post = None
    if args.posterior is not None:
        from sim.outputs.posterior import POSTERIOR_FILE, load_posterior

        post = load_posterior(args.posterior or POSTERIOR_FILE, cfg)
        draws = args.draws or s.draws
        prov = post.provenance
        sample = (f"{draws} posterior draws x {seeds} seeds = {draws * seeds} status-quo runs (posterior "
                  f"{post.path.name}, fitted on model {prov.get('model_version', '?')})")
        n_runs = draws * seeds
    else:
        draws = None
        sample = f"{seeds} status-quo runs of {args.config} (seeds 1-{seeds}, parameters at their defaults)"
        n_runs = seeds
    horizon = args.quarters or cfg.quarters
    sample += f", {horizon} quarters each"
    with tqdm(total=n_runs, unit="run", desc="validation", disable=args.quiet) as bar:
        runs = validation.validation_runs(spec, cfg, post=post, draws=draws, seeds=seeds, quarters=args.quarters,
                                          progress=lambda: bar.update(1))
    table = validation.validation_table(spec, runs)
    show = table[["kind", "check", "median", "p05", "p95", "low", "high", "in_band", "pass"]].copy()
    show["pass"] = show["pass"].map({True: "pass", False: "FAIL", None: "no counterpart"})
    with pd.option_context("display.width", 200, "display.float_format", "{:,.4g}".format):
        print(show.to_string(index=False))
    model = table[table["statistic"] != ""]
    n_pass = int(model["pass"].sum())
    print(f"\n{n_pass}/{len(model)} checks pass (median over runs inside the band; {sample}); "
          f"{len(table) - len(model)} observed trend(s) without a model counterpart reported")
    if args.report:
        out = Path(args.report)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(validation.markdown(table, sample[0].upper() + sample[1:]), encoding="utf-8")
        print(f"wrote {out}")
    return 0 if validation.all_pass(table) else 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m sim", description="Qinhuangdao cluster simulator")
    parser.add_argument("--version", action="version", version=f"qhd-cluster-sim {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario; write tables (Parquet, CSV) and PNG plots")
    run.add_argument("--config", default="configs/baseline.toml", help="scenario TOML (default: the status quo)")
    run.add_argument("--seed", type=_int_arg("--seed", 0, MAX_SEED, "0 <= seed < 2**63"), default=1,
                     help="random seed, 0 <= seed < 2**63 (default 1)")
    run.add_argument("--out", default="results/baseline", help="output folder (default results/baseline)")
    run.add_argument("--quarters", type=_int_arg("--quarters", 1, 401, "1-400"), default=None,
                     help="override the horizon (quarters, 1-400)")
    run.add_argument("--force", action="store_true",
                     help=f"replace a non-empty --out folder written by an earlier `sim run` (it holds {MARKER} "
                          "and nothing but that run's output)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--firms", action="store_true",
                     help=f"also record and write the firm panel ({PANEL_NAME}.parquet/.csv: one row per firm x "
                          "model year, see docs/model-interface.md)")
    cal = sub.add_parser("calibrate", help="print the calibration table (target, source, model, band, pass)")
    cal.add_argument("--config", default="configs/baseline.toml")
    cal.add_argument("--quiet", action="store_true")
    cal.add_argument("--posterior", nargs="?", const="", default=None, metavar="PATH",
                     help="re-check a fitted posterior (default configs/posterior.parquet): stale or current, "
                          "and a posterior-predictive pass/fail table")
    cal.add_argument("--draws", type=_int_arg("--draws", 1, 10001, "1-10000"), default=40,
                     help="posterior draws for --posterior (default 40, one run each)")
    val = sub.add_parser("validate", help="check status-quo runs against stylised facts and held-out trends "
                                          "(configs/validation.toml); exit 0 only when every check passes")
    val.add_argument("--config", default="configs/baseline.toml", help="scenario TOML (default: the status quo)")
    val.add_argument("--spec", default=None, metavar="PATH",
                     help="validation TOML (default configs/validation.toml)")
    val.add_argument("--posterior", nargs="?", const="", default=None, metavar="PATH",
                     help="draw the behavioural coefficients from a fitted posterior (default "
                          "configs/posterior.parquet) instead of their defaults")
    val.add_argument("--draws", type=_int_arg("--draws", 1, 10001, "1-10000"), default=None,
                     help="posterior draws with --posterior (default: [settings] draws of the spec)")
    val.add_argument("--seeds", type=_int_arg("--seeds", 1, 1001, "1-1000"), default=None,
                     help="seeds per draw, or baseline runs without --posterior (default: [settings] seeds)")
    val.add_argument("--quarters", type=_int_arg("--quarters", 1, 401, "1-400"), default=None,
                     help="override the horizon (quarters, 1-400); trends use at most its whole years")
    val.add_argument("--report", default=None, metavar="PATH", help="also write the table as markdown to PATH")
    val.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("params", help="print the parameter table (markdown) generated from configs/parameters.toml")
    args = parser.parse_args(argv)
    if args.command == "params":
        from sim.inputs.paramdoc import markdown

        sys.stdout.write(markdown())
        return 0
    from sim.model import ModelError

    try:
        return {"run": _run, "calibrate": _calibrate, "validate": _validate}[args.command](args)
    except (ConfigError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the disk filled up while writing: one line, the old --out is untouched
        print(os_error_line(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
