"""Levers as policy instruments: declared channels and costs, schedules, and the completeness test
(all of a lever's channels off = the status quo, except the lever's own spending)."""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.inputs.config import COST_KINDS, ConfigError, config_from_dict
from sim.policy.instruments import Policy, channels, instruments

SIM_DIR = Path(sim.__file__).resolve().parent
QUARTERS = 12  # three years: yearly reviews, three graduations, the first county review


def _spending_columns(lever: str) -> dict[str, set[str]]:
    """The columns a lever's own spending moves (its programme cost keeps running with channels off)."""
    return {"city": {f"spending_{lever}", "spending_total", "cost_per_retained_graduate", "fiscal_balance"},
            "districts": {"government_spending", "government_balance"}, "clusters": set()}


@functools.lru_cache(maxsize=None)
def _run(overrides: tuple, seed: int = 1, quarters: int = QUARTERS):
    cfg = sim.load_config().with_overrides(dict(overrides), quarters=quarters)
    return sim.run_scenario(cfg, seed=seed)


def _differing(a, b, skip: dict[str, set[str]]) -> list[str]:
    out = []
    for table in ("city", "clusters", "districts"):
        x, y = getattr(a, table), getattr(b, table)
        for col in x.columns:
            if col in skip[table]:
                continue
            u, v = x[col].to_numpy(), y[col].to_numpy()
            same = np.array_equal(u, v, equal_nan=True) if u.dtype.kind == "f" else np.array_equal(u, v)
            if not same:
                out.append(f"{table}.{col}")
    return out


def _district_share(res) -> list[float]:
    """Per quarter with spending: the share of all lever spending the district governments paid."""
    districts = res.districts.groupby("quarter")["government_spending"].sum()
    total = res.city.set_index("quarter")["spending_total"]
    q = total.index[total > 0]
    return (districts.loc[q] / total.loc[q]).round(12).tolist()


def _test_value(inst) -> float:
    """A value of the lever away from its status quo: the all-five package's, else the far end of its range."""
    v = sim.load_presets()["all_five"].levers.get(inst.name)
    if v is not None and v != inst.default:
        return v
    return inst.high if inst.default < inst.high else inst.low


def test_every_lever_declares_its_channels_and_cost():
    insts = instruments()
    assert len(insts) == len(sim.default_config().names("levers")) == 16
    for inst in insts.values():
        assert inst.channels, inst.name
        assert inst.cost["kind"] in COST_KINDS and inst.cost["en"], inst.name
        for ch in inst.channels:
            assert ch.en and ch.zh and ch.submodel.startswith("sim."), ch
    assert len(channels()) == sum(len(i.channels) for i in insts.values())


def _asked_channels() -> dict[str, list[str]]:
    """Channel names the model's source asks for (``.level("...")`` calls), by file."""
    out: dict[str, list[str]] = {}
    for path in SIM_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "level"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                out.setdefault(node.args[0].value, []).append(str(path.relative_to(SIM_DIR)))
    return out


def test_every_declared_channel_is_asked_for_and_every_asked_channel_declared():
    asked, declared = _asked_channels(), channels()
    assert sorted(set(declared) - set(asked)) == [], "declared channels no submodel asks for"
    assert sorted(set(asked) - set(declared)) == [], "channels asked for but not declared"
    for name, files in asked.items():  # the declaration names the module that asks
        module = importlib.util.find_spec(declared[name].submodel)
        assert module is not None and str(Path(module.origin).relative_to(SIM_DIR)) in files, (name, files)


def test_no_submodel_reads_a_lever_value():
    """Levers reach agents only through channels: no ``p["<lever>"]`` anywhere in sim/ (``m.p`` holds
    no levers at all, so such a read would fail at run time too)."""
    levers = set(sim.default_config().names("levers"))
    found = []
    for path in SIM_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                    and node.slice.value in levers):
                found.append(f"{path.name}:{node.lineno} {node.slice.value}")
    assert found == []
    m = sim.ClusterModel(rng=1, quarters=1)
    assert not levers & set(m.p)


@pytest.mark.parametrize("lever", sim.default_config().names("levers"))
def test_all_channels_off_is_the_status_quo(lever):
    """Completeness: with every channel of ``lever`` off, a run at a non-status-quo value equals the status
    quo with the same seed in every table but the lever's own spending; with them on, it does not."""
    inst = instruments()[lever]
    value = _test_value(inst)
    base = _run(())
    off = _run(((lever, value), ("channels_off", tuple(inst.channel_names))))
    skip = _spending_columns(lever)
    assert _differing(off, base, skip) == [], f"{lever} changes these with all its channels off (an undeclared path)"
    # the skipped money columns still have to be split between city and districts as in the status quo
    # (the share the districts pay is 1 - coordination: coordination.city_funding)
    assert _district_share(off) == pytest.approx(_district_share(base), abs=1e-12), lever
    on = _run(((lever, value),))
    assert _differing(on, base, skip), f"{lever} = {value} changes nothing in {QUARTERS} quarters with its channels on"


def test_a_channel_switched_off_acts_at_the_status_quo_value():
    cfg = sim.load_config().with_overrides({"city_coordination": 0.9, "channels_off": ["coordination.matchmaking"]})
    pol = Policy(cfg)
    pol.advance(1)
    assert pol.level("coordination.matchmaking") == pytest.approx(0.1)  # the status quo
    assert pol.level("coordination.planned_entry") == 0.9 and pol.value("city_coordination") == 0.9
    assert not pol.is_on("coordination.matchmaking") and pol.is_on("coordination.planned_entry")
    with pytest.raises(KeyError):
        pol.level("coordination.telepathy")


# ------------------------------------------------------------------ schedules
GRANT = {"value": 1.5e8, "start": "2027Q1", "end": "2028Q4"}


def test_two_year_grant_spends_only_in_its_window_and_acts_after_its_start():
    base = _run((), quarters=20)
    timed = sim.run_scenario(sim.load_config().with_overrides({"digital_grant_budget": GRANT}, quarters=20), seed=1)
    q = timed.city["quarter"].to_numpy()
    first, last = 8, 15  # 2027Q1 and 2028Q4 as quarters after 2025Q1
    spend = timed.city["spending_digital_grant_budget"].to_numpy()
    cap_sq = sim.default_config()["digital_grant_budget"] / 4.0
    inside = (q >= first) & (q <= last)
    assert spend[inside].max() > 1.5 * cap_sq  # more than the status quo could ever pay in a quarter
    assert (spend[~inside] <= cap_sq + 1e-6).all()  # outside: at most the status quo's budget
    # before the start nothing differs from the status quo; maturity moves only after the start
    for table in ("city", "clusters", "districts"):
        a, b = getattr(timed, table), getattr(base, table)
        qa = a["quarter"].to_numpy()
        pd.testing.assert_frame_equal(a[qa < first].reset_index(drop=True), b[qa < first].reset_index(drop=True))
    mat = [c for c in timed.clusters.columns if c.startswith("maturity_l")]
    late = timed.clusters["quarter"] > last
    assert not timed.clusters.loc[late, mat].equals(base.clusters.loc[late, mat])


def test_schedule_values_ramp_and_end():
    cfg = sim.load_config().with_overrides(
        {"digital_grant_budget": {"value": 6e7, "start": "2025Q3", "end": "2026Q2", "ramp_quarters": 2}})
    sq = sim.default_config()["digital_grant_budget"]
    got = [cfg.lever_at("digital_grant_budget", q) for q in range(0, 8)]
    assert got == [sq, sq, sq + (6e7 - sq) * 0.5, 6e7, 6e7, 6e7, sq, sq]
    assert sim.load_config().with_overrides({"digital_grant_budget": {"value": 6e7}}).schedules == {}  # = plain
    plain = cfg.with_overrides({"digital_grant_budget": 6e7})  # a plain number: the whole run
    assert plain.schedules == {} and plain.lever_at("digital_grant_budget", 1) == 6e7
    assert cfg.digest() != plain.digest() and sim.default_config().to_dict().keys() == {"scenario", "values"}


def test_a_scheduled_lever_from_a_scenario_file():
    cfg = config_from_dict({"levers": {"digital_grant_budget": {"value": 1.5e8, "start": "2027Q1"}},
                            "scenario": {"channels_off": ["coordination.matchmaking"]}})
    assert cfg.schedules["digital_grant_budget"].start == "2027Q1"
    assert cfg.channels_off == {"coordination.matchmaking"}
    assert cfg.lever_at("digital_grant_budget", 7) == sim.default_config()["digital_grant_budget"]
    assert cfg.lever_at("digital_grant_budget", 8) == 1.5e8 == cfg.lever_at("digital_grant_budget", 40)


@pytest.mark.parametrize(("override", "fragments"), [
    ({"digital_grant_budget": {"value": 1e8, "start": "2024Q4"}}, ["digital_grant_budget start", "2024Q4", "before",
                                                                   "2025Q1 to 2035Q1"]),
    ({"digital_grant_budget": {"value": 1e8, "end": "2036Q1"}}, ["digital_grant_budget end", "2036Q1", "after the horizon"]),
    ({"digital_grant_budget": {"value": 1e8, "start": "2028Q1", "end": "2027Q4"}}, ["end", "2027Q4", "before its start"]),
    ({"digital_grant_budget": {"value": 1e8, "start": "2027-1"}}, ["digital_grant_budget start", "2027-1", "2025Q1"]),
    ({"digital_grant_budget": {"value": 1e8, "start": 2027}}, ["digital_grant_budget start", "2027"]),
    ({"digital_grant_budget": {"start": "2027Q1"}}, ["digital_grant_budget", "value"]),
    ({"digital_grant_budget": {"value": 1e8, "stop": "2027Q1"}}, ["digital_grant_budget", "'stop'", "end"]),
    ({"digital_grant_budget": {"value": 1e8, "ramp_quarters": -1}}, ["ramp_quarters", "-1", "0-400"]),
    ({"digital_grant_budget": {"value": 1e8, "ramp_quarters": 1.5}}, ["ramp_quarters", "1.5"]),
    ({"digital_grant_budget": {"value": 9e9}}, ["digital_grant_budget value", "out of range"]),
    ({"beta_wage": {"value": 1.0, "start": "2027Q1"}}, ["beta_wage", "only levers take a schedule"]),
    ({"digital_grant_budget": {"value": 1e8, "end": "2025Q1"}}, ["digital_grant_budget end", "start state",
                                                                 "2025Q2"]),
    ({"channels_off": ["coordination.matchmakin"]}, ["channels_off", "coordination.matchmakin",
                                                     "coordination.matchmaking"]),
    ({"channels_off": "coordination.matchmaking"}, ["channels_off", "not a list"]),
])
def test_bad_schedules_and_channels_are_one_clear_line(override, fragments):
    with pytest.raises(ConfigError) as err:
        sim.load_config().with_overrides(override)
    msg = str(err.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_a_shorter_horizon_refuses_a_window_beyond_it():
    cfg = sim.load_config().with_overrides({"digital_grant_budget": {"value": 1e8, "start": "2030Q1"}})
    with pytest.raises(ConfigError, match="after the horizon"):
        cfg.with_overrides(quarters=8)


def test_set_levers_mid_run_replaces_the_schedule():
    m = sim.ClusterModel(sim.load_config().with_overrides({"digital_grant_budget": GRANT}), rng=1, quarters=16)
    m.step()
    assert m.policy.value("digital_grant_budget") == sim.default_config()["digital_grant_budget"]
    m.set_levers({"digital_grant_budget": 9e7})
    m.step()
    assert m.policy.level("digital_grants.budget") == 9e7 and "digital_grant_budget" not in m.config.schedules
