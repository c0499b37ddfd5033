"""Calibration as inference (pyabc ABC-SMC): the smoke fit runs, resumes after SIGKILL, writes a
weighted posterior, and refuses specs that would fit set-up checks or mix two fits in one folder."""

import importlib.metadata
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.calibration import load_calibration_spec, parse_calibration_spec
from experiments.running.spec import SpecError

SMOKE = Path(__file__).resolve().parents[1] / "configs/experiments/calibrate_smoke.toml"


def _cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "experiments", "calibrate", str(SMOKE), "--out", str(out), "--workers", "2"]


def _generations(db: Path) -> int:
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return int(con.execute("select count(*) from populations where t >= 0").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_spec_refuses_setup_checks_and_unknown_names():
    good = {"experiment": {"name": "x", "horizon": 16}, "parameters": {"fit": ["beta_wage"]},
            "targets": {"use": ["graduate_retention"]}}
    spec = parse_calibration_spec(good)
    assert spec.priors()["beta_wage"] == (1.0, 3.0) and spec.targets[0].tolerance == pytest.approx(0.075)
    with pytest.raises(SpecError, match="set-up check"):
        parse_calibration_spec({**good, "targets": {"use": ["little_giants"]}})
    with pytest.raises(SpecError, match="not an uncertainty"):
        parse_calibration_spec({**good, "parameters": {"fit": ["city_coordination"]}})  # a lever
    with pytest.raises(SpecError, match="population"):
        parse_calibration_spec({**good, "fit": {"population": 10**9}})


@pytest.mark.slow
def test_smoke_fit_resumes_after_sigkill_and_writes_a_posterior(tmp_path):
    out = tmp_path / "fit"
    proc = subprocess.Popen(_cmd(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while _generations(out / "abc.db") < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert _generations(out / "abc.db") >= 1, proc.stdout.read().decode() if proc.poll() is not None else "timeout"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run_id = json.loads((out / "fit.json").read_text())["run_id"]
    again = subprocess.run(_cmd(out), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming pyabc run" in again.stderr and "generation 2/2" in again.stderr
    assert json.loads((out / "fit.json").read_text())["run_id"] == run_id  # the same history, continued
    assert _generations(out / "abc.db") == 2
    post = pd.read_parquet(out / "posterior.parquet")
    spec = load_calibration_spec(SMOKE)
    assert list(post.columns) == [*spec.parameters, "weight"] and len(post) == spec.population
    assert post["weight"].sum() == pytest.approx(1.0) and (post["weight"] >= 0).all()
    for name, (lo, hi) in spec.priors().items():
        assert post[name].between(lo, hi).all()
    report = (out / "calibration_report.md").read_text()
    assert "posterior predictive" in report
    assert any(v in report for v in ("pinned down", "partly", "prior-driven"))
    pred = pd.read_csv(out / "posterior_predictive.csv")
    assert set(pred["target"]) == {t.name for t in spec.targets} and np.isfinite(pred["median"]).all()
    # publishing records the fit from pyabc's own history, and the model reads it back as current
    from experiments.calibration.fit import FitResult
    from experiments.calibration.publish import publish
    from sim.outputs.posterior import load_posterior, stale_reasons

    fit = FitResult(root=out, db=out / "abc.db", run_id=run_id, generations=2, wall_s=1.0, resumed=True,
                    stopped="generations")
    dest = publish(spec, fit, post, tmp_path / "posterior.parquet", command="test")
    written = json.loads(dest.with_suffix(".json").read_text())
    assert written["packages"]["pyabc"] == importlib.metadata.version("pyabc")  # what shaped the particles
    meta = written["fit"]
    with sqlite3.connect(out / "abc.db") as con:
        samples = con.execute("select sum(nr_samples) from populations").fetchone()[0]
    assert meta["simulations"] == samples and len(meta["epsilon_by_generation"]) == 2
    assert meta["epsilon_by_generation"][1] <= meta["epsilon_by_generation"][0]
    assert all(0 < a <= 1 for a in meta["acceptance_by_generation"]) and meta["wall_min_pyabc"] > 0
    reasons = stale_reasons(load_posterior(dest))  # the smoke fit uses 3 of the targets: only that is "stale"
    assert reasons and all(r.startswith("targets added since the fit") for r in reasons)


def test_another_fit_in_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "fit"
    out.mkdir()
    (out / "fit.json").write_text(json.dumps({"spec": "other.toml", "digest": "0000", "run_id": 1}))
    proc = subprocess.run(_cmd(out), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "another spec" in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_calibration_specs_load():
    specs = sorted(SMOKE.parent.glob("calibrate*.toml"))
    assert SMOKE in specs
    for path in specs:
        spec = load_calibration_spec(path)
        assert spec.parameters and spec.targets and spec.population >= 4
    assert load_calibration_spec(SMOKE).population <= 20 and load_calibration_spec(SMOKE).generations == 2
