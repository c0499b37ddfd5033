"""Infrastructure faults are not model failures; worker processes die with their driver; Dask batches runs.

* A lost Dask scheduler ends ``python -m experiments run`` with exit 2 and one line on stderr; the runs
  in flight are not recorded (no failed runs), so the plain same command completes the sweep.
* Workers killed under a batch of runs (``KilledWorker``): the runs are rerun, not recorded as failed.
* SIGKILL of the driver: no worker process it started (process pool, ``LocalCluster``) survives it.
* Several runs per Dask task give the serial executor's results run for run (here 2 per task with
  KilledWorker in between; sized batches: ``test_dask_local_cluster_matches_serial``).

Tests that start Dask are marked ``cluster``. Every wait is bounded; process groups are killed in teardown.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sim
from experiments import run_sweep
from experiments.running.executors import DaskExecutor, chunk_size
from experiments.running.spec import parse_spec
from experiments.running.store import Store
from test_experiments import (
    ROOT, SPEC, DaskProcesses, _env, assert_same_store, committed, kill_group, wait_for, write_spec,
)

psutil = pytest.importorskip("psutil")


def _spec_text(packages: list[str], replicates: int, horizon: int = 8) -> str:
    text = SPEC.replace('package = ["status_quo", "digital", "factors", "all_five"]', f"package = {packages!r}")
    return text.replace("replicates = 6", f"replicates = {replicates}").replace("horizon = 8", f"horizon = {horizon}")


# ---------------------------------------------------------------------------- chunk sizes (no Dask)
def test_chunk_size_targets_seconds_per_task_and_shrinks_at_the_end():
    assert chunk_size(None, 2.0, workers=2) == 1  # the time of a run is unknown yet: one run per task
    assert chunk_size(0.4, 2.0, workers=2) == 5  # about 2 s of work per task
    assert chunk_size(5.0, 2.0, workers=2) == 1  # long runs: one per task
    assert chunk_size(0.001, 2.0, workers=2, cap=64) == 64
    # near the end (left runs known): an even share for every worker, down to one run per task
    assert chunk_size(0.4, 2.0, workers=2, left=40) == 5
    assert chunk_size(0.4, 2.0, workers=2, left=12) == 3
    assert chunk_size(0.4, 2.0, workers=2, left=3) == 1


# ---------------------------------------------------------------------------- workers die with the driver
DRIVER = """
import sys, time
from pathlib import Path

from experiments import run_sweep
from experiments.running.executors import DaskExecutor, ProcessExecutor
from experiments.running.spec import parse_spec

SPEC = {spec!r}


def stuck_model(cfg, seed):
    # a run far longer than the test: tell the test it started, then "compute"
    Path(sys.argv[2], f"started-{{seed}}").touch()
    time.sleep(600)


if __name__ == "__main__":
    kind, folder = sys.argv[1], Path(sys.argv[2])
    ex = ProcessExecutor(2) if kind == "processes" else DaskExecutor("local", workers=2)
    run_sweep(parse_spec(SPEC), folder / "out", ex, model=stuck_model, progress=False)
"""


def _alive(procs: list) -> list:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _sigkill_driver_then_survivors(kind: str, tmp_path: Path) -> tuple[list, list]:
    """Start a sweep whose runs never end, SIGKILL its driver once two runs are running; returns
    (the driver's descendants before the kill, those still alive a few seconds after)."""
    text = _spec_text(["status_quo"], 4).split("[outcomes]")[0]  # outcomes "all": no probe run in the driver
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(spec=text))
    driver = subprocess.Popen([sys.executable, str(script), kind, str(tmp_path)], cwd=ROOT, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: len(list(tmp_path.glob("started-*"))) >= 2, 120, "two runs to start in the workers")
        children = psutil.Process(driver.pid).children(recursive=True)
        assert len(children) >= 2, children
        os.kill(driver.pid, signal.SIGKILL)  # the driver only, like a crash or `kill -9`
        driver.wait(timeout=20)
        deadline = time.monotonic() + 10
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        return children, _alive(children)
    finally:
        kill_group(driver)  # whatever survived (the test then fails on it)


def test_process_pool_workers_die_with_sigkilled_driver(tmp_path):
    children, survivors = _sigkill_driver_then_survivors("processes", tmp_path)
    assert not survivors, f"still running after the driver was SIGKILLed: {[p.cmdline()[:3] for p in survivors]}"


@pytest.mark.cluster
def test_local_cluster_workers_die_with_sigkilled_driver(tmp_path):
    children, survivors = _sigkill_driver_then_survivors("dask", tmp_path)
    assert not survivors, f"still running after the driver was SIGKILLed: {[p.cmdline()[:3] for p in survivors]}"


# ---------------------------------------------------------------------------- lost scheduler
@pytest.mark.cluster
def test_lost_scheduler_exits_2_with_one_line_and_plain_resume_completes(tmp_path):
    """SIGKILL the scheduler mid-sweep: exit 2, one line on stderr, finished runs kept, no run recorded
    as failed; the same command without --retry-failed then completes every run, each run once."""
    total = 12
    spec_path = write_spec(tmp_path, _spec_text(["status_quo", "digital", "factors", "all_five"], 3, horizon=40))
    out = tmp_path / "out"
    cluster = DaskProcesses(2)
    env = {**_env(), "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}  # give up on the scheduler after 3 s
    args = [sys.executable, "-m", "experiments", "run", str(spec_path), "--out", str(out), "--batch", "1",
            "--no-progress"]
    try:
        driver = subprocess.Popen([*args, "--dask", cluster.address], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            wait_for(lambda: committed(out) >= 2, 180, "the first committed runs")
            kill_group(cluster.scheduler)
            assert committed(out) < total, "the sweep finished before the scheduler was killed"
            stdout, stderr = driver.communicate(timeout=120)
        finally:
            kill_group(driver)
    finally:
        cluster.close()
    assert driver.returncode == 2, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    m = re.fullmatch(rf"lost the Dask scheduler at {cluster.address}: (\d+) of {total} runs done and saved; "
                     r"re-run the same command to resume", lines[0])
    assert m, lines[0]
    status = Store(out).status()
    assert (status["done"], status["failed"]) == (int(m.group(1)), 0)
    assert 2 <= status["done"] < total
    assert (Store(out).runs(history=True)["status"] == "ok").all()

    proc = subprocess.run([*args, "--workers", "2"], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{total}/{total} runs done, 0 failed" in proc.stdout
    assert f"this session: {total - status['done']} runs" in proc.stdout
    history = Store(out).runs(history=True)
    assert history["run_id"].is_unique and len(history) == total and (history["status"] == "ok").all()


# ---------------------------------------------------------------------------- killed workers, batching
def die_once_model(cfg, seed):
    """The real model, except that the all_five package kills its worker process the first time each seed
    runs (a marker file per seed in $QHD_DIE_ONCE_DIR): a worker lost under the run, not a model error."""
    if cfg["anchor_attraction_budget"] > 0:
        marker = Path(os.environ["QHD_DIE_ONCE_DIR"], f"died-{seed}")
        if not marker.exists():
            marker.touch()
            os._exit(3)
    return sim.run_scenario(cfg, seed)


@pytest.mark.cluster
def test_killed_workers_rerun_the_runs_and_batches_match_serial(tmp_path, monkeypatch):
    """With no retries allowed by the scheduler, each worker death gives KilledWorker: the runs of the
    lost 2-run batch are rerun one per task (the culprit alone again), nothing is recorded as failed,
    and the store equals the serial one run for run."""
    import dask
    import distributed  # noqa: F401 - registers its config, which dask.config.set would otherwise drop on exit

    text = _spec_text(["status_quo", "all_five", "digital"], 2)
    spec = parse_spec(text, path=write_spec(tmp_path, text))
    serial = run_sweep(spec, tmp_path / "serial", progress=False)
    assert serial.done == 6
    monkeypatch.setenv("QHD_DIE_ONCE_DIR", str(tmp_path))  # LocalCluster workers inherit it
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        ex = DaskExecutor("local", workers=2, chunk=2)
        res = run_sweep(spec, tmp_path / "dask", ex, model=die_once_model, progress=False)
    assert len(list(tmp_path.glob("died-*"))) == 2  # both all_five runs did kill a worker
    assert (res.done, res.failed, res.pending) == (6, 0, 0)
    history = Store(tmp_path / "dask").runs(history=True)
    assert history["run_id"].is_unique and (history["status"] == "ok").all()
    assert ex.tasks_submitted >= 3 + 2 + 1  # 3 batches of 2; the lost one run by run; its culprit again
    assert_same_store(tmp_path / "serial", tmp_path / "dask")
