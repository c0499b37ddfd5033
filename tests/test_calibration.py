"""The calibration table passes, with set-up checks kept apart from calibration targets."""

from sim.calibration import calibration_table, load_targets


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
