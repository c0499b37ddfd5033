"""Sweep specs, designs and seeds (no model runs; fast)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from experiments.running import design, seeds
from experiments.running.spec import SpecError, design_size, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "configs" / "experiments"

GOOD = """
[experiment]
seed = 5
replicates = 2
horizon = 4

[design]
kind = "full_factorial"

[levers]
package = ["status_quo", "digital"]
rd_subsidy_rate = [0.02, 0.2]
"""


def test_shipped_specs_validate_and_have_the_promised_size():
    """Every shipped spec loads and plans; paper_remedies uses the presets with >= 20 replicates over
    posterior draws;
    levers_lhs has >= 500 runs over all levers and uncertainties; sobol is a Sobol design."""
    mv = "test"
    sweeps = [p for p in sorted(SPECS.glob("*.toml"))
              if not p.stem.startswith(("calibrate", "optimize"))]  # fits and optimisations: own specs
    plans = {p.stem: (load_spec(p), design.build_plan(load_spec(p), mv)) for p in sweeps}
    assert {"paper_remedies", "levers_lhs", "sobol"} <= set(plans)

    spec, plan = plans["paper_remedies"]
    presets = sim.load_presets()
    assert spec.factor_names == ["package"] and list(spec.factor("package").values) == list(presets)
    assert spec.replicates >= 20 and spec.horizon == 40
    assert spec.crn and plan.groupby("replicate")["seed"].nunique().eq(1).all()  # packages are paired
    assert spec.posterior is not None and spec.n_draws >= 10  # the default experiment runs over the posterior
    assert plan.groupby("replicate")["draw"].nunique().eq(1).all()  # ... with the same draw in every package
    first = plan[plan["package"] == "all_five"].iloc[0]
    cfg = design.point_config(spec, {"package": "all_five"}, draw=int(first["draw"]))
    assert cfg.digest() == first["config_digest"]
    for name, value in spec.draw_values(int(first["draw"])).items():  # behaviour from the posterior draw
        assert cfg[name] == value
    for lever, value in presets["all_five"].levers.items():  # lever values come from presets.toml
        assert cfg[lever] == value

    spec, plan = plans["levers_lhs"]
    base = sim.default_config()
    assert spec.design.kind == "lhs" and plan["run_id"].nunique() >= 500
    assert set(spec.factor_names) == set(base.names("levers")) | set(base.names("uncertainties"))

    spec, plan = plans["sobol"]
    assert spec.design.kind == "sobol"
    assert len(plan) == spec.design.samples * (len(spec.factors) + 2) * spec.replicates

    spec, plan = plans["futures_lhs"]  # every package in the same LHS futures, about a thousand runs
    assert spec.design.kind == "lhs" and spec.design.cross == ("package",)
    assert list(spec.factor("package").values) == list(presets) and 500 <= len(plan) <= 1500
    assert spec.posterior_per == "future" and spec.n_draws == spec.design.samples  # a posterior draw per future
    assert plan.groupby("draw")["package"].nunique().eq(len(presets)).all()  # ... shared by every package
    futures = [f for f in spec.factor_names if f != "package"]
    per_package = plan[plan["replicate"] == 0].groupby("package")[futures].apply(lambda g: g.to_numpy().tolist())
    assert all(rows == per_package.iloc[0] for rows in per_package) and len(per_package.iloc[0]) == spec.design.samples
    assert spec.raw["robustness"]["goals"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("[experiment]", "[experiment]\nreplicats = 3"), "replicats"),  # unknown key
        (("[levers]", "[levers]\nrd_subsidy_rat = [0.1]"), "rd_subsidy_rat"),  # unknown lever, with suggestion
        (("[design]", "[desgin]\nkind = 'lhs'\n[design]"), "desgin"),  # unknown section
        (('rd_subsidy_rate = [0.02, 0.2]', "rd_subsidy_rate = { min = 0.1, max = 0.1, levels = 3 }"), "empty range"),
        (('rd_subsidy_rate = [0.02, 0.2]', "rd_subsidy_rate = []"), "empty list"),
        (('kind = "full_factorial"', 'kind = "sobel"\nsamples = 8'), "sobel"),  # unknown design
        (("replicates = 2", "replicates = 0"), "replicates"),
        (('rd_subsidy_rate = [0.02, 0.2]', "rd_subsidy_rate = [0.02, 0.9]"), "out of range"),  # schema range
        (('package = ["status_quo", "digital"]', 'package = ["status_quo", "digitl"]'), "digitl"),
        (("horizon = 4", "horizon = 0"), "horizon"),
        (("[levers]", '[uncertainties]\nbeta_wage = { dist = "normal", mean = 2.0, sd = 0.4 }\n[levers]'),
         "[uncertainties] beta_wage: a normal distribution cannot be gridded by full_factorial"),  # its section
    ],
)
def test_bad_specs_fail_naming_the_problem(change, expected):
    old, new = change
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    with pytest.raises(SpecError) as err:
        parse_spec(text, path=Path("bad.toml"))
    assert "bad.toml" in str(err.value) and expected in str(err.value)


def test_unknown_key_suggests_the_right_name():
    with pytest.raises(SpecError, match="Did you mean 'rd_subsidy_rate'"):
        parse_spec(GOOD.replace("rd_subsidy_rate", "rd_subsidy_rat"))


def test_bad_spec_fails_on_the_command_line_before_any_run(tmp_path):
    """The CLI exits 2 with the key in the message and creates no results directory."""
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("replicates = 2", "replicates = 0"))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments", "run", str(bad), "--out", str(out), "--serial"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "replicates" in proc.stderr and "must be >= 1" in proc.stderr
    assert not out.exists()


def test_full_factorial_is_the_product_of_the_levels():
    spec = parse_spec(GOOD)
    plan = design.build_plan(spec, "v")
    assert len(plan) == 2 * 2 * 2
    assert set(zip(plan["package"], plan["rd_subsidy_rate"], strict=True)) == {
        ("status_quo", 0.02), ("status_quo", 0.2), ("digital", 0.02), ("digital", 0.2)}
    ranged = parse_spec(GOOD.replace("rd_subsidy_rate = [0.02, 0.2]",
                                     "rd_subsidy_rate = { min = 0.0, max = 0.3, levels = 4 }"))
    assert sorted(design.design_points(ranged)["rd_subsidy_rate"].unique()) == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_lhs_sobol_morris_come_from_the_libraries_and_respect_ranges():
    base = """
[experiment]
seed = 9
replicates = 1
horizon = 4
[design]
{design}
[levers]
rd_subsidy_rate = {{ min = 0.05, max = 0.25 }}
city_coordination = "full"
[uncertainties]
beta_wage = {{ dist = "normal", mean = 2.0, sd = 0.5 }}
"""
    lhs = parse_spec(base.format(design='kind = "lhs"\nsamples = 20'))
    pts = design.design_points(lhs)
    assert len(pts) == 20
    for name in ("rd_subsidy_rate", "city_coordination", "beta_wage"):
        lo, hi = (0.05, 0.25) if name == "rd_subsidy_rate" else (lhs.base.schema[name].low, lhs.base.schema[name].high)
        assert pts[name].between(lo, hi).all()
    # Latin hypercube: exactly one point in each of the 20 strata of every factor
    u = design.unit_sample(lhs)
    for j in range(u.shape[1]):
        assert sorted(np.floor(u[:, j] * 20).astype(int)) == list(range(20))

    sob = parse_spec(base.format(design='kind = "sobol"\nsamples = 8'))
    assert len(design.design_points(sob)) == 8 * (3 + 2)
    mor = parse_spec(base.format(design='kind = "morris"\nsamples = 5\nlevels = 4'))
    pts = design.design_points(mor)
    assert len(pts) == 5 * (3 + 1) and {c for c in pts.columns if c.startswith("u.")} == {
        "u.rd_subsidy_rate", "u.city_coordination", "u.beta_wage"}
    # the same spec gives the same design
    again = parse_spec(base.format(design='kind = "lhs"\nsamples = 20'))
    assert design.design_points(lhs).equals(design.design_points(again))


def test_run_seed_is_seedsequence_of_experiment_seed_point_and_replicate():
    key = seeds.point_key({"package": "digital", "rd_subsidy_rate": 0.2})
    expected = np.random.SeedSequence(5, spawn_key=(*key, 3)).generate_state(1, np.uint64)[0] >> np.uint64(1)
    assert seeds.run_seed(5, key, 3) == int(expected)
    assert seeds.point_key({"rd_subsidy_rate": 0.2, "package": "digital"}) == key  # order-free
    all_seeds = {seeds.run_seed(5, seeds.point_key({"x": i}), r) for i in range(20) for r in range(20)}
    assert len(all_seeds) == 400


def test_adding_points_or_replicates_keeps_existing_runs():
    """Seeds and run ids of existing runs do not change when the design grows."""
    small = design.build_plan(parse_spec(GOOD), "v")
    bigger_text = GOOD.replace('["status_quo", "digital"]', '["factors", "status_quo", "all_five", "digital"]')
    bigger_text = bigger_text.replace("[0.02, 0.2]", "[0.1, 0.02, 0.2]").replace("replicates = 2", "replicates = 5")
    big = design.build_plan(parse_spec(bigger_text), "v")
    key = ["package", "rd_subsidy_rate", "replicate"]
    merged = small.merge(big, on=key, suffixes=("", "_big"))
    assert len(merged) == len(small)
    assert (merged["seed"] == merged["seed_big"]).all() and (merged["run_id"] == merged["run_id_big"]).all()
    assert big["run_id"].is_unique


def test_common_random_numbers_share_seeds_across_points():
    crn = design.build_plan(parse_spec(GOOD.replace("horizon = 4", "horizon = 4\ncrn = true")), "v")
    assert crn.groupby("replicate")["seed"].nunique().eq(1).all()
    assert crn["run_id"].is_unique  # different configs, so different runs


def test_settings_can_be_swept_and_are_validated():
    spec = parse_spec(GOOD + "\n[settings]\npersons_per_agent = [10, 20]\n")
    plan = design.build_plan(spec, "v")
    assert set(plan["persons_per_agent"]) == {10, 20}
    with pytest.raises(SpecError, match="persons_per_agent"):
        parse_spec(GOOD + "\n[settings]\npersons_per_agent = [0]\n")
    with pytest.raises(SpecError, match="quarters"):
        parse_spec(GOOD + "\n[settings]\nquarters = [4, 8]\n")


CROSSED = """
[experiment]
seed = 11
replicates = 2
horizon = 4
[design]
kind = "lhs"
samples = 6
cross = ["package"]
[levers]
package = ["status_quo", "digital", "all_five"]
rd_subsidy_rate = [0.02, 0.1, 0.2]
[uncertainties]
beijing_wage_growth = "full"
beta_wage = { dist = "normal", mean = 2.0, sd = 0.5 }
"""


def test_lhs_crossed_with_packages_gives_every_package_the_same_futures():
    spec = parse_spec(CROSSED)
    pts = design.design_points(spec)
    assert len(pts) == 3 * 6 and list(pts.columns) == spec.factor_names
    assert list(pts["package"]) == ["status_quo"] * 6 + ["digital"] * 6 + ["all_five"] * 6  # first varies slowest
    sampled = ["rd_subsidy_rate", "beijing_wage_growth", "beta_wage"]  # a discrete factor not crossed is sampled
    rows = [pts.loc[pts["package"] == p, sampled].reset_index(drop=True) for p in ("status_quo", "digital", "all_five")]
    assert rows[0].equals(rows[1]) and rows[0].equals(rows[2])
    assert rows[0]["beijing_wage_growth"].nunique() == 6 and set(rows[0]["rd_subsidy_rate"]) <= {0.02, 0.1, 0.2}
    u = design.unit_sample(spec)  # the LHS is over the sampled factors only: one point per stratum of each
    assert u.shape == (6, 3)
    for j in range(3):
        assert sorted(np.floor(u[:, j] * 6).astype(int)) == list(range(6))
    # point keys stay content-based: the same (package, future) has the same seed and run id in a bigger design
    plan = design.build_plan(spec, "v")
    assert len(plan) == 18 * 2 and plan["run_id"].is_unique
    more = design.build_plan(parse_spec(CROSSED.replace('"digital", "all_five"', '"digital", "all_five", "factors"')),
                             "v")
    key = ["package", *sampled, "replicate"]
    merged = plan.merge(more, on=key, suffixes=("", "_more"))
    assert len(merged) == len(plan) and (merged["run_id"] == merged["run_id_more"]).all()
    # without cross the same spec samples the package (one package per future)
    plain = design.design_points(parse_spec(CROSSED.replace('cross = ["package"]\n', "")))
    assert len(plain) == 6


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('kind = "lhs"\nsamples = 6', 'kind = "sobol"\nsamples = 8'), 'cross: not allowed with kind = "sobol"'),
        (('kind = "lhs"\nsamples = 6', 'kind = "morris"\nsamples = 4'), 'cross: not allowed with kind = "morris"'),
        (('kind = "lhs"\nsamples = 6', 'kind = "full_factorial"'), "a full factorial crosses every factor already"),
        (('cross = ["package"]', 'cross = ["beijing_wage_growth"]'), "only discrete factors"),
        (('cross = ["package"]', 'cross = ["pakage"]'), "Did you mean 'package'"),
        (('cross = ["package"]', 'cross = "package"'), "give a non-empty list of discrete factor names"),
        (('cross = ["package"]', 'cross = ["package", "package"]'), "lists a factor twice"),
        (('cross = ["package"]', 'cross = ["package", "rd_subsidy_rate"]'), "nothing is left to sample"),
    ],
)
def test_bad_cross_fails_naming_the_problem(change, expected):
    old, new = change
    text = CROSSED.replace(old, new, 1)
    if "nothing is left" in expected:  # only discrete factors: drop the ranged uncertainties
        text = text.split("[uncertainties]")[0]
    assert text != CROSSED
    with pytest.raises(SpecError) as err:
        parse_spec(text, path=Path("bad.toml"))
    assert "bad.toml: [design] cross" in str(err.value) and expected in str(err.value)


def test_crossed_design_size_counts_samples_times_crossed_values():
    """The run limit counts samples x crossed values, before anything is sampled."""
    ok = CROSSED.replace("samples = 6", "samples = 150000")  # 150,000 x 3 x 2 = 900,000 runs: allowed
    spec = parse_spec(ok)
    assert design_size(spec.design, spec.factors)[0] == 450_000
    too_big = CROSSED.replace("samples = 6", "samples = 200000")  # x 3 packages x 2 replicates = 1.2 M runs
    with pytest.raises(SpecError, match=r"600,000 points x 2 replicates = 1,200,000 runs"):
        parse_spec(too_big, path=Path("big.toml"))


def test_robustness_section_is_checked_with_the_spec():
    spec = parse_spec(CROSSED + '\n[robustness]\ngoals = ["retention_3y >= 0.35"]\noutcomes = ["retention_3y"]\n')
    assert spec.raw["robustness"]["goals"] == ["retention_3y >= 0.35"]
    for bad, expected in [
        ('goals = ["retention_3y >="]', "[robustness] goals: 'retention_3y >=' is not a valid expression"),
        ("goals = []", "[robustness] goals: [] is not allowed; give a non-empty list of strings"),
        ('goal = ["x > 1"]', "[robustness] unknown key 'goal'"),
        ('outcomes = ["retention_3y"]', "[robustness] goals is required"),
        ("goals = 3", "[robustness] goals: 3 is not allowed"),
    ]:
        with pytest.raises(SpecError) as err:
            parse_spec(CROSSED + f"\n[robustness]\n{bad}\n", path=Path("bad.toml"))
        assert str(err.value).startswith("bad.toml: ") and expected in str(err.value), str(err.value)
