"""``python -m experiments explain``: which channels carry a package's effect (paired runs, channels off).

Small: two packages (coordinate: one lever, eight channels; extend_chain: two levers, one channel each),
2 replicates on 2 posterior draws, 6 quarters.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from experiments import attribution
from experiments.attribution import CHANNEL_COLUMNS, Variant, excludes_zero, parse_explain_spec, variant_config
from experiments.cli import main
from experiments.executors import ProcessExecutor, SerialExecutor
from sim.policy.instruments import instruments

SPEC = """
[experiment]
seed = 11
replicates = 2
horizon = 6

[base]
uncertainties = "posterior"
posterior_draws = 2

[design]
kind = "full_factorial"

[levers]
package = ["status_quo", "coordinate", "extend_chain"]

[explain]
outcomes = ["value_added_final", "mean_energy_index_final", "firms_final", "spending_total"]
"""
NOT_SPENDING = ["value_added_final", "mean_energy_index_final", "firms_final"]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("explain") / "small.toml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def serial(spec_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("explain_out")
    return attribution.explain(spec_file, out=out, executor=SerialExecutor(), progress=False)


def test_channels_csv_has_one_row_per_package_channel_outcome(serial):
    folder = serial.out
    table = pd.read_csv(folder / "channels.csv")
    assert set(CHANNEL_COLUMNS) <= set(table.columns)
    chans = instruments()
    expected = {(p, c.name, o) for p, levers in (("coordinate", ["city_coordination"]),
                                                 ("extend_chain", ["anchor_attraction_budget", "weak_link_incentive"]))
                for lever in levers for c in chans[lever].channels for o in NOT_SPENDING + ["spending_total"]}
    got = list(zip(table["package"], table["channel"], table["outcome"]))
    assert len(got) == len(set(got)) == len(expected) == (8 + 2) * 4
    assert set(got) == expected
    assert (table["n"] == 2).all()
    for name in ("packages.csv", "runs.csv", "settings.json", "report.md", "figures/coordinate.png",
                 "figures/extend_chain.png"):
        assert (folder / name).is_file(), name
    assert "What carries each package's effect" in (folder / "report.md").read_text(encoding="utf-8")


def test_all_channels_of_a_one_lever_package_off_is_the_status_quo_exactly(serial):
    """coordinate changes one lever; with its eight channels off, nothing but its programme's spending moves."""
    pk = serial.packages.set_index(["package", "outcome"])
    for o in NOT_SPENDING:
        assert pk.loc[("coordinate", o), ["effect_none", "effect_none_lo", "effect_none_hi"]].tolist() == [0, 0, 0]
    assert pk.loc[("coordinate", "spending_total"), "effect_none"] > 0  # the office runs (and costs) regardless
    runs = serial.runs
    ref = runs[runs["kind"] == "reference"].set_index("replicate")[NOT_SPENDING]
    none = runs[(runs["package"] == "coordinate") & (runs["kind"] == "none")].set_index("replicate")[NOT_SPENDING]
    pd.testing.assert_frame_equal(none, ref)


def test_alone_with_all_channels_on_is_the_package_exactly(spec_file, serial):
    es = parse_explain_spec(spec_file.read_text(), path=spec_file)
    preset = sim.load_presets()["coordinate"]
    runs = serial.runs
    pkg = runs[(runs["package"] == "coordinate") & (runs["kind"] == "package")].set_index("replicate")
    for r in range(es.replicates):
        every = variant_config(es, Variant("coordinate", "alone", None, dict(preset.levers), frozenset()), r)
        result = sim.run_scenario(every, es.seed_of(r)).summary()
        assert [float(result[o]) for o in es.outcomes] == pkg.loc[r, list(es.outcomes)].tolist()
    # a two-channel package: "A alone" is "B off", run in the same worlds, so the figures agree exactly
    t = serial.channels.set_index(["package", "channel", "outcome"])
    for o in es.outcomes:
        assert t.loc[("extend_chain", "anchors.attraction", o), "effect_alone"] == \
            t.loc[("extend_chain", "weak_links.switch_grants", o), "effect_without"]


def test_a_single_channel_package_is_all_that_channel(spec_file, tmp_path):
    one = sim.Preset(key="anchors_only", label_en="Anchors only", label_zh="招引龙头",
                     levers={"anchor_attraction_budget": 4e8})
    es = parse_explain_spec(spec_file.read_text(), path=spec_file, packages=[one])
    res = attribution.explain(es, out=tmp_path, progress=False)
    t = res.channels
    assert list(t["channel"].unique()) == ["anchors.attraction"]
    assert (t["effect_alone"] == t["effect"]).all()
    assert (t["contribution"] == t["effect"] - t["effect_without"]).all()
    assert (t.loc[t["outcome"].isin(NOT_SPENDING), "effect_without"] == 0).all()


def test_words_and_shares_follow_the_intervals(serial):
    t = serial.channels
    shared = t[t["share"].notna()]
    assert 0 < len(shared) < len(t)  # both cases occur in this run
    assert all(excludes_zero(lo, hi) for lo, hi in zip(shared["effect_lo"], shared["effect_hi"]))
    unshared = t[t["share"].isna()]
    assert not any(excludes_zero(lo, hi) for lo, hi in zip(unshared["effect_lo"], unshared["effect_hi"]))
    for _, r in shared.iterrows():
        assert math.isclose(r["share"], r["contribution"] / r["effect"], rel_tol=1e-9)
    text = (serial.out / "report.md").read_text(encoding="utf-8")
    pk = serial.packages
    noisy = pk[np.array([not excludes_zero(lo, hi) for lo, hi in zip(pk["interaction_lo"], pk["interaction_hi"])])
               & (pk["channels"] >= 2).to_numpy()]
    assert ("No interaction measurable" in text) == (len(noisy) > 0)
    # interaction = effect - all-off - sum of contributions, in every world (so on average too)
    np.testing.assert_allclose(pk["interaction"], pk["effect"] - pk["effect_none"] - pk["sum_contributions"],
                               rtol=1e-9, atol=1e-6)


def test_serial_equals_two_workers(spec_file, serial):
    es = parse_explain_spec(spec_file.read_text(), path=spec_file)
    par = attribution.explain(es, executor=ProcessExecutor(2), progress=False, write=False)
    pd.testing.assert_frame_equal(par.channels, serial.channels)
    pd.testing.assert_frame_equal(par.packages, serial.packages)
    pd.testing.assert_frame_equal(par.runs, serial.runs)


def test_analyze_embeds_an_explain_folder_and_does_not_need_one(serial, tmp_path):
    import shutil

    from experiments import load_spec, run_sweep
    from experiments.report import analyze

    spec = tmp_path / "tiny.toml"
    spec.write_text('[experiment]\nseed = 3\nreplicates = 1\nhorizon = 2\ncrn = true\n[design]\n'
                    'kind = "full_factorial"\n[levers]\npackage = ["status_quo", "coordinate"]\n')
    out = tmp_path / "sweep"
    run_sweep(load_spec(spec), out, progress=False)
    heading = "What carries each package's effect"
    assert heading not in analyze(out).read_text(encoding="utf-8")
    shutil.copytree(serial.out, out / "explain")
    text = analyze(out).read_text(encoding="utf-8")
    assert heading in text and "(explain/figures/coordinate.png)" in text and "`explain/channels.csv`" in text


@pytest.mark.parametrize("args, words", [
    (["--packages", "coordinat"], ["'coordinat'", "coordinate", "Allowed"]),
    (["--packages", "status_quo"], ["'status_quo'", "reference"]),
    (["--packages", "a,,b"], ["--packages"]),
    (["--out", "FILE"], ["--out", "not a folder"]),
    (["--workers", "0"], ["--workers", ">= 1"]),
])
def test_bad_arguments_one_line(spec_file, tmp_path, capsys, args, words):
    args = [str(tmp_path / "file.txt") if a == "FILE" else a for a in args]
    (tmp_path / "file.txt").write_text("x")
    rc = main(["explain", str(spec_file), "--out", str(tmp_path / "o"), "--no-progress", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err, err
    assert all(w in err for w in words), err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, words", [
    ('[experiment]\nseed = 1\nreplicates = 2\n[design]\nkind = "full_factorial"\n',
     ["no package to explain", "--packages"]),
    ('[experiment]\nseed = 1\nreplicates = 2\n[design]\nkind = "full_factorial"\n[explain]\npackages = ["digital"]\n'
     'replicate = 3\n', ["[explain] unknown key 'replicate'", "replicates"]),
    ('[experiment]\nseed = 1\nreplicates = 2\n[design]\nkind = "full_factorial"\n[explain]\npackages = ["digital"]\n'
     'outcomes = ["valu_added_final"]\n', ["'valu_added_final'", "value_added_final"]),
    ('[experiment]\nseed = 1\nreplicates = 2\n[design]\nkind = "full_factorial"\n[explain]\npackages = ["digital"]\n'
     'horizon = 0\n', ["[explain] horizon", "0", "1 to 400"]),
    ('[experiment]\nseed = 1\nreplicates = 2\n[design]\nkind = "full_factorial"\n[levers]\npackage = ["digital"]\n'
     'rd_subsidy_rate = [0.1, 0.2]\n', ["rd_subsidy_rate", "sweeps nothing else"]),
    ('[experiment]\nseed = 1\nreplicates = 2\n[base.levers]\ncity_coordination = 0.5\n[design]\n'
     'kind = "full_factorial"\n[explain]\npackages = ["coordinate"]\n', ["city_coordination", "0.5", "status-quo value"]),
])
def test_bad_specs_one_line(tmp_path, capsys, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    rc = main(["explain", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err, err
    assert all(w in err for w in words), err
    assert not (tmp_path / "o").exists()
