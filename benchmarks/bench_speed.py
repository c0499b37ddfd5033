"""Model speed against the code before the speed work, in one run (issue 23's targets).

Each tree (this checkout, and ``sim/`` + ``configs/`` of a reference commit unpacked by ``git
archive``) gets its own long-lived worker process: it imports ``sim``, runs once to warm up (imports,
compiled kernels), then times the requests the benchmark sends. Requests alternate between the trees
round by round, so a slow minute on this shared machine hits both; the report gives medians and
ratios, with the machine's load average stated. Measured per tree:

* ``run_s``: a warm 40-quarter status-quo run (set-up included), median over rounds and seeds;
* ``agent_steps_per_s`` and its ratio to Mesa's Boltzmann wealth model (10,000 agents, 100 x 100)
  run in the same worker (an agent-step = one agent present in one quarter: ``len(model.agents)``,
  counted from the tables so that the count does not make the Mesa views it would count; making them
  is Mesa's object creation, which bench_model times and a sweep, fit or the app never does);
* ``setup_share``: the set-up (``ClusterModel(...)``) as a share of the run;
* ``import_s`` and ``first_run_s``: ``import sim`` and the first run in a fresh process (compiled
  kernels loaded from the on-disk cache; the cache is warmed beforehand), medians of fresh processes;
  ``import sim`` loads the model on first use, so ``fresh_total_s`` (their sum) is the honest figure of
  a fresh process's start;
* ``peak_rss_mb``: peak resident memory of a fresh process doing one run (VmHWM).

Targets (issue 23): run >= 5x faster than the reference (moonshot 10x), agent-steps/s >= 75x
Boltzmann's, set-up <= 15 % of a run, ``import sim`` <= 1 s.

    python benchmarks/bench_speed.py [--ref COMMIT] [--rounds N] [--seeds K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_reference import unpack  # noqa: E402  (git archive of a commit's sim/ and configs/)

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_REF = "83d70ca"  # model v3, the last commit before the speed work (issue 23)
TARGETS = {"speedup": 5.0, "boltzmann_ratio": 75.0, "setup_share": 0.15, "import_s": 1.0}
MOONSHOT = 10.0

WORKER = r"""
import json, sys, time
import sim
from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth

def agents(m):
    # len(m.agents) without making the Mesa views (made on first look: counting with len(m.agents)
    # would time Mesa's object creation, not the model)
    return int(m.firms.alive.sum()) + len(m.talent) + len(m.universities) + 1 + len(m.district_governments)

def run(seed):
    t0 = time.perf_counter()
    m = sim.ClusterModel(rng=seed)
    t1 = time.perf_counter()
    steps = 0
    while m.running:
        m.step()
        steps += agents(m)
    t2 = time.perf_counter()
    return {"run_s": t2 - t0, "setup_s": t1 - t0, "agent_steps": steps}

def boltzmann(n=10_000, steps=20):
    m = BoltzmannWealth(BoltzmannScenario(n=n, width=100, height=100, rng=42))
    t0 = time.perf_counter()
    for _ in range(steps):
        m.step()
    return n * steps / (time.perf_counter() - t0)

run(99)  # warm-up
print("ready", flush=True)
for line in sys.stdin:
    kind, arg = line.split()
    out = run(int(arg)) if kind == "run" else {"boltzmann": boltzmann()}
    print(json.dumps(out), flush=True)
"""

FRESH = r"""
import re, time
t0 = time.perf_counter()
import sim
t1 = time.perf_counter()
sim.run_scenario(seed=1)
t2 = time.perf_counter()
status = open("/proc/self/status").read()
peak = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
print(t1 - t0, t2 - t1, peak)
"""


def _env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree)}


class Worker:
    """A warm process with ``tree`` first on the path, answering run / boltzmann requests."""

    def __init__(self, tree: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=tree, env=_env(tree), text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"benchmark worker in {tree} did not start")

    def ask(self, kind: str, arg: int = 0) -> dict:
        self.proc.stdin.write(f"{kind} {arg}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def fresh(tree: Path) -> tuple[float, float, float]:
    """(import s, first run s, peak RSS MB) of a fresh process with ``tree`` first on the path."""
    out = subprocess.run([sys.executable, "-c", FRESH], cwd=tree, env=_env(tree), check=True,
                         capture_output=True, text=True)
    return tuple(float(x) for x in out.stdout.split())


def measure(trees: dict[str, Path], rounds: int, seeds: int) -> dict:
    for tree in trees.values():
        fresh(tree)  # fills the compiled-kernel cache, so fresh processes below only load it
    workers = {name: Worker(tree) for name, tree in trees.items()}
    runs = {name: [] for name in trees}
    bolt = {name: [] for name in trees}
    try:
        for r in range(rounds):
            for name, w in workers.items():  # alternate: a slow minute hits both trees
                runs[name] += [w.ask("run", 1 + (r * seeds + s) % 50) for s in range(seeds)]
                bolt[name].append(w.ask("boltzmann")["boltzmann"])
    finally:
        for w in workers.values():
            w.close()
    starts = {name: [fresh(tree) for _ in range(3)] for name, tree in trees.items()}
    out = {}
    for name in trees:
        run_s = statistics.median(x["run_s"] for x in runs[name])
        rate = statistics.median(x["agent_steps"] / x["run_s"] for x in runs[name])
        out[name] = {
            "run_s": run_s,
            "setup_share": statistics.median(x["setup_s"] / x["run_s"] for x in runs[name]),
            "agent_steps_per_s": rate,
            "boltzmann_ratio": rate / statistics.median(bolt[name]),
            "import_s": statistics.median(s[0] for s in starts[name]),
            "first_run_s": statistics.median(s[1] for s in starts[name]),
            "fresh_total_s": statistics.median(s[0] + s[1] for s in starts[name]),
            "peak_rss_mb": statistics.median(s[2] for s in starts[name]),
            "runs": len(runs[name]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=DEFAULT_REF, help=f"the reference commit (default {DEFAULT_REF})")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=2, help="runs per tree per round")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"current": ROOT, args.ref: unpack(args.ref, Path(tmp))}
        res = measure(trees, args.rounds, args.seeds)
    cur, ref = res["current"], res[args.ref]
    speedup = ref["run_s"] / cur["run_s"]
    checks = {
        "speedup": (speedup, ">=", TARGETS["speedup"]),
        "boltzmann_ratio": (cur["boltzmann_ratio"], ">=", TARGETS["boltzmann_ratio"]),
        "setup_share": (cur["setup_share"], "<=", TARGETS["setup_share"]),
        "import_s": (cur["import_s"], "<=", TARGETS["import_s"]),
    }
    load = (load_before, os.getloadavg())
    print(f"model speed vs {args.ref} ({args.rounds} rounds x {args.seeds} warm runs per tree, alternating; "
          f"load average {load[0][0]:.1f} before, {load[1][0]:.1f} after, on {os.cpu_count()} cores)")
    print(f"  {'':22s} {'current':>10s} {args.ref:>10s}")
    for key in ("run_s", "setup_share", "agent_steps_per_s", "boltzmann_ratio", "import_s", "first_run_s",
                "fresh_total_s", "peak_rss_mb"):
        print(f"  {key:22s} {cur[key]:10.3f} {ref[key]:10.3f}")
    for key, (value, op, limit) in checks.items():
        ok = value >= limit if op == ">=" else value <= limit
        print(f"  {key:22s} {value:10.3f}   target {op} {limit}: {'met' if ok else 'MISSED'}")
    print(f"  moonshot (speedup >= {MOONSHOT}): {'met' if speedup >= MOONSHOT else 'not met'}")
    OUT.mkdir(exist_ok=True)
    (OUT / "speed.json").write_text(json.dumps({"reference": args.ref, "load_average": load, "speedup": speedup,
                                                "results": res, "targets": TARGETS}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
