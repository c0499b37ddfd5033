"""Policy packages defined in a spec (``[packages.NAME]``) and paired effects for any design run with
common random numbers (issue 26, part 3)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_posterior import _FakeResult

import sim
from experiments.reading import analysis
from experiments.running import design
from experiments.reading.analysis import proportion_ci
from experiments.reading.effects import POINT, all_paired_effects, paired_effects
from experiments.report import analyze
from experiments.running.spec import SpecError, parse_spec
from experiments.running.sweep import run_sweep

CUSTOM = """
[experiment]
name = "custom_package"
seed = 7
replicates = 2
horizon = 4
crn = true

[packages.talent_data]
label_en = "Talent and data sharing"
label_zh = "人才与数据共享"
combine = ["coordinate"]
levers = { talent_settlement_subsidy = 60_000.0, data_sharing_centre = 0.8 }

[design]
kind = "full_factorial"

[levers]
package = ["status_quo", "talent_data"]
"""


def test_custom_package_runs_and_is_labelled_in_the_analysis(tmp_path):
    """Tiny real sweep (4 quarters, 2 seeds): the spec's own package runs with its levers (and the
    preset it combines), is recorded in provenance.json, and analyze labels it in every table."""
    spec = parse_spec(CUSTOM, path=tmp_path / "custom.toml")
    assert spec.own_packages == ("talent_data",) and "talent_data" not in sim.load_presets()
    cfg = design.point_config(spec, {"package": "talent_data"})
    assert (cfg["talent_settlement_subsidy"], cfg["data_sharing_centre"], cfg["city_coordination"]) == (
        60_000.0, 0.8, sim.load_presets()["coordinate"].levers["city_coordination"])
    out = tmp_path / "out"
    assert run_sweep(spec, out, progress=False).done == 4
    recorded = json.loads((out / "provenance.json").read_text())["policy_packages"]
    assert recorded["talent_data"] == {"label_en": "Talent and data sharing", "label_zh": "人才与数据共享",
                                       "levers": {"city_coordination": 0.9, "talent_settlement_subsidy": 60_000.0,
                                                  "data_sharing_centre": 0.8}, "source": "spec [packages]"}
    assert recorded["status_quo"]["source"] == "configs/presets.toml"
    report = analyze(out).read_text()
    assert "- Package `talent_data` (Talent and data sharing), defined in the spec's [packages]" in report
    section = report.split("## Policy effects against the status quo (paired)")[1].split("\n## ")[0]
    assert "| Talent and data sharing | energy levels climbed" in section
    effects = pd.read_csv(out / "tables" / "paired_effects.csv")
    assert set(effects["package"]) == {"talent_data"} and effects["worlds"].eq(2).all()
    groups = pd.read_csv(out / "tables" / "outcomes_by_group.csv")
    assert set(groups["group"]) == {"Status quo", "Talent and data sharing"}


def _spec(packages: str, levers: str = 'package = ["status_quo", "mine"]') -> str:
    return ("[experiment]\nseed = 1\nreplicates = 2\nhorizon = 8\ncrn = true\n" + packages
            + '\n[design]\nkind = "full_factorial"\n[levers]\n' + levers + "\n")


@pytest.mark.parametrize(("packages", "levers", "expected"), [
    ("[packages.mine]\nlevers = { rd_subsidy_rat = 0.2 }", None,
     r"\[packages.mine\] levers: unknown lever 'rd_subsidy_rat' \(= 0.2\)\. Did you mean 'rd_subsidy_rate'\? "
     r"Allowed: .*city_coordination"),
    ("[packages.mine]\nlevers = { rd_subsidy_rate = 7.0 }", None,
     r"\[packages.mine\] levers rd_subsidy_rate: 7.0 is out of range; allowed \[0"),
    ("[packages.digital]\nlevers = { rd_subsidy_rate = 0.2 }", None,
     r"\[packages.digital\]: 'digital' is a preset of configs/presets.toml \('4 Digital transformation'\); a spec "
     r"cannot redefine a preset"),
    ("[packages.mine]\ncombine = [\"digitl\"]", None,
     r"\[packages.mine\] combine: 'digitl' is not a preset or an earlier package of this spec\. Did you mean "
     r"'digital'\?"),
    ("[packages.mine]\nlevels = { rd_subsidy_rate = 0.2 }", None,
     r"\[packages.mine\] unknown key 'levels'\. Did you mean 'levers'\?"),
    ("[packages.mine]\nlevers = { digital_grant_budget = { value = 1e8, start = \"2025Q2\", duration_quarters = 4 } }",
     None, r"\[packages.mine\] levers digital_grant_budget: unknown key 'duration_quarters' in its schedule \(give "
           r"end, the window's last period\)"),
    ("[packages.mine]\nlevers = { digital_grant_budget = { value = 1e8, start = \"2031Q1\" } }", None,
     r"\[packages.mine\] levers: digital_grant_budget.*2031Q1"),
    ("[packages.mine]\nlevers = { rd_subsidy_rate = 0.2 }", 'package = ["status_quo", "mien"]',
     r"\[levers\] package: 'mien' is not a preset in configs/presets.toml or a \[packages\] table of this spec\. "
     r"Did you mean 'mine'\?"),
    ("[packages.mine]\nlevers = { digital_grant_budget = { value = 1e8, start = \"2025Q2\" } }",
     'package = ["status_quo", "mine"]\ndigital_grant_budget.start = ["2025Q2", "2025Q3"]',
     r"\[packages.mine\] levers digital_grant_budget: the package times this lever and \[levers\] sweeps its timing "
     r"\(digital_grant_budget.start\); time it in one place"),
])
def test_bad_package_is_refused_in_one_line_naming_the_key(packages, levers, expected):
    text = _spec(packages) if levers is None else _spec(packages, levers)
    with pytest.raises(SpecError, match=expected) as info:
        parse_spec(text, path="pk.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith("pk.toml: ")


def test_spec_packages_serve_as_base_package_and_in_all_and_keep_their_window():
    """A spec package works as [base] package and joins package = "all" (after the presets); a lever it
    times runs in its window, and a lever factor over the same lever sets the value inside that window."""
    timed = ("[packages.grant]\nlabel_en = \"Grant 2026\"\nlevers = { digital_grant_budget = { value = 1.0e8, "
             "start = \"2026Q1\", end = \"2026Q4\" } }\n[packages.more]\ncombine = [\"grant\", \"digital\"]\n")
    spec = parse_spec(_spec(timed, 'package = "all"\ndigital_grant_budget = [5.0e7, 2.0e8]'))
    keys = list(spec.factor("package").values)
    assert keys == [*sim.load_presets(), "grant", "more"]
    assert spec.packages["more"].label_en == "more" and spec.packages["grant"].label_zh == "Grant 2026"
    cfg = design.point_config(spec, {"package": "grant", "digital_grant_budget": 2.0e8})
    assert cfg["digital_grant_budget"] == 2.0e8
    assert cfg.schedules["digital_grant_budget"].to_dict() == {"start": "2026Q1", "end": "2026Q4"}
    digital = sim.load_presets()["digital"].levers["digital_grant_budget"]
    more = design.point_config(spec, {"package": "more", "digital_grant_budget": digital})
    assert "digital_grant_budget" not in more.schedules  # "digital", combined later, sets it for the whole run
    base = parse_spec(_spec(timed + '[base]\npackage = "grant"\n', "rd_subsidy_rate = [0.02, 0.2]"))
    assert base.base.schedules["digital_grant_budget"].start == "2026Q1" and base.base_package == "grant"


def lever_model(cfg, seed):
    """Tiers rise with the R&D subsidy and coordination, plus seed noise shared by every point of a
    replicate (common random numbers); spending follows the subsidy."""
    noise = np.random.default_rng(seed).normal(0.0, 1.0)
    tiers = 10.0 * cfg["rd_subsidy_rate"] + 2.0 * cfg["city_coordination"] + noise * (1 + cfg["city_coordination"])
    return _FakeResult({"tiers_climbed_clusters": tiers, "retention_3y": 0.3,
                    "spending_total": 1e8 * cfg["rd_subsidy_rate"]})


FACTORIAL = """
[experiment]
name = "levers"
seed = 3
replicates = 6
horizon = 4
crn = true
[design]
kind = "full_factorial"
[levers]
rd_subsidy_rate = [0.2, 0.02, 0.1]   # the status quo (0.02) is the second level
city_coordination = [0.5, 0.9]       # the status quo (0.1) is not in the design: first level
[outcomes]
summary = "all"
city = []
clusters = []
districts = []
"""


def _by_hand(d: np.ndarray) -> dict[str, float]:
    n = len(d)
    half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
    _, p, lo, hi = proportion_ci(d > 0)
    return {"worlds": n, "effect_mean": d.mean(), "effect_ci_low": d.mean() - half, "effect_ci_high": d.mean() + half,
            "effect_p05": np.quantile(d, 0.05), "effect_p95": np.quantile(d, 0.95), "p_beats": p,
            "p_beats_low": lo, "p_beats_high": hi}


def test_lever_factorial_with_paired_seeds_gets_the_hand_computed_paired_effects(tmp_path):
    out = tmp_path / "out"
    run_sweep(parse_spec(FACTORIAL, path=tmp_path / "levers.toml"), out, model=lever_model, progress=False)
    sw = analysis.load_sweep(out)
    found = {pe.by: pe for pe in all_paired_effects(sw)}
    assert list(found) == [POINT, "rd_subsidy_rate", "city_coordination"]
    runs = sw.runs.set_index(["rd_subsidy_rate", "city_coordination", "replicate"])["tiers_climbed_clusters"]

    points = found[POINT]  # baseline point: rd at the status quo 0.02, coordination at its first level 0.5
    base_point = int(sw.design.query("rd_subsidy_rate == 0.02 and city_coordination == 0.5")["point"].iloc[0])
    assert points.reference == base_point and points.worlds == 6
    assert points.labels[base_point] == "rd_subsidy_rate=0.02; city_coordination=0.5"
    base = runs.xs((0.02, 0.5), level=[0, 1]).sort_index().to_numpy()
    tiers = points.effects[points.effects["outcome"] == "tiers_climbed_clusters"].set_index(POINT)
    x = {}
    for (rd, co), point in sw.design.drop_duplicates("point").set_index(["rd_subsidy_rate", "city_coordination"])[
            "point"].items():
        x[point] = runs.xs((rd, co), level=[0, 1]).sort_index().to_numpy()
        if point != base_point:
            assert tiers.loc[point, list(_by_hand(x[point] - base))].to_dict() == pytest.approx(
                _by_hand(x[point] - base))
    others = np.array([x[p] for p in sorted(x) if p != base_point])  # P(best): the highest other point per world
    best = points.best.set_index(POINT)["p_best"]
    wins = others == others.max(axis=0)
    assert best.to_numpy() == pytest.approx((wins / wins.sum(axis=0)).mean(axis=1))

    rd = found["rd_subsidy_rate"]  # levels against 0.02, paired within (coordination, replicate): 12 worlds
    assert rd.reference == 0.02 and rd.worlds == 12
    row = rd.effects.set_index(["rd_subsidy_rate", "outcome"]).loc[(0.2, "tiers_climbed_clusters")]
    d = (runs.xs(0.2, level=0) - runs.xs(0.02, level=0)).sort_index().to_numpy()
    assert row[list(_by_hand(d))].to_dict() == pytest.approx(_by_hand(d))
    co = found["city_coordination"]
    assert co.reference == 0.5 and co.labels[0.9] == "city_coordination = 0.9"

    report = analyze(out).read_text()
    assert "## Paired effects of each design point against the baseline point" in report
    assert "## Paired effects of `rd_subsidy_rate`, the other factors held" in report
    assert "| level | outcome | effect [95% CI]" in report
    assert (out / "tables" / "paired_effects_points.csv").is_file() and (out / "figures" /
                                                                        "paired_effects_rd_subsidy_rate.png").is_file()


def test_no_paired_effects_without_shared_seeds(tmp_path):
    """Without common random numbers the points' seeds differ: no comparison is called paired."""
    out = tmp_path / "out"
    run_sweep(parse_spec(FACTORIAL.replace("crn = true", "crn = false")), out, model=lever_model, progress=False)
    sw = analysis.load_sweep(out)
    assert all_paired_effects(sw) == [] and paired_effects(sw, by=POINT) is None
