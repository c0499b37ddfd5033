"""Decision support on sweeps whose answers are known by construction: scenario discovery (PRIM must
find the one uncertainty that decides the outcome) and robustness (regret and satisficing of packages
whose outcome in each future is a fixed table). A stand-in model gives the outcomes; the stores are
real sweeps (experiments.run_sweep) so the whole path from results folder to report is exercised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from experiments import run_sweep
from experiments.decision import sections
from experiments.decision.discovery import DiscoveryError, discover
from experiments.running.goals import ExpressionError, check_options, evaluate
from experiments.decision.robustness import RobustnessError, robustness
from experiments.running.spec import parse_spec

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.045  # beijing_wage_growth below it: some cluster reaches the national tier (by construction)
PRESETS = sim.load_presets()

DISCOVERY_SPEC = """
[experiment]
name = "discovery_known"
seed = 3
replicates = 1
horizon = 1
[design]
kind = "lhs"
samples = 160
[levers]
package = ["status_quo", "digital", "all_five"]
[uncertainties]
beijing_wage_growth = "full"
beta_wage = "full"
training_quarters = "full"
[outcomes]
city = []
clusters = []
districts = []
"""

ROBUSTNESS_SPEC = """
[experiment]
name = "robustness_known"
seed = 4
replicates = 2
horizon = 1
[design]
kind = "full_factorial"
[levers]
package = ["status_quo", "digital", "factors"]
[uncertainties]
beijing_wage_growth = [0.03, 0.05, 0.07]
[outcomes]
city = []
clusters = []
districts = []
"""
# tiers climbed per package in the three futures, and what follows (hand-computed)
TIERS = {"status_quo": [0, 0, 0], "digital": [3, 1, 0], "factors": [1, 2, 2]}
MAX_REGRET = {"status_quo": 3.0, "digital": 2.0, "factors": 2.0}
MEAN_REGRET = {"status_quo": 7 / 3, "digital": 1.0, "factors": 2 / 3}
SPEND = {"status_quo": 0.0, "digital": 10.0, "factors": 5.0}  # less is better: regret = SPEND
GOALS = ["retention_3y >= 0.35", "tiers_climbed_clusters >= 2"]
SATISFICING = {"status_quo": 0.0, "digital": 1 / 3, "factors": 2 / 3}


class Result:
    def __init__(self, summary: dict):
        self._summary = summary
        self.city = self.clusters = self.districts = pd.DataFrame({"quarter": [0]})

    def summary(self) -> dict:
        return self._summary


def discovery_model(cfg, seed):
    """any_national depends on Beijing wage growth only; the other factors are noise for PRIM."""
    national = cfg["beijing_wage_growth"] < THRESHOLD
    return Result({"any_national": bool(national), "n_national_clusters": 2 * int(national),
                   "retention_3y": 0.3 + 0.01 * cfg["beta_wage"],
                   "spending_total": float(cfg["anchor_attraction_budget"] > 0)})  # the all_five package


def _package(cfg) -> str:
    if cfg["digital_grant_budget"] == PRESETS["digital"].levers["digital_grant_budget"]:
        return "digital"
    if cfg["talent_settlement_subsidy"] == PRESETS["factors"].levers["talent_settlement_subsidy"]:
        return "factors"
    return "status_quo"


def robustness_model(cfg, seed):
    p, f = _package(cfg), [0.03, 0.05, 0.07].index(cfg["beijing_wage_growth"])
    retention = {"status_quo": 0.3, "digital": 0.4 if f < 2 else 0.3, "factors": 0.36}[p]
    tiers = TIERS[p][f]
    return Result({"tiers_climbed_clusters": tiers, "n_national_clusters": int(tiers >= 2),
                   "retention_3y": retention, "spending_total": SPEND[p], "outflow_beijing_total": 100.0,
                   "seed_noise": float(seed % 7)})


def sweep(folder: Path, text: str, model) -> Path:
    spec = parse_spec(text, path=folder / "spec.toml")
    res = run_sweep(spec, folder / "out", model=model, progress=False)
    assert res.done == res.total
    return folder / "out"


@pytest.fixture(scope="module")
def discovery_store(tmp_path_factory) -> Path:
    return sweep(tmp_path_factory.mktemp("discovery"), DISCOVERY_SPEC, discovery_model)


@pytest.fixture(scope="module")
def robustness_store(tmp_path_factory) -> Path:
    return sweep(tmp_path_factory.mktemp("robustness"), ROBUSTNESS_SPEC, robustness_model)


# ---------------------------------------------------------------------------- expressions
def test_expressions_name_unknown_columns_and_must_give_true_or_false():
    df = pd.DataFrame({"any_national": [True, False, None], "retention_3y": [0.4, 0.2, np.nan]})
    assert evaluate(df, "any_national == 0").tolist() == [False, True, False]
    assert evaluate(df, "retention_3y >= 0.35 and not any_national").tolist() == [False, False, False]
    with pytest.raises(ExpressionError, match=r"unknown column\(s\) 'any_nationl' \(did you mean 'any_national'\?\)"):
        evaluate(df, "any_nationl == 0", where="--where")
    with pytest.raises(ExpressionError, match="gives numbers, not true/false"):
        evaluate(df, "retention_3y * 2")
    with pytest.raises(ExpressionError, match="not a valid expression"):
        evaluate(df, "retention_3y >=")


# ---------------------------------------------------------------------------- discovery
def test_prim_finds_the_one_uncertainty_that_decides_the_outcome(discovery_store):
    res = discover(discovery_store, "any_national == 0")
    assert list(res.limits["dimension"]) == ["beijing_wage_growth"]  # not beta_wage, training_quarters, package
    lim = res.limits.iloc[0]
    assert lim["role"] == "uncertainty" and lim["type"] == "numeric"
    assert lim["lower"] == pytest.approx(THRESHOLD, abs=0.004) and lim["upper"] == lim["range_max"]
    assert lim["qp_lower"] < 1e-6 and np.isnan(lim["qp_upper"])
    assert res.stats["density"] >= 0.9 and res.stats["coverage"] >= 0.9
    truth = (res.k / res.n)
    assert truth == pytest.approx((0.08 - THRESHOLD) / 0.06, abs=0.05)  # LHS: the share above the threshold

    out = discovery_store / "discovery"
    boxes = pd.read_csv(out / "boxes.csv")
    assert {"dimension", "lower", "upper", "coverage", "density", "qp_lower", "qp_upper"} <= set(boxes.columns)
    for png in ("tradeoff.png", "box.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(out / "trajectory.csv")) >= res.box + 1
    report = (discovery_store / "report.md").read_text()
    assert "## Scenario discovery (PRIM)" in report and "When Beijing wage growth is at least 0.04" in report
    assert "](discovery/tradeoff.png)" in report

    again = discover(discovery_store, "n_national_clusters >= 1")  # the other side: growth below the threshold
    assert list(again.limits["dimension"]) == ["beijing_wage_growth"]
    assert again.limits.iloc[0]["upper"] == pytest.approx(THRESHOLD, abs=0.004)
    report = (discovery_store / "report.md").read_text()
    assert report.count("## Scenario discovery (PRIM)") == 1 and "n_national_clusters >= 1" in report


def test_prim_finds_a_package_and_another_uncertainty(discovery_store):
    pk = discover(discovery_store, "spending_total > 0.5", write=False)
    assert list(pk.limits["dimension"]) == ["package"] and pk.limits.iloc[0]["role"] == "lever"
    assert pk.limits.iloc[0]["values"] == "all_five" and pk.stats["density"] == 1.0
    from experiments.decision.discovery import conditions
    assert conditions(pk.limits) == ["policy package is All five remedies"]
    other = pk.limits.assign(values="digital | status_quo")
    assert conditions(other) == ["policy package is anything but All five remedies"]
    half = pk.limits.assign(values="digital | status_quo", all_values="all_five | digital | factors | status_quo")
    assert conditions(half) == ["policy package is one of 4 Digital transformation, Status quo"]
    big = pk.limits.assign(values="a | b | c", all_values="a | b | c | d")
    assert conditions(big) == ["policy package is anything but d"]

    beta = discover(discovery_store, "retention_3y >= 0.32", write=False)  # beta_wage >= 2 by construction
    assert list(beta.limits["dimension"]) == ["beta_wage"]
    assert beta.limits.iloc[0]["lower"] == pytest.approx(2.0, abs=0.05)


def test_discovery_refuses_questions_the_sweep_cannot_answer(discovery_store):
    with pytest.raises(DiscoveryError, match="holds in 0 of 160 ok runs"):
        discover(discovery_store, "n_national_clusters > 5", write=False)
    with pytest.raises(ExpressionError, match="unknown column"):
        discover(discovery_store, "beijing_wage_growth < 0.04", write=False)  # a factor, not an outcome
    with pytest.raises(DiscoveryError, match="--box: 999 is not allowed"):
        discover(discovery_store, "any_national == 0", box=999, write=False)


def test_cli_discover_names_unknown_columns(discovery_store):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "experiments", "discover", str(discovery_store), "--where",
                           "any_nationl == 0"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert line.startswith("error: --where: 'any_nationl == 0' uses unknown column(s) 'any_nationl'")
    assert "did you mean 'any_national'" in line and "Allowed:" in line and len(line.splitlines()) == 1


# ---------------------------------------------------------------------------- robustness
def test_regret_and_satisficing_match_the_hand_computed_values(robustness_store):
    res = robustness(robustness_store, goals=GOALS, outcomes=["tiers_climbed_clusters", "spending_total"])
    label = {PRESETS[k].label_en: k for k in TIERS}
    assert [label[p] for p in res.policies] == ["status_quo", "digital", "factors"] and res.futures == 3
    reg = res.regret.assign(key=res.regret["policy"].map(label)).set_index(["key", "outcome"])
    for p in TIERS:
        r = reg.loc[(p, "tiers_climbed_clusters")]
        assert r["max_regret"] == pytest.approx(MAX_REGRET[p]) and r["mean_regret"] == pytest.approx(MEAN_REGRET[p])
        assert r["direction"] == "max" and r["futures"] == 3
        s = reg.loc[(p, "spending_total")]
        assert s["direction"] == "min" and s["max_regret"] == pytest.approx(SPEND[p])
    assert reg.loc[("factors", "tiers_climbed_clusters"), "best_share"] == pytest.approx(2 / 3)
    sat = res.satisficing.assign(key=res.satisficing["policy"].map(label)).set_index("key")
    for p, share in SATISFICING.items():
        assert sat.at[p, "satisficing"] == pytest.approx(share) and sat.at[p, "runs"] == 6
        assert sat.at[p, "ci_low"] <= share <= sat.at[p, "ci_high"]
    assert sat.at["digital", "meets: retention_3y >= 0.35"] == pytest.approx(2 / 3)

    out = robustness_store / "robustness"
    assert pd.read_csv(out / "regret.csv").shape[0] == 6 and pd.read_csv(out / "satisficing.csv").shape[0] == 3
    assert (out / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (robustness_store / "report.md").read_text()
    # 4 of 6 runs against 2 of 6: the Wilson intervals overlap, so no policy is named as meeting the goals most often
    assert "## Robustness across futures" in report and "](robustness/robustness.png)" in report
    assert ("Which policy meets every goal most often is **indistinguishable at this sample size**: 5 Gather & share "
            "factors 67% [30%, 90%], 4 Digital transformation 33% [10%, 70%], Status quo 0% [0%, 39%]") in report
    assert "meets every goal most often:" not in report and "the next is" not in report
    # digital and factors both fall short by at most 2 levels: a tie, not a winner by the mean regret
    assert ("- `tiers_climbed_clusters`: a tie: 4 Digital transformation and 5 Gather & share factors have the same "
            "smallest worst-case regret, 2 less than the best policy") in report
    assert "- `spending_total`: Status quo is the best policy in every future (mean over 2 seeds per future; clear" \
        in report


def test_robustness_needs_crossed_futures_goals_and_known_outcomes(robustness_store, discovery_store):
    with pytest.raises(RobustnessError, match="robustness needs every policy run in the same futures"):
        robustness(discovery_store, goals=["any_national == 1"], outcomes=["n_national_clusters"], write=False)
    with pytest.raises(RobustnessError, match="no goals"):
        robustness(robustness_store, write=False)
    with pytest.raises(RobustnessError, match="'seed_noise' has no known better direction"):
        robustness(robustness_store, goals=GOALS, outcomes=["seed_noise"], write=False)
    with pytest.raises(ExpressionError, match="unknown column"):
        robustness(robustness_store, goals=["retention >= 0.3"], write=False)
    with pytest.raises(ExpressionError, match=r"\[robustness\] goals: 'x' is not allowed; give a non-empty list"):
        check_options({"goals": "x"})
    with pytest.raises(ExpressionError, match="unknown key 'goal'"):
        check_options({"goal": ["a > 1"]})
    with pytest.raises(ExpressionError, match="not a valid expression"):
        check_options({"goals": ["retention_3y >="]})


def test_cli_robustness_and_saved_sections_survive_a_new_report(robustness_store, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "experiments", "robustness", str(robustness_store),
                           "--goal", GOALS[0], "--goal", GOALS[1]], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert ("3 policies x 3 futures; Which policy meets every goal most often is indistinguishable at this sample "
            "size: 5 Gather & share factors 67% [30%, 90%]") in proc.stdout
    fresh = sections.with_saved(robustness_store, "# a new report\n")  # what `analyze` does after rewriting
    assert fresh.startswith("# a new report") and fresh.count("## Robustness across futures") == 1


def test_analyze_judges_robustness_of_a_crossed_lhs_spec_with_a_robustness_section(tmp_path):
    """An LHS crossed with the packages ([design] cross) and a [robustness] section: `analyze` alone
    writes the robustness tables and section. Three LHS samples of a three-value uncertainty are its
    three values, so the futures (and the known answers) are those of the full factorial above."""
    text = ROBUSTNESS_SPEC.replace('kind = "full_factorial"', 'kind = "lhs"\nsamples = 3\ncross = ["package"]')
    text += "[robustness]\ngoals = " + repr(GOALS).replace("'", '"') + '\noutcomes = ["tiers_climbed_clusters"]\n'
    out = sweep(tmp_path, text, robustness_model)
    from experiments.report import analyze

    report = analyze(out).read_text(encoding="utf-8")
    assert "## Robustness across futures" in report and "Which policy meets every goal most often is " \
        "**indistinguishable at this sample size**: 5 Gather & share factors 67%" in report
    reg = pd.read_csv(out / "robustness" / "regret.csv")
    label = {PRESETS[k].label_en: k for k in TIERS}
    got = dict(zip(reg["policy"].map(label), reg["max_regret"], strict=True))
    assert got == pytest.approx(MAX_REGRET) and set(reg["futures"]) == {3}


def test_a_box_that_chance_explains_is_reported_as_not_clear_of_chance(robustness_store):
    """seed_noise depends on the seed only: whatever box PRIM peels, the section must not sell it as a finding."""
    res = discover(robustness_store, "seed_noise >= 4", write=False)
    assert len(res.limits) >= 1
    assert (res.limits[["qp_lower", "qp_upper"]].min(axis=1) >= 0.05).all()
    assert "**Not clear of chance:**" in sections_text(res)


def sections_text(res) -> str:
    from experiments.decision.discovery import section

    return section(res)
