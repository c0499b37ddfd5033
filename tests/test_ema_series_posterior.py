"""The EMA adapter's time-series outcomes (TimeSeriesOutcome of the headline outcomes and city columns)
and the fitted posterior as a source of uncertainty (base="posterior"; draws per replication, as a
categorical, or as resampled parameters), under the sequential and the multiprocessing evaluator.
Tiny horizons (4 quarters; 16 where a 3-year retention must exist)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sim
from experiments.running.ema import (DRAW, DRAWS, HEADLINE_SERIES, HEADLINE_SERIES_OF, TIME, make_model, series_of,
                             simulate)
from sim.outputs.posterior import load_posterior
from sim.state.records import HEADLINE_NAMES

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import ema_workbench as ema
    from ema_workbench.em_framework.samplers import LHSSampler

QUARTERS = 4


def constants(model) -> dict:
    return {c.name: c.value for c in model.constants}


def test_each_headline_outcome_has_a_trajectory_ending_at_its_summary_value():
    assert set(HEADLINE_SERIES) == set(HEADLINE_NAMES)  # a new headline outcome needs its trajectory here
    result = sim.run_scenario(sim.default_config().with_overrides({}, quarters=16), seed=1)
    summary = result.summary()
    for name in HEADLINE_SERIES:
        x = series_of(result.city, name)
        assert x.shape == (17,), name  # quarters 0..16, 0 = the start state
        assert x[-1] == pytest.approx(summary[name], rel=1e-12), name
    assert np.isnan(series_of(result.city, "retention_3y")[0])  # no cohort is 3 years out at the start
    assert np.all(np.diff(series_of(result.city, "outflow_beijing_total")) >= 0)  # cumulative
    assert series_of(result.city, "outflow_beijing_total")[8] == result.city["outflow_beijing"].iloc[:9].sum()
    np.testing.assert_array_equal(series_of(result.city, "talent_city"), result.city["talent_city"].to_numpy(float))


def test_time_series_outcomes_are_declared_and_filled_under_the_sequential_evaluator():
    m = make_model(levers=["package"], uncertainties=["beijing_wage_growth"], horizon=QUARTERS, seed=2,
                   outcomes=["spending_total"], time_series=["employment_final", "outflow_beijing_total", "firms"])
    kinds = {o.name: type(o) for o in m.outcomes}
    assert kinds == {"spending_total": ema.ScalarOutcome, TIME: ema.TimeSeriesOutcome,
                     "employment_final_by_quarter": ema.TimeSeriesOutcome,
                     "outflow_beijing_total_by_quarter": ema.TimeSeriesOutcome,
                     "firms_by_quarter": ema.TimeSeriesOutcome}
    scenarios = [ema.Sample("s0", beijing_wage_growth=0.03), ema.Sample("s1", beijing_wage_growth=0.07)]
    policies = [ema.Sample("p0", package="status_quo"), ema.Sample("p1", package="all_five")]
    experiments, outcomes = ema.perform_experiments(m, scenarios=scenarios, policies=policies,
                                                    evaluator=ema.SequentialEvaluator(m))
    assert outcomes["employment_final_by_quarter"].shape == (4, QUARTERS + 1)
    np.testing.assert_allclose(outcomes[TIME], np.tile([2025.0, 2025.25, 2025.5, 2025.75, 2026.0], (4, 1)))
    for i, row in experiments.iterrows():
        cfg = sim.default_config().with_overrides(
            {**sim.load_presets()[row["package"]].levers, "beijing_wage_growth": row["beijing_wage_growth"]},
            quarters=QUARTERS)
        city = sim.run_scenario(cfg, seed=2).city
        np.testing.assert_allclose(outcomes["employment_final_by_quarter"][i], city["employment"])
        np.testing.assert_allclose(outcomes["outflow_beijing_total_by_quarter"][i], city["outflow_beijing"].cumsum())
        np.testing.assert_allclose(outcomes["firms_by_quarter"][i], city["firms"])
        assert outcomes["spending_total"][i] == pytest.approx(city["spending_total"].sum())


def test_replications_keep_every_series_and_average_them_quarter_by_quarter(tmp_path):
    m = make_model(levers=[], uncertainties=["beijing_wage_growth"], horizon=QUARTERS, replications=2,
                   outcomes=["outflow_beijing_total"], time_series=["outflow_beijing_total", "retention_3y"])
    names = [o.name for o in m.outcomes]
    assert names == ["outflow_beijing_total", "outflow_beijing_total_by_replication", TIME,
                     "outflow_beijing_total_by_quarter", "outflow_beijing_total_by_quarter_by_replication",
                     "retention_3y_by_quarter", "retention_3y_by_quarter_by_replication"]
    with ema.SequentialEvaluator(m) as ev:
        experiments, out = ev.perform_experiments(scenarios=[ema.Sample("s0", beijing_wage_growth=0.05)])
    each = out["outflow_beijing_total_by_quarter_by_replication"]
    assert each.shape == (1, 2, QUARTERS + 1) and not np.array_equal(each[0, 0], each[0, 1])  # two seeds
    np.testing.assert_allclose(out["outflow_beijing_total_by_quarter"][0], each[0].mean(axis=0))
    assert out["outflow_beijing_total_by_replication"][0].tolist() == each[0, :, -1].tolist()
    assert out["outflow_beijing_total"][0] == pytest.approx(each[0, :, -1].mean())
    assert np.isnan(out["retention_3y_by_quarter"]).all()  # no 3-year cohort in 4 quarters: NaN, no warning
    # EMA's own files keep every outcome: save_results / load_results round trip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EMA: "Timeseries outcome seralization still to be tested!!"
        ema.save_results((experiments, out), tmp_path / "results.tar.gz")
        _, back = ema.load_results(tmp_path / "results.tar.gz")
    assert set(back) == set(out)
    for name, values in out.items():
        np.testing.assert_allclose(back[name], values, err_msg=name)


def test_base_posterior_runs_replication_r_with_draw_r_like_the_headline_sweeps():
    post = load_posterior()
    with pytest.raises(sim.ConfigError):  # before: base="posterior" was read as a file name
        sim.resolve_config("posterior")
    m = make_model(levers=["package"], uncertainties=None, horizon=QUARTERS, replications=4, posterior_draws=2,
                   base="posterior", seed=9)
    assert [r[DRAW] for r in m.replications] == [0, 1, 0, 1]  # r % posterior_draws, as the sweeps
    draws = post.draws(2, 9)  # what a sweep with seed 9 and posterior_draws = 2 draws
    assert constants(m)[DRAWS] == tuple(draws[post.parameters].to_dict("records"))
    # with a posterior, "every uncertainty" leaves out the fitted ones (the draw gives them)
    uncs = {p.name for p in m.uncertainties}
    assert uncs and not uncs & set(post.parameters) and "beijing_wage_growth" in uncs
    # the draw's coefficients reach the run: simulate equals run_scenario with them, not the defaults
    c = constants(make_model(levers=[], uncertainties=[], horizon=QUARTERS, base="posterior", seed=9))
    assert c[DRAW] == 0 and len(c[DRAWS]) == 1  # no replications: one draw, as a sweep of 1 replicate
    out = simulate(**c)
    fitted = sim.default_config().with_overrides(c[DRAWS][0], quarters=QUARTERS)
    assert out == sim.run_scenario(fitted, seed=c["seed"]).summary()
    defaults = sim.default_config().with_overrides({}, quarters=QUARTERS)
    assert out != sim.run_scenario(defaults, seed=c["seed"]).summary()


def test_posterior_draws_as_a_categorical_uncertainty_and_an_explicit_coefficient_overrides_the_draw():
    m = make_model(levers=[], uncertainties=["beta_wage", "beijing_wage_growth"], horizon=QUARTERS,
                   posterior="categorical", posterior_draws=3, seed=4)
    cat = {p.name: p for p in m.uncertainties}[DRAW]
    assert isinstance(cat, ema.CategoricalParameter) and [c.value for c in cat.categories] == [0, 1, 2]
    c = constants(m)
    assert DRAW not in c and len(c[DRAWS]) == 3
    out = simulate(**c, posterior_draw=np.int64(2), beta_wage=1.5, beijing_wage_growth=0.05)
    cfg = sim.default_config().with_overrides({**c[DRAWS][2], "beta_wage": 1.5, "beijing_wage_growth": 0.05},
                                              quarters=QUARTERS)
    assert out == sim.run_scenario(cfg, seed=c["seed"]).summary()


def test_fitted_coefficients_resampled_as_parameters_follow_their_weighted_marginals():
    post = load_posterior()
    m = make_model(levers=[], uncertainties=["beijing_wage_growth"], horizon=QUARTERS, posterior="parameters")
    uncs = {p.name: p for p in m.uncertainties}
    assert set(uncs) == {"beijing_wage_growth", *post.parameters}
    mean = post.mean()
    for name in post.parameters:
        x = post.table[name]
        p = uncs[name]
        assert isinstance(p, ema.RealParameter)
        assert (p.lower_bound, p.upper_bound) == pytest.approx((x.min(), x.max()))
        width = (x.max() - x.min()) / (len(np.histogram_bin_edges(x, bins="auto")) - 1)
        assert abs(p.dist.mean() - mean[name]) < width / 2, name  # the weights, not a uniform range
    beta = LHSSampler().generate_samples([uncs["beta_wage"]], 400, rng=1).samples[:, 0]  # EMA's own sampling
    assert beta.mean() == pytest.approx(mean["beta_wage"], abs=0.05)
    assert beta.min() >= uncs["beta_wage"].lower_bound and beta.max() <= uncs["beta_wage"].upper_bound
    with pytest.raises(sim.ConfigError, match=r"^uncertainties: 'beta_wage' comes from the posterior"):
        make_model(levers=[], uncertainties=["beta_wage"], horizon=QUARTERS, posterior="parameters")


def _posterior_file(tmp_path, column: np.ndarray) -> str:
    path = tmp_path / "posterior.parquet"
    pd.DataFrame({"beta_wage": column, "weight": np.full(len(column), 1 / len(column))}).to_parquet(path)
    return str(path)


BAD = [
    ("posterior-unknown", {"posterior": "draws"},
     ["posterior: 'draws' is not allowed; give one of 'replications', 'categorical', 'parameters'"]),
    ("draws-without-posterior", {"posterior_draws": 3},
     ["posterior_draws: 3 needs a posterior; give base='posterior'"]),
    ("file-without-posterior", {"posterior_file": "x.parquet"}, ["posterior_file: 'x.parquet' needs a posterior"]),
    ("draws-not-dividing", {"base": "posterior", "replications": 4, "posterior_draws": 3},
     ["posterior_draws: 3 must divide the replications (4): replication r runs draw r % 3"]),
    ("draws-without-replications", {"base": "posterior", "posterior_draws": 2},
     ["posterior_draws: 2 must divide the replications (none given: 1 run)", "posterior='categorical'"]),
    ("draws-zero", {"base": "posterior", "posterior_draws": 0},
     ["posterior_draws: 0 is not allowed; give an integer from 1 to 10,000"]),
    ("categorical-without-draws", {"posterior": "categorical"},
     ["posterior_draws: None is not allowed with posterior='categorical'", "from 2 to 10,000"]),
    ("categorical-one-draw", {"posterior": "categorical", "posterior_draws": 1},
     ["posterior_draws: 1 is not allowed; give an integer from 2"]),
    ("parameters-with-draws", {"posterior": "parameters", "posterior_draws": 5},
     ["posterior_draws: 5 is not used with posterior='parameters'"]),
    ("file-missing", {"posterior": "replications", "posterior_file": "/nonexistent/post.parquet"},
     ["posterior_file: /nonexistent/post.parquet: no posterior here"]),
    ("file-not-a-path", {"posterior": "replications", "posterior_file": 3}, ["posterior_file: 3 is not allowed"]),
    ("series-string", {"time_series": "retention_3y"},
     ["time_series: 'retention_3y' is not allowed; give a non-empty list of names"]),
    ("series-unknown", {"time_series": ["employmnet"]},
     ["time_series: 'employmnet' is neither a headline outcome nor a column of the city table.",
      "Did you mean 'employment'"]),
    ("series-twice", {"time_series": ["firms", "firms"]}, ["time_series: 'firms' is listed twice"]),
    ("series-time-axis", {"time_series": ["year"]}, ["time_series: 'year' is neither"]),
]


@pytest.mark.parametrize(("kwargs", "fragments"), [pytest.param(k, f, id=i) for i, k, f in BAD])
def test_bad_posterior_and_series_arguments_are_one_line(kwargs, fragments):
    with pytest.raises(sim.ConfigError) as err:
        make_model(**{"levers": [], "uncertainties": ["beijing_wage_growth"], "horizon": QUARTERS, **kwargs})
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 600, msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_a_posterior_without_spread_cannot_be_resampled_as_parameters(tmp_path):
    flat = _posterior_file(tmp_path, np.full(4, 2.0))
    with pytest.raises(sim.ConfigError, match=r"^posterior='parameters': beta_wage has the value 2 in every particle"):
        make_model(levers=[], uncertainties=[], horizon=QUARTERS, posterior="parameters", posterior_file=flat)
    m = make_model(levers=[], uncertainties=[], horizon=QUARTERS, posterior="categorical", posterior_draws=2,
                   posterior_file=_posterior_file(tmp_path, np.array([1.5, 2.5])))
    assert sorted(d["beta_wage"] for d in constants(m)[DRAWS]) == [1.5, 2.5]  # the file's, not the shipped one


def test_a_time_series_over_posterior_draws_under_the_multiprocessing_evaluator():
    """The issue's closing example: headline trajectories over posterior draws (a categorical), two
    policies, with 2 worker processes; the same numbers as the sequential evaluator."""
    model = make_model(levers=["package"], uncertainties=[], horizon=QUARTERS, base="posterior",
                       posterior="categorical", posterior_draws=4, time_series=HEADLINE_SERIES, seed=5)
    scenarios = [ema.Sample(f"d{d}", posterior_draw=d) for d in range(4)]
    policies = [ema.Sample("status_quo", package="status_quo"), ema.Sample("all_five", package="all_five")]
    with ema.MultiprocessingEvaluator(model, n_processes=2) as ev:
        exp_m, out_m = ev.perform_experiments(scenarios=scenarios, policies=policies)
    with ema.SequentialEvaluator(model) as ev:
        exp_s, out_s = ev.perform_experiments(scenarios=scenarios, policies=policies)
    for name in HEADLINE_SERIES_OF:
        assert out_m[name + "_by_quarter"].shape == (8, QUARTERS + 1)
    key = lambda e: list(zip(e["scenario"].astype(str), e["policy"].astype(str), strict=True))  # noqa: E731
    order = [key(exp_m).index(k) for k in key(exp_s)]
    for name in [TIME, *(n + "_by_quarter" for n in HEADLINE_SERIES)]:
        np.testing.assert_allclose(out_m[name][order], out_s[name], err_msg=name)
    # the draws reach the runs: the status quo's employment path differs between posterior draws
    sq = out_s["employment_final_by_quarter"][(exp_s["package"] == "status_quo").to_numpy()]
    assert len({tuple(row[1:]) for row in sq}) == 4
