"""``experiments.load`` as pandas users expect: ordered categoricals for package / cluster / district
(presets' and config order), a ``pd.Period`` quarter and an integer calendar year, units in
``DataFrame.attrs["units"]``; every column a run records has a unit, and docs/experiments.md shows the
units table of ``sim.outputs.units``. One ``load`` name: ``experiments.load`` (the report's reader is
``experiments.reading.analysis.load_sweep``)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import experiments
import sim
from experiments.reading import analysis
from experiments import run_sweep
from experiments.running import tidy
from experiments.running.spec import parse_spec
from sim.outputs import units

ROOT = Path(__file__).resolve().parents[1]

# packages listed against preset order; a real model, 4 quarters (a second a run)
SPEC = """
[experiment]
name = "tidy"
seed = 1
replicates = 1
horizon = 4
[design]
kind = "full_factorial"
[levers]
package = ["digital", "status_quo"]
[uncertainties]
beijing_wage_growth = [0.05]
[outcomes]
clusters = ["energy_index"]
districts = ["firms"]
"""


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("tidy")
    run_sweep(parse_spec(SPEC, path=tmp / "spec.toml"), tmp / "out", progress=False)
    return tmp / "out"


def test_package_cluster_and_district_are_ordered_categoricals_in_config_order(out):
    runs = experiments.load(out)
    assert isinstance(runs["package"].dtype, pd.CategoricalDtype) and runs["package"].cat.ordered
    assert list(runs["package"].cat.categories) == ["status_quo", "digital"]  # presets.toml order, not the spec's
    assert runs.sort_values("package")["package"].tolist() == ["status_quo", "digital"]
    assert (runs["package"] == "digital").sum() == 1 and runs["package"].isin(["status_quo"]).sum() == 1
    assert list(runs.groupby("package", observed=False)["retention_1y"].size()) == [1, 1]  # no empty groups
    cfg = sim.default_config()
    for table, key, order in (("clusters", "cluster", cfg.city["clusters"]),
                              ("districts", "district", cfg.city["districts"])):
        df = experiments.load(out, table)
        assert df[key].cat.ordered and list(df[key].cat.categories) == list(order), table
        assert df[key].astype(str).isin(list(order)).all()


def test_period_is_a_quarterly_period_and_year_the_calendar_year(out):
    city = experiments.load(out, "city")
    assert city["period"].dtype == pd.PeriodDtype("Q-DEC")
    assert city["year"].dtype == "int64" and city["quarter"].dtype == "int64"
    one = city[city["package"] == "status_quo"].sort_values("quarter")
    assert one["period"].tolist() == list(pd.period_range("2025Q1", periods=5, freq="Q"))
    assert one["year"].tolist() == [2025, 2025, 2025, 2025, 2026]
    assert len(city[city["period"] == "2026Q1"]) == 2  # compares with the text a user types
    stored = experiments.Store(out).table("city")  # the store itself keeps text and the decimal year
    assert stored["year"].tolist()[:2] == [2025.0, 2025.25]


def test_units_come_from_the_parameters_and_the_outcome_table(out):
    runs, clusters = experiments.load(out), experiments.load(out, "clusters")
    schema = sim.default_config().schema
    u = runs.attrs["units"]
    assert u["beijing_wage_growth"] == schema["beijing_wage_growth"].unit
    assert u["retention_3y"] == "share 0-1 of the cohorts old enough (NaN if none)"
    assert u["net_fiscal_balance_total"] == "yuan (2021 prices), cumulative"
    assert u["energy_index_final_glass"] == "index 0-1"
    assert not {"run_id", "point", "replicate", "seed", "package", "status", "error"} & set(u)
    assert clusters.attrs["units"]["energy_index"] == "index 0-1"
    assert clusters.attrs["units"]["period"] == "calendar quarter"


def test_timed_lever_settings_and_posterior_columns_have_units():
    schema = sim.default_config().schema
    got = tidy.column_units(["digital_grant_budget.start", "digital_grant_budget.ramp_quarters",
                             "persons_per_agent", "posterior.beta_wage", "not_a_column"], "summary",
                            factors=["digital_grant_budget.start", "digital_grant_budget.ramp_quarters",
                                     "persons_per_agent"], posterior=["posterior.beta_wage"])
    assert got == {"digital_grant_budget.start": "calendar quarter", "digital_grant_budget.ramp_quarters": "quarters",
                   "persons_per_agent": "persons per talent agent", "posterior.beta_wage": schema["beta_wage"].unit}


def test_a_package_that_is_not_a_preset_comes_after_the_presets():
    s = tidy.ordered(pd.Series(["mine", "digital", "status_quo", "mine"]), sim.load_presets())
    assert list(s.cat.categories) == ["status_quo", "digital", "mine"] and s.cat.ordered


def test_every_column_a_run_records_has_a_unit():
    res = sim.run_scenario(sim.default_config().with_overrides(quarters=2), seed=1)
    missing = {table: [c for c in getattr(res, table).columns
                       if c not in ("cluster", "district") and units.unit(table, c) is None]
               for table in ("city", "clusters", "districts")}
    missing["summary"] = [k for k in res.summary() if units.unit("summary", k) is None]
    assert not any(missing.values()), f"columns without a unit in sim/outputs/units.py: {missing}"


def test_the_docs_units_table_is_the_models():
    text = (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8")
    section = text.split("#### Units", 1)[1]
    documented = set()
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| table"):
            if documented and not line.startswith("|"):
                break
            continue
        table, columns, unit = (cell.strip() for cell in line.strip("|").split(" | "))
        for column in re.findall(r"`([^`]+)`", columns):
            for t in table.split(", "):
                documented.add((t, column, unit))
    expected = {(t, c, u) for t in ("city", "clusters", "districts") for c, u in units.KEYS.items()}
    expected |= {(t, c, u) for t, d in units.TABLES.items() for c, u in d.items()}
    assert documented == expected, (sorted(documented - expected)[:5], sorted(expected - documented)[:5])


def test_one_load_name():
    assert experiments.load.__module__ == "experiments.running.store"
    assert not hasattr(analysis, "load") and callable(analysis.load_sweep)
