"""The EMA Workbench adapter (experiments.running.ema): XLRM declared from configs/parameters.toml, runs under
perform_experiments with the sequential and the multiprocessing evaluator, and gives what
sim.run_scenario gives for the same config and seed. Tiny horizons, a handful of experiments."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim
import experiments.running.ema
from experiments.running import seeds
from experiments.running.ema import DEFAULT_OUTCOMES, make_model, simulate

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


# every argument of make_model, checked by the adapter before EMA Workbench sees it (issue 20): each bad
# value is one ValueError line (sim.ConfigError) naming the argument, the value and what is allowed
BAD_ARGUMENTS = [
    ("name-empty", {"name": ""}, ["name: '' is not allowed", "Python identifier", "'qhd_clusters'"]),
    ("name-space", {"name": "my model"}, ["name: 'my model' is not allowed", "Python identifier"]),
    ("name-not-str", {"name": None}, ["name: None is not allowed"]),
    ("name-too-long", {"name": "m" * 5000}, ["name: 'mmm", "(5,002 characters)", "at most 100 characters"]),
    ("package-one-string", {"levers": {"package": "status_quo"}},
     ["levers package: 'status_quo' is one name", "a list of at least two preset names", "base"]),
    ("package-one-item", {"levers": {"package": ["digital"]}}, ["levers package: ['digital']", "at least two"]),
    ("package-number", {"levers": {"package": 3}}, ["levers package: 3 is not allowed", "list of at least two"]),
    ("package-mapping", {"levers": {"package": {"status_quo": 1}}}, ["levers package: {'status_quo': 1}"]),
    ("package-twice", {"levers": {"package": ["digital", "digital"]}}, ["levers package: 'digital' is listed twice"]),
    ("package-not-a-name", {"levers": {"package": [["a"], "digital"]}}, ["levers package: ['a'] is not a preset name"]),
    ("lever-not-str", {"levers": [["a"]]}, ["levers: ['a'] is not a name", "strings"]),
    ("lever-key-not-str", {"levers": {3: None}}, ["levers: 3 is not a name"]),
    ("levers-bytes", {"levers": b"package"}, ["levers: b'package' is not allowed", "a list of names"]),
    ("levers-number", {"levers": 7}, ["levers: 7 is not allowed"]),
    ("uncertainty-values-twice", {"uncertainties": {"training_quarters": [2, 2]}},
     ["uncertainties training_quarters: 2 is listed twice"]),
    ("uncertainty-nan", {"uncertainties": {"beta_wage": (float("nan"), 2.0)}}, ["beta_wage: nan is out of range"]),
    ("uncertainty-huge", {"uncertainties": {"beta_wage": (1.0, 10**5000)}},
     ["beta_wage: an integer of about 5,001 digits is out of range", "allowed [1.0, 3.0]"]),
    ("uncertainty-long-string", {"uncertainties": {"beta_wage": ("x" * 10_000, 2.0)}},
     ["beta_wage: 'xxx", "(10,002 characters) is not a number"]),
    ("uncertainty-triple", {"uncertainties": {"beta_wage": (1, 2, 3)}}, ["beta_wage: (1, 2, 3) is not allowed"]),
    ("horizon-huge", {"horizon": 10**400}, ["horizon: an integer of about 401 digits", "from 1 to 400"]),
    ("horizon-text", {"horizon": "8"}, ["horizon: '8' is not allowed"]),
    ("replications-float", {"replications": 1.5}, ["replications: 1.5 is not allowed"]),
    ("replications-seed-twice", {"replications": [3, 3]}, ["replications: [3, 3] lists a seed twice"]),
    ("outcomes-not-str", {"outcomes": [["any_national"]]}, ["outcomes: ['any_national'] is not a name"]),
    ("outcomes-twice", {"outcomes": ["any_national", "any_national"]}, ["outcomes: 'any_national' is listed twice"]),
    ("outcomes-string", {"outcomes": "any_national"}, ["outcomes: 'any_national' is not allowed", "list"]),
    ("seed-negative", {"seed": -1}, ["seed: -1 is not allowed"]),
    ("seed-bool", {"seed": True}, ["seed: True is not allowed"]),
    ("base-number", {"base": 3}, ["base: config must be a Config, a path or a mapping, not int"]),
    ("base-key-not-str", {"base": {3: 1}}, ["base: key 3 is not allowed", "string keys"]),
    ("base-inner-key-not-str", {"base": {"levers": {3: 1}}}, ["base: key 3 is not allowed"]),
    ("base-unknown-section", {"base": {"nope": {}}}, ["base: config: unknown section [nope]"]),
    ("base-missing-file", {"base": "/nonexistent/scenario.toml"}, ["base:", "/nonexistent/scenario.toml"]),
    ("base-huge-quarters", {"base": {"scenario": {"quarters": 10**5000}}},
     ["base:", "quarters: an integer of about 5,001 digits"]),
]


@pytest.mark.parametrize(("kwargs", "fragments"), [pytest.param(k, f, id=i) for i, k, f in BAD_ARGUMENTS])
def test_every_bad_argument_is_one_value_error_line(kwargs, fragments):
    try:  # `except Exception` catches it (EMA's own EMAError is a BaseException and would escape)
        make_model(**{"uncertainties": UNC, "levers": ["package"], "horizon": HORIZON, **kwargs})
    except Exception as exc:  # noqa: BLE001 -- the point of the test
        err = exc
    else:
        pytest.fail(f"accepted {kwargs!r}")
    assert isinstance(err, sim.ConfigError) and isinstance(err, ValueError)
    msg = str(err)
    assert "\n" not in msg and len(msg) < 400, msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_an_ema_workbench_refusal_still_becomes_one_config_error(monkeypatch):
    def refuse(*args, **kwargs):
        raise ema.EMAError("something EMA does not like\nsecond line")

    monkeypatch.setattr(experiments.running.ema, "Model", refuse)  # the adapter's subclass of ema.Model
    with pytest.raises(sim.ConfigError, match=r"^make_model: EMA Workbench refused the model: something EMA does "
                                              r"not like$"):
        make_model(levers=[], uncertainties=UNC, horizon=HORIZON)


def test_levers_as_a_set_give_one_order_and_a_tuple_of_presets_is_a_list():
    m = make_model(levers={"rd_subsidy_rate", "city_coordination", "weak_link_incentive"}, uncertainties=[],
                   horizon=HORIZON)
    assert [p.name for p in m.levers] == ["city_coordination", "rd_subsidy_rate", "weak_link_incentive"]
    m = make_model(levers={"package": ("status_quo", "digital")}, uncertainties=[], horizon=HORIZON, name="m2")
    assert [c.value for c in m.levers[0].categories] == ["status_quo", "digital"] and m.name == "m2"


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
