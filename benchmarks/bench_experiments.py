"""Benchmark of the experiment machinery on the real model.

    python benchmarks/bench_experiments.py [--runs 40] [--horizon 40] [--memory 100 1000] [--skip-memory]

Measures, on this machine:
1. throughput (runs per minute) with 1 and 2 local worker processes, and the parallel efficiency
   ``rate(2) / (2 * rate(1))``;
2. Dask ``LocalCluster`` with 2 workers against 2 local processes (overhead = time ratio - 1; with
   ``--dask-as-before`` also Dask as it was before runs were batched and its diagnostics tuned);
3. the driver's peak memory (RSS of the driver process only) for sweeps of 100 and 1,000 runs.

Throughput is measured in steady state: each executor is started and warmed up with one short run per
worker first (start-up time is reported separately). Timings on a shared machine swing, so each
measurement is repeated (interleaved across executors) and the fastest repetition counts; compare
ratios measured in one invocation. ``wall/CPU`` (wall time over CPU time inside the runs) shows
contention: near 1.0 each worker had a core to itself; well above 1.0 other processes competed and
the wall-clock efficiency understates what a dedicated machine gives. Results go to stdout (a Markdown table) and to
``benchmarks/out/bench_experiments.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPEC = """
[experiment]
name = "bench"
seed = 1
replicates = {replicates}
horizon = {horizon}
[design]
kind = "full_factorial"
[levers]
package = ["status_quo", "digital", "factors", "all_five"]
"""


def _spec(runs: int, horizon: int):
    from experiments.running.spec import parse_spec

    return parse_spec(SPEC.format(replicates=max(1, -(-runs // 4)), horizon=horizon))


def _tasks(spec, n: int | None = None) -> list:
    from experiments.running import design, sweep
    from experiments.running.provenance import model_version

    mv = model_version()
    plan = design.build_plan(spec, mv)
    ids = list(dict.fromkeys(plan["run_id"]))[:n]
    return list(sweep.tasks(spec, plan, set(ids), mv))


def throughput(executor, tasks: list, warm: list) -> dict:
    """Start the executor, warm every worker up, then time the tasks. Returns seconds and runs/min."""
    from experiments.running.runner import execute

    t0 = time.perf_counter()
    with executor as ex:
        for _ in ex.imap_unordered(execute, warm):
            pass
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        records = list(ex.imap_unordered(execute, tasks))
        seconds = time.perf_counter() - t1
    failed = sum(not r.ok for r in records)
    if failed:
        raise RuntimeError(f"{failed} benchmark runs failed: {records[0].row['error']}")
    cpu = sum(r.row["cpu_s"] for r in records)
    wall = sum(r.row["wall_s"] for r in records)
    return {"runs": len(records), "seconds": seconds, "runs_per_min": 60 * len(records) / seconds,
            "startup_s": started, "cpu_s_per_run": cpu / len(records),
            "contention": wall / cpu,  # wall / CPU time inside the runs: 1.0 = each worker had a core to itself
            "loadavg": os.getloadavg()[0]}


def _paired_median(trials: list[dict], reference: list[dict]) -> float:
    """Median over repetitions of ``trial time / reference time - 1`` (the two measured one after the other)."""
    import statistics

    return statistics.median(t["seconds"] / r["seconds"] - 1 for t, r in zip(trials, reference, strict=True))


def memory_child(runs: int, horizon: int) -> None:
    """Run a sweep of ``runs`` runs with 2 local workers; print the driver's peak RSS (MiB) as JSON."""
    from experiments.running.executors import ProcessExecutor
    from experiments.running.sweep import run_sweep

    spec = _spec(runs, horizon)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = run_sweep(spec, Path(tmp) / "out", ProcessExecutor(2), progress=False)
        seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"runs": res.done, "failed": res.failed, "seconds": seconds, "driver_peak_rss_mib": peak}))


def memory(runs: int, horizon: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(runs), "--horizon", str(horizon)],
                         capture_output=True, text=True, cwd=ROOT, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=40, help="runs per throughput measurement (default 40)")
    p.add_argument("--horizon", type=int, default=40, help="quarters per run for throughput (default 40)")
    p.add_argument("--repeat", type=int, default=3, help="repeat each throughput measurement; best counts (default 3)")
    p.add_argument("--memory", type=int, nargs="*", default=[100, 1000], help="sweep sizes for the memory test")
    p.add_argument("--memory-horizon", type=int, default=4, help="quarters per run in the memory test (default 4)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-dask", action="store_true")
    p.add_argument("--dask-as-before", action="store_true",
                   help="also time Dask as before batching and tuning (one run per task, Dask's default "
                        "diagnostics), for comparison in the same run")
    p.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.horizon)
        return 0

    from experiments.running.executors import DaskExecutor, ProcessExecutor

    spec = _spec(args.runs, args.horizon)
    tasks = _tasks(spec, args.runs)
    warm = _tasks(_spec(2, 1))[:2]
    results: dict = {"machine": {"platform": platform.platform(), "python": platform.python_version()},
                     "runs": len(tasks), "horizon": args.horizon}
    print(f"throughput: {len(tasks)} runs of {args.horizon} quarters, best of {args.repeat} ...", flush=True)
    makers = {"processes_1": (lambda: ProcessExecutor(1), warm[:1]), "processes_2": (lambda: ProcessExecutor(2), warm)}
    if not args.skip_dask:
        makers["dask_local_2"] = (lambda: DaskExecutor("local", workers=2), warm)
        if args.dask_as_before:
            makers["dask_local_2_as_before"] = (lambda: DaskExecutor("local", workers=2, chunk=1, local_config={}),
                                                warm)
    trials: dict[str, list[dict]] = {k: [] for k in makers}
    for i in range(args.repeat):  # interleaved, so a burst of load elsewhere hits every executor alike
        for key, (make, w) in makers.items():
            trials[key].append(throughput(make(), tasks, w))
            print(f"  [{i + 1}] {key}: {trials[key][-1]['runs_per_min']:.1f} runs/min", flush=True)
    for key, ts in trials.items():
        results[key] = {**min(ts, key=lambda t: t["seconds"]), "all_runs_per_min": [t["runs_per_min"] for t in ts]}
    eff = results["processes_2"]["runs_per_min"] / (2 * results["processes_1"]["runs_per_min"])
    results["parallel_efficiency_2"] = eff
    if not args.skip_dask:
        results["dask_overhead"] = results["dask_local_2"]["seconds"] / results["processes_2"]["seconds"] - 1
        # each repetition's Dask time over the processes' time measured just before it: robust to slow drifts
        results["dask_overhead_paired_median"] = _paired_median(trials["dask_local_2"], trials["processes_2"])
        if args.dask_as_before:
            results["dask_overhead_as_before"] = (results["dask_local_2_as_before"]["seconds"]
                                                  / results["processes_2"]["seconds"] - 1)
            results["dask_overhead_as_before_paired_median"] = _paired_median(trials["dask_local_2_as_before"],
                                                                              trials["processes_2"])
    if not args.skip_memory:
        results["memory"] = {}
        for n in args.memory:
            print(f"memory: sweep of {n} runs ({args.memory_horizon} quarters) with 2 workers ...", flush=True)
            results["memory"][n] = memory(n, args.memory_horizon)

    p1, p2 = results["processes_1"], results["processes_2"]
    results["cpu_efficiency_2"] = p1["cpu_s_per_run"] / p2["cpu_s_per_run"]
    lines = ["| measure | value |", "|---|---|",
             f"| 1 worker process | {p1['runs_per_min']:.1f} runs/min (CPU {p1['cpu_s_per_run']:.2f} s/run, "
             f"wall/CPU {p1['contention']:.2f}) |",
             f"| 2 worker processes | {p2['runs_per_min']:.1f} runs/min (CPU {p2['cpu_s_per_run']:.2f} s/run, "
             f"wall/CPU {p2['contention']:.2f}) |",
             f"| parallel efficiency (2 workers, wall clock) | {eff:.2f} |",
             f"| CPU per run, 1 vs 2 workers | {results['cpu_efficiency_2']:.2f} |",
             f"| load average (1 min) during the runs | {p1['loadavg']:.1f} / {p2['loadavg']:.1f} |"]
    if "dask_local_2" in results:
        lines += [f"| Dask LocalCluster, 2 workers | {results['dask_local_2']['runs_per_min']:.1f} runs/min |",
                  f"| Dask overhead vs 2 processes (best of each; median of paired repetitions) | "
                  f"{100 * results['dask_overhead']:+.1f}%; {100 * results['dask_overhead_paired_median']:+.1f}% |",
                  *([f"| Dask overhead as before (one run per task, default diagnostics) | "
                     f"{100 * results['dask_overhead_as_before']:+.1f}%; "
                     f"{100 * results['dask_overhead_as_before_paired_median']:+.1f}% |"] if args.dask_as_before else []),
                  f"| start-up: processes(2) / Dask local(2) | {results['processes_2']['startup_s']:.1f} s / "
                  f"{results['dask_local_2']['startup_s']:.1f} s |"]
    for m in results.get("memory", {}).values():
        rss = m["driver_peak_rss_mib"]
        lines.append(f"| driver peak RSS, {m['runs']} runs | {rss:.0f} MiB ({m['seconds']:.0f} s) |")
    print("\n" + "\n".join(lines))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_experiments.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    rc = main()
    if rc:  # no SystemExit on success: benchmarks/run_all.py runs this file in its own process
        sys.exit(rc)
