"""Model speed and memory, as ratios against references measured in the same run.

Reports (and writes benchmarks/out/model.json):
* wall time of the default 10-year run (40 quarters, status quo), median of repeats, incl. set-up;
* agent-steps per second of our model vs Mesa's own Boltzmann wealth example (10,000 agents,
  100 x 100 grid) run in this same process; target ratio >= 3;
* peak memory (max RSS) of a fresh process doing one default run; target <= 300 MB;
* the time with persons_per_agent cut 10x (10 -> 1, ten times the talent agents); target <= 10x.
Timings swing +-25% between runs on a shared machine: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
REPEATS = 3


def time_default(persons_per_agent: int = 10, seed: int = 1) -> tuple[float, int]:
    """(seconds, agent-steps) of one 40-quarter status-quo run, set-up included."""
    import sim

    start = time.perf_counter()
    model = sim.ClusterModel(rng=seed, persons_per_agent=persons_per_agent)
    agent_steps = 0
    while model.running:
        model.step()
        agent_steps += len(model.agents)
    return time.perf_counter() - start, agent_steps


def time_boltzmann(n: int = 10_000, steps: int = 20) -> float:
    """Agent-steps per second of Mesa's Boltzmann wealth example."""
    from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth

    model = BoltzmannWealth(BoltzmannScenario(n=n, width=100, height=100, rng=42))
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return n * steps / (time.perf_counter() - start)


# VmHWM (this process's peak RSS since exec), not ru_maxrss, which on Linux carries the parent's
# peak over fork + exec and would charge the benchmark's own memory to the child.
PEAK_CODE = """
import re, sim
r = sim.run_scenario(seed=1)
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024)
"""


def peak_memory_mb() -> float:
    out = subprocess.run([sys.executable, "-c", PEAK_CODE], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> dict:
    time_default()  # warm-up: imports, caches
    runs = [time_default() for _ in range(REPEATS)]
    wall = statistics.median(t for t, _ in runs)
    agent_steps = runs[0][1]
    ours_rate = statistics.median(s / t for t, s in runs)
    boltz_rate = statistics.median(time_boltzmann() for _ in range(REPEATS))
    fine = [time_default(persons_per_agent=1) for _ in range(2)]
    fine_wall = statistics.median(t for t, _ in fine)
    result = {
        "default_run_seconds": round(wall, 3),
        "default_run_agent_steps": agent_steps,
        "agent_steps_per_second": round(ours_rate),
        "boltzmann_agent_steps_per_second": round(boltz_rate),
        "ratio_vs_boltzmann": round(ours_rate / boltz_rate, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "persons_per_agent_1_seconds": round(fine_wall, 3),
        "persons_per_agent_1_agent_steps": fine[0][1],
        "time_ratio_10x_agents": round(fine_wall / wall, 2),
    }
    targets = {
        "default_run_seconds": ("<=", 1.0),
        "ratio_vs_boltzmann": (">=", 3.0),
        "peak_memory_mb": ("<=", 300.0),
        "time_ratio_10x_agents": ("<=", 10.0),
    }
    print("model benchmark (one process; ratios are what matter)")
    for key, value in result.items():
        mark = ""
        if key in targets:
            op, limit = targets[key]
            ok = value <= limit if op == "<=" else value >= limit
            mark = f"   target {op} {limit}: {'met' if ok else 'MISSED'}"
        print(f"  {key:34s} {value}{mark}")
    OUT.mkdir(exist_ok=True)
    (OUT / "model.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
