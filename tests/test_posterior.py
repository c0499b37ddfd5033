"""The fitted posterior as data: validation, draws, staleness, sweeps over it, and paired effects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from experiments.running import design
from experiments.reading.effects import variance_split
from experiments.running.spec import SpecError, parse_spec
from sim.inputs.base import ConfigError
from sim.outputs.posterior import fingerprint, load_posterior, stale_reasons, targets_digest


def _write(tmp_path: Path, table: pd.DataFrame, meta: dict | None = None) -> Path:
    path = tmp_path / "posterior.parquet"
    table.to_parquet(path, index=False)
    if meta is not None:
        path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def _table(n: int = 4) -> pd.DataFrame:
    w = np.arange(1, n + 1, dtype=float)
    return pd.DataFrame({"beta_wage": np.linspace(1.5, 2.5, n), "exit_rate_small": np.linspace(0.03, 0.06, n),
                         "weight": w / w.sum()})


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.drop(columns="weight"), "no 'weight' column"),
    (lambda t: t.assign(rd_subsidy_rate=0.1), "'rd_subsidy_rate' is not an uncertainty"),
    (lambda t: t.assign(beta_wage=9.0), "beta_wage has values outside its range [1.0, 3.0]"),
    (lambda t: t.assign(weight=0.5), "weights must be >= 0 and sum to 1"),
])
def test_bad_posterior_files_are_refused_in_one_line(tmp_path, change, expected):
    path = _write(tmp_path, change(_table()))
    with pytest.raises(ConfigError) as exc:
        load_posterior(path)
    assert expected in str(exc.value) and str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_missing_or_unreadable_posterior_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no posterior here"):
        load_posterior(tmp_path / "none.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="not a readable parquet table"):
        load_posterior(bad)


def test_draws_are_deterministic_and_follow_the_weights(tmp_path):
    t = pd.DataFrame({"beta_wage": [1.2, 1.8, 2.4], "weight": [0.0, 0.25, 0.75]})
    post = load_posterior(_write(tmp_path, t))
    a, b = post.draws(40, seed=3), post.draws(40, seed=3)
    pd.testing.assert_frame_equal(a, b)
    counts = a["particle"].value_counts().to_dict()
    assert 0 not in counts  # a particle of weight 0 is never drawn
    assert counts == {1: 10, 2: 30}  # systematic resampling: n * weight, exactly here
    assert post.mean() == pytest.approx({"beta_wage": 0.25 * 1.8 + 0.75 * 2.4})


def _spec(post_path: Path, draws: int | str = 2, replicates: int = 4) -> str:
    return f"""
[experiment]
name = "post"
seed = 11
replicates = {replicates}
crn = true
horizon = 4
[base]
uncertainties = "{post_path}"
posterior_draws = {draws}
[design]
kind = "full_factorial"
[levers]
package = ["status_quo", "all_five"]
"""


def test_sweep_replicates_share_posterior_draws_across_packages(tmp_path):
    post_path = _write(tmp_path, _table())
    spec = parse_spec(_spec(post_path))
    plan = design.build_plan(spec, "test")
    assert list(plan["draw"]) == [0, 1, 0, 1] * 2  # replicate r runs with draw r % 2, in every package
    for r in range(4):
        same = plan[plan["replicate"] == r]
        assert same["seed"].nunique() == 1 and same["draw"].nunique() == 1  # paired: seed and draw
    cfg = design.point_config(spec, {"package": "status_quo"}, draw=1)
    assert cfg.values["beta_wage"] == pytest.approx(spec.draws.iloc[1]["beta_wage"])
    # replicates sharing a draw have one config; different draws differ
    sq = plan[plan["package"] == "status_quo"]
    assert sq.groupby("draw")["config_digest"].nunique().eq(1).all() and sq["config_digest"].nunique() == 2


@pytest.mark.parametrize("draws", [3, 0, '"two"'])
def test_posterior_draws_must_divide_the_replicates(tmp_path, draws):
    post_path = _write(tmp_path, _table())
    with pytest.raises(SpecError, match=r"\[base\] posterior_draws: .* divides \[experiment\] replicates \(4\)"):
        parse_spec(_spec(post_path, draws))


def test_a_bad_posterior_in_a_spec_is_one_line_naming_the_key(tmp_path):
    with pytest.raises(SpecError, match=r"\[base\] uncertainties = .*: .*no posterior here"):
        parse_spec(_spec(tmp_path / "missing.parquet"))


def test_variance_split_tells_parameter_from_seed_noise():
    rng = np.random.default_rng(1)
    draws = np.repeat(np.arange(20), 3)
    param = np.repeat(rng.normal(0, 3.0, 20), 3)
    assert variance_split(param + rng.normal(0, 0.1, 60), draws) > 0.95
    assert variance_split(rng.normal(0, 1.0, 60), draws) < 0.25
    assert np.isnan(variance_split(rng.normal(0, 1.0, 20), np.arange(20)))  # one seed per draw: cannot tell


def test_stale_when_the_model_or_the_targets_changed(tmp_path):
    from sim.outputs.calibration import load_targets

    t = _table(2)
    used = ["graduate_retention", "exit_rate_small"]
    table = load_targets()["targets"]
    mean = {"beta_wage": float((t["beta_wage"] * t["weight"]).sum()),
            "exit_rate_small": float((t["exit_rate_small"] * t["weight"]).sum())}
    fp = fingerprint(mean, sim.default_config().with_overrides({}, quarters=8))
    meta = {"targets": used, "targets_digest": targets_digest({k: table[k] for k in used}), "fingerprint": fp}
    cfg8 = sim.default_config().with_overrides({}, quarters=8)
    post = load_posterior(_write(tmp_path, t, meta))
    reasons = stale_reasons(post, cfg8)
    assert not any("behaviour" in r or "targets changed" in r for r in reasons)  # same model, same targets
    moved = dict(fp, graduate_retention=fp["graduate_retention"] + 0.01)
    post = load_posterior(_write(tmp_path, t, dict(meta, fingerprint=moved, targets_digest="0" * 16)))
    reasons = stale_reasons(post, cfg8)
    assert any("behaviour changed" in r and "graduate_retention" in r for r in reasons)
    assert any("targets changed" in r for r in reasons)


class _FakeResult:
    """What the runner needs from a model result, with outcomes known by construction."""

    def __init__(self, summary: dict):
        self._summary = summary
        self.city = self.clusters = self.districts = pd.DataFrame()

    def summary(self) -> dict:
        return self._summary


def effect_model(cfg, seed):
    """all_five climbs 4 x (beta_wage - 2) tiers more than the status quo, plus seed noise of sd 0.05;
    its spending is 10 more. So the effect's sign is the draw's, and its variance is almost all parameter."""
    noise = np.random.default_rng(seed).normal(0, 0.05)
    five = cfg["city_coordination"] > 0.8  # all_five (coordinate is in it), not digital
    tiers = 4.0 * (cfg["beta_wage"] - 2.0) * five + noise
    return _FakeResult({"tiers_climbed_clusters": tiers, "spending_total": 10.0 * five, "retention_3y": 0.2})


def test_paired_effects_give_p_beats_parameter_share_and_p_best(tmp_path):
    from experiments.reading import analysis
    from experiments.reading.effects import paired_effects
    from experiments.running.sweep import run_sweep

    t = pd.DataFrame({"beta_wage": np.linspace(1.2, 2.8, 8), "weight": np.full(8, 1 / 8)})
    post_path = _write(tmp_path, t)
    text = _spec(post_path, draws=8, replicates=16).replace('"status_quo", "all_five"', '"status_quo", "all_five", "digital"')
    text += '[outcomes]\nsummary = "all"\ncity = []\nclusters = []\ndistricts = []\n'
    spec = parse_spec(text, path=tmp_path / "post.toml")
    res = run_sweep(spec, tmp_path / "out", model=effect_model, progress=False)
    assert res.done == 48
    pe = paired_effects(analysis.load_sweep(tmp_path / "out"))
    row = pe.effects.set_index(["package", "outcome"]).loc[("all_five", "tiers_climbed_clusters")]
    draws_beta = spec.draws["beta_wage"].to_numpy()
    assert row["p_beats"] == pytest.approx(np.mean(draws_beta > 2.0))  # the draws decide the sign
    assert row["effect_mean"] == pytest.approx(4.0 * (draws_beta.mean() - 2.0), abs=0.05)
    assert row["parameter_share"] > 0.95  # seeds barely matter: the spread is what we don't know
    assert (pe.draws, pe.seeds_per_draw, pe.worlds) == (8, 2, 16)
    spend = pe.effects.set_index(["package", "outcome"]).loc[("all_five", "spending_total")]
    assert spend["effect_mean"] == pytest.approx(10.0) and "p_beats" not in spend.dropna().index
    table = pe.best.set_index("package")
    best = table["p_best"]
    assert best.sum() == pytest.approx(1.0)
    assert best["all_five"] == pytest.approx(np.mean(draws_beta > 2.0), abs=0.07)  # noise decides near beta 2
    # P(best) carries its interval over the 16 worlds (Wilson), around it and inside [0, 1]
    assert ((table["p_best_low"] <= best) & (best <= table["p_best_high"])).all()
    assert ((table["p_best_low"] >= 0) & (table["p_best_high"] <= 1)).all()
    assert (table["p_best_high"] - table["p_best_low"]).min() > 0.1  # 16 worlds cannot pin a share down


def test_sim_calibrate_posterior_says_stale_and_prints_the_predictive_table(tmp_path):
    import subprocess
    import sys

    from sim.outputs.calibration import load_targets

    t = _table(2)
    table = load_targets()["targets"]
    fake = {k: 0.5 for k in table}  # a fingerprint no model run gives
    meta = {"targets": list(table), "targets_digest": targets_digest(table), "fingerprint": fake,
            "date": "2026-12-01", "command": "test"}
    path = _write(tmp_path, t, meta)
    out = subprocess.run([sys.executable, "-m", "sim", "calibrate", "--posterior", str(path), "--draws", "2", "--quiet"],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert out.returncode == 1
    assert "stale: the model's behaviour changed since the fit" in out.stderr
    assert "targets pass (90% posterior-predictive interval of 2 draws" in out.stdout
    for name in table:
        assert name in out.stdout


FUTURES_SPEC = """
[experiment]
name = "futures_post"
seed = 5
replicates = 2
crn = true
horizon = 1
[base]
uncertainties = "{post}"
posterior_per = "future"
[design]
kind = "lhs"
samples = {samples}
cross = ["package"]
[levers]
package = ["status_quo", "all_five"]
[uncertainties]
beijing_wage_growth = "full"
[outcomes]
summary = "all"
city = []
clusters = []
districts = []
"""


def _futures_posterior(tmp_path: Path, n: int = 60) -> Path:
    return _write(tmp_path, pd.DataFrame({"beta_wage": np.linspace(1.05, 2.95, n), "exit_rate_small": 0.04,
                                          "weight": np.full(n, 1 / n)}))


def test_posterior_per_future_gives_each_future_its_draw_shared_by_the_packages(tmp_path):
    spec = parse_spec(FUTURES_SPEC.format(post=_futures_posterior(tmp_path), samples=30))
    plan = design.build_plan(spec, "test")
    assert len(plan) == 2 * 30 * 2 and plan["draw"].nunique() == 30
    by_future = plan.groupby("beijing_wage_growth")
    assert by_future["draw"].nunique().eq(1).all()  # packages and replicates of a future share its draw
    assert by_future["package"].nunique().eq(2).all()
    assert plan.groupby(["point"])["seed"].nunique().eq(2).all()  # replicates differ in seed
    drawn = plan.drop_duplicates("draw")
    assert drawn["posterior.beta_wage"].nunique() > 20  # futures differ in their coefficients
    row = plan.iloc[7]
    assert row["posterior.beta_wage"] == pytest.approx(spec.draws.iloc[int(row["draw"])]["beta_wage"])
    cfg = design.point_config(spec, {"package": "status_quo", "beijing_wage_growth": 0.05}, draw=int(row["draw"]))
    assert cfg.values["beta_wage"] == pytest.approx(row["posterior.beta_wage"])


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.replace('posterior_per = "future"', 'posterior_per = "point"'),
     r"\[base\] posterior_per: 'point' is not allowed; one of 'replicate', 'future'"),
    (lambda t: t.replace('kind = "lhs"\nsamples = 30\ncross = ["package"]', 'kind = "full_factorial"')
     .replace('beijing_wage_growth = "full"', "beijing_wage_growth = [0.03, 0.05]"),
     r'posterior_per = "future" needs \[design\] kind = "lhs"'),
    (lambda t: t.replace('posterior_per = "future"', 'posterior_per = "future"\nposterior_draws = 2'),
     r"\[base\] posterior_draws: 2 must equal \[design\] samples \(30\)"),
    (lambda t: t.replace('uncertainties = "{post}"\n', ""),
     r'\[base\] posterior_per needs \[base\] uncertainties = "posterior"'),
])
def test_bad_posterior_per_is_one_line_naming_the_key(tmp_path, change, expected):
    text = change(FUTURES_SPEC.replace("{samples}", "30"))
    with pytest.raises(SpecError, match=expected):
        parse_spec(text.replace("{post}", str(_futures_posterior(tmp_path))))


def futures_model(cfg, seed):
    """all_five reaches a national cluster unless the behavioural coefficient beta_wage is above 2.4
    (a drawn coefficient, not a swept driver); the status quo never does. Tiers: all_five 2 more."""
    five = cfg["city_coordination"] > 0.8
    national = bool(five and cfg["beta_wage"] <= 2.4)
    noise = np.random.default_rng(seed).normal(0, 0.01)
    return _FakeResult({"any_national": national, "n_national_clusters": int(national),
                        "tiers_climbed_clusters": 2.0 * five + noise, "retention_3y": 0.3, "spending_total": 0.0})


def test_discovery_over_futures_finds_a_drawn_coefficient_and_effects_pair_within_futures(tmp_path):
    from experiments.reading import analysis
    from experiments.decision.discovery import discover
    from experiments.reading.effects import paired_effects
    from experiments.running.sweep import run_sweep

    text = FUTURES_SPEC.format(post=_futures_posterior(tmp_path), samples=60)
    spec = parse_spec(text, path=tmp_path / "futures.toml")
    out = tmp_path / "out"
    assert run_sweep(spec, out, model=futures_model, progress=False).done == 240
    res = discover(out, "any_national == 0", among="package == 'all_five'")
    assert res.n == 120  # only the all_five runs
    assert list(res.limits["dimension"]) == ["beta_wage"]  # not the swept driver, not the package
    lim = res.limits.iloc[0]
    assert lim["role"] == "behaviour (posterior draw)" and lim["lower"] == pytest.approx(2.4, abs=0.1)
    assert "among the runs where `package == 'all_five'`" in (out / "report.md").read_text()
    pe = paired_effects(analysis.load_sweep(out))
    assert pe.worlds == 120 and pe.per_future  # 60 futures x 2 seeds, each package pair in one future
    tiers = pe.effects.set_index(["package", "outcome"]).loc[("all_five", "tiers_climbed_clusters")]
    assert tiers["effect_mean"] == pytest.approx(2.0, abs=0.01) and tiers["p_beats"] == 1.0


def test_carry_over_rechecks_records_and_makes_the_posterior_current(tmp_path):
    """A posterior made stale by a change of the model's behaviour is carried over only with a reason;
    the JSON then records the re-check (targets passing, failing ones named) and the old fingerprint,
    and the posterior is current again. A second carry-over, an empty reason and a pair --publish did
    not write are refused in one line."""
    import importlib.metadata
    import json
    import shutil

    from experiments.calibration.carry import carry_over
    from experiments.running.spec import SpecError
    from sim.outputs.posterior import POSTERIOR_FILE, load_posterior, stale_reasons

    dest = tmp_path / "posterior.parquet"
    shutil.copy(POSTERIOR_FILE, dest)
    meta = json.loads(POSTERIOR_FILE.with_suffix(".json").read_text())
    meta["fingerprint"] = {k: v + 1.0 for k, v in meta["fingerprint"].items()}  # as if fitted on another model
    dest.with_suffix(".json").write_text(json.dumps(meta))
    assert any(r.startswith("the model's behaviour changed") for r in stale_reasons(load_posterior(dest)))
    with pytest.raises(SpecError, match="--reason"):
        carry_over(dest, "  ")
    record = carry_over(dest, "model v3 (issue 22); re-fit in the validation issue", draws=2)
    saved = json.loads(dest.with_suffix(".json").read_text())
    assert saved["carried_over"][-1]["reason"] == record["reason"]
    assert saved["carried_over"][-1]["previous_fingerprint"] == meta["fingerprint"]
    assert saved["carried_over"][-1]["packages"]["pyabc"] == importlib.metadata.version("pyabc")  # provenance
    n_pass, n_rows = map(int, record["recheck"]["targets_pass"].split("/"))
    assert n_rows == len(record["recheck"]["rows"]) and n_rows - n_pass == len(record["recheck"]["failing"])
    assert saved["posterior_mean"] == meta["posterior_mean"]  # particles and their mean are not moved
    assert stale_reasons(load_posterior(dest)) == []
    with pytest.raises(SpecError, match="already current"):
        carry_over(dest, "again", draws=2)
    foreign = tmp_path / "mine.parquet"
    shutil.copy(POSTERIOR_FILE, foreign)
    foreign.with_suffix(".json").write_text(json.dumps({"note": "my own"}))
    with pytest.raises(SpecError, match="not written by --publish"):
        carry_over(foreign, "why not", draws=2)
