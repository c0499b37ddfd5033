"""The calibration table passes, with set-up checks kept apart from calibration targets."""

import pandas as pd
import pytest

import sim
from sim.outputs.calibration import calibration_table, load_targets


def test_calibration_table_passes():
    table = calibration_table()
    failing = table.loc[~table["pass"], ["kind", "target", "model", "low", "high"]]
    assert failing.empty, f"calibration rows outside their band:\n{failing.to_string()}"
    kinds = table["kind"].value_counts()
    assert kinds["set-up check"] >= 10 and kinds["calibration target"] >= 14
    assert table["paper_or_source"].str.len().min() > 5  # every row cites where it comes from
    # the diagnosis as a pattern: no national cluster and at most 2 tiers climbed in the status quo
    targets = table.set_index("target")
    assert targets.loc["national_tier_status_quo", "model"] == 0
    assert targets.loc["tiers_climbed_status_quo", "model"] <= 2


def test_setup_checks_and_targets_do_not_overlap():
    spec = load_targets()
    assert not set(spec["checks"]) & set(spec["targets"])


def test_a_calibration_run_records_only_the_city_and_measures_the_same():
    """target_measures runs with record="city" (a fit's thousands of runs skip the cluster and district
    tables): the dynamics and so every target measure must equal those of a fully recorded run."""
    from sim.model import ClusterModel
    from sim.outputs.calibration import _run_measures, target_measures

    cfg = sim.default_config().with_overrides({}, quarters=16)
    full = ClusterModel(config=cfg, rng=3)
    while full.running:
        full.step()
    lean = ClusterModel(config=cfg, rng=3, record="city")
    while lean.running:
        lean.step()
    assert lean.datacollector is None and not lean.recorder.clusters and len(lean.recorder.city["quarter"]) == 17
    assert lean.recorder.city == full.recorder.city
    assert target_measures(cfg, 3) == _run_measures(full)
    with pytest.raises(ValueError, match=r"record: 'clusters' is not one of 'all', 'city\+clusters', 'city'"):
        ClusterModel(config=cfg, rng=3, record="clusters")


def test_a_city_only_run_summarises_the_city_outcomes_of_a_full_run():
    """A run that kept only the city table (record="city") has a summary without the cluster outcomes,
    its other values those of a fully recorded run (it used to fail on the empty cluster table)."""
    lean = sim.run_scenario(None, seed=3, quarters=16, record="city").summary()
    full = sim.run_scenario(None, seed=3, quarters=16).summary()
    assert "tiers_climbed_clusters" not in lean and "mean_energy_index_final" not in lean
    assert {"value_added_real_final", "retention_3y", "net_fiscal_balance_total"} <= set(lean)
    assert set(lean) < set(full)
    assert all(lean[k] == full[k] or (lean[k] != lean[k] and full[k] != full[k]) for k in lean)


def test_a_comparison_run_keeps_city_and_clusters_with_the_same_summary():
    """The workshop's A/B runs record city and clusters only (record="city+clusters"): the same tables
    and summary as a fully recorded run, an empty districts table, no DataCollector."""
    cfg = sim.default_config().with_overrides({"rd_subsidy_rate": 0.2}, quarters=12)
    full = sim.run_scenario(cfg, seed=2)
    lean = sim.run_scenario(cfg, seed=2, record="city+clusters")
    assert lean.city.equals(full.city) and lean.clusters.equals(full.clusters)
    assert lean.districts.empty and not full.districts.empty
    assert pd.Series(lean.summary()).equals(pd.Series(full.summary()))  # NaN where no cohort is old enough
