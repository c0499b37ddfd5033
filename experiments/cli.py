"""Command line: ``python -m experiments run | analyze | status | plan | explain | discover | robustness | optimize
| calibrate | carry-posterior | study``.

    python -m experiments run configs/experiments/NAME.toml [--workers N | --dask ADDR | --serial]
                              [--retry-failed] [--out DIR] [--force] [--batch N] [--analyze] [--no-progress]
    python -m experiments analyze results/NAME
    python -m experiments status  results/NAME [--failed]
    python -m experiments plan    configs/experiments/NAME.toml
    python -m experiments explain configs/experiments/explain.toml [--packages a,b] [--out DIR]
                              [--workers N | --serial] [--no-progress]
    python -m experiments discover results/NAME --where "any_national == 0" [--box N]
    python -m experiments robustness results/NAME [--goal "retention_3y >= 0.35" ...] [--outcome NAME ...]
    python -m experiments calibrate configs/experiments/calibrate_smoke.toml [--workers N | --dask ADDR]
                              [--out DIR] [--force] [--publish [PATH]]
    python -m experiments optimize configs/experiments/optimize.toml [--workers N | --dask ADDR | --serial]
                              [--out DIR] [--force]
    python -m experiments study [--out DIR] [--refit] [--only NAME ...] [--plan] [--workers N | --serial]
                              [--specs DIR] [--config FILE]

Exit status: 0 done (failed runs are recorded and reported, not fatal); 1 every run of the design
failed; 2 a bad spec, a busy or missing results directory, an unreachable or lost Dask scheduler
(finished runs are kept; the same command resumes), bad arguments, or a damaged file (named in one
line; ``status`` lists damaged parts and exits 2 too, ``run`` recomputes their runs); 130 interrupted
with Ctrl-C (finished runs are kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from experiments.running.files import DamagedFile
from experiments.running.spec import SpecError

EXIT_OK, EXIT_ALL_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    from sim import __version__ as version
    from sim.outputs.cli import OneLineParser  # argument errors: one line on stderr, exit 2

    p = OneLineParser(prog="python -m experiments", description="Policy sweeps on the Qinhuangdao model.")
    p.add_argument("--version", action="version", version=f"qhd-cluster-sim {version}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run (or resume) the sweep of a spec")
    run.add_argument("spec", type=Path, help="sweep spec, e.g. configs/experiments/paper_remedies.toml")
    ex = run.add_mutually_exclusive_group()
    ex.add_argument("--serial", action="store_true", help="run in this process, one run after another")
    ex.add_argument("--dask", metavar="ADDR", help="Dask scheduler tcp://HOST:PORT, or 'local' for a LocalCluster")
    run.add_argument("--workers", type=int, metavar="N",
                     help="local worker processes (default: all cores); with --dask local: LocalCluster workers")
    run.add_argument("--retry-failed", action="store_true", help="also rerun runs recorded as failed")
    run.add_argument("--out", type=Path, help="results directory (default: results/<spec file name>)")
    run.add_argument("--batch", type=int, default=16, metavar="N",
                     help="commit results every N runs (or every 2 s); 1 = every run (default 16)")
    run.add_argument("--analyze", action="store_true", help="analyse the results afterwards (writes report.md)")
    run.add_argument("--force", action="store_true",
                     help="the results folder holds another experiment: move it aside to a sibling folder first")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    an = sub.add_parser("analyze", help="tables, figures and report.md for a results directory")
    an.add_argument("dir", type=Path)

    st = sub.add_parser("status", help="done / failed / pending runs of a results directory")
    st.add_argument("dir", type=Path)
    st.add_argument("--failed", action="store_true", help="list failed runs with the last line of their error")

    di = sub.add_parser("discover", help="scenario discovery (PRIM): where a condition on the outcomes holds")
    di.add_argument("dir", type=Path)
    di.add_argument("--where", required=True, metavar="EXPR",
                    help='condition on summary outcomes per run, e.g. "any_national == 0"')
    di.add_argument("--among", metavar="EXPR",
                    help="analyse only the runs where this holds (factors and outcomes), e.g. \"package == 'all_five'\"")
    di.add_argument("--box", type=int, metavar="N", help="box id on the peeling trajectory (default: best balance)")

    ro = sub.add_parser("robustness", help="regret and satisficing of each policy across the futures of a sweep")
    ro.add_argument("dir", type=Path)
    ro.add_argument("--goal", action="append", metavar="EXPR",
                    help="a goal per run, e.g. 'retention_3y >= 0.35' (repeat; default: the spec's "
                         "[robustness] goals)")
    ro.add_argument("--outcome", action="append", metavar="NAME", help="an outcome for regret (repeat)")

    pl = sub.add_parser("plan", help="validate a spec and show its design without running anything")
    pl.add_argument("spec", type=Path)

    xp = sub.add_parser("explain", help="which channels carry each package's effect (paired runs, channels off)")
    xp.add_argument("spec", type=Path, help="spec, e.g. configs/experiments/explain.toml")
    xp.add_argument("--packages", metavar="A,B", help="preset keys to explain (default: the spec's packages)")
    xp.add_argument("--out", type=Path, help="results folder; writes OUT/explain/ (default: results/<spec file name>)")
    xx = xp.add_mutually_exclusive_group()
    xx.add_argument("--serial", action="store_true", help="run in this process, one run after another")
    xx.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: all cores)")
    xp.add_argument("--no-progress", action="store_true", help="no progress bar")
    xp.set_defaults(dask=None)

    op = sub.add_parser("optimize", help="best lever values under a budget: many-objective search (resumable)")
    op.add_argument("spec", type=Path, help="optimisation spec, e.g. configs/experiments/optimize_smoke.toml")
    ox = op.add_mutually_exclusive_group()
    ox.add_argument("--serial", action="store_true", help="run in this process, one run after another")
    ox.add_argument("--dask", metavar="ADDR", help="Dask scheduler tcp://HOST:PORT, or 'local' for a LocalCluster")
    op.add_argument("--workers", type=int, metavar="N",
                    help="local worker processes (default: all cores); with --dask local: LocalCluster workers")
    op.add_argument("--out", type=Path, help="results directory (default: results/<spec file name>)")
    op.add_argument("--force", action="store_true",
                    help="the folder holds something else or a checkpoint of another spec: move it aside first")

    ca = sub.add_parser("calibrate", help="fit (or resume fitting) a calibration spec with ABC-SMC (pyabc)")
    ca.add_argument("spec", type=Path, help="calibration spec, e.g. configs/experiments/calibrate_smoke.toml")
    cx = ca.add_mutually_exclusive_group()
    cx.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: all cores)")
    cx.add_argument("--dask", metavar="ADDR", help="Dask scheduler tcp://HOST:PORT, or 'local'")
    ca.add_argument("--out", type=Path, help="results directory (default: results/<name>)")
    ca.add_argument("--force", action="store_true", help="replace a fit of another spec in the results directory")
    ca.add_argument("--publish", nargs="?", const="configs/posterior.parquet", default=None, type=Path, metavar="PATH",
                    help="also write the posterior as the model's (default configs/posterior.parquet + .json)")
    cc = sub.add_parser("carry-posterior", help="re-check the published posterior on a changed model and record the "
                        "carry-over in its JSON (not a fit: failing targets are listed)")
    cc.add_argument("posterior", nargs="?", type=Path, default=Path("configs/posterior.parquet"),
                    help="the published posterior (default configs/posterior.parquet)")
    cc.add_argument("--reason", required=True, help="why it is carried over rather than re-fitted (recorded)")
    cc.add_argument("--draws", type=int, default=40, help="posterior-predictive draws (default 40, one run each)")
    sy = sub.add_parser("study", help="the whole study: the posterior (re-checked, or --refit), every spec of "
                        "configs/experiments at its own size with its documented commands, one index page")
    sy.add_argument("--out", type=Path, default=Path("results"),
                    help="results folder: DIR/<spec>/ per spec, DIR/index.md (default results)")
    sy.add_argument("--refit", action="store_true",
                    help="re-fit the posterior (the calibration spec of configs/study.toml) and publish it first")
    sy.add_argument("--only", nargs="+", metavar="NAME", help="only these specs (file names without .toml; "
                    "'posterior' for the posterior's re-check)")
    sy.add_argument("--plan", action="store_true", help="list the steps, their commands, sizes and an estimated "
                    "time; run nothing")
    yx = sy.add_mutually_exclusive_group()
    yx.add_argument("--serial", action="store_true", help="each command runs its model runs in its own process, one after another")
    yx.add_argument("--workers", type=int, metavar="N", help="worker processes of each command (default: all cores)")
    sy.add_argument("--specs", type=Path, metavar="DIR", help="the spec folder (default configs/experiments)")
    sy.add_argument("--config", type=Path, metavar="FILE", help="the study config (default configs/study.toml; "
                    "with --specs only its [estimate])")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        match args.command:
            case "run":
                return _run(args)
            case "analyze":
                return _analyze(args.dir)
            case "status":
                return _status(args.dir, args.failed)
            case "plan":
                return _plan(args.spec)
            case "carry-posterior":
                return _carry_posterior(args)
            case "explain":
                return _explain(args)
            case "discover":
                return _discover(args)
            case "robustness":
                return _robustness(args)
            case "calibrate":
                return _calibrate(args)
            case "optimize":
                return _optimize(args)
            case "study":
                return _study(args)
    except (SpecError, _DecisionError) as exc:  # a bad spec, or a question the results cannot answer
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DamagedFile as exc:  # a results folder or fit file that is cut short, overwritten or not what it says
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. an unwritable results folder or a full disk: one line, finished runs kept
        from sim.outputs.cli import os_error_line

        print(os_error_line(exc), file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


class _DecisionError(ValueError):
    """Stands for the errors of experiments.decision (imported lazily: EMA Workbench is slow to import)."""


def _discover(args: argparse.Namespace) -> int:
    from experiments.decision.discovery import DiscoveryError, discover
    from experiments.running.goals import ExpressionError

    try:
        res = discover(args.dir, args.where, among=args.among, box=args.box)
    except (DiscoveryError, ExpressionError) as exc:
        raise _DecisionError(str(exc)) from None
    s = res.stats
    among = f" (among the runs where {args.among!r})" if args.among else ""
    print(f"{args.where!r} holds in {res.k} of {res.n} runs{among}; PRIM box {res.box}: coverage {s['coverage']:.0%}, "
          f"density {s['density']:.0%}, mass {s['mass']:.0%}, {len(res.limits)} restricted dimension(s)")
    print(f"boxes: {args.dir / 'discovery' / 'boxes.csv'}   figures: {args.dir / 'discovery'}   "
          f"report: {args.dir / 'report.md'}")
    return EXIT_OK


def _robustness(args: argparse.Namespace) -> int:
    from experiments.running.goals import ExpressionError
    from experiments.decision.robustness import RobustnessError, robustness, satisficing_words

    try:
        res = robustness(args.dir, goals=args.goal, outcomes=args.outcome)
    except (RobustnessError, ExpressionError) as exc:
        raise _DecisionError(str(exc)) from None
    print(f"{len(res.policies)} policies x {res.futures} futures; {satisficing_words(res, bold=False)}")
    print(f"tables: {args.dir / 'robustness'}   report: {args.dir / 'report.md'}")
    return EXIT_OK


def _check_out_dir(out: Path) -> None:
    """Refuse a results folder that is a file or cannot be created/written, before any run starts."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out {out}: is an existing file, not a folder; give a results folder")
    from sim.outputs.cli import unwritable_folder

    problem = unwritable_folder(out)
    if problem:
        raise SpecError(f"--out {out}: {problem}")


def _check_dask(address: str | None) -> None:
    if address is not None and not address.strip():
        raise SpecError("--dask '': empty address; give tcp://HOST:PORT of a running scheduler, or 'local'")


def _executor(args: argparse.Namespace):  # noqa: ANN202
    from experiments.running.executors import DaskExecutor, ProcessExecutor, SerialExecutor

    if args.workers is not None and args.workers < 1:
        raise SpecError(f"--workers: {args.workers} is not allowed; give an integer >= 1")
    _check_dask(args.dask)
    if args.serial:
        if args.workers is not None:
            raise SpecError("--workers does not apply to --serial")
        return SerialExecutor()
    if args.dask:
        if args.dask != "local" and args.workers is not None:
            raise SpecError("--workers applies to local workers or --dask local, not to an existing Dask cluster")
        return DaskExecutor(args.dask, workers=args.workers)
    return ProcessExecutor(args.workers)


def _run(args: argparse.Namespace) -> int:
    from experiments.running.executors import ExecutorError, ExecutorLost
    from experiments.running.spec import load_spec
    from experiments.running.store import FolderInUse, StoreLocked
    from experiments.running.sweep import default_out_dir, run_sweep

    spec = load_spec(args.spec)
    if args.batch < 1:
        raise SpecError(f"--batch: {args.batch} is not allowed; give an integer >= 1")
    out = args.out or default_out_dir(spec)
    _check_out_dir(out)
    executor = _executor(args)
    command = "python -m experiments " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        res = run_sweep(spec, out, executor, retry_failed=args.retry_failed, progress=not args.no_progress,
                        batch=args.batch, command=command, force=args.force)
    except ExecutorLost as exc:  # the scheduler went away mid-sweep: finished runs saved, the rest pending
        print(f"{exc}: {_saved(out)}; re-run the same command to resume", file=sys.stderr)
        return EXIT_USAGE
    except (StoreLocked, ExecutorError, FolderInUse) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are saved in {out}; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(res.line(spec.name))
    if res.failed:
        print(f"warning: {res.failed} runs failed (recorded with their traceback); "
              f"list them: python -m experiments status {out} --failed; rerun: add --retry-failed")
    print(f"results: {out}")
    report = Path(out) / "report.md"
    if args.analyze:
        _analyze(out)
    else:
        print(f"report:  {report}  (write it with: python -m experiments analyze {out})")
    return EXIT_ALL_FAILED if res.total and res.failed == res.total else EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from experiments.attribution import check_out, default_out_dir, load_explain_spec, parse_packages_arg
    from experiments.attribution import explain as run_explain
    from experiments.running.executors import ExecutorError

    es = load_explain_spec(args.spec, parse_packages_arg(args.packages))
    out = check_out(args.out if args.out is not None else default_out_dir(es))
    executor = _executor(args)
    try:
        res = run_explain(es, out=out, executor=executor, progress=not args.no_progress)
    except ExecutorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted: nothing written (explain is not resumable; run it again)", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = f", {res.failed_runs} failed (their replicates are left out)" if res.failed_runs else ""
    print(f"explain: {res.distinct_runs:,} runs in {res.seconds / 60:.1f} min{failed}")
    print(f"table: {res.out / 'channels.csv'}   figures: {res.out / 'figures'}   report: {res.out / 'report.md'}")
    return EXIT_ALL_FAILED if res.failed_runs == res.distinct_runs else EXIT_OK


def _saved(out: Path) -> str:
    """``203 of 210 runs done and saved`` (``, 2 failed`` when some are) for a partly run results folder."""
    from experiments.running.store import Store

    try:
        s = Store(out).status()
    except Exception:  # noqa: BLE001 - a folder we cannot read now still keeps what was committed
        return "finished runs are saved"
    failed = f", {s['failed']} failed" if s["failed"] else ""
    return f"{s['done']} of {s['total']} runs done and saved{failed}"


def _optimize(args: argparse.Namespace) -> int:
    from experiments.decision.optimize import default_out_dir, optimize
    from experiments.decision.optimize_spec import OptimizeError, load_optimize_spec
    from experiments.running.executors import ExecutorError, ExecutorLost
    from experiments.running.store import StoreLocked

    spec = load_optimize_spec(args.spec)
    out = args.out or default_out_dir(spec)
    _check_out_dir(out)
    executor = _executor(args)
    command = "python -m experiments " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        res = optimize(spec, out, executor, force=args.force, command=command)
    except ExecutorLost as exc:
        print(f"{exc}: finished runs and generations are saved in {out}; re-run the same command to resume",
              file=sys.stderr)
        return EXIT_USAGE
    except (OptimizeError, StoreLocked, ExecutorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs and generations are saved in {out}; run the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    for c in res.cases:
        print(f"{c.case.name}: {c.generation} generations, {len(c.evaluations)} candidates, "
              f"{len(c.pareto)} non-dominated points within the constraints")
    print(f"{res.runs} model runs this session ({res.reused} reused); pareto: {out / 'pareto.csv'}   "
          f"report: {out / 'report.md'}")
    return EXIT_OK


def _study(args: argparse.Namespace) -> int:
    """``study``: plan (``--plan``) or run the whole study (experiments.study); exit 1 when a step failed."""
    import dataclasses
    import os

    from experiments import study

    if args.workers is not None and args.workers < 1:
        raise SpecError(f"--workers: {args.workers} is not allowed; give an integer >= 1")
    if args.config is not None or args.specs is None:
        config = study.load_config(args.config if args.config is not None else study.STUDY_CONFIG)
    else:  # another spec folder: none of the shipped specs' steps, but the same estimate and re-check
        config = dataclasses.replace(study.load_config(study.STUDY_CONFIG), specs={}, fit=None)
    executor = ["--serial"] if args.serial else (["--workers", str(args.workers)] if args.workers else [])
    steps = study.build_steps(args.specs or study.SPECS_DIR, config, refit=args.refit, executor_args=executor)
    chosen = study.select(steps, args.only)
    if args.plan:
        workers = 1 if args.serial else (args.workers or os.cpu_count() or 1)
        lines, planned = study.plan_lines(chosen, args.out, config, workers, study.probe())
        print("\n".join(lines))
        return EXIT_OK if planned else EXIT_ALL_FAILED
    _check_out_dir(args.out)
    import time

    t0 = time.monotonic()
    try:
        outcomes = study.run_study(steps, args.out, selected=chosen, argv=sys.argv[1:])
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished steps are recorded; index: {args.out / 'index.md'}; run the same command "
              "to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    ran = [o for o in outcomes if o.status not in ("not selected", "off")]
    for o in ran:
        what = o.error or o.detail
        print(f"{o.step.id:32s} {o.status:8s} {study.hms(o.seconds)}" + (f"  {what}" if what else ""))
    bad = [o for o in ran if o.status in ("failed", "blocked")]
    skipped = sum(o.status == "skipped" for o in ran)
    total = time.monotonic() - t0
    print(f"total: {study.hms(total)} of wall time in this session; {len(ran) - skipped - len(bad)} steps done, "
          f"{skipped} skipped as complete, {len(bad)} failed or not run")
    print(f"index: {args.out / 'index.md'} (and index.html)")
    return EXIT_ALL_FAILED if bad else EXIT_OK


def _carry_posterior(args: argparse.Namespace) -> int:
    """Re-check the posterior on the current model and record the carry-over (experiments.calibration.carry)."""
    from tqdm.auto import tqdm

    from experiments.calibration.carry import carry_over
    from sim.inputs.base import ConfigError

    if not 1 <= args.draws <= 10_000:
        raise SpecError(f"--draws: {args.draws} must be 1-10000")
    with tqdm(total=args.draws, unit="run", desc="posterior re-check") as bar:
        try:
            record = carry_over(args.posterior, args.reason, draws=args.draws, progress=lambda: bar.update(1))
        except ConfigError as exc:  # an unreadable or malformed posterior: one line naming it
            raise SpecError(str(exc)) from None
    check = record["recheck"]
    print(f"carried over: {args.posterior} (fitted on model {record['from_model_version']}) to model "
          f"{record['to_model_version']}; {check['targets_pass']} targets pass"
          + (f"; failing: {', '.join(check['failing'])}" if check["failing"] else ""))
    return EXIT_OK


def _calibrate(args: argparse.Namespace) -> int:
    """Fit, report and (``--publish``) publish under the fit folder's lock. Everything that can be
    refused (the spec, --out, --publish, the Dask address, a fit already running there) is refused
    before anything is written."""
    import contextlib

    from experiments.calibration import load_calibration_spec, run_fit, write_outputs
    from experiments.calibration.fit import check_fit_folder, fit_folder
    from experiments.calibration.publish import check_publish_target
    from experiments.running.executors import ExecutorError
    from experiments.running.store import FolderInUse, StoreLocked

    if args.workers is not None and args.workers < 1:
        raise SpecError(f"--workers: {args.workers} must be >= 1")
    _check_dask(args.dask)
    spec = load_calibration_spec(args.spec)
    out = fit_folder(spec, args.out)
    _check_out_dir(out)
    if args.publish is not None:
        check_publish_target(args.publish)
    try:
        check_fit_folder(out)
        with contextlib.ExitStack() as held:  # the lock is held until the report and the posterior are written
            try:
                fit = run_fit(spec, out=args.out, workers=args.workers, dask=args.dask, force=args.force,
                              log=lambda line: print(line, file=sys.stderr, flush=True), hold=held)
            except KeyboardInterrupt:
                print(f"\ninterrupted: finished generations are saved in {out}/abc.db; "
                      "run the same command to resume", file=sys.stderr)
                return EXIT_INTERRUPTED
            report = write_outputs(spec, fit)
            print(f"fit: {fit.generations} generations ({fit.stopped}) in {fit.wall_s / 60:.1f} min; history {fit.db}")
            print(f"posterior: {fit.root / 'posterior.parquet'}")
            if args.publish is not None:
                import pandas as pd

                from experiments.calibration.publish import publish

                dest = publish(spec, fit, pd.read_parquet(fit.root / "posterior.parquet"), args.publish)
                print(f"published: {dest} and {dest.with_suffix('.json')} "
                      "(check: python -m sim calibrate --posterior)")
    except (FolderInUse, StoreLocked, ExecutorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"report: {report}")
    return EXIT_OK


def _analyze(root: Path) -> int:
    from experiments.report import analyze
    from experiments.running.spec import check_stored_analysis

    check_stored_analysis(root)
    try:
        path = analyze(root)
    except ValueError as exc:  # [robustness] of the spec that these results cannot answer (one line)
        from experiments.running.goals import ExpressionError
        from experiments.decision.robustness import RobustnessError

        if isinstance(exc, (RobustnessError, ExpressionError)):
            raise _DecisionError(str(exc)) from None
        raise
    print(f"report: {path}")
    print(f"figures: {path.parent / 'figures'}   tables: {path.parent / 'tables'}")
    return EXIT_OK


def _status(root: Path, show_failed: bool) -> int:
    from experiments.running.store import Store

    store = Store(root)
    if not store.exists():
        raise FileNotFoundError(f"{root}: no sweep here (design.parquet missing)")
    s = store.status()
    prov = store.provenance()
    stale = f" ({s['stale']} older runs not in the design)" if s["stale"] else ""
    damaged = f", {s['damaged']} in damaged parts" if s["damaged"] else ""
    print(f"{prov.get('experiment', root.name)}: {s['total']} runs in the design — {s['done']} done, "
          f"{s['failed']} failed, {s['pending']} pending{damaged}{stale}")
    sessions = prov.get("sessions", [])
    if sessions:
        last = sessions[-1]
        print(f"last session: started {last.get('started')}, finished {last.get('finished', '(interrupted)')}")
    damage = store.verify() if s["damaged_files"] else []
    if show_failed and s["failed"]:
        runs = store.runs(skip={d.batch for d in damage})
        planned = set(store.design()["run_id"])
        failed = runs[(runs["status"] == "failed") & runs["run_id"].isin(planned)]
        for _, r in failed.iterrows():
            err = (r["error"] or "").strip().splitlines()
            print(f"  {r['run_id']}  point {r['point']} replicate {r['replicate']}: {err[-1] if err else ''}")
    if damage:
        from experiments.running.store import StoreDamaged

        raise StoreDamaged(store, damage)
    return EXIT_OK


def _plan(path: Path) -> int:
    from experiments.running import design
    from experiments.running.provenance import model_version
    from experiments.running.spec import load_spec

    spec = load_spec(path)
    plan = design.build_plan(spec, model_version())
    crossed = (f" ({spec.design.samples} samples crossed with {', '.join(spec.design.cross)})"
               if spec.design.cross else "")
    print(f"{spec.name}: {spec.design.kind}{crossed}, {plan['point'].nunique()} points x {spec.replicates} "
          f"replicates = {plan['run_id'].nunique()} runs, horizon {spec.horizon} quarters, seed {spec.seed}")
    for f in spec.factors:
        print(f"  {f.kind:11s} {f.name}: {f.describe()}")
    for lever, fixed in spec.timing.items():
        if fixed:
            print(f"  {'fixed':11s} {lever}: " + ", ".join(f"{k} = {v!r}" for k, v in fixed.items()))
    for lever, sch in spec.base.schedules.items():
        print(f"  {'base':11s} {lever}: value = {spec.base.values[lever]!r}"
              + "".join(f", {k} = {v!r}" for k, v in sch.to_dict().items()))
    if spec.base.channels_off:
        print(f"  {'base':11s} channels_off: {', '.join(sorted(spec.base.channels_off))}")
    if spec.posterior is not None:
        print(f"  posterior   {len(spec.posterior.parameters)} behavioural coefficients from {spec.posterior.path}: "
              f"{spec.n_draws} draws, " + ("one per future (LHS row)" if spec.posterior_per == "future" else
                                           f"replicate r uses draw r % {spec.n_draws}"))
    from experiments.reading.analysis import report_gaps

    for gap in report_gaps(spec):
        print(f"warning: report section {gap}")
    return EXIT_OK
