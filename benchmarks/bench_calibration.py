"""Calibration speed: what a fit costs, as ratios against plain model runs measured in the same run.

Reports (and writes benchmarks/out/calibration.json):
* the smoke fit (configs/experiments/calibrate_smoke.toml, 2 workers): wall time per simulation
  against a plain 16-quarter ``sim.run_scenario`` in the same process pool -> pyabc's overhead ratio
  (target <= 1.5: the fit's cost is the model's). A fit of ~60 simulations of 0.04-s runs is mostly fixed
  cost (the database, pyabc's process start per generation, the posterior's write), so the same
  ratio is also given for the real fit, whose fixed costs are spread over ~8,000 simulations;
* the real fit, when its history exists (results/calibrate/abc.db, or --real DIR): simulations,
  generations, wall time of the fit from pyabc's own timestamps; target <= 30 minutes on 2 cores;
* the projection for the real fit from the plain 40-quarter run time: simulations x run time /
  workers, i.e. the wall time a fit of that many simulations needs at this machine's model speed.
Timings swing +-25% on a shared machine: read the ratios.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
WORKERS = 2
TARGET_FIT_MINUTES = 30.0
TARGET_OVERHEAD = 1.5


def _plain(args: tuple[int, int]) -> float:
    import sim

    quarters, seed = args
    start = time.perf_counter()
    sim.run_scenario(sim.default_config().with_overrides({}, quarters=quarters), seed)
    return time.perf_counter() - start


def plain_rate(quarters: int, n: int) -> float:
    """Wall seconds per run of ``n`` plain runs on WORKERS spawned processes (pool start excluded)."""
    with cf.ProcessPoolExecutor(WORKERS, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(_plain, [(1, 0)] * WORKERS))  # warm: imports
        start = time.perf_counter()
        list(pool.map(_plain, [(quarters, s) for s in range(n)]))
        return (time.perf_counter() - start) / n


def smoke_fit() -> dict:
    from experiments.calibration import load_calibration_spec, run_fit
    from experiments.calibration.fit import posterior

    spec = load_calibration_spec(ROOT / "configs/experiments/calibrate_smoke.toml")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        fit = run_fit(spec, out=Path(tmp), workers=WORKERS, log=lambda line: None)
        wall = time.perf_counter() - start
        _, history = posterior(fit.db, fit.run_id)
        pops = history.get_all_populations()
        sims = int(pops["samples"].sum())
    return {"wall_s": wall, "simulations": sims, "s_per_simulation": wall / sims, "horizon": spec.horizon}


def real_fit(root: Path) -> dict | None:
    db = root / "abc.db"
    meta = root / "fit.json"
    if not db.is_file() or not meta.is_file():
        return None
    import pyabc

    run_id = json.loads(meta.read_text())["run_id"]
    history = pyabc.History(f"sqlite:///{db}", _id=run_id, create=False)
    pops = history.get_all_populations()
    times = pops["population_end_time"]
    start = history.get_abc().start_time
    wall = (times.max() - start).total_seconds()
    gens = int((pops["t"] >= 0).sum())
    return {"simulations": int(pops["samples"].sum()), "generations": gens, "wall_min": wall / 60,
            "epsilons": [float(e) for e in pops.loc[pops["t"] >= 0, "epsilon"]]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=ROOT / "results/calibrate", help="folder of the real fit")
    ap.add_argument("--runs", type=int, default=16, help="plain runs per reference (default 16)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    smoke = smoke_fit()
    ref16 = plain_rate(smoke["horizon"], args.runs)
    ref40 = plain_rate(40, args.runs)
    report = {"smoke": smoke, "plain_run_s_16q_per_worker_slot": ref16, "plain_run_s_40q_per_worker_slot": ref40,
              "smoke_overhead_ratio": smoke["s_per_simulation"] / ref16}
    real = real_fit(args.real)
    if real:
        report["real"] = real
        report["real_projection_min"] = real["simulations"] * ref40 / 60
        report["real_overhead_ratio"] = real["wall_min"] / report["real_projection_min"]
    OUT.mkdir(exist_ok=True)
    (OUT / "calibration.json").write_text(json.dumps(report, indent=2, default=str))
    ok = report["smoke_overhead_ratio"] <= TARGET_OVERHEAD
    print(f"smoke fit: {smoke['simulations']} simulations in {smoke['wall_s']:.1f} s = "
          f"{smoke['s_per_simulation']:.2f} s each vs {ref16:.2f} s per plain 16-quarter run on {WORKERS} workers: "
          f"overhead x{report['smoke_overhead_ratio']:.2f} (target <= {TARGET_OVERHEAD}) {'ok' if ok else 'OVER'}")
    if real:
        within = real["wall_min"] <= TARGET_FIT_MINUTES
        print(f"real fit ({args.real}): {real['generations']} generations, {real['simulations']} simulations, "
              f"{real['wall_min']:.1f} min (target <= {TARGET_FIT_MINUTES:.0f}) {'ok' if within else 'OVER'}; "
              f"at this run's model speed ({ref40:.2f} s per 40-quarter run per worker slot) those simulations "
              f"take {report['real_projection_min']:.1f} min: overhead x{report['real_overhead_ratio']:.2f} "
              f"(target <= {TARGET_OVERHEAD}; the fit ran at another time than this reference)")
    else:
        print(f"real fit: no history in {args.real} (run: python -m experiments calibrate "
              "configs/experiments/calibrate.toml)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
