"""Resolution gap: key status-quo outcomes and run time at 1, 5, 10, 20 and 40 persons per talent agent.

Reports (and writes benchmarks/out/resolution.json), averaged over SEEDS status-quo runs of 40 quarters:
* firms in the last quarter (2035Q1), real value added (亿 yuan a year) and retention after 3 years,
  with their standard errors over seeds, at each resolution;
* the resolution gap: relative difference of each outcome at 1, 5, 20 and 40 persons per agent from
  the default 10, with its standard error over seeds (target at 1 and 5: within Z standard errors,
  Z = 2.64, two-sided 5% over the six comparisons; with 8 seeds one standard error is about 1.5-2%
  for firms and value added and 1% for retention);
* seconds per run (set-up included, median) and talent agents (rows) at the end at each resolution.
Talent agents are split where hiring, layoffs and training concern only some of their persons
(sim.behaviour.labour), so firms' skilled staff do not depend on the resolution; before issue 22 the
firm count at 1 and 10 persons per agent differed by ~26%.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
SEEDS = range(1, 9)
RESOLUTIONS = (1, 5, 10, 20, 40)
OUTCOMES = ("firms", "value_added_yi", "retention_3y")
Z = 2.64  # two-sided 5% over the six target comparisons (Bonferroni)


def run(persons_per_agent: int, seed: int) -> tuple[tuple[float, float, float], float, int]:
    """(outcomes, seconds, talent rows) of one status-quo run."""
    import sim
    from sim.state.records import graduate_outcomes

    start = time.perf_counter()
    m = sim.ClusterModel(rng=seed, persons_per_agent=persons_per_agent, record="city")
    while m.running:
        m.step()
    seconds = time.perf_counter() - start
    c = m.recorder.city
    return (c["firms"][-1], c["value_added"][-1] / 1e8, graduate_outcomes(c)["retention_3y"]), seconds, len(m.talent)


def main() -> dict:
    run(10, 1)  # warm-up: imports, caches
    result: dict = {"seeds": len(SEEDS), "by_resolution": {}}
    means, ses = {}, {}
    for ppa in RESOLUTIONS:
        runs = [run(ppa, s) for s in SEEDS]
        values = np.array([r[0] for r in runs])
        means[ppa] = values.mean(axis=0)
        se = ses[ppa] = values.std(axis=0, ddof=1) / np.sqrt(len(SEEDS))
        result["by_resolution"][ppa] = {
            **{name: round(float(v), 4) for name, v in zip(OUTCOMES, means[ppa])},
            **{f"{name}_se": round(float(v), 4) for name, v in zip(OUTCOMES, se)},
            "seconds_per_run": round(statistics.median(r[1] for r in runs), 3),
            "talent_agents_end": int(np.mean([r[2] for r in runs])),
        }
    for ppa in (1, 5, 20, 40):
        for name, a, b, se_a, se_b in zip(OUTCOMES, means[ppa], means[10], ses[ppa], ses[10]):
            result[f"gap_{name}_{ppa}_vs_10"] = round(float(a / b - 1.0), 4)
            result[f"gap_{name}_{ppa}_vs_10_se"] = round(float(np.hypot(se_a, se_b) / b), 4)
    print(f"resolution benchmark ({len(SEEDS)} status-quo seeds, 40 quarters; gaps relative to 10 persons per agent)")
    for ppa, row in result["by_resolution"].items():
        print(f"  {ppa:3d} persons/agent: firms {row['firms']:.1f} ± {row['firms_se']:.1f}, value added "
              f"{row['value_added_yi']:.1f} ± {row['value_added_yi_se']:.1f}亿, retention_3y "
              f"{row['retention_3y']:.4f} ± {row['retention_3y_se']:.4f}, {row['seconds_per_run']} s/run, "
              f"{row['talent_agents_end']} agents")
    for key, value in result.items():
        if key.startswith("gap_") and not key.endswith("_se"):
            se = result[f"{key}_se"]
            mark = ""
            if key.endswith(("_1_vs_10", "_5_vs_10")):
                mark = f"   target |gap| <= {Z} se = {Z * se:.4f}: {'met' if abs(value) <= Z * se else 'MISSED'}"
            print(f"  {key:30s} {value:+.4f} (se {se:.4f}){mark}")
    OUT.mkdir(exist_ok=True)
    (OUT / "resolution.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
