"""The EMA Workbench adapter (experiments.ema): XLRM declared from configs/parameters.toml, runs under
perform_experiments with the sequential and the multiprocessing evaluator, and gives what
sim.run_scenario gives for the same config and seed. Tiny horizons, a handful of experiments."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim
from experiments import seeds
from experiments.ema import DEFAULT_OUTCOMES, make_model, simulate

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import ema_workbench as ema

HORIZON = 2
UNC = ["beijing_wage_growth", "training_quarters"]


def scenarios() -> list:
    return [ema.Sample(f"s{i}", beijing_wage_growth=g, training_quarters=q)
            for i, (g, q) in enumerate([(0.03, 2), (0.07, 6)])]


def policies() -> list:
    return [ema.Sample("p0", package="status_quo"), ema.Sample("p1", package="all_five")]


def direct(package: str, growth: float, quarters: int, seed: int) -> dict:
    cfg = sim.default_config().with_overrides(
        {**sim.load_presets()[package].levers, "beijing_wage_growth": growth, "training_quarters": quarters},
        quarters=HORIZON)
    return sim.run_scenario(cfg, seed=seed).summary()


def test_model_declares_levers_uncertainties_constants_and_outcomes_from_the_schema():
    schema = sim.default_config().schema
    m = make_model(horizon=HORIZON)
    levers = {p.name: p for p in m.levers}
    uncs = {p.name: p for p in m.uncertainties}
    assert set(levers) == set(sim.default_config().names("levers"))
    assert set(uncs) == set(sim.default_config().names("uncertainties"))
    for name, p in {**levers, **uncs}.items():
        assert (p.lower_bound, p.upper_bound) == (schema[name].low, schema[name].high), name
    assert isinstance(uncs["training_quarters"], ema.IntegerParameter)
    assert isinstance(levers["rd_subsidy_rate"], ema.RealParameter)
    constants = {c.name: c.value for c in m.constants}
    assert constants["quarters"] == HORIZON and "seed" in constants and constants["base"] == {}
    outs = {o.name: o for o in m.outcomes}
    assert list(outs) == list(DEFAULT_OUTCOMES)
    assert {"n_national_clusters", "any_national", "tiers_climbed_clusters", "retention_3y",
            "outflow_beijing_total", "spending_total"} <= set(outs)
    assert outs["n_national_clusters"].kind == ema.ScalarOutcome.MAXIMIZE
    assert outs["spending_total"].kind == ema.ScalarOutcome.MINIMIZE

    pk = make_model(levers={"package": ["status_quo", "digital"], "rd_subsidy_rate": (0.05, 0.1)},
                    uncertainties=[], horizon=HORIZON)
    lev = {p.name: p for p in pk.levers}
    assert isinstance(lev["package"], ema.CategoricalParameter)
    assert [c.value for c in lev["package"].categories] == ["status_quo", "digital"]
    assert (lev["rd_subsidy_rate"].lower_bound, lev["rd_subsidy_rate"].upper_bound) == (0.05, 0.1)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"levers": ["rd_subsidy_rat"]}, "'rd_subsidy_rat' is not one of the levers. Did you mean 'rd_subsidy_rate'"),
    ({"uncertainties": {"beta_wage": (0.0, 99.0)}}, "out of range; allowed"),
    ({"levers": {"package": ["status_quo", "digitl"]}}, "'digitl' is not a preset"),
    ({"horizon": 0}, "horizon: 0 is not allowed; give an integer from 1 to 400"),
    ({"replications": 0}, "replications: 0 is not allowed"),
    ({"outcomes": ["n_national"]}, "'n_national' is not a summary outcome. Did you mean"),
    ({"levers": ["beta_wage"]}, "'beta_wage' is not one of the levers"),
])
def test_bad_arguments_give_one_clear_line(kwargs, expected):
    with pytest.raises(sim.ConfigError) as err:
        make_model(**{"uncertainties": UNC, "levers": ["package"], "horizon": HORIZON, **kwargs})
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_sequential_evaluator_runs_sim_run_scenario_with_the_sampled_values():
    m = make_model(levers=["package"], uncertainties=UNC, horizon=HORIZON, seed=11)
    experiments, outcomes = ema.perform_experiments(m, scenarios=scenarios(), policies=policies(),
                                                    evaluator=ema.SequentialEvaluator(m))
    assert len(experiments) == 4 and set(outcomes) == set(DEFAULT_OUTCOMES)
    for i, row in experiments.iterrows():
        want = direct(row["package"], row["beijing_wage_growth"], int(row["training_quarters"]), 11)
        for o in DEFAULT_OUTCOMES:
            assert outcomes[o][i] == pytest.approx(want[o], nan_ok=True), (o, i)
    # the packages differ (the levers reach the model): all five spends more than the status quo
    spend = dict(zip(experiments["package"].astype(str) + experiments["scenario"].astype(str),
                     outcomes["spending_total"], strict=True))
    assert spend["all_fives0"] > spend["status_quos0"]


def test_multiprocessing_evaluator_gives_the_sequential_results_and_replications_average_seeds():
    m = make_model(levers=["package"], uncertainties=UNC, horizon=HORIZON, replications=2, seed=5)
    with ema.SequentialEvaluator(m) as ev:
        exp_s, out_s = ev.perform_experiments(scenarios=scenarios(), policies=policies())
    with ema.MultiprocessingEvaluator(m, n_processes=2) as ev:
        exp_m, out_m = ev.perform_experiments(scenarios=scenarios(), policies=policies())
    key_s = list(zip(exp_s["scenario"].astype(str), exp_s["package"].astype(str), strict=True))
    key_m = list(zip(exp_m["scenario"].astype(str), exp_m["package"].astype(str), strict=True))
    order = [key_m.index(k) for k in key_s]
    for o in DEFAULT_OUTCOMES:
        np.testing.assert_allclose(np.asarray(out_m[o], dtype=float)[order], np.asarray(out_s[o], dtype=float),
                                   err_msg=o)
    # outcome = mean over the two replication seeds (any_national: the share of seeds)
    row = exp_s.iloc[0]
    runs = [direct(row["package"], row["beijing_wage_growth"], int(row["training_quarters"]),
                   seeds.run_seed(5, None, r)) for r in range(2)]
    for o in ("outflow_beijing_total", "graduate_retention", "any_national"):
        assert out_s[o][0] == pytest.approx(np.mean([float(r[o]) for r in runs]))


def test_simulate_accepts_numpy_scalars_and_base_values_are_constants():
    base = sim.default_config().with_overrides({"city_coordination": 0.5}, persons_per_agent=20)
    m = make_model(levers=[], uncertainties=["training_quarters"], horizon=HORIZON, base=base)
    constants = {c.name: c.value for c in m.constants}
    assert constants["base"] == {"city_coordination": 0.5} and constants["persons_per_agent"] == 20
    out = simulate(**constants, training_quarters=np.int64(3), package=np.str_("digital"))
    cfg = base.with_overrides({**sim.load_presets()["digital"].levers, "training_quarters": 3}, quarters=HORIZON)
    assert out["spending_total"] == sim.run_scenario(cfg, seed=constants["seed"]).summary()["spending_total"]
