"""Sweeps on the real model (short horizon): executors agree run for run, resume after SIGKILL, a dead
Dask worker loses nothing, failed runs are recorded and retried, analysis writes its report.

Dask tests start a real scheduler and two workers as separate processes on 127.0.0.1 (marked
``cluster``). Every wait is bounded; process groups are killed in teardown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments
import sim
from experiments import run_sweep
from experiments.reading.analysis import load_sweep
from experiments.running.executors import DaskExecutor, ProcessExecutor
from experiments.report import analyze
from experiments.running.spec import SpecError, parse_spec
from experiments.running.store import Store, StoreLocked

ROOT = Path(__file__).resolve().parents[1]
RUNS = 24  # 4 packages x 6 replicates
SPEC = """
[experiment]
name = "tiny"
description = "Four packages, short horizon (tests)."
seed = 42
replicates = 6
horizon = 8

[design]
kind = "full_factorial"

[levers]
package = ["status_quo", "digital", "factors", "all_five"]

[outcomes]
summary = "all"
city = ["graduates", "graduates_retained", "graduate_retention", "outflow_beijing", "outflow_tianjin",
        "outflow_elsewhere", "spending_total"]
clusters = ["energy_index", "energy_tier", "idx_scale", "idx_innovation", "idx_chain", "idx_digital", "idx_leaders",
            "idx_talent", "idx_collaboration"]
districts = ["firms", "jobs"]
"""
TIMING = ["started_at", "finished_at", "wall_s", "cpu_s", "host", "pid", "batch"]
KEYS = {"summary": ["run_id"], "city": ["run_id", "quarter"], "clusters": ["run_id", "quarter", "cluster"],
        "districts": ["run_id", "quarter", "district"]}


# ---------------------------------------------------------------------------- helpers
def write_spec(folder: Path, text: str = SPEC, name: str = "tiny.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def snapshot(out: Path) -> dict[str, pd.DataFrame]:
    """The store's content without timings, in a canonical order (for run-for-run comparison)."""
    store = Store(out)
    runs = store.runs().drop(columns=TIMING).sort_values("run_id").reset_index(drop=True)
    snap = {"runs": runs}
    for table, keys in KEYS.items():
        snap[table] = store.table(table).sort_values(keys).reset_index(drop=True)
    return snap


def assert_same_store(a: Path, b: Path) -> None:
    sa, sb = snapshot(a), snapshot(b)
    for name in sa:
        pd.testing.assert_frame_equal(sa[name], sb[name], check_dtype=False, obj=name)


def cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=_env(), **kw)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def committed(out: Path) -> int:
    try:
        return sum(1 for s in Store(out).status_of_runs().values() if s == "ok")
    except Exception:  # noqa: BLE001 - a part being renamed while we look
        return 0


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def flaky_model(cfg, seed):
    """The real model, except that it fails when the digital grant budget is large (digital and all_five
    packages): a stand-in for a transient error."""
    if cfg["digital_grant_budget"] > 100_000_000:
        raise RuntimeError("transient failure (test)")
    return sim.run_scenario(cfg, seed)


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Path:
    """The tiny sweep run serially in this process: the store every other executor must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    spec = parse_spec(SPEC, path=write_spec(folder))
    res = run_sweep(spec, folder / "out", progress=False)
    assert (res.done, res.failed, res.pending) == (RUNS, 0, 0)
    return folder / "out"


# ---------------------------------------------------------------------------- local executors, resume
def test_process_workers_match_serial_and_rerun_resumes(reference, tmp_path):
    """2 spawned worker processes give the serial store run for run; re-running skips every finished run."""
    spec_path = write_spec(tmp_path)
    out = tmp_path / "out"
    res = run_sweep(parse_spec(SPEC, path=spec_path), out, ProcessExecutor(2), progress=False)
    assert (res.done, res.ran) == (RUNS, RUNS)
    assert_same_store(reference, out)

    proc = cli("run", str(spec_path), "--out", str(out), "--workers", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"{RUNS}/{RUNS} runs done" in proc.stdout and "this session: 0 runs" in proc.stdout
    assert "report:" in proc.stdout
    status = cli("status", str(out))
    assert f"{RUNS} runs in the design — {RUNS} done, 0 failed, 0 pending" in status.stdout


def test_sigkill_driver_then_same_command_completes_only_missing_runs(reference, tmp_path):
    """SIGKILL the driver mid-sweep; the same command then runs only the missing runs and the final
    store equals the uninterrupted serial sweep."""
    spec_path = write_spec(tmp_path)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "experiments", "run", str(spec_path), "--out", str(out), "--workers", "2",
            "--batch", "1", "--no-progress"]
    driver = subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for(lambda: committed(out) >= 3, 120, "the first committed runs")
        os.kill(driver.pid, signal.SIGKILL)  # the driver only, like a crash
        driver.wait(timeout=20)
    finally:
        kill_group(driver)  # reap orphaned worker processes
    before = committed(out)
    assert 3 <= before < RUNS, f"{before} runs done before the kill: the sweep was not interrupted"
    status = cli("status", str(out))
    assert f"{before} done, 0 failed, {RUNS - before} pending" in status.stdout
    assert "Partial results" in analyze(out).read_text()  # a partial store can be analysed

    proc = cli("run", str(spec_path), "--out", str(out), "--workers", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"this session: {RUNS - before} runs" in proc.stdout
    session = Store(out).provenance()["sessions"][-1]
    assert session["to_run"] == RUNS - before and session["ran_ok"] == RUNS - before
    history = Store(out).runs(history=True)
    assert history["run_id"].is_unique and len(history) == RUNS  # nothing ran twice
    assert not list(out.rglob("*.tmp"))
    assert_same_store(reference, out)


def test_failing_run_is_recorded_and_retry_failed_reruns_it(tmp_path):
    """A run that raises inside the model is recorded as failed with its traceback; the rest complete;
    ``--retry-failed`` reruns exactly the failed runs."""
    text = SPEC.replace('package = ["status_quo", "digital", "factors", "all_five"]', 'package = ["status_quo"]')
    text = text.replace("replicates = 6", "replicates = 2") + "\n[settings]\npersons_per_agent = [10, 500]\n"
    spec_path = write_spec(tmp_path, text)
    out = tmp_path / "out"
    res = run_sweep(parse_spec(text, path=spec_path), out, progress=False)
    assert (res.done, res.failed, res.pending) == (2, 2, 0)
    runs = Store(out).runs()
    failed = runs[runs["status"] == "failed"]
    assert set(failed["persons_per_agent"]) == {500}
    assert failed["error"].str.contains("Traceback").all() and failed["error"].str.contains("ModelError").all()
    assert len(Store(out).table("summary")) == 2

    proc = cli("status", str(out), "--failed")
    assert "2 done, 2 failed, 0 pending" in proc.stdout and "ModelError" in proc.stdout

    proc = cli("run", str(spec_path), "--out", str(out), "--serial", "--no-progress")
    assert "this session: 0 runs" in proc.stdout and "2 runs failed" in proc.stdout  # failed runs not rerun
    proc = cli("run", str(spec_path), "--out", str(out), "--serial", "--no-progress", "--retry-failed")
    assert "this session: 2 runs" in proc.stdout, proc.stdout
    history = Store(out).runs(history=True)
    assert history.groupby("run_id").size().to_dict() == {r: (2 if r in set(failed["run_id"]) else 1)
                                                          for r in history["run_id"].unique()}


def test_retry_failed_recovers_transient_failures(reference, tmp_path):
    """Runs that failed for a transient reason succeed on --retry-failed and the store then equals the reference."""
    spec = parse_spec(SPEC, path=write_spec(tmp_path))
    out = tmp_path / "out"
    res = run_sweep(spec, out, model=flaky_model, progress=False)
    flaky = 2 * 6  # the digital and all_five packages, 6 replicates each
    assert (res.done, res.failed) == (RUNS - flaky, flaky)
    res = run_sweep(spec, out, retry_failed=True, progress=False)
    assert (res.ran, res.done, res.failed) == (flaky, RUNS, 0)
    assert_same_store(reference, out)


def dying_model(cfg, seed):
    """The real model, except that the worker process dies (as on a segfault) for the all_five package."""
    if cfg["anchor_attraction_budget"] > 0:
        os._exit(3)
    return sim.run_scenario(cfg, seed)


def test_worker_process_death_fails_only_the_culprit_runs(tmp_path):
    """A run that kills its worker process is recorded as failed; runs lost alongside it are rerun and complete."""
    text = SPEC.replace('package = ["status_quo", "digital", "factors", "all_five"]',
                        'package = ["status_quo", "all_five", "digital"]').replace("replicates = 6", "replicates = 2")
    spec = parse_spec(text, path=write_spec(tmp_path, text))
    res = run_sweep(spec, tmp_path / "out", ProcessExecutor(2), model=dying_model, progress=False)
    assert (res.done, res.failed, res.pending) == (4, 2, 0)
    runs = Store(tmp_path / "out").runs()
    died = runs[runs["status"] == "failed"]
    assert set(died["package"]) == {"all_five"} and died["error"].str.contains("worker process died").all()


def test_spec_problems_found_before_running(tmp_path):
    """Unknown outcomes are caught by a 1-quarter probe before the sweep; a busy store is refused."""
    bad = SPEC.replace('clusters = ["energy_index", "energy_tier",', 'clusters = ["energy_indx", "energy_tier",')
    assert bad != SPEC
    with pytest.raises(SpecError, match="energy_indx"):
        run_sweep(parse_spec(bad, path=write_spec(tmp_path, bad)), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    spec = parse_spec(SPEC, path=write_spec(tmp_path))
    store = Store(tmp_path / "busy")
    with store.lock(), pytest.raises(StoreLocked):
        run_sweep(spec, tmp_path / "busy", progress=False)


# ---------------------------------------------------------------------------- analysis
def test_analysis_writes_tables_figures_and_report(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    proc = cli("analyze", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"report: {out / 'report.md'}" in proc.stdout
    report = (out / "report.md").read_text()
    figures = ["energy_trajectories", "outcomes_by_group", "national_heatmap", "talent_outflow", "cost_effectiveness"]
    for name in figures:
        png = out / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"](figures/{name}.png)" in report
    for name in ("outcomes_by_group", "national_probability", "cost_effectiveness", "energy_trajectories"):
        assert (out / "tables" / f"{name}.csv").is_file()
    table = pd.read_csv(out / "tables" / "outcomes_by_group.csv")
    assert set(table["group"]) == {p.label_en for k, p in sim.load_presets().items()
                                   if k in ("status_quo", "digital", "factors", "all_five")}
    means = table[table["kind"] == "mean"].dropna(subset=["ci_low"])
    assert (means["n"] == 6).all() and (means["ci_low"] <= means["mean"] + 1e-12).all()
    assert (means["mean"] <= means["ci_high"] + 1e-12).all()
    nat = pd.read_csv(out / "tables" / "national_probability.csv")
    assert nat["p"].between(0, 1).all() and len(nat) == 4 * 7
    ce = pd.read_csv(out / "tables" / "cost_effectiveness.csv")
    assert ce.loc[ce["reference"], "group"].tolist() == ["Status quo"]
    assert "## Headline outcomes" in report and "## Energy levels" in report and "| Status quo |" in report
    assert report.index("## Headline outcomes") < report.index("## Energy levels")  # what a bureau can check first
    assert "Failed runs" in report and "The index's sensitivity" in report
    # net cost = extra spending - extra local tax (cost-effectiveness counts the tax a package brings back)
    assert np.allclose(ce["net_cost"], ce["extra_spending"] - ce["extra_tax"])
    sens = pd.read_csv(out / "tables" / "index_weight_sensitivity.csv")
    assert set(sens["group"]) == set(table["group"]) - {"Status quo"} and sens["same_sign"].between(0, 1).all()
    # at the model's own weights the recomputed gain is the recorded index's gain (six clusters, end)
    runs = experiments.load(out)
    six = [f"energy_index_final_{k}" for k in sim.default_config().city["clusters"] if k != "other"]
    by = runs.assign(six=runs[six].mean(axis=1), group=runs["package"].map(
        {k: p.label_en for k, p in sim.load_presets().items()})).groupby("group")["six"].mean()
    for _, r in sens.iterrows():
        assert np.isclose(r["gain"], by[r["group"]] - by["Status quo"], atol=1e-9)


def rare_failure_model(cfg, seed):
    """The real model, except that it fails for the highest R&D subsidy rates."""
    if cfg["rd_subsidy_rate"] > 0.25:
        raise RuntimeError("failure at the edge of the range (test)")
    return sim.run_scenario(cfg, seed)


@pytest.mark.parametrize("kind", ["sobol", "morris"])
def test_sensitivity_indices_with_failed_runs(tmp_path, kind):
    """Sobol / Morris indices from SALib; blocks or trajectories with a failed run are dropped and reported."""
    text = f"""
[experiment]
seed = 3
replicates = 1
horizon = 4
[design]
kind = "{kind}"
samples = {4 if kind == "sobol" else 3}
[levers]
rd_subsidy_rate = "full"
digital_grant_budget = "full"
[outcomes]
city = []
districts = []
clusters = ["energy_index", "energy_tier"]
"""
    spec = parse_spec(text, path=write_spec(tmp_path, text))
    out = tmp_path / "out"
    res = run_sweep(spec, out, model=rare_failure_model, progress=False)
    assert res.failed > 0 and res.done > 0
    analyze(out)
    sens = pd.read_csv(out / "tables" / "sensitivity.csv")
    assert set(sens["factor"]) == {"rd_subsidy_rate", "digital_grant_budget"}
    assert {"S1", "ST"} <= set(sens.columns) if kind == "sobol" else {"mu_star", "sigma"} <= set(sens.columns)
    report = (out / "report.md").read_text()
    assert "## Sensitivity" in report and "dropped because of failed runs" in report
    assert " ± " in report and "95% bootstrap confidence interval" in report  # indices carry their uncertainty
    assert (out / "figures" / "sensitivity.png").is_file()
    assert load_sweep(out).counts()["failed"] == res.failed


# ---------------------------------------------------------------------------- Dask
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskProcesses:
    """``dask scheduler`` and ``dask worker`` processes on loopback, each in its own process group."""

    def __init__(self, workers: int = 2):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        dask = [sys.executable, "-m", "dask"]
        self.scheduler = self._start([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--dashboard-address", "127.0.0.1:0"])
        self.workers = [
            self._start([*dask, "worker", self.address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                         "--dashboard-address", "127.0.0.1:0"])
            for _ in range(workers)
        ]
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=90)

    def _start(self, args: list[str]) -> subprocess.Popen:
        p = subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in reversed(self.procs):
            kill_group(p, signal.SIGTERM)


@pytest.fixture
def dask_cluster():
    cluster = DaskProcesses(2)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.cluster
def test_dask_cluster_matches_serial(reference, tmp_path, dask_cluster):
    """A sweep through a scheduler and two worker processes gives the serial store run for run."""
    spec_path = write_spec(tmp_path)
    out = tmp_path / "out"
    proc = cli("run", str(spec_path), "--out", str(out), "--dask", dask_cluster.address, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"{RUNS}/{RUNS} runs done, 0 failed" in proc.stdout
    assert_same_store(reference, out)
    runs = Store(out).runs()
    assert runs["pid"].nunique() == 2  # both workers ran something


@pytest.mark.cluster
def test_dask_worker_killed_mid_sweep_loses_and_duplicates_nothing(reference, tmp_path, dask_cluster):
    spec_path = write_spec(tmp_path)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "experiments", "run", str(spec_path), "--out", str(out), "--dask",
            dask_cluster.address, "--batch", "1", "--no-progress"]
    driver = subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        wait_for(lambda: committed(out) >= 3, 120, "the first committed runs")
        kill_group(dask_cluster.workers[0])  # SIGKILL the worker (and its nanny): it is gone for good
        assert committed(out) < RUNS, "the sweep finished before the worker was killed"
        stdout, stderr = driver.communicate(timeout=180)
    finally:
        kill_group(driver)
    assert driver.returncode == 0, stderr
    assert f"{RUNS}/{RUNS} runs done, 0 failed" in stdout
    history = Store(out).runs(history=True)
    assert history["run_id"].is_unique and len(history) == RUNS and (history["status"] == "ok").all()
    assert_same_store(reference, out)


@pytest.mark.cluster
def test_dask_local_cluster_matches_serial(reference, tmp_path):
    """Several runs per Dask task (sized from the runs' time: here up to 60 s of work per task, so that
    they are batched on any machine) give the serial store run for run."""
    out = tmp_path / "out"
    ex = DaskExecutor("local", workers=2, chunk_seconds=60)
    res = run_sweep(parse_spec(SPEC, path=write_spec(tmp_path)), out, ex, progress=False)
    assert res.done == RUNS
    assert ex.tasks_submitted < RUNS  # runs were batched
    assert_same_store(reference, out)
