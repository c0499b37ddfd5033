"""Timed levers in sweep specs (issue 21): a timed [base.levers] lever and [base] channels_off, factors over
a lever's start (periods), LHS over a period range, bad factors refused in one line, run ids of plain
specs unchanged, the analysis of a period factor, and the workshop app with a timed config.

Runs are 4-6 quarters, one replicate, in this process (serial executor).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim
from experiments.running import design, seeds
from experiments import run_sweep
from sim.inputs.config import Schedule
from experiments.report import analyze
from experiments.running.spec import SpecError, load_spec, parse_spec
from experiments.running.store import Store
from experiments.running.timing import period_number
from test_experiments_spec import GOOD

ROOT = Path(__file__).resolve().parents[1]
INFRA = "digital_infrastructure_investment"  # booked in full each quarter: spending = value / 4, exactly
SQ = sim.default_config()[INFRA]


def _spec(body: str, horizon: int = 4, tmp: Path | None = None, name: str = "timed.toml"):
    text = f"[experiment]\nseed = 7\nreplicates = 1\nhorizon = {horizon}\ncrn = true\n{body}"
    if tmp is None:
        return parse_spec(text)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / name).write_text(text)
    return load_spec(tmp / name)


def _spend(city: pd.DataFrame, run_id: str) -> pd.Series:
    c = city[(city["run_id"] == run_id) & (city["quarter"] >= 1)]
    return c.set_index("period")[f"spending_{INFRA}"]


# ------------------------------------------------------------------ a timed base lever
def test_a_timed_base_lever_and_channels_off_run_and_spend_only_in_the_window(tmp_path):
    spec = _spec(f"""
[base]
channels_off = ["coordination.matchmaking"]

[base.levers.{INFRA}]
value = 9e7
start = "2025Q3"
duration_quarters = 2

[design]
kind = "full_factorial"
""", tmp=tmp_path)
    assert spec.base.schedules[INFRA] == Schedule(start="2025Q3", end="2025Q4")
    assert spec.base.channels_off == {"coordination.matchmaking"}
    res = run_sweep(spec, tmp_path / "out", progress=False)
    assert res.done == 1 and res.failed == 0  # the worker rebuilt the same config (digest checked)
    store = Store(tmp_path / "out")
    run = store.runs().iloc[0]
    city = store.table("city")
    spend = _spend(city, run["run_id"])
    assert spend.to_dict() == {"2025Q2": SQ / 4, "2025Q3": 9e7 / 4, "2025Q4": 9e7 / 4, "2026Q1": SQ / 4}
    # before the window nothing differs from the same base without the timed lever (same seed)
    plain = sim.run_scenario(spec.base.with_overrides({INFRA: SQ}), int(run["seed"])).city
    ours = city[city["run_id"] == run["run_id"]].drop(columns=["run_id"]).reset_index(drop=True)
    before = plain["quarter"] < 2
    pd.testing.assert_frame_equal(ours[before][plain.columns], plain[before], check_dtype=False)
    assert ours.loc[2, "spending_total"] - plain.loc[2, "spending_total"] == pytest.approx((9e7 - SQ) / 4)


# ------------------------------------------------------------------ a sweep over the start
SWEEP = f"""
[design]
kind = "full_factorial"

[levers.{INFRA}]
value = [6e7, 9e7]
start = ["2026Q1", "2025Q2", "2025Q4"]

[analysis]
group_by = "{INFRA}.start"
max_groups = 2
bins = 2
heatmap = ["{INFRA}.start", "{INFRA}"]
"""


def test_a_start_factor_gives_periods_in_the_design_and_runs_that_spend_from_that_period(tmp_path):
    spec = _spec(SWEEP, tmp=tmp_path)
    start = spec.factor(f"{INFRA}.start")
    assert start.kind == "timing" and start.values == ("2025Q2", "2025Q4", "2026Q1")  # in time order
    res = run_sweep(spec, tmp_path / "out", progress=False)
    assert res.done == 6 and res.failed == 0
    store = Store(tmp_path / "out")
    plan = store.design()
    assert sorted(set(plan[f"{INFRA}.start"])) == ["2025Q2", "2025Q4", "2026Q1"]
    assert all(isinstance(v, str) for v in plan[f"{INFRA}.start"])
    assert plan["seed"].nunique() == 1  # crn: one seed, so the points differ only in the policy
    runs = store.runs().set_index("run_id")
    assert list(runs[f"{INFRA}.start"].sort_values().unique()) == ["2025Q2", "2025Q4", "2026Q1"]
    city = store.table("city")
    for rid, row in runs.iterrows():
        spend = _spend(city, rid)
        first = period_number(row[f"{INFRA}.start"])
        want = {p: (row[INFRA] if period_number(p) >= first else SQ) / 4 for p in spend.index}
        assert spend.to_dict() == want, row[f"{INFRA}.start"]
    # the analysis groups and bins the period factor in time order (and draws the heatmap over it)
    report = analyze(tmp_path / "out")
    groups = list(dict.fromkeys(pd.read_csv(tmp_path / "out" / "tables" / "outcomes_by_group.csv")["group"]))
    assert groups == [f"{INFRA}.start 2025Q2–2025Q4", f"{INFRA}.start 2026Q1"]
    assert (tmp_path / "out" / "figures" / "national_heatmap.png").is_file()
    text = report.read_text()
    assert "(Digital infrastructure (5G, industrial internet): start): 3 values ['2025Q2', '2025Q4', '2026Q1']" in text


def test_lhs_and_sobol_over_a_period_range_give_valid_periods():
    spec = _spec("""
[design]
kind = "lhs"
samples = 40

[levers]
digital_grant_budget.value = { min = 5e7, max = 1.5e8 }
digital_grant_budget.start = { min = "2026Q1", max = "2029Q4" }
digital_grant_budget.ramp_quarters = { min = 0, max = 8 }
digital_grant_budget.duration_quarters = 8
""", horizon=40)
    plan = design.build_plan(spec, "test")
    starts = plan["digital_grant_budget.start"]
    assert all(isinstance(s, str) for s in starts)
    numbers = starts.map(period_number)
    assert numbers.between(period_number("2026Q1"), period_number("2029Q4")).all() and numbers.nunique() >= 12
    assert {"2026Q1", "2029Q4"} <= set(starts)  # both ends are reachable
    ramps = plan["digital_grant_budget.ramp_quarters"]
    assert ramps.between(0, 8).all() and ramps.nunique() == 9
    row = plan.iloc[0]
    cfg = design.point_config(spec, design.factor_values(spec, row))
    assert cfg.digest() == row["config_digest"]
    sch = cfg.schedules["digital_grant_budget"]
    assert sch.start == row["digital_grant_budget.start"]
    assert sch.ramp_quarters == row["digital_grant_budget.ramp_quarters"]
    assert period_number(sch.end) - period_number(sch.start) == 7  # two years: 8 quarters
    assert cfg["digital_grant_budget"] == row["digital_grant_budget"]

    sobol = _spec("""
[design]
kind = "sobol"
samples = 4

[levers]
digital_grant_budget = { min = 5e7, max = 1.5e8 }
"digital_grant_budget.start" = { min = "2026Q1", max = "2029Q4" }
""", horizon=40)
    plan = design.build_plan(sobol, "test")
    assert len(plan) == 4 * (2 + 2) and plan["digital_grant_budget.start"].map(period_number).between(
        period_number("2026Q1"), period_number("2029Q4")).all()
    assert "u.digital_grant_budget.start" in plan  # the unit sample, for the Sobol indices


# ------------------------------------------------------------------ bad factors: one line each
HEAD = '[design]\nkind = "full_factorial"\n'
BAD = [
    ('[levers]\ndigital_grant_budget.stop = ["2026Q1"]\n', ["[levers] digital_grant_budget", "'stop'", "start"]),
    ('[levers]\n"digital_grant_budget.stop" = ["2026Q1"]\n', ["digital_grant_budget.stop", "'stop'", "start"]),
    ('[levers]\ndigital_grant_budgt.start = ["2026Q1"]\n', ["unknown lever 'digital_grant_budgt'",
                                                            "digital_grant_budget"]),
    ('[levers]\ndigital_grant_budget.start = ["2026Q1", "2036Q1"]\n', ["digital_grant_budget.start", "'2036Q1'",
                                                                       "outside the run", "2025Q1 to 2035Q1"]),
    ('[levers]\ndigital_grant_budget.start = ["2026-1"]\n', ["digital_grant_budget.start", "'2026-1'",
                                                             "a quarter like"]),
    ('[levers]\ndigital_grant_budget.start = [2026]\n', ["digital_grant_budget.start", "2026", "a period like"]),
    ('[levers]\ndigital_grant_budget.start = ["2026Q1", "2026Q1"]\n', ["digital_grant_budget.start", "twice"]),
    ('[levers]\ndigital_grant_budget.start = { min = "2027Q1", max = "2026Q1" }\n',
     ["digital_grant_budget.start", "empty range", "'2027Q1'"]),
    ('[levers]\ndigital_grant_budget.start = { min = "2026Q1", max = "2027Q1", dist = "normal" }\n',
     ["digital_grant_budget.start", "'dist'"]),
    ('[levers]\ndigital_grant_budget.ramp_quarters = [-1, 2]\n', ["digital_grant_budget.ramp_quarters", "-1",
                                                                 "0-400"]),
    ('[levers]\ndigital_grant_budget.ramp_quarters = { min = 0, max = 2.5 }\n',
     ["digital_grant_budget.ramp_quarters max", "2.5"]),
    ('[levers]\ndigital_grant_budget.duration_quarters = [0, 4]\n', ["digital_grant_budget.duration_quarters",
                                                                    "1-40"]),
    ('[levers.digital_grant_budget]\nstart = ["2026Q1"]\nend = "2028Q1"\nduration_quarters = 8\n',
     ["digital_grant_budget", "end or duration_quarters"]),
    ('[levers.digital_grant_budget]\nvalue = 1e8\nstart = "2027Q1"\n', ["digital_grant_budget", "nothing is swept",
                                                                        "[base.levers"]),
    ('[levers]\ndigital_grant_budget = { min = 0.0, max = 1e8, start = ["2026Q1"] }\n',
     ["digital_grant_budget", "'min' next to 'start'", "digital_grant_budget.value"]),
    ('[levers]\n"digital_grant_budget.start" = ["2026Q1"]\ndigital_grant_budget.start = ["2027Q1"]\n',
     ["digital_grant_budget.start", "twice"]),
    ('[levers]\ndigital_grant_budget.value = [9e9]\ndigital_grant_budget.start = ["2026Q1"]\n',
     ["digital_grant_budget", "9000000000"]),
    # windows that cannot be, found when the design is made (plan time): the factors and a point named
    ('[levers]\ndigital_grant_budget.start = ["2026Q1", "2028Q1"]\ndigital_grant_budget.end = ["2027Q4"]\n',
     ["digital_grant_budget.start, digital_grant_budget.end", "ends before it starts", "1 of 2 design points",
      "start = '2028Q1', end = '2027Q4'", "duration_quarters"]),
    ('[levers.digital_grant_budget]\nstart = ["2030Q1", "2034Q1"]\nduration_quarters = 8\n',
     ["digital_grant_budget.start, digital_grant_budget.duration_quarters", "past the horizon",
      "1 of 2 design points", "start = '2034Q1', duration_quarters = 8", "ends 2035Q4"]),
    ('[base.levers.digital_grant_budget]\nvalue = 1e8\nend = "2027Q4"\n[levers]\n'
     'digital_grant_budget.start = ["2026Q1", "2028Q1"]\n',
     ["digital_grant_budget.start, digital_grant_budget.end (from [base.levers])", "ends before it starts"]),
    # [base]
    ('[base]\nchannels_off = ["coordination.matchmakin"]\n', ["[base] channels_off", "'coordination.matchmakin'",
                                                             "coordination.matchmaking"]),
    ('[base]\nchannels_off = "coordination.matchmaking"\n', ["[base] channels_off", "not a list"]),
    ('[base.levers]\ndigital_grant_budget = { value = 1e8, stop = "2027Q1" }\n',
     ["[base.levers] digital_grant_budget", "'stop'", "end"]),
    ('[base.levers]\ndigital_grant_budget = { start = "2027Q1" }\n', ["[base.levers] digital_grant_budget",
                                                                     "needs value"]),
    ('[base.levers]\ndigital_grant_budget = { value = 1e8, start = "2036Q1" }\n',
     ["[base.levers] digital_grant_budget start", "'2036Q1'", "after the horizon"]),
    ('[base.levers]\ndigital_grant_budget = { value = 1e8, start = "2034Q1", duration_quarters = 8 }\n',
     ["[base.levers] digital_grant_budget", "duration_quarters = 8", "ends 2035Q4"]),
    ('[base.levers]\ndigital_grant_budget = { value = 9e9, start = "2027Q1" }\n',
     ["[base.levers] digital_grant_budget value", "out of range"]),
    ('[base.levers]\nbeta_wage = { value = 1.0, start = "2027Q1" }\n', ["beta_wage", "unknown key"]),
]


@pytest.mark.parametrize(("body", "fragments"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_timed_levers_are_refused_in_one_line(body, fragments):
    text = "[experiment]\nseed = 1\nreplicates = 1\nhorizon = 40\n" + (body if "[design]" in body else HEAD + body)
    with pytest.raises(SpecError) as err:
        design.build_plan(parse_spec(text), "test")
    msg = str(err.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_an_optimisation_refuses_timing_factors_in_one_line():
    from experiments.decision.optimize_spec import parse_optimize_spec

    text = ('[experiment]\nseed = 1\nreplicates = 1\nhorizon = 8\n[levers]\ndigital_grant_budget.start = '
            '["2025Q3", "2026Q1"]\n[optimize]\nmaximize = ["retention_3y"]\nepsilons = { retention_3y = 0.01 }\n')
    with pytest.raises(SpecError) as err:
        parse_optimize_spec(text)
    assert "\n" not in str(err.value) and "digital_grant_budget" in str(err.value) and "[base.levers" in str(err.value)


def test_the_example_spec_plans_and_a_window_that_cannot_be_fails_on_the_command_line(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "experiments", "plan", "configs/experiments/grant_timing.toml"],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "digital_grant_budget.start" in ok.stdout and "'2026Q1', '2027Q1', '2028Q1'" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nseed = 1\nreplicates = 1\n[design]\nkind = "full_factorial"\n[levers]\n'
                   'digital_grant_budget.start = ["2026Q1", "2028Q1"]\ndigital_grant_budget.end = ["2027Q4"]\n')
    out = subprocess.run([sys.executable, "-m", "experiments", "run", str(bad), "--serial", "--out",
                          str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "ends before it starts" in out.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


# ------------------------------------------------------------------ plain specs: same runs as before
PLAIN = GOOD  # the plain spec of test_experiments_spec
# sha256 of the plan's points, replicates, seeds and factor values, computed with the code before timed
# levers existed (commit 74870b1; its run ids were the same as now, too)
PLAIN_PLAN_SHA = "008e870ae1875d30"


def _plan_blob(plan: pd.DataFrame) -> str:
    cols = ["point", "replicate", "seed", "package", "rd_subsidy_rate"]
    return hashlib.sha256(json.dumps(plan[cols].to_dict("records"), sort_keys=True).encode()).hexdigest()[:16]


@pytest.mark.parametrize("source", ["text", "levers_lhs"])
def test_run_ids_of_plain_specs_are_unchanged(source):
    """A spec with no timing plans the runs it planned before timed levers: the same columns, and each
    run id is the hash of the plain config's digest (flat lever values, no schedule), seed and model."""
    spec = parse_spec(PLAIN) if source == "text" else load_spec(ROOT / "configs/experiments/levers_lhs.toml")
    plan = design.build_plan(spec, "test")
    assert list(plan.columns[:5]) == ["point", "replicate", "seed", "config_digest", "run_id"]
    assert list(plan.columns[5:]) == [*spec.factor_names] and not spec.timing and not spec.base.schedules
    presets = sim.load_presets()
    for row in plan.sample(n=min(8, len(plan)), random_state=0).to_dict("records"):
        values = {n: row[n] for n in spec.factor_names}
        flat = dict(presets[values["package"]].levers) if "package" in values else {}
        flat.update({k: v for k, v in values.items() if k != "package"})
        cfg = spec.base.with_overrides(flat)
        assert cfg.schedules == {} and "schedules" not in cfg.to_dict()
        seed = seeds.run_seed(spec.seed, seeds.point_key(values), row["replicate"])
        assert row["seed"] == seed and row["run_id"] == seeds.run_id(cfg.digest(), seed, "test")
    if source == "text":
        assert _plan_blob(plan) == PLAIN_PLAN_SHA


# ------------------------------------------------------------------ the workshop app with a timed config
def test_the_app_session_runs_a_timed_config_and_a_slider_replaces_the_window(monkeypatch):
    from app import export, state

    plain = state.make_config

    def timed(levers, quarters=None):
        return plain(levers, quarters).with_overrides(
            {INFRA: {"value": 9e7, "start": "2025Q3", "end": "2025Q4"}, "channels_off": ["coordination.matchmaking"]})

    monkeypatch.setattr(state, "make_config", timed)
    s = state.Session(seed=1)
    assert INFRA in s.config.schedules and s.config.channels_off
    for _ in range(3):
        s.step()
    snap = s.snapshot()
    assert list(snap.city[f"spending_{INFRA}"].iloc[1:4]) == [SQ / 4, 9e7 / 4, 9e7 / 4]
    assert len(export.settings_table(snap)) >= len(state.lever_defaults())
    s.set_levers({**state.lever_defaults(), INFRA: 6e7})  # a slider moved mid-run: the value from now on
    s.step()
    assert INFRA not in s.config.schedules and s.config.channels_off == {"coordination.matchmaking"}
    assert s.snapshot().city[f"spending_{INFRA}"].iloc[-1] == 6e7 / 4


def test_the_ema_model_keeps_the_base_window_and_channels_off():
    from experiments.running.ema import make_model, simulate

    base = sim.default_config().with_overrides(
        {INFRA: {"value": 9e7, "start": "2025Q3", "end": "2025Q4"}, "channels_off": ["coordination.matchmaking"]},
        quarters=4)
    m = make_model(levers=[INFRA], uncertainties=[], horizon=4, base=base,
                   outcomes=["spending_total", "tiers_climbed_clusters"])
    constants = {c.name: c.value for c in m.constants}
    assert constants["base"][INFRA] == {"value": 9e7, "start": "2025Q3", "end": "2025Q4"}
    out = simulate(**constants, **{INFRA: 6e7})  # the sampled value, inside the base's window
    cfg = base.with_overrides({INFRA: {"value": 6e7, "start": "2025Q3", "end": "2025Q4"}})
    assert out["spending_total"] == sim.run_scenario(cfg, seed=constants["seed"]).summary()["spending_total"]
