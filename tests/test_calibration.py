"""The calibration table passes: start state and status-quo dynamics reproduce the paper's figures."""

from sim.calibration import calibration_table


def test_calibration_table_passes():
    table = calibration_table()
    failing = table.loc[~table["pass"], ["target", "model", "low", "high"]]
    assert failing.empty, f"calibration targets outside their band:\n{failing.to_string()}"
    assert len(table) >= 15
    assert table["paper_or_source"].str.len().min() > 5  # every target cites where it comes from
