"""Each replication's outcomes kept by the EMA adapter's ReplicatorModel, and the paired comparisons
rebuilt from them (experiments.reading.ema_results): for the same seeds and posterior draws they equal what our
own runner gives (a crn sweep and experiments.reading.effects). Tiny sizes: 2 policies, 3 replications, 4 quarters."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sim
from experiments.reading import analysis
from experiments.reading.effects import paired_effects
from experiments.running.ema import make_model
from experiments.reading.ema_results import paired_differences, paired_summary, replication_table
from experiments.running.spec import parse_spec
from experiments.running.sweep import run_sweep

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import ema_workbench as ema

SEED, REPS, QUARTERS = 20250707, 3, 4
PACKAGES = ["status_quo", "all_five"]
GROWTH = [0.03, 0.06]  # beijing_wage_growth of the two scenarios (the sweep's uncertainty levels)
SPEC = f"""
[experiment]
name = "ema_pairs"
seed = {SEED}
replicates = {REPS}
crn = true
horizon = {QUARTERS}
[base]
uncertainties = "posterior"
[design]
kind = "full_factorial"
[levers]
package = {PACKAGES!r}
[uncertainties]
beijing_wage_growth = {GROWTH!r}
"""
COMPARED = ["outflow_beijing_total", "outflow_tianjin_total", "tiers_climbed_clusters", "spending_total",
            "employment_final", "net_fiscal_balance_total"]


def policies() -> list:
    return [ema.Sample(p, package=p) for p in PACKAGES]


def test_paired_differences_from_ema_output_equal_those_of_our_runner(tmp_path):
    """Two policies x 3 replications x 4 quarters with posterior draws (as the headline sweeps), in two
    scenarios (an uncertainty), so a world is a scenario and a replication."""
    model = make_model(levers=["package"], uncertainties=["beijing_wage_growth"], horizon=QUARTERS,
                       replications=REPS, base="posterior", seed=SEED, outcomes=COMPARED)
    scenarios = [ema.Sample(f"g{g}", beijing_wage_growth=g) for g in GROWTH]
    experiments, outcomes = ema.perform_experiments(model, scenarios=scenarios, policies=policies(),
                                                    evaluator=ema.SequentialEvaluator(model))
    table = replication_table(model, experiments, outcomes)
    assert len(table) == len(scenarios) * len(PACKAGES) * REPS
    assert outcomes["outflow_beijing_total_by_replication"].shape == (len(scenarios) * 2, REPS)

    spec = parse_spec(SPEC, path=tmp_path / "ema_pairs.toml")
    assert run_sweep(spec, tmp_path / "out", progress=False).done == len(table)
    sw = analysis.load_sweep(tmp_path / "out")
    runs = sw.runs.assign(scenario=sw.runs["beijing_wage_growth"].map(lambda g: f"g{g}"))

    # the same seed and posterior draw in replication r as in the sweep's replicate r
    seeds = runs.drop_duplicates("replicate").set_index("replicate")
    assert table.groupby("replication")["seed"].first().to_dict() == seeds["seed"].to_dict()
    assert table.groupby("replication")["posterior_draw"].first().to_dict() == seeds["draw"].to_dict()

    ours = runs.pivot(index=["scenario", "replicate"], columns="package", values=COMPARED)
    moved = 0
    for outcome in COMPARED:
        d = paired_differences(table, outcome, by="package", reference="status_quo")["all_five"]
        want = (ours[(outcome, "all_five")] - ours[(outcome, "status_quo")]).astype(float)
        np.testing.assert_allclose(d.to_numpy(float), want.to_numpy(float), rtol=1e-12, err_msg=outcome)
        moved += bool(np.any(d.to_numpy() != 0))
    assert moved >= 3  # all five changes the runs: the comparison is not of zeros

    # the summary equals experiments.reading.effects on the sweep: effect, its interval, P(beats), P(tie)
    mine = paired_summary(table, by="package").set_index(["package", "outcome"])
    theirs = paired_effects(sw).effects.set_index(["package", "outcome"])
    common = [k for k in theirs.index if k in mine.index]
    assert len(common) >= 5
    cols = ["worlds", "effect_mean", "effect_ci_low", "effect_ci_high", "effect_p05", "effect_p95",
            "p_beats", "p_beats_low", "p_beats_high", "p_tie"]
    pd.testing.assert_frame_equal(mine.loc[common, cols], theirs.loc[common, cols], check_dtype=False, rtol=1e-12)
    assert np.isnan(mine.loc[("all_five", "spending_total"), "p_beats"])  # a cost: effect only


def test_policies_without_uncertainties_run_with_replications():
    """EMA Workbench 3.0 leaked the first policy's levers into a scenario without uncertainties and the
    second policy then failed ("Parameters exist in both"); the adapter's model classes empty it."""
    model = make_model(levers=["package"], uncertainties=[], horizon=1, replications=2, outcomes=["spending_total"])
    experiments, outcomes = ema.perform_experiments(model, scenarios=[ema.Sample("s0")], policies=policies(),
                                                    evaluator=ema.SequentialEvaluator(model))
    assert experiments["package"].astype(str).tolist() == PACKAGES
    assert outcomes["spending_total"][1] > outcomes["spending_total"][0]  # all five spends more


def synthetic(model, scenarios: list[str], policies_: list[str], values: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """EMA-shaped results without running the model: one experiment per scenario x policy (policy
    name = package), ``outflow_beijing_total_by_replication`` = ``values`` (experiments x replications)."""
    rows = [{"package": p, "scenario": s, "policy": p, "model": model.name} for p in policies_ for s in scenarios]
    experiments = pd.DataFrame(rows)
    mean = values.mean(axis=1)
    return experiments, {"outflow_beijing_total": mean, "outflow_beijing_total_by_replication": values}


def test_a_model_without_replications_pairs_by_its_one_seed_and_p_beats_counts_worlds():
    model = make_model(levers=["package"], uncertainties=[], horizon=2, outcomes=["outflow_beijing_total"], seed=3)
    experiments = pd.DataFrame({"package": ["status_quo", "digital"] * 2, "scenario": [0, 0, 1, 1],
                                "policy": ["a", "b"] * 2, "model": model.name})
    table = replication_table(model, experiments, {"outflow_beijing_total": np.array([10.0, 7.0, 10.0, 12.0])})
    assert table["seed"].tolist() == [3] * 4 and table["replication"].tolist() == [0] * 4
    d = paired_differences(table, "outflow_beijing_total", by="package")
    assert d["digital"].tolist() == [-3.0, 2.0]
    row = paired_summary(table, by="package").iloc[0]
    assert (row["worlds"], row["effect_mean"], row["p_beats"]) == (2, -0.5, 0.5)  # fewer to Beijing is better
    assert 0 < row["p_beats_low"] < 0.5 < row["p_beats_high"] < 1  # Wilson interval over 2 worlds: wide


BAD_READS = [
    ("by-unknown", lambda t: paired_differences(t, "outflow_beijing_total", by="pakage"),
     ["by: 'pakage' is not a column of the replication table; allowed:", "package"]),
    ("outcome-unknown", lambda t: paired_differences(t, "outflow_bejing_total", by="package"),
     ["outcome: 'outflow_bejing_total' is not a column"]),
    ("reference-missing", lambda t: paired_differences(t, "outflow_beijing_total", by="package", reference="digitl"),
     ["reference: 'digitl' is not a value of 'package'; allowed: 'status_quo', 'digital'"]),
    ("by-seed", lambda t: paired_differences(t, "outflow_beijing_total", by="seed"),
     ["by: 'seed' does not name one experiment per world: scenario s0 replication 0 has 2 experiments with seed ="]),
]


@pytest.mark.parametrize(("read", "fragments"), [pytest.param(r, f, id=i) for i, r, f in BAD_READS])
def test_bad_reads_are_one_line_naming_the_argument(read, fragments):
    model = make_model(levers=["package"], uncertainties=[], horizon=2, replications=2,
                       outcomes=["outflow_beijing_total"])
    table = replication_table(model, *synthetic(model, ["s0"], ["status_quo", "digital"],
                                                np.array([[5.0, 6.0], [4.0, 6.0]])))
    with pytest.raises(sim.ConfigError) as err:
        read(table)
    msg = str(err.value)
    assert "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_results_that_cannot_be_paired_are_refused():
    model = make_model(levers=["package"], uncertainties=["beijing_wage_growth"], horizon=2, replications=2,
                       outcomes=["outflow_beijing_total"])
    experiments, outcomes = synthetic(model, ["s0"], ["status_quo", "digital"], np.ones((2, 2)))
    with pytest.raises(sim.ConfigError, match=r"outcomes: 'outflow_beijing_total' has shape \(2, 3\), not \(2, 2\)"):
        replication_table(model, experiments, {**outcomes, "outflow_beijing_total_by_replication": np.ones((2, 3))})
    with pytest.raises(sim.ConfigError, match=r"^outcomes: no per-replication outcomes"):
        replication_table(model, experiments, {"outflow_beijing_total": np.ones(2)})
    # two samplings put together: scenario "s0" is a different future in each
    glued = experiments.assign(beijing_wage_growth=[0.03, 0.05])
    with pytest.raises(sim.ConfigError, match="scenario names stand for different values of 'beijing_wage_growth'"):
        replication_table(model, glued, outcomes)
    # two policies with the same package in one world: by="package" is ambiguous, by="policy" is not
    table = replication_table(model, experiments.assign(package="digital", beijing_wage_growth=0.03), outcomes)
    with pytest.raises(sim.ConfigError, match=r"by: 'package' does not name one experiment per world: scenario s0 "
                                              r"replication 0 has 2 experiments with package = 'digital'"):
        paired_differences(table, "outflow_beijing_total", by="package")
    assert paired_differences(table, "outflow_beijing_total", by="policy").shape == (2, 1)
    # each policy in a scenario of its own (EMA's combine="sample"): no world holds both
    apart = experiments.assign(scenario=["s0", "s1"], beijing_wage_growth=[0.03, 0.05])
    with pytest.raises(sim.ConfigError, match=r"by: no world \(scenario and replication\) holds both 'status_quo' "
                                              r"and another value of 'package', so nothing is paired"):
        paired_differences(replication_table(model, apart, outcomes), "outflow_beijing_total", by="package")
