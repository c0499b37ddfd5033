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
from experiments.running.executors import ProcessExecutor, SerialExecutor
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
    # the same number computed two ways (mean of differences, difference of means): equal to rounding
    np.testing.assert_allclose(t["contribution"], t["effect"] - t["effect_without"], rtol=1e-12, atol=0)
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


# ---------------------------------------------------------------------------- review fixes
class _Result:
    def __init__(self, summary):
        self._summary = summary

    def summary(self):
        return dict(self._summary)


def _fake_model(cfg, seed):
    """extend_chain's two channels with known parts: anchors a, switch grants b, an interaction c when
    both are on, a per-draw factor (posterior parameters) and seed noise; spending k whenever the
    programme runs, whatever its channels do (so "all channels off" is not 0)."""
    rng = np.random.default_rng(seed)
    anchors = cfg["anchor_attraction_budget"] > 0 and "anchors.attraction" not in cfg.channels_off
    grants = cfg["weak_link_incentive"] > 0 and "weak_links.switch_grants" not in cfg.channels_off
    runs_ = cfg["anchor_attraction_budget"] > 0
    draw = 1.0 + (hash(float(cfg["beta_wage"])) % 100) / 100.0  # a factor per posterior draw, 1 to 2
    part = (5.0 * anchors + 2.0 * grants + 1.5 * (anchors and grants)) * draw * (1 + 0.05 * rng.normal())
    value = 100.0 + rng.normal() + part + 3.0 * runs_
    return _Result({"value_added_final": value, "spending_total": 7.0 * runs_ + 1.0})


POSTERIOR_SPEC = """
[experiment]
seed = 5
replicates = 6
horizon = 2

[base]
uncertainties = "posterior"
posterior_draws = 3

[design]
kind = "full_factorial"

[explain]
packages = ["extend_chain"]
outcomes = ["value_added_final", "spending_total"]
"""


@pytest.fixture(scope="module")
def clustered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain_clustered")
    path = folder / "posterior.toml"
    path.write_text(POSTERIOR_SPEC)
    return attribution.explain(path, out=folder / "out", model=_fake_model, progress=False)


def test_intervals_under_posterior_draws_are_over_the_draw_means(clustered):
    """6 worlds = 3 draws x 2 seeds: the effect's interval is the t interval (df 2) of the 3 draw means,
    not of the 6 worlds (df 5, too narrow: the worlds of a draw share its parameters)."""
    runs = clustered.runs
    ref = runs[runs["kind"] == "reference"].set_index("replicate")
    pkg = runs[(runs["package"] == "extend_chain") & (runs["kind"] == "package")].set_index("replicate")
    d = (pkg["value_added_final"] - ref["value_added_final"]).to_numpy()
    draws = ref["draw"].to_numpy()
    assert sorted(draws) == [0, 0, 1, 1, 2, 2]
    row = clustered.packages.set_index("outcome").loc["value_added_final"]
    means = np.array([d[draws == g].mean() for g in range(3)])
    half = stats_t(0.975, 2) * means.std(ddof=1) / math.sqrt(3)
    assert (row["effect"], row["effect_lo"], row["effect_hi"]) == pytest.approx(
        (means.mean(), means.mean() - half, means.mean() + half), rel=1e-10)
    per_world = attribution.mean_ci(d)
    assert per_world[2] - per_world[1] < row["effect_hi"] - row["effect_lo"]
    assert row["draws"] == 3 and row["n"] == 6
    # the share's bootstrap resamples the 3 draws: it equals the bootstrap of the draw means
    ch = clustered.channels.set_index(["channel", "outcome"]).loc[("anchors.attraction", "value_added_final")]
    without = runs[(runs["kind"] == "without") & (runs["channel"] == "anchors.attraction")].set_index("replicate")
    contrib = (pkg["value_added_final"] - without["value_added_final"]).to_numpy()
    key = {"package": "extend_chain", "channel": "anchors.attraction", "outcome": "value_added_final"}
    by_draw = attribution.share_interval(contrib, d, key, 5, groups=draws)
    assert (ch["share"], ch["share_lo"], ch["share_hi"]) == pytest.approx(by_draw, rel=1e-12)
    same = attribution.share_interval(attribution.group_means(contrib, draws), means, key, 5)
    assert by_draw == pytest.approx(same, rel=1e-12)
    assert by_draw != pytest.approx(attribution.share_interval(contrib, d, key, 5), rel=1e-6)
    text = (clustered.out / "report.md").read_text(encoding="utf-8")
    assert ("over the 3 posterior draws (2 seeds averaged within a draw), t with 2 degrees of freedom"
            in text), text[:2000]


def stats_t(p, df):
    from scipy import stats

    return stats.t.ppf(p, df)


def test_without_posterior_the_interval_stays_per_world(tmp_path):
    path = tmp_path / "seeds.toml"
    path.write_text(POSTERIOR_SPEC.replace('uncertainties = "posterior"\nposterior_draws = 3\n', ""))
    res = attribution.explain(path, out=tmp_path / "out", model=_fake_model, progress=False)
    runs = res.runs
    assert runs["draw"].isna().all()
    ref = runs[runs["kind"] == "reference"].set_index("replicate")
    pkg = runs[(runs["package"] == "extend_chain") & (runs["kind"] == "package")].set_index("replicate")
    d = (pkg["value_added_final"] - ref["value_added_final"]).to_numpy()
    row = res.packages.set_index("outcome").loc["value_added_final"]
    assert (row["effect"], row["effect_lo"], row["effect_hi"]) == pytest.approx(attribution.mean_ci(d), rel=1e-12)
    text = (res.out / "report.md").read_text(encoding="utf-8")
    assert "over the 6 worlds (each its own seed, fixed parameters), t with 5 degrees of freedom" in text


def test_the_rest_sentence_prints_effect_minus_all_off_minus_the_sum(clustered):
    """all channels off is not 0 here (the programme's +3 runs whatever its channels do), so the rest
    (effect − all off − sum, the interaction) differs from effect − sum; the words name and print the former."""
    from experiments.attribution_report import _ci, display

    row = clustered.packages.set_index("outcome").loc["value_added_final"]
    assert row["effect_none"] == pytest.approx(3.0)
    rest = row["effect"] - row["effect_none"] - row["sum_contributions"]
    assert row["interaction"] == pytest.approx(rest, abs=1e-9)
    assert not math.isclose(row["interaction"], row["effect"] - row["sum_contributions"], abs_tol=0.5)
    text = (clustered.out / "report.md").read_text(encoding="utf-8")
    scale = display("value_added_final")[1]
    printed = _ci(row["interaction"], row["interaction_lo"], row["interaction_hi"], scale)
    assert f"the rest, effect − all channels off − the sum, is {printed}" in text, text
    assert "the gap to the effect" not in text


BASE_OFF_SPEC = """
[experiment]
seed = 3
replicates = 1
horizon = 2

[base]
channels_off = ["coordination.matchmaking"]

[design]
kind = "full_factorial"

[explain]
packages = ["coordinate"]
outcomes = ["value_added_final"]
"""


def test_a_channel_off_in_the_base_stays_off_in_every_variant(tmp_path):
    es = parse_explain_spec(BASE_OFF_SPEC)
    names = [c.name for c in es.channels["coordinate"]]
    assert "coordination.matchmaking" not in names and len(names) == 7
    assert [c.name for c in es.off_in_base["coordinate"]] == ["coordination.matchmaking"]
    rows, tasks = attribution.plan(es, "test-model")
    assert len(tasks) > 10
    for task in tasks.values():
        assert "coordination.matchmaking" in task.channels_off, task.design
    without = next(t for t in tasks.values() if t.design["variant"] == "without"
                   and t.design["channel"] == "coordination.planned_entry")
    assert set(without.channels_off) == {"coordination.matchmaking", "coordination.planned_entry"}
    res = attribution.explain(es, out=tmp_path, progress=False)
    assert res.failed_runs == 0
    assert "coordination.matchmaking" not in set(res.channels["channel"])
    text = (res.out / "report.md").read_text(encoding="utf-8")
    assert "switches off `coordination.matchmaking`" in text and "contributes nothing by construction" in text


def test_a_base_that_times_a_lever_runs(tmp_path):
    """[base.levers.X] value/start/end: the probe takes the in-window value for its one quarter and the
    tasks carry the schedule, so no run fails with 'config digest mismatch'."""
    path = tmp_path / "timed.toml"
    path.write_text("""
[experiment]
seed = 2
replicates = 1
horizon = 4

[base.levers.digital_grant_budget]
value = 150_000_000.0
start = "2025Q3"
end = "2025Q4"

[design]
kind = "full_factorial"

[explain]
packages = ["extend_chain"]
outcomes = ["value_added_final", "spending_total"]
""")
    res = attribution.explain(path, out=tmp_path / "out", progress=False)
    assert res.failed_runs == 0 and (res.runs["status"] == "ok").all(), res.runs["error"].unique()
    assert res.distinct_runs == 5
    es = attribution.load_explain_spec(path)
    _, tasks = attribution.plan(es, "x")
    assert all(t.schedules["digital_grant_budget"]["start"] == "2025Q3" for t in tasks.values())


def test_a_rerun_replaces_only_explain_s_own_folder(serial, tmp_path, capsys):
    import shutil

    out = tmp_path / "o"
    shutil.copytree(serial.out, out / "explain")
    assert attribution.check_out(out) == out  # only its own files: a rerun may replace it
    (out / "explain" / "notes.md").write_text("mine")
    (out / "explain" / "figures" / "sketch.svg").write_text("<svg/>")
    with pytest.raises(attribution.ExplainError) as e:
        attribution.check_out(out)
    assert "notes.md" in str(e.value) and "figures/sketch.svg" in str(e.value)
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    rc = main(["explain", str(spec), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "notes.md" in err and "figures/sketch.svg" in err, err
    assert (out / "explain" / "notes.md").read_text() == "mine"
    assert (out / "explain" / "figures" / "sketch.svg").exists()
    # an explain folder without settings.json was not written by explain
    other = tmp_path / "other"
    (other / "explain").mkdir(parents=True)
    (other / "explain" / "report.md").write_text("my report")
    with pytest.raises(attribution.ExplainError, match="settings.json"):
        attribution.check_out(other)
    # a file put there while the runs went on: write_outputs refuses too and keeps it
    keep = tmp_path / "keep"
    shutil.copytree(serial.out, keep / "explain")
    es = parse_explain_spec(SPEC)
    (keep / "explain" / "later.txt").write_text("x")
    with pytest.raises(attribution.ExplainError, match="later.txt"):
        attribution.write_outputs(es, serial, keep)
    assert (keep / "explain" / "later.txt").exists() and (keep / "explain" / "settings.json").exists()
    assert not [p for p in keep.iterdir() if p.name.startswith(".explain")]
