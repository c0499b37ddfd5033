"""The sweep driver: plan the runs, skip finished ones, run the rest, write batches, show progress.

``run_sweep(spec, out_dir, executor)`` is resumable: re-running the same spec into the same
directory runs only the runs with no record (and, with ``retry_failed=True``, the failed ones).
The driver holds at most one small batch of results at a time, so its memory does not grow with
the number of runs; records are committed every ``batch`` runs or ``flush_seconds`` seconds,
whichever comes first, and on Ctrl-C before exiting.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

import sim
from experiments.running import design, provenance
from experiments.running.executors import SerialExecutor
from experiments.running.runner import (STATUS_FAILED, STATUS_OK, RunRecord, RunTask, config_fields, execute,
                                probe_config, select_outcomes)
from experiments.running.spec import PROJECT_DIR, Spec, SpecError
from experiments.running.store import DAMAGED, FolderInUse, Store, StoreDamaged, why_not_movable


@dataclass(frozen=True)
class SweepResult:
    """Counts for the whole design after the sweep, and for this session."""

    out_dir: Path
    total: int
    done: int
    failed: int
    pending: int
    ran: int
    ran_ok: int
    ran_failed: int
    seconds: float

    @property
    def runs_per_minute(self) -> float:
        return 60.0 * self.ran / self.seconds if self.seconds > 0 else float("nan")

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.done}/{self.total} runs done, {self.failed} failed, {self.pending} pending "
            f"(this session: {self.ran} runs in {_hms(self.seconds)}, {self.runs_per_minute:.0f} runs/min)"
        )


def default_out_dir(spec: Spec, results_root: str | Path = "results") -> Path:
    """``results/<spec file name without .toml>`` (or the experiment name for specs from text)."""
    stem = spec.path.stem if spec.path is not None else spec.name
    return Path(results_root) / stem


def check_outcomes(spec: Spec, model: Callable | None) -> None:
    """Fail before the sweep if the spec asks for outcomes the model does not produce (1-quarter probe)."""
    o = spec.outcomes
    if all(getattr(o, k) == "all" for k in ("summary", "city", "clusters", "districts")):
        return
    run = model or sim.run_scenario
    result = run(probe_config(spec.base), 0)
    try:
        select_outcomes(result, o)
    except KeyError as exc:
        where = spec.path.name if spec.path else spec.name
        raise SpecError(f"{where}: {exc.args[0]}") from None


def tasks(spec: Spec, plan: pd.DataFrame, run_ids: set[str], model_version: str) -> Iterator[RunTask]:
    """Tasks for the planned runs in ``run_ids`` (each run id once), configs built lazily per point."""
    presets = spec.packages or sim.load_presets()
    seen: set[str] = set()
    cached: tuple[int, Any] | None = None
    for row in _records(plan):
        rid = row["run_id"]
        if rid not in run_ids or rid in seen:
            continue
        seen.add(rid)
        values = {n: row[n] for n in spec.factor_names}
        draw = spec.draw_of(int(row["replicate"]), int(row["point"]))
        if cached is None or cached[0] != (row["point"], draw):
            cached = ((row["point"], draw), design.point_config(spec, values, presets, draw))
        cfg = cached[1]
        yield RunTask(
            run_id=rid, point=int(row["point"]), replicate=int(row["replicate"]), seed=int(row["seed"]),
            **config_fields(cfg), config_digest=row["config_digest"], model_version=model_version,
            design=values if draw is None else {"draw": draw, **values}, outcomes=spec.outcomes,
        )


def _records(plan: pd.DataFrame, chunk: int = 1000) -> Iterator[dict[str, Any]]:
    for start in range(0, len(plan), chunk):
        yield from plan.iloc[start : start + chunk].to_dict("records")


def run_sweep(
    spec: Spec,
    out_dir: str | Path | None = None,
    executor: Any = None,
    *,
    retry_failed: bool = False,
    model: Callable | None = None,
    progress: bool = True,
    batch: int = 16,
    flush_seconds: float = 2.0,
    command: str | None = None,
    force: bool = False,
) -> SweepResult:
    """Run (or resume) the sweep of ``spec`` into ``out_dir`` with ``executor`` (default serial).

    ``model`` replaces ``sim.run_scenario`` (a picklable top-level callable; for tests). A folder
    holding another experiment is refused (:class:`FolderInUse`) unless ``force``, which moves it
    aside to a sibling folder first. Nothing is written before the spec, the folder and the
    executor are checked (the executor is started first when there are runs to do).
    """
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec)
    store = Store(out)
    executor = executor or SerialExecutor()
    mv = provenance.model_version()
    check_outcomes(spec, model)
    plan = design.build_plan(spec, mv)
    aside = check_folder(store, spec, force=force)
    fn = execute if model is None else functools.partial(execute, model=model)
    started = time.time()
    damage = [] if aside else store.verify()
    if blocking := [d for d in damage if d.batch is None]:  # e.g. runs/ is a file: nothing to recompute
        raise StoreDamaged(store, blocking)
    before = {} if aside else store.status_of_runs(skip={d.batch for d in damage})
    work = bool(damage) or any(before.get(r) != STATUS_OK and (retry_failed or r not in before)
                               for r in plan["run_id"])
    with _open_folder(store, executor, start=work, aside=aside) as ready:
        damage, redo = store.quarantine()  # damaged batches go to damaged/; their runs are run again
        if damage:
            names = ", ".join(str(d.path.relative_to(store.root)) for d in damage[:3])
            held = f"the {len(redo)} runs they held" if redo else "the runs they held"
            print(f"damaged: {names}{' ...' if len(damage) > 3 else ''}; moved with the rest of their batch to "
                  f"{store.root / DAMAGED}, {held} are computed again", file=sys.stderr)
        store.clean()
        store.write_spec(spec.text)
        store.write_design(plan)
        state = store.status_of_runs()
        planned = list(dict.fromkeys(plan["run_id"]))
        todo = {r for r in planned
                if r in redo or (state.get(r) != STATUS_OK and (retry_failed or r not in state))}
        prov = _provenance(store, spec, mv)
        session: dict[str, Any] = {
            "started": provenance.now(), "command": command or " ".join(sys.argv), "retry_failed": retry_failed,
            "planned": len(planned), "to_run": len(todo),
        }
        prov["sessions"].append(session)
        store.write_provenance(prov)

        ran_ok = ran_failed = 0
        buffer: list[RunRecord] = []
        last_flush = time.monotonic()
        already_ok = sum(1 for r in planned if state.get(r) == STATUS_OK and r not in todo)
        skipped_failed = sum(1 for r in planned if state.get(r) == STATUS_FAILED and r not in todo)
        bar = tqdm(
            total=len(planned), initial=already_ok + skipped_failed, disable=not progress, unit="run",
            desc=spec.name, dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 15.0, file=sys.stderr,
        )

        def postfix() -> None:
            left = len(todo) - ran_ok - ran_failed
            bar.set_postfix_str(f"done={already_ok + ran_ok} failed={skipped_failed + ran_failed} left={left}",
                                refresh=False)

        def flush() -> None:
            nonlocal last_flush
            store.write_batch(buffer)
            buffer.clear()
            last_flush = time.monotonic()

        postfix()
        try:
            if todo:
                with contextlib.nullcontext(ready) if ready is not None else executor as ex:
                    session["executor"] = ex.describe()
                    for record in ex.imap_unordered(fn, tasks(spec, plan, todo, mv)):
                        buffer.append(record)
                        if record.ok:
                            ran_ok += 1
                        else:
                            ran_failed += 1
                        if len(buffer) >= batch or time.monotonic() - last_flush >= flush_seconds:
                            flush()
                        postfix()
                        bar.update(1)
        finally:
            flush()  # finished runs are kept even on Ctrl-C or an executor error
            bar.close()
            status = store.status()
            session.update(finished=provenance.now(), ran_ok=ran_ok, ran_failed=ran_failed, status=status)
            store.write_provenance(prov)
    return SweepResult(
        out_dir=out, total=status["total"], done=status["done"], failed=status["failed"],
        pending=status["pending"], ran=ran_ok + ran_failed, ran_ok=ran_ok, ran_failed=ran_failed,
        seconds=time.time() - started,
    )


def check_folder(store: Store, spec: Spec, force: bool = False) -> bool:
    """Is the results folder free for ``spec``? True: it must be moved aside first (``force``).

    The folder may hold nothing, or the same experiment (same name, design kind and factors; values,
    ranges, replicates, the horizon or the model may have changed: old runs stay on disk and every
    table reads the current design only). Anything else raises :class:`FolderInUse` naming both,
    unless ``force`` and the folder is a results folder of this project holding nothing else
    (:func:`experiments.running.store.why_not_movable`): only such a folder is moved aside.
    """
    held = store.holding()
    if held is None:
        return False
    mine = f"{spec.name!r} ({_describe(spec.design.kind, spec.factor_names)}; spec {spec.path or 'from text'})"
    if held["kind"] == "sweep":
        differs = []
        if held["name"] != spec.name:
            differs.append(f"experiment {held['name']!r} vs {spec.name!r}")
        if held["design"] is not None and held["design"] != spec.design.kind:
            differs.append(f"design {held['design']} vs {spec.design.kind}")
        added = [f for f in spec.factor_names if f not in held["factors"]]
        removed = [f for f in held["factors"] if f not in spec.factor_names]
        if added or removed:
            differs.append("factors " + ", ".join([*(f"+{f}" for f in added[:5]), *(f"-{f}" for f in removed[:5])])
                           + (" ..." if len(added) > 5 or len(removed) > 5 else ""))
        if not differs:
            return False
        theirs = (f"another experiment, {held['name']!r} ({_describe(held['design'], held['factors'])}; "
                  f"spec {held['spec_file'] or '?'}; {held['done']} runs done)")
        why = f" ({'; '.join(differs)})"
    else:
        shown = ", ".join(held["entries"][:6]) + (" ..." if len(held["entries"]) > 6 else "")
        theirs, why = f"files that are not a sweep ({shown})", ""
    if force:
        problem = why_not_movable(store.root)  # never a user's folder (a git checkout, notes beside a sweep)
        if problem:
            raise FolderInUse(f"{store.root} holds {theirs}; it {problem}. Nothing was written; give another --out")
        return True
    raise FolderInUse(
        f"{store.root} holds {theirs}; this spec is {mine}{why}. Nothing was written. Give another --out, or "
        f"add --force to move the old folder aside to {store.root.name}.old-<date-time> first (never mixed)")


def _describe(kind: str | None, factors: list[str]) -> str:
    shown = ", ".join(factors) if len(factors) <= 4 else f"{len(factors)} factors"
    return f"{kind or 'design'} over {shown or 'no factors'}"


@contextlib.contextmanager
def _open_folder(store: Store, executor: Any, start: bool, aside: bool) -> Iterator[Any]:
    """Start the executor (if ``start``: an unreachable scheduler fails here, before any write), then move
    an old experiment aside (``aside``), then lock the folder; yields the started executor or None."""
    with contextlib.ExitStack() as stack:
        ready = stack.enter_context(executor) if start else None
        if aside:
            moved = store.move_aside()
            print(f"moved the old results aside: {moved}", file=sys.stderr)
        stack.enter_context(store.lock())
        yield ready


def _provenance(store: Store, spec: Spec, mv: str) -> dict[str, Any]:
    prov = store.provenance()
    prov.update(
        experiment=spec.name, spec_file=str(spec.path) if spec.path else None, spec=spec.raw,
        design={"kind": spec.design.kind, "factors": {f.name: f.describe() for f in spec.factors},
                "replicates": spec.replicates, "seed": spec.seed, "crn": spec.crn,
                "base_values": base_values(spec), **_timing(spec)},
        policy_packages=spec.package_definitions(), model_version=mv, git=provenance.git_state(PROJECT_DIR),
        packages=provenance.package_versions(),
        host=provenance.host_info(),
    )
    prov.setdefault("created", provenance.now())
    prov.setdefault("sessions", [])
    return prov


def base_values(spec: Spec) -> dict[str, Any]:
    """Each swept lever's, uncertainty's and setting's value in the base scenario (the status quo unless
    ``[base]`` changes it): the level the paired effects compare the others with when the design has it
    (:func:`experiments.reading.effects.baseline`). Timing parts and the package are left out."""
    out: dict[str, Any] = {}
    for f in spec.factors:
        if f.kind in ("lever", "uncertainty"):
            out[f.name] = spec.base.values[f.name]
        elif f.kind == "setting":
            out[f.name] = spec.base.scenario.get(f.name)
    return out


def _timing(spec: Spec) -> dict[str, Any]:
    """Timing that holds in every run (for provenance and the report): the fixed parts of timed levers in
    [levers], the base's timed levers and channels switched off. Empty for a spec without timing."""
    out: dict[str, Any] = {}
    fixed = {k: dict(v) for k, v in spec.timing.items() if v}
    if fixed:
        out["timing_fixed"] = fixed
    if spec.base.schedules:
        out["base_schedules"] = {k: {"value": spec.base.values[k], **s.to_dict()}
                                 for k, s in spec.base.schedules.items()}
    if spec.base.channels_off:
        out["channels_off"] = sorted(spec.base.channels_off)
    return out


def _hms(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
