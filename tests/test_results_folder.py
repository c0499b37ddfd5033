"""One-call loading of a results folder (experiments.load) and the safety of a results folder: another
experiment is refused naming both, --force moves it aside, nothing is written before the spec and the
executor are checked. A stand-in model whose outcomes are known functions of the factors keeps it fast."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments
import sim
from experiments import run_sweep
from experiments.running.executors import DaskExecutor, ExecutorError
from experiments.running.spec import parse_spec
from experiments.running.store import FolderInUse, Store

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS = ("automotive", "glass")

SPEC_A = """
[experiment]
name = "a"
seed = 1
replicates = 2
horizon = 3
[design]
kind = "full_factorial"
[levers]
package = ["status_quo", "digital"]
[uncertainties]
beijing_wage_growth = [0.03, 0.07]
[outcomes]
city = []
districts = []
clusters = ["energy_index"]
"""
SPEC_B = """
[experiment]
name = "b"
seed = 1
replicates = 1
horizon = 1
[design]
kind = "full_factorial"
[levers]
rd_subsidy_rate = [0.05, 0.1]
[outcomes]
city = []
districts = []
clusters = []
"""


class FakeResult:
    """What runner.execute needs from a model result: summary() and the per-quarter tables."""

    def __init__(self, cfg, seed):
        self.cfg, self.seed = cfg, seed
        q = np.arange(cfg.quarters + 1)
        self.clusters = pd.DataFrame([{"quarter": int(i), "cluster": c, "energy_index": float(i) / 10 + k}
                                      for i in q for k, c in enumerate(CLUSTERS)])
        self.city = pd.DataFrame({"quarter": q})
        self.districts = pd.DataFrame({"quarter": q})

    def summary(self):
        growth = self.cfg["beijing_wage_growth"]
        return {"outflow_beijing_total": 1000 * growth + self.cfg["digital_grant_budget"] / 1e8,
                "any_national": bool(growth < 0.05), "seed_seen": self.seed}


def fake_model(cfg, seed):
    return FakeResult(cfg, seed)


def interrupting_model(cfg, seed):
    """Ctrl-C during the runs of the high-growth points: the sweep stops with runs pending."""
    if cfg["beijing_wage_growth"] > 0.05 and cfg.quarters > 1:
        raise KeyboardInterrupt
    return FakeResult(cfg, seed)


def failing_model(cfg, seed):
    if cfg["digital_grant_budget"] > 1e8:
        raise RuntimeError("grant too large (test)")
    return FakeResult(cfg, seed)


def sweep(tmp_path: Path, text: str = SPEC_A, model=fake_model, out: str = "out", **kw):
    spec = parse_spec(text, path=tmp_path / "spec.toml")
    return run_sweep(spec, tmp_path / out, model=model, progress=False, **kw)


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


# ---------------------------------------------------------------------------- loading
def test_load_gives_one_tidy_row_per_run_with_factors_status_and_outcomes(tmp_path):
    sweep(tmp_path, model=failing_model)
    df = experiments.load(tmp_path / "out")
    assert len(df) == 8 and df["run_id"].is_unique
    assert list(df.columns[:7]) == ["run_id", "point", "replicate", "seed", "package", "beijing_wage_growth",
                                    "status"]
    assert set(df["status"]) == {"ok", "failed"}
    failed = df[df["status"] == "failed"]
    assert set(failed["package"]) == {"digital"} and (failed["error"] == "RuntimeError: grant too large (test)").all()
    assert failed["outflow_beijing_total"].isna().all()
    ok = df[df["status"] == "ok"]
    grants = sim.default_config()["digital_grant_budget"] / 1e8  # the status quo's
    assert np.allclose(ok["outflow_beijing_total"], 1000 * ok["beijing_wage_growth"] + grants)
    assert (ok["seed_seen"] == ok["seed"]).all()

    cl = experiments.load(tmp_path / "out", "clusters")
    assert len(cl) == 4 * 4 * len(CLUSTERS)  # ok runs x quarters 0-3 x clusters
    assert {"package", "beijing_wage_growth", "replicate", "seed"} <= set(cl.columns)
    assert set(cl["run_id"]) == set(ok["run_id"]) and (cl["package"] == "status_quo").all()


def test_load_lists_pending_runs_and_rejects_bad_input(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path, model=interrupting_model, batch=1)
    df = experiments.load(tmp_path / "out")
    assert len(df) == 8 and set(df["status"]) == {"ok", "pending"}
    assert (df.loc[df["beijing_wage_growth"] == 0.07, "status"] == "pending").all()  # the sweep stopped there
    assert df.loc[df["status"] == "pending", "outflow_beijing_total"].isna().all()
    with pytest.raises(ValueError, match="table 'cluster' is not allowed; give one of summary, city, clusters"):
        experiments.load(tmp_path / "out", "cluster")
    with pytest.raises(FileNotFoundError, match="no sweep here"):
        experiments.load(tmp_path / "nothing")


def test_table_reads_only_the_current_design(tmp_path):
    """After the spec changes (same experiment), the folder keeps the old runs but no table mixes them in."""
    sweep(tmp_path)
    changed = SPEC_A.replace("beijing_wage_growth = [0.03, 0.07]", "beijing_wage_growth = [0.03, 0.05]")
    res = sweep(tmp_path, changed)
    assert res.ran == 4  # the 0.03 runs are reused
    store = Store(tmp_path / "out")
    current = set(store.design()["run_id"])
    summary = store.table("summary")
    assert set(summary["run_id"]) == current and len(summary) == 8
    assert len(store.table("summary", all_runs=True)) == 12
    assert set(store.table("clusters")["run_id"]) == current
    df = experiments.load(tmp_path / "out")
    assert sorted(df["beijing_wage_growth"].unique()) == [0.03, 0.05] and len(df) == 8


# ---------------------------------------------------------------------------- safety
def test_another_experiment_is_refused_naming_both_and_force_moves_it_aside(tmp_path):
    sweep(tmp_path)
    out = tmp_path / "out"
    before = listing(out)
    with pytest.raises(FolderInUse) as err:
        sweep(tmp_path, SPEC_B)
    msg = str(err.value)
    assert "holds another experiment, 'a'" in msg and "this spec is 'b'" in msg and "--force" in msg
    assert "package, beijing_wage_growth" in msg and "rd_subsidy_rate" in msg and "\n" not in msg
    assert listing(out) == before  # nothing written

    res = sweep(tmp_path, SPEC_B, force=True)
    assert res.done == res.total == 2
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("out.old-")]
    assert len(aside) == 1
    assert set(experiments.load(aside[0])["package"]) == {"status_quo", "digital"}  # the old experiment, whole
    assert len(Store(aside[0]).runs()) == 8
    new = experiments.load(out)
    assert list(new["status"]) == ["ok", "ok"] and "package" not in new and len(Store(out).runs()) == 2


def test_a_folder_with_other_files_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "fit.json").write_text("{}")
    with pytest.raises(FolderInUse, match=r"holds files that are not a sweep \(fit.json\); this spec is 'a'"):
        sweep(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["fit.json"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_is_written_before_the_executor_is_checked(tmp_path):
    """An unreachable Dask scheduler fails the sweep before the folder is created (or touched)."""
    dead = DaskExecutor(f"tcp://127.0.0.1:{_free_port()}", timeout=2)
    with pytest.raises(ExecutorError, match="cannot use Dask"):
        sweep(tmp_path, executor=dead)
    assert not (tmp_path / "out").exists()
    sweep(tmp_path)
    before = listing(tmp_path / "out")
    grown = SPEC_A.replace("replicates = 2", "replicates = 3")  # the same experiment with work to do
    with pytest.raises(ExecutorError):
        sweep(tmp_path, grown, executor=DaskExecutor(f"tcp://127.0.0.1:{_free_port()}", timeout=2))
    assert listing(tmp_path / "out") == before


def test_cli_refuses_another_experiment_with_exit_2(tmp_path):
    sweep(tmp_path)
    spec_b = tmp_path / "b.toml"
    spec_b.write_text(SPEC_B)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "experiments", "run", str(spec_b), "--out", str(tmp_path / "out"),
                           "--serial", "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("error: ") and "'a'" in line and "'b'" in line and "--force" in line
    assert len(line.splitlines()) == 1
