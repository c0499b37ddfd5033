"""The validation suite (``configs/validation.toml``, ``sim.outputs.validation``, ``python -m sim validate``).

- nothing the suite checks is a calibration row (by name, and by value on the same run);
- each statistic gives the known answer on synthetic data (Laplace growth -> Subbotin b ~1, Gaussian ~2;
  a Pareto tail; an AR(1) productivity; hazards; chain-linked growth);
- ``python -m sim validate`` runs on a tiny sample and its exit code follows the checks (a tiny spec
  with an impossible band exits 1);
- bad validation TOMLs are refused in one line naming the check, the key and what is allowed.
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd
import pytest

from sim.inputs.base import ConfigError
from sim.outputs import validation as v
from sim.outputs.calibration import load_targets, target_measures
from sim.outputs.cli import main

SETTINGS = v.Settings()
ADDRESS = "Someone 2020 (https://example.org/paper)"  # sources must name an address


# ------------------------------------------------------------------------------------------ no shared statistic


def test_validation_and_calibration_share_no_statistic():
    """Read both files raw (not through the loader, which refuses a shared name itself)."""
    with open(v.VALIDATION_FILE, "rb") as fh:
        raw = tomllib.load(fh)
    stats = {row["statistic"] for sec in v.SECTIONS for row in raw.get(sec, {}).values() if "statistic" in row}
    cal = load_targets()
    rows = set(cal["checks"]) | set(cal["targets"])
    assert stats, "the committed validation.toml checks nothing"
    assert not stats & rows, f"validation checks calibration rows: {sorted(stats & rows)}"
    assert stats <= set(v.STATISTICS)


def test_no_validation_statistic_takes_a_calibration_value():
    """A statistic renamed but equal to a calibration measure would slip past the name check: on the same
    run (seed, horizon), no validation value equals a calibration value (0, 1 and NaN aside)."""
    from sim.inputs.config import default_config
    from sim.scenario import run_scenario

    cfg = default_config().with_overrides({}, quarters=12)
    spec = v.load_spec()
    names = [c["statistic"] for c in spec["checks"].values() if "statistic" in c]
    ours = v.measure(v.RunTables.of(run_scenario(cfg, seed=3, record="all+firms")), names, spec["settings"])
    theirs = target_measures(cfg, seed=3)
    for name, x in ours.items():
        if not np.isfinite(x) or x in (0.0, 1.0):
            continue
        same = [k for k, y in theirs.items() if np.isfinite(y) and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)]
        assert not same, f"validation {name} = {x} equals calibration {same}"


def test_loader_refuses_a_calibration_row(tmp_path, monkeypatch):
    monkeypatch.setitem(v.STATISTICS, "exit_rate_small", v.Statistic(lambda run, s: 0.0, "per year"))
    path = _spec(tmp_path, _row(statistic="exit_rate_small"))
    with pytest.raises(ConfigError, match=r"\[stylised\.x\] statistic = 'exit_rate_small' is a row of "
                                          r"configs/calibration\.toml"):
        v.load_spec(path)


def test_committed_spec_loads_with_addresses_and_a_reported_no_counterpart_row():
    spec = v.load_spec()
    kinds = {sec for sec, _ in spec["checks"]}
    assert kinds == set(v.SECTIONS)
    nc = [c for c in spec["checks"].values() if "no_counterpart" in c]
    assert nc and all("statistic" not in c for c in nc)  # population drift: reported, not checked


# ------------------------------------------------------------------------------------------ known answers


def test_subbotin_shape_laplace_one_gaussian_two():
    rng = np.random.default_rng(5)
    assert v.subbotin_shape(rng.laplace(size=6000)) == pytest.approx(1.0, abs=0.1)
    assert v.subbotin_shape(rng.normal(size=6000)) == pytest.approx(2.0, abs=0.2)
    assert math.isnan(v.subbotin_shape(np.ones(100)))


def test_volatility_size_slope_recovers_beta():
    rng = np.random.default_rng(6)
    size = rng.uniform(10, 20, 20000)
    growth = rng.normal(size=size.size) * np.exp(-0.2 * size)
    assert v.volatility_size_slope(size, growth, 8) == pytest.approx(0.2, abs=0.02)
    assert v.volatility_size_slope(size, rng.normal(size=size.size), 8) == pytest.approx(0.0, abs=0.02)


def test_hill_exponent_recovers_pareto_alpha():
    rng = np.random.default_rng(7)
    x = (rng.pareto(1.2, 30000) + 1.0) * 50.0
    assert v.hill_exponent(x, 0.1) == pytest.approx(1.2, abs=0.06)
    assert math.isnan(v.hill_exponent(x[:50], 0.1))  # 5 tail values: too few


def test_90_10_and_ar1_and_rate():
    rng = np.random.default_rng(8)
    assert v.log_range_90_10(rng.normal(0, 0.5, 40000)) == pytest.approx(2 * 1.2816 * 0.5, abs=0.02)
    x0 = rng.normal(size=20000)
    assert v.ar1_slope(x0, 0.7 * x0 + rng.normal(0, 0.3, x0.size)) == pytest.approx(0.7, abs=0.02)
    assert v.yearly_rate(100.0, 100.0 * 1.07**5, 5) == pytest.approx(0.07)
    assert math.isnan(v.yearly_rate(0.0, 1.0, 5))


def _panel(n=400, years=6, growth=None, seed=0, lp_rho=0.7):
    """A synthetic firm panel (alive rows at quarters 0, 4, ...): sales grow by ``growth(rng, n)`` a year,
    log productivity is AR(1) with ``lp_rho``; every firm is above scale, 10% are little giants."""
    rng = np.random.default_rng(seed)
    growth = growth or (lambda r, k: r.laplace(0, 0.1, k))
    sales, lp = np.exp(rng.normal(17, 1, n)), rng.normal(0, 0.5, n)
    rows = []
    for k in range(years + 1):
        rows.append(pd.DataFrame({
            "quarter": 4 * k, "id": np.arange(n), "alive": True, "cluster": np.where(np.arange(n) % 2, "a", "b"),
            "segment": np.where(np.arange(n) % 3, "assembly", "core_parts"),
            "sales": sales, "employees": sales / 1e6, "value_added": np.exp(lp) * sales / 1e6 * 2e5,
            "age": 10.0 + k, "above_scale": True, "little_giant": np.arange(n) % 10 == 0, "rd_spend": 0.02 * sales}))
        sales = sales * np.exp(growth(rng, n))
        lp = lp_rho * lp + rng.normal(0, 0.5 * math.sqrt(1 - lp_rho**2), n)
    return pd.concat(rows, ignore_index=True)


def _run(panel, city=None, clusters=None, quarters=24):
    return v.RunTables(firms=panel, city=city if city is not None else pd.DataFrame(),
                       clusters=clusters if clusters is not None else pd.DataFrame(), quarters=quarters)


def test_panel_growth_statistics_known_answers():
    laplace = _run(_panel(n=1500))
    gauss = _run(_panel(n=1500, growth=lambda r, k: r.normal(0, 0.1, k)))
    assert v.growth_subbotin_b(laplace, SETTINGS) == pytest.approx(1.0, abs=0.12)
    assert v.growth_subbotin_b(gauss, SETTINGS) == pytest.approx(2.0, abs=0.25)
    assert v.growth_volatility_size_beta(gauss, SETTINGS) == pytest.approx(0.0, abs=0.05)  # Gibrat: no slope
    # Gibrat growth widens the log spread: sd grows from 1 to sqrt(1 + 6 x 0.1^2)
    assert v.size_dispersion_drift(gauss, SETTINGS) == pytest.approx(math.sqrt(1.06), abs=0.04)


def test_panel_productivity_statistics_known_answers():
    run = _run(_panel(n=3000, lp_rho=0.7))
    assert v.productivity_persistence(run, SETTINGS) == pytest.approx(0.7, abs=0.04)
    assert v.productivity_dispersion_90_10(run, SETTINGS) == pytest.approx(2 * 1.2816 * 0.5, abs=0.06)


def test_exit_hazards_by_age():
    """Firms aged 1 exit with 2%, aged 4 with 8%, aged 12 with 4%: the ratios are 0.5 and 0.25."""
    rows = []
    for q, age, n, exits in ((4, 1.0, 1000, 20), (4, 4.0, 1000, 80), (4, 12.0, 1000, 40), (0, 4.0, 500, 0)):
        alive = np.ones(n, bool)
        alive[:exits] = False
        rows.append(pd.DataFrame({"quarter": q, "age": age, "alive": alive}))
    panel = pd.concat(rows, ignore_index=True)
    assert v.exit_hazards(panel, 2.0, 7.0) == pytest.approx((0.02, 0.08, 0.04))
    assert v.exit_hazard_old_over_mid(_run(panel), SETTINGS) == pytest.approx(0.5)
    assert v.exit_hazard_young_over_mid(_run(panel), SETTINGS) == pytest.approx(0.25)


def test_trend_statistics_known_answers():
    panel = _panel(n=200, growth=lambda r, k: np.full(k, math.log(1.07)), lp_rho=1.0)  # productivity fixed
    run = _run(panel,
               city=pd.DataFrame({"quarter": np.arange(25), "employment": 100.0,
                                  "wage_bill": 100.0 * 1.05 ** ((np.arange(25) - 1) // 4) * (np.arange(25) > 0)}),
               clusters=pd.DataFrame({"quarter": [0, 0, 20, 20], "little_giants": [10, 12, 15, 18]}))
    assert v.above_scale_va_growth(run, SETTINGS) == pytest.approx(0.07)
    assert v.real_wage_growth(run, SETTINGS) == pytest.approx(0.05)
    assert v.little_giant_count_ratio(run, SETTINGS) == pytest.approx(1.5)
    assert v.rd_intensity_growth(run, SETTINGS) == pytest.approx(0.0)  # R&D stays 2% of sales
    assert v.rd_participation_above_scale(run, SETTINGS) == pytest.approx(1.0)
    assert v.little_giant_rd_intensity(run, SETTINGS) == pytest.approx(0.02)
    short = _run(panel, quarters=8)  # a 2-year horizon: the trends use 2 years
    assert short.window_years(SETTINGS) == 2
    # under a year nothing can be measured: NaN (a failed check), never the start state passing as a trend
    tiny = _run(panel[panel["quarter"] == 0], city=run.city, clusters=run.clusters, quarters=3)
    for name in ("little_giant_count_ratio", "size_dispersion_drift", "rd_participation_above_scale",
                 "above_scale_va_growth", "rd_intensity_growth", "real_wage_growth"):
        assert math.isnan(v.STATISTICS[name].fn(tiny, SETTINGS)), name


def test_table_passes_on_the_median_and_reports_runs_in_band():
    spec = {"settings": SETTINGS, "checks": {
        ("stylised", "a"): _row(statistic="growth_subbotin_b", low=0.9, high=1.1, input="set by x"),
        ("trends", "p"): {"label": "p", "source": ADDRESS, "no_counterpart": "none", "observed": -0.01}}}
    runs = pd.DataFrame({"growth_subbotin_b": [0.5, 1.0, 1.05, 1.2, 1.0]})
    t = v.validation_table(spec, runs)
    a = t.set_index("check").loc["a"]
    assert bool(a["pass"]) and a["median"] == 1.0 and a["in_band"] == pytest.approx(0.6)
    assert t.set_index("check").loc["p", "pass"] is None  # reported, not counted
    assert v.all_pass(t)
    t2 = v.validation_table(spec, runs.assign(growth_subbotin_b=[1.2, 1.3, 1.0, 1.25, 0.7]))
    assert not v.all_pass(t2)
    md = v.markdown(t2, "5 runs")
    assert "**0 of 1 checks pass**" in md and "**FAIL**" in md and "https://example.org/paper" in md
    assert "no counterpart" in md and "none" in md
    assert "| x † |" in md and "Partly set by an input" in md and "set by x" in md  # weaker evidence is marked


# ------------------------------------------------------------------------------------------ command line


def _row(**kw):
    row = {"label": "x", "statistic": "rd_participation_above_scale", "low": 0.0, "high": 1.0, "source": ADDRESS,
           "band_reason": "any share"}
    row.update(kw)
    return row


def _toml_value(x):
    return f'"{x}"' if isinstance(x, str) else repr(x).lower() if isinstance(x, bool) else repr(x)


def _spec(tmp_path, row, section="stylised", name="x", settings="seeds = 1\n", extra=""):
    lines = [f"[settings]\n{settings}", f"[{section}.{name}]"]
    lines += [f"{k} = {_toml_value(val)}" for k, val in row.items()]
    path = tmp_path / "validation.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_cli_exit_code_follows_the_checks(tmp_path, capsys):
    ok = _spec(tmp_path, _row())
    assert main(["validate", "--spec", str(ok), "--quarters", "8", "--quiet"]) == 0
    assert "1/1 checks pass" in capsys.readouterr().out
    impossible = _spec(tmp_path, _row(low=2.0, high=3.0))  # a share can never be 2-3
    report = tmp_path / "out" / "validation.md"
    assert main(["validate", "--spec", str(impossible), "--quarters", "8", "--quiet", "--report", str(report)]) == 1
    assert "0/1 checks pass" in capsys.readouterr().out
    assert "**FAIL**" in report.read_text(encoding="utf-8")


def test_cli_committed_spec_on_a_tiny_posterior_sample(capsys):
    code = main(["validate", "--posterior", "--draws", "1", "--seeds", "1", "--quarters", "8", "--quiet"])
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "checks pass" in ln)
    n_pass, n_all = (int(x) for x in line.split()[0].split("/"))
    assert code == (0 if n_pass == n_all else 1)
    assert "1 posterior draws x 1 seeds" in line and "population" in out


def test_posterior_runs_span_draws_and_seeds():
    from sim.outputs.posterior import Posterior

    post = Posterior(table=pd.DataFrame({"beta_distance": [0.3, 0.5], "weight": [0.5, 0.5]}), provenance={})
    spec = {"settings": SETTINGS, "checks": {("stylised", "x"): _row()}}
    runs = v.validation_runs(spec, post=post, draws=2, seeds=2, quarters=4)
    assert len(runs) == 4 and runs["seed"].nunique() == 4 and set(runs["draw"]) == {0, 1}


BAD_SPECS = [
    (dict(row=_row(hgih=1.0)), r"\[stylised\.x\] unknown key 'hgih'; allowed: label, statistic"),
    (dict(row={k: val for k, val in _row().items() if k != "band_reason"}), r"\[stylised\.x\] lacks band_reason"),
    (dict(row=_row(low=0.5, high=0.5)), r"\[stylised\.x\] band low = 0\.5 must be below high = 0\.5"),
    (dict(row=_row(low="0.1")), r"\[stylised\.x\] low = '0\.1'; allowed: a number"),
    (dict(row=_row(statistic="growth")), r"\[stylised\.x\] statistic = 'growth' is not a validation statistic; "
                                         r"allowed: growth_subbotin_b"),
    (dict(row=_row(source="a paper")), r"\[stylised\.x\] source 'a paper'\.\.\. names no address"),
    (dict(row={"label": "p", "source": ADDRESS, "no_counterpart": "none", "statistic": "real_wage_growth"}),
     r"\[stylised\.x\] is marked no_counterpart but names statistic"),
    (dict(row=_row(), settings="seeds = 0\n"), r"\[settings\] seeds = 0; allowed: an integer 1-1000"),
    (dict(row=_row(), settings="seed = 1\n"), r"\[settings\] unknown key 'seed'; allowed: seeds, draws"),
    (dict(row=_row(), section="facts"), r"unknown section \[facts\]; allowed: \[settings\], \[stylised\.<name>\]"),
    (dict(row=_row(), extra="[trends.y]\n" + "\n".join(f"{k} = {_toml_value(x)}" for k, x in _row().items())),
     r"\[trends\.y\] statistic 'rd_participation_above_scale' is already checked by \[stylised\.x\]"),
]


BAD_IDS = ["unknown-key", "missing-key", "empty-band", "text-band", "unknown-statistic", "no-address",
           "no-counterpart-with-statistic", "bad-setting", "unknown-setting", "unknown-section", "duplicate-statistic"]


@pytest.mark.parametrize(("kw", "message"), BAD_SPECS, ids=BAD_IDS)
def test_bad_validation_toml_refused_in_one_line(tmp_path, capsys, kw, message):
    path = _spec(tmp_path, **kw)
    with pytest.raises(ConfigError, match=message):
        v.load_spec(path)
    assert main(["validate", "--spec", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err


def test_missing_or_broken_spec_file(tmp_path):
    with pytest.raises(ConfigError, match="no validation file here"):
        v.load_spec(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[settings\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a valid TOML file"):
        v.load_spec(bad)


# ------------------------------------------------------------------------------------------ make run's report


def test_report_embeds_validation_md_when_present(tmp_path):
    from experiments.report import _validation_section

    assert _validation_section(tmp_path, "# Report\n") == "# Report\n"
    (tmp_path / "validation.md").write_text("## Validation: patterns the fit never saw\n\nrows\n", encoding="utf-8")
    text = _validation_section(tmp_path, "# Report\n")
    assert text.startswith("# Report\n\n## Validation") and text.endswith("rows\n")
