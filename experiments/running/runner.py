"""Run one task on a worker: rebuild the config, call the model, keep the requested outcomes.

:func:`execute` is the top-level, picklable function every executor calls. It never raises for a
model error: an exception becomes a ``failed`` :class:`RunRecord` with the traceback, so one bad run
does not end the sweep. The model is ``sim.run_scenario`` unless another callable with the same
signature, ``model(config, seed) -> result with .city/.clusters/.districts/.summary()``, is passed
(tests use ``functools.partial(execute, model=...)``).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from experiments.running.provenance import model_version
from experiments.running.spec import TABLES, Outcomes

STATUS_OK = "ok"
STATUS_FAILED = "failed"
MAX_ERROR_CHARS = 20_000
ALWAYS_KEPT = ("quarter", "period", "year", "cluster", "district")  # row keys of the model's tables


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (small and picklable)."""

    run_id: str
    point: int
    replicate: int
    seed: int
    scenario: Mapping[str, Any]
    values: Mapping[str, Any]
    config_digest: str
    model_version: str
    design: Mapping[str, Any]
    outcomes: Outcomes
    schedules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # timed levers (Schedule.to_dict)
    channels_off: tuple[str, ...] = ()


def probe_config(cfg: Any) -> Any:
    """``cfg`` for a 1-quarter probe run (which outcomes does the model give?): timed levers at their
    in-window value for the whole quarter, so a window beyond the first quarter is no error."""
    return cfg.with_overrides({k: cfg.values[k] for k in cfg.schedules}, quarters=1)


def config_fields(cfg: Any) -> dict[str, Any]:
    """What a :class:`RunTask` carries of a resolved config (``scenario``, ``values``, ``schedules``,
    ``channels_off``): enough for :func:`build_config` to rebuild it on any worker."""
    return {"scenario": dict(cfg.scenario), "values": dict(cfg.values),
            "schedules": {k: s.to_dict() for k, s in cfg.schedules.items()},
            "channels_off": tuple(sorted(cfg.channels_off))}


@dataclass
class RunRecord:
    """The result of one run: its row in the runs table, its summary and its per-quarter tables."""

    row: dict[str, Any]
    summary: dict[str, Any] | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.row["run_id"]

    @property
    def ok(self) -> bool:
        return self.row["status"] == STATUS_OK


def _row(task: RunTask, status: str, error: str | None, started: float, finished: float,
         cpu_s: float = float("nan")) -> dict[str, Any]:
    return {
        "run_id": task.run_id, "point": task.point, "replicate": task.replicate, "seed": task.seed,
        **dict(task.design),
        "status": status, "error": error,
        "started_at": pd.Timestamp(started, unit="s", tz="UTC"),
        "finished_at": pd.Timestamp(finished, unit="s", tz="UTC"),
        "wall_s": finished - started, "cpu_s": cpu_s, "host": socket.gethostname(), "pid": os.getpid(),
        "model_version": task.model_version, "config_digest": task.config_digest,
    }


def failure(task: RunTask, error: str, started: float | None = None) -> RunRecord:
    """A failed record for ``task`` (also used by executors when a worker is lost)."""
    now = time.time()
    return RunRecord(row=_row(task, STATUS_FAILED, error[-MAX_ERROR_CHARS:], started or now, now))


def _select(frame: pd.DataFrame, keep: str | tuple[str, ...], table: str) -> pd.DataFrame:
    if keep == "all":
        return frame
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise KeyError(f"[outcomes] {table}: unknown column(s) {missing}; the model gives {list(frame.columns)}")
    keys = [c for c in ALWAYS_KEPT if c in frame.columns and c not in keep]
    return frame[keys + list(keep)]


def select_outcomes(result: Any, outcomes: Outcomes) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Summary dict and tables reduced to the spec's outcomes (raises KeyError naming unknown names)."""
    summary = dict(result.summary())
    if outcomes.summary != "all":
        missing = [k for k in outcomes.summary if k not in summary]
        if missing:
            raise KeyError(f"[outcomes] summary: unknown key(s) {missing}; the model gives {sorted(summary)}")
        summary = {k: summary[k] for k in outcomes.summary}
    tables = {}
    for name in TABLES:
        keep = outcomes.columns(name)
        if keep != ():
            tables[name] = _select(getattr(result, name), keep, name).reset_index(drop=True)
    return summary, tables


def build_config(task: RunTask) -> Any:
    """Rebuild the run's config from its resolved values; check it is the config the driver planned."""
    import sim

    overrides: dict[str, Any] = dict(task.values)
    for lever, schedule in task.schedules.items():
        overrides[lever] = {"value": overrides[lever], **schedule}
    if task.channels_off:
        overrides["channels_off"] = list(task.channels_off)
    cfg = sim.default_config().with_overrides(overrides, **dict(task.scenario))
    if cfg.digest() != task.config_digest:
        raise RuntimeError(
            f"config digest mismatch: this worker resolves {cfg.digest()}, the driver planned "
            f"{task.config_digest} (different configs/ on this worker?)"
        )
    return cfg


_SETTLED_PID: int | None = None


def settle_process() -> None:
    """Once per process that runs many models (a sweep or fit worker, after the model is imported):
    move what is alive now (modules, config caches) into the garbage collector's permanent
    generation (``gc.freeze``).

    Each finished run leaves ~50,000 objects in reference cycles (Mesa agents point back at their
    model), which only a full collection frees; without the freeze every full collection also
    scans the ~100,000 objects of the imported libraries. Measured with ``gc.callbacks`` over 10
    calibration runs: collection time 8 % of the runs' time by default, 3 % with the freeze. Results
    do not depend on it. Safe after ``fork`` (the pid is checked).
    """
    global _SETTLED_PID
    if _SETTLED_PID == os.getpid():
        return
    import gc

    import sim.model  # noqa: F401  (imported before the freeze, so its modules are frozen too)

    gc.collect()
    gc.freeze()
    _SETTLED_PID = os.getpid()


def execute(task: RunTask, model: Callable[[Any, int], Any] | None = None) -> RunRecord:
    """Run one task; any exception becomes a failed record with its traceback."""
    started, cpu = time.time(), time.process_time()
    settle_process()
    try:
        here = model_version()
        if model is None and here != task.model_version:
            raise RuntimeError(
                f"model version mismatch: this worker has {here}, the driver planned {task.model_version} "
                "(different sim/ sources on this worker?)"
            )
        if model is None:
            from sim import run_scenario as model
        cfg = build_config(task)
        result = model(cfg, task.seed)
        summary, tables = select_outcomes(result, task.outcomes)
    except Exception:  # noqa: BLE001 - every model error is recorded, the sweep goes on
        return failure(task, traceback.format_exc(), started)
    row = _row(task, STATUS_OK, None, started, time.time(), time.process_time() - cpu)
    return RunRecord(row=row, summary=summary, tables=tables)
