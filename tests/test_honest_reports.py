"""Reports say no more than the numbers support (issue 26, part 5).

Each claim a report makes ("best", "dominated", a ranking of drivers, a parameter share) is checked on
small synthetic result frames whose answer is known: a tie must read as a tie, overlapping intervals as
"indistinguishable at this sample size", too few samples or draws as such, and a column the sweep did
not keep as "not recorded". One small sweep through ``analyze`` checks the words end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from experiments.reading import analysis, effects
from experiments.reading.analysis import Estimate, contenders, leader, ranking_words
from experiments.decision import optimize_report, optimize_scoring, optimize_spec
from experiments.decision.robustness import (
    Robustness,
    regret_table,
    regret_words,
    satisficing_table,
    satisficing_words,
    section,
)
from experiments.running.spec import parse_spec

ROOT = Path(__file__).resolve().parents[1]
LABEL = {k: p.label_en for k, p in sim.load_presets().items()}


# ---------------------------------------------------------------------------- the claim helpers
def test_a_leader_is_named_only_when_its_interval_is_clear_of_every_other():
    clear = [Estimate("a", 0.9, 0.8, 1.0), Estimate("b", 0.5, 0.4, 0.6), Estimate("c", 0.1, 0.0, 0.2)]
    assert leader(clear).name == "a" and leader(clear, higher_better=False).name == "c"
    overlap = [Estimate("a", 0.67, 0.30, 0.90), Estimate("b", 0.33, 0.10, 0.70), Estimate("c", 0.0, 0.0, 0.39)]
    assert leader(overlap) is None and [e.name for e in contenders(overlap)] == ["a", "b", "c"]
    tie = [Estimate("a", 2.0, 2.0, 2.0), Estimate("b", 2.0, 2.0, 2.0)]  # equal values, no spread: a tie
    assert leader(tie) is None and leader(tie, higher_better=False) is None
    assert leader([Estimate("a", 1.0, np.nan, np.nan), Estimate("b", 0.0, np.nan, np.nan)]) is None  # no interval
    words = ranking_words([Estimate("x", 0.6, 0.55, 0.65), Estimate("y", 0.3, 0.2, 0.4), Estimate("z", 0.25, 0.2, 0.3)],
                          lambda e: e.name)
    assert words == "x > y ≈ z"


# ---------------------------------------------------------------------------- robustness
def _runs(values: dict[str, list[list[float]]], outcome: str = "tiers_climbed_clusters") -> pd.DataFrame:
    """One row per (policy, future, seed): ``values[policy][future][seed]``."""
    rows = [{"_policy": p, "_future": f"f{f}", "replicate": r, outcome: v, "retention_3y": 0.3}
            for p, futures in values.items() for f, seeds in enumerate(futures) for r, v in enumerate(seeds)]
    return pd.DataFrame(rows)


def _robustness(ok: pd.DataFrame, goals: list[str], outcome: str = "tiers_climbed_clusters") -> Robustness:
    order = list(dict.fromkeys(ok["_policy"]))
    reg, notes = regret_table(ok, [outcome], order)
    sat = satisficing_table(ok, goals, order)
    return Robustness(root=Path("."), goals=goals, outcomes=[outcome], policies=order,
                      futures=int(notes["complete_futures"]), regret=reg, satisficing=sat, notes=notes)


def test_a_three_way_tie_is_reported_as_a_tie_not_as_a_best_policy():
    """Issue 26: no policy gets a national cluster in any future; robustness said "Status quo is the best
    policy in every future" (the first of three equal ones) and named a runner-up."""
    ok = _runs({p: [[0.0, 0.0]] * 4 for p in ("Status quo", "Digital", "Factors")}, "n_national_clusters")
    res = _robustness(ok, ["n_national_clusters >= 1"], "n_national_clusters")
    words = regret_words(res, "n_national_clusters")
    assert words == ("- `n_national_clusters`: a tie: all 3 policies give the same value in every future (no regret), "
                     "so none is better.")
    text = section(res)
    assert "is the best policy in every future" not in text and "the next is" not in text
    assert "**No policy meets every goal in any of its runs**" in text


def test_satisficing_names_no_winner_while_the_intervals_overlap_and_one_once_they_are_clear():
    few = _robustness(_runs({"A": [[3.0, 3.0]] * 3, "B": [[3.0, 0.0]] * 3, "C": [[0.0, 0.0]] * 3}),
                      ["tiers_climbed_clusters >= 2"])
    words = satisficing_words(few)
    assert words == ("Which policy meets every goal most often is **indistinguishable at this sample size**: "
                     "A 100% [61%, 100%], B 50% [19%, 81%], C 0% [0%, 39%] (share of runs meeting every goal, Wilson "
                     "95% intervals over 6 runs each, overlap).")  # 6 runs each: every interval overlaps the next
    three = _robustness(_runs({"A": [[3.0] * 5] * 2, "B": [[3.0] * 4 + [0.0]] * 2, "C": [[0.0] * 5] * 2}),
                        ["tiers_climbed_clusters >= 2"])
    assert satisficing_words(three) == (
        "Which policy meets every goal most often is **indistinguishable at this sample size**: A 100% [72%, 100%], "
        "B 80% [49%, 94%] (share of runs meeting every goal, Wilson 95% intervals over 10 runs each, overlap); 1 more "
        "is clearly below.")
    many = _robustness(_runs({"A": [[3.0] * 10] * 5, "B": [[3.0, 0.0] * 5] * 5, "C": [[0.0] * 10] * 5}),
                       ["tiers_climbed_clusters >= 2"])
    words = satisficing_words(many)
    assert words.startswith("**A** meets every goal most often: in 100% of its runs (95% CI 93%–100%, 50 runs each), "
                            "clear of every other policy (next: B 50% [37%, 63%])")


def test_regret_leader_needs_an_interval_clear_of_seed_noise():
    noisy = _robustness(_runs({"A": [[1.0, 3.0], [2.0, 2.0]], "B": [[2.0, 2.1], [1.8, 1.8]]}), ["retention_3y > 0"])
    words = regret_words(noisy, "tiers_climbed_clusters")
    assert "the smallest worst-case regret is indistinguishable at this sample size (seed-bootstrap 95% intervals " \
           "overlap)" in words and "P(smallest)" in words
    reg = noisy.regret.set_index("policy")
    assert reg.at["A", "max_regret_low"] <= reg.at["A", "max_regret"] <= reg.at["A", "max_regret_high"]
    assert reg["p_least_max_regret"].sum() == pytest.approx(1.0)

    clear = _robustness(_runs({"A": [[3.0, 3.0], [2.0, 2.0]], "B": [[1.0, 1.0], [2.5, 2.5]]}), ["retention_3y > 0"])
    assert regret_words(clear, "tiers_climbed_clusters").startswith(
        "- `tiers_climbed_clusters`: smallest worst-case regret — A 0.5 [0.5, 0.5], P(smallest) 100%: at most 0.5 "
        "less than the best policy of the same future")

    one_seed = _robustness(_runs({"A": [[3.0], [2.0]], "B": [[1.0], [2.5]]}), ["retention_3y > 0"])
    words = regret_words(one_seed, "tiers_climbed_clusters")
    assert "one seed per future: seed noise not measured, so no ranking is claimed" in words
    assert "smallest worst-case regret — " not in words and "[" not in words


# ---------------------------------------------------------------------------- optimisation
SMALL_OPT = """
[experiment]
name = "optimize_caveats"
seed = 1
replicates = 2
horizon = 8
[levers]
rd_subsidy_rate = "full"
[optimize]
maximize = ["tiers_climbed_clusters"]
minimize = ["spending_per_year"]
epsilons = { tiers_climbed_clusters = 0.1, spending_per_year = 1.0e7 }
population = 8
generations = 2
compare = ["status_quo", "cultivate"]
"""


def _optimize_result(package_reps: np.ndarray, point_reps: np.ndarray, improvements: list[int]) -> optimize_scoring.OptimizeResult:
    """One case: one Pareto point (per-seed values ``point_reps``) against two packages."""
    spec = optimize_spec.parse_optimize_spec(SMALL_OPT, path=Path("small.toml"))
    mean = point_reps.mean(axis=0)
    pareto = pd.DataFrame({"rd_subsidy_rate": [0.2], "tiers_climbed_clusters": [mean[0]],
                           "spending_per_year": [mean[1]], "in_archive": [True], "generation": [2]})
    packages = pd.DataFrame({"package": ["status_quo", "cultivate"], "label": [LABEL["status_quo"], LABEL["cultivate"]],
                             "tiers_climbed_clusters": package_reps.mean(axis=1)[:, 0],
                             "spending_per_year": package_reps.mean(axis=1)[:, 1], "feasible_main": [True, True]})
    case = optimize_scoring.CaseResult(case=optimize_spec.Case("main"), generation=2, evaluations=pareto, pareto=pareto,
                          improvements=improvements, replicates=point_reps[None])
    return optimize_scoring.OptimizeResult(root=Path("."), spec=spec, cases=[case], packages=packages, finished=True, runs=0,
                              reused=0, seconds=0.0, package_replicates=package_reps)


def test_domination_within_seed_noise_is_not_reported_as_domination():
    """Issue 26: "2 of 8 packages are dominated" after 2 generations, 8 quarters and 2 seeds, in-sample."""
    point = np.array([[3.0, 2e8], [0.0, 2e8]])  # mean 1.5 levels, same spending
    sq = np.array([[0.0, 2e8], [2.0, 2e8]])  # mean 1.0: worse on the means, but the seeds disagree
    cultivate = np.array([[5.0, 3e8], [5.0, 3e8]])  # not dominated: more levels
    res = _optimize_result(np.stack([sq, cultivate]), point, improvements=[3, 4])
    text = optimize_report.markdown(res)
    assert ("**Caveats.** 2 of 2 generations run (population 8); horizon 8 quarters; every score is the mean over "
            "the same 2 seeds. The scores are **in-sample**") in text
    assert "Convergence: in the last 2 of 2 generations the archive improved 4 time(s) (3, 1) and 1 of the 1 Pareto " \
           "points were found; **the front was still moving**" in text
    assert "packages are dominated" not in text
    assert ("1 of 2 look dominated on the means over 2 seeds, but not beyond seed noise (indistinguishable at this "
            "sample size): Status quo (by point 1: +0.5 [-31.3, +32.3] `tiers_climbed_clusters`)") in text
    assert text.index("**Caveats.**") < text.index("look dominated")
    cmp = optimize_scoring.compare_packages(res.spec, res.cases[0], res.packages, res.package_replicates).set_index("package")
    assert cmp.at["status_quo", "dominated"] and not cmp.at["status_quo", "dominated_beyond_noise"]
    assert not cmp.at["cultivate", "dominated"]

    steady = np.array([[1.5, 2e8], [1.5, 2e8]])  # the same gain in both seeds: beyond seed noise
    sq_steady = np.array([[1.0, 2e8], [1.0, 2e8]])
    res = _optimize_result(np.stack([sq_steady, cultivate]), steady, improvements=[3, 3])
    text = optimize_report.markdown(res)
    assert "**1 of 2 packages are dominated beyond seed noise** by a Pareto point (paired over 2 seeds" in text
    assert "the archive improved 3 time(s) (3, 0) and 1 of the 1 Pareto points were found" in text


def test_paired_domination_needs_two_seeds_and_no_objective_worse_beyond_noise():
    a, b = np.array([[2.0, 1.0], [2.2, 1.0]]), np.array([[1.0, 1.0], [1.1, 1.0]])
    assert optimize_scoring.dominates_clearly(a, b, [1, -1], [0.5, 0.1])
    assert not optimize_scoring.dominates_clearly(a[:1], b[:1], [1, -1], [0.5, 0.1])  # one seed: noise not measured
    assert not optimize_scoring.dominates_clearly(a, b, [1, -1], [2.0, 0.1])  # gain below epsilon
    worse = np.array([[2.0, 1.2], [2.2, 1.21]])  # more spending, beyond noise
    assert not optimize_scoring.dominates_clearly(worse, b, [1, -1], [0.5, 0.1])
    maybe = np.array([[2.0, 1.3], [2.2, 0.7]])  # spending as b's on the mean, but one seed 0.3 more
    assert optimize_scoring.dominates(maybe.mean(axis=0), b.mean(axis=0), [1, -1], [0.5, 0.1])  # dominated on the means ...
    assert not optimize_scoring.dominates_clearly(maybe, b, [1, -1], [0.5, 0.1])  # ... but not confidently: could be worse


# ---------------------------------------------------------------------------- Sobol / Morris
def _sens_sweep(kind: str, points: int, replicates: int) -> analysis.Sweep:
    design = pd.DataFrame({"point": np.repeat(np.arange(points), replicates),
                           "replicate": np.tile(np.arange(replicates), points)})
    runs = design.assign(run_id=[f"r{i}" for i in range(len(design))], status="ok")
    raw = {"design": {"kind": kind}, "experiment": {"replicates": replicates}}
    return analysis.Sweep(root=Path("."), name="s", raw=raw, design=design, rows=runs, runs=runs, factors=["a", "b"],
                          provenance={})


def test_sobol_with_st_above_one_and_wide_intervals_is_not_ranked():
    """Issue 26: ST 5.14 ± 5.4 and ST sums of 2.2 were ranked without a warning."""
    from experiments.report import sensitivity_lines

    sw = _sens_sweep("sobol", points=16, replicates=2)  # N = 4 blocks of D + 2 = 4 points
    sens = pd.DataFrame({"outcome": ["y", "y"], "factor": ["a", "b"], "S1": [0.3, 0.1], "S1_conf": [0.5, 0.5],
                         "ST": [5.14, 0.4], "ST_conf": [5.4, 0.1]})
    text = "\n".join(sensitivity_lines(sw, sens, {"blocks": 4, "block_size": 4}, {"a": "lever A", "b": "lever B"}))
    assert "N = 4 base samples (Saltelli blocks of 4 points): 16 design points × 2 replicates = 32 runs" in text
    assert "- **y** — **too few samples to rank** (N = 4): ST above 1" in text
    assert "ST above 1, impossible for a share of variance: lever A 5.14 ± 5.4" in text
    assert "the ST sum to 5.5 (S1 sum to 0.4)" in text
    assert "intervals wider than the estimate: lever A 5.14 ± 5.4" in text
    assert "largest first" not in text
    dropped = "\n".join(sensitivity_lines(sw, sens, {"blocks": 4, "block_size": 4, "dropped_y": 1}, {}))
    assert "- **y** — **too few samples to rank** (N = 3 of 4): " in dropped

    sound = sens.assign(ST=[0.62, 0.30], ST_conf=[0.05, 0.04], S1=[0.6, 0.28])
    text = "\n".join(sensitivity_lines(sw, sound, {"blocks": 4, "block_size": 4}, {"a": "lever A", "b": "lever B"}))
    assert "- **y** — ST, largest first: lever A (0.62 ± 0.05) > lever B (0.3 ± 0.04)" in text
    close = sens.assign(ST=[0.40, 0.35], ST_conf=[0.1, 0.1], S1=[0.3, 0.3])
    text = "\n".join(sensitivity_lines(sw, close, {"blocks": 4, "block_size": 4}, {}))
    assert "- **y** — ST, largest first: a (0.4 ± 0.1) ≈ b (0.35 ± 0.1)" in text


def test_morris_with_intervals_wider_than_mu_star_is_not_ranked():
    from experiments.report import sensitivity_lines

    sw = _sens_sweep("morris", points=9, replicates=1)
    sens = pd.DataFrame({"outcome": ["y", "y"], "factor": ["a", "b"], "mu_star": [0.5, 0.2],
                         "mu_star_conf": [0.6, 0.05], "sigma": [0.1, 0.1], "mu": [0.5, 0.2]})
    text = "\n".join(sensitivity_lines(sw, sens, {"blocks": 3, "block_size": 3}, {}))
    assert "r = 3 trajectories of 3 points: 9 design points × 1 replicates = 9 runs" in text
    assert "- **y** — **too few samples to rank** (r = 3): intervals wider than the estimate: a 0.5 ± 0.6" in text


# ---------------------------------------------------------------------------- parameter share
def test_parameter_share_has_an_interval_and_is_not_split_with_two_draws():
    rng = np.random.default_rng(3)
    draws = np.repeat(np.arange(8), 4)
    d = 2.0 * draws + rng.normal(0, 0.1, draws.size)  # almost all between draws
    share, lo, hi = effects.variance_split_ci(d, draws)
    assert share > 0.95 and lo <= share <= hi <= 1.0 and lo > 0.8
    noise = rng.normal(0, 1, draws.size)  # nothing between draws: 0 is the truncated estimate
    share, lo, hi = effects.variance_split_ci(noise, draws)
    assert 0.0 <= lo <= share <= hi and hi > 0.0
    two = np.repeat(np.arange(2), 4)
    assert np.isnan(effects.variance_split_ci(rng.normal(size=8), two)).all()
    assert np.isnan(effects.variance_split(rng.normal(size=8), two))

    row = {"package": "all_five", "outcome": "tiers_climbed_clusters", "worlds": 8, "effect_mean": 0.5,
           "effect_ci_low": 0.1, "effect_ci_high": 0.9, "effect_p05": -0.2, "effect_p95": 1.1, "p_beats": 0.7,
           "p_beats_low": 0.4, "p_beats_high": 0.9, "parameter_share": 0.0, "parameter_share_low": np.nan,
           "parameter_share_high": np.nan}
    pe = effects.PairedEffects(effects=pd.DataFrame([row]), best=pd.DataFrame(), ranking={}, reference="status_quo",
                               worlds=8, draws=2, seeds_per_draw=4)
    text = "\n".join(effects.markdown(pe))
    assert ("*Parameter share* not given: too few posterior draws (2) to split the spread of the effects (parameter "
            "uncertainty against seed noise; at least 5 posterior draws with two or more seeds each are "
            "needed).") in text
    assert "parameter share [95%]" not in text and "0%" not in text
    many = effects.PairedEffects(effects=pd.DataFrame([row | {"parameter_share": 0.42, "parameter_share_low": 0.1,
                                                               "parameter_share_high": 0.7}]),
                                 best=pd.DataFrame(), ranking={}, reference="status_quo", worlds=32, draws=8,
                                 seeds_per_draw=4)
    text = "\n".join(effects.markdown(many))
    assert "| parameter share [95%] |" in text and "| 42% [10%, 70%] |" in text
    assert "[95% bootstrap interval over the 8 posterior draws]; 0% means" in text


# ---------------------------------------------------------------------------- not recorded, plan
PLAN_SPEC = """
[experiment]
name = "gaps"
seed = 1
replicates = 2
horizon = {horizon}
[design]
kind = "full_factorial"
[levers]
package = ["status_quo", "digital"]
[outcomes]
summary = "all"
city = {city}
clusters = "all"
districts = []
"""


def test_plan_warns_which_report_sections_will_lack_columns():
    spec = parse_spec(PLAN_SPEC.format(horizon=40, city='["graduates_retained"]'), path=Path("gaps.toml"))
    gaps = analysis.report_gaps(spec)
    assert gaps == ["Cost-effectiveness: [outcomes] city does not keep `cohort_in_city_3y`, so extra kept 3 years, "
                    "yuan per extra graduate kept 3 years will show 'not recorded'; add it to [outcomes] city"]
    short = parse_spec(PLAN_SPEC.format(horizon=8, city='"all"'), path=Path("gaps.toml"))
    assert analysis.report_gaps(short) == [
        "Cost-effectiveness: `cohort_in_city_3y` needs a horizon of at least 14 quarters (this spec: 8), so extra kept "
        "3 years, yuan per extra graduate kept 3 years will show 'not measured'"]
    assert analysis.report_gaps(parse_spec(PLAN_SPEC.format(horizon=40, city='"all"'), path=Path("g.toml"))) == []


def test_every_column_a_report_section_needs_is_one_the_model_records():
    """A renamed model column would otherwise make every section 'not recorded' silently."""
    from experiments.running.runner import probe_config

    result = sim.run_scenario(probe_config(sim.default_config()), 0)
    have = {"summary": set(result.summary()), "city": set(result.city.columns),
            "clusters": set(result.clusters.columns)}
    for need in analysis.report_needs():
        assert need.column in have[need.table], need


def test_cli_plan_prints_the_warning(tmp_path):
    path = tmp_path / "gaps.toml"
    path.write_text(PLAN_SPEC.format(horizon=40, city='["graduates_retained"]'), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "experiments", "plan", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "warning: report section Cost-effectiveness: [outcomes] city does not keep `cohort_in_city_3y`" \
        in proc.stdout


# ---------------------------------------------------------------------------- end to end
E2E_SPEC = """
[experiment]
name = "honest_e2e"
seed = 5
replicates = 2
crn = true
horizon = 12
[design]
kind = "full_factorial"
[levers]
package = ["status_quo", "digital", "factors"]
[uncertainties]
beijing_wage_growth = [0.03, 0.06]
[outcomes]
summary = "all"
city = ["graduates_retained"]
clusters = []
districts = []
[robustness]
goals = ["n_national_clusters >= 1"]
outcomes = ["n_national_clusters", "spending_total"]
"""


class _Result:
    def __init__(self, summary: dict, graduates: float):
        self._summary = summary
        self.city = pd.DataFrame({"quarter": [0, 1], "graduates_retained": [0.0, graduates]})
        self.clusters = self.districts = pd.DataFrame({"quarter": [0]})

    def summary(self) -> dict:
        return self._summary


def flat_model(cfg, seed):
    """No package gets a national cluster or climbs a level in any future; packages differ only in what they
    spend (the sum of two of their levers) and in graduates kept at graduation."""
    spend = float(cfg["digital_grant_budget"] + cfg["talent_settlement_subsidy"])
    return _Result({"n_national_clusters": 0, "tiers_climbed_clusters": 1.0, "spending_total": spend,
                    "tax_total": 0.5 * spend, "retention_3y": 0.3}, graduates=100.0 + spend / 1e6)


def test_analyze_reports_a_tie_and_not_recorded_columns_end_to_end(tmp_path):
    from experiments import run_sweep
    from experiments.report import analyze

    spec = parse_spec(E2E_SPEC, path=tmp_path / "spec.toml")
    assert [g.split(":")[0] for g in analysis.report_gaps(spec)] == ["Cost-effectiveness", "Figures", "Energy levels",
                                                                      "The index's sensitivity"]  # clusters = []
    res = run_sweep(spec, tmp_path / "out", model=flat_model, progress=False)
    assert res.done == res.total == 12
    report = analyze(tmp_path / "out").read_text(encoding="utf-8")
    assert ("- `n_national_clusters`: a tie: all 3 policies give the same value in every future (no regret), so none "
            "is better.") in report
    assert "is the best policy in every future" in report.split("`spending_total`")[1].split("\n")[0]  # a real best
    assert "**No policy meets every goal in any of its runs**" in report
    cost = next(line for line in report.splitlines() if line.startswith(f"| {LABEL['digital']};")
                and "not recorded" in line).split(" | ")
    # extra kept at graduation recorded (+130); kept 3 years and its yuan not recorded; no extra level: "–"
    assert cost[5:8] == ["130", "not recorded", "not recorded"] and cost[8:] == ["0.00", "– |"]
    assert ("*not recorded*: this sweep did not keep the column the cell is computed from (its spec's `[outcomes]`; "
            "`python -m experiments plan SPEC` warns before a run). This says nothing about the groups.") in report
