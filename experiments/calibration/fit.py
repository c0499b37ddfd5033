"""ABC-SMC fit of behavioural coefficients to the calibration targets, with pyabc (resumable).

* Prior: uniform over each fitted uncertainty's range in ``configs/parameters.toml``.
* Model: a particle's values override the base scenario; ``seeds_per_particle`` runs (seeds derived
  from the spec seed and the particle's values, so an evaluation is reproducible) are averaged by
  ``sim.outputs.calibration.target_measures``: model stochasticity enters every evaluation.
* Distance: Euclidean over the targets, each deviation in units of its tolerance (half its band in
  ``configs/calibration.toml``), so a target is as important as its source is precise.
* Epsilon: pyabc's median schedule. The fit stops after ``generations``, or when epsilon fell by less
  than ``min_eps_diff`` tolerances from one generation to the next (pyabc's ``min_eps_diff``).
* History: pyabc's SQLite database ``results/<name>/abc.db`` is the resumable record; ``fit.json``
  beside it names the pyabc run and the spec digest. Re-running the same command after a kill loads
  that run and continues with the generations still missing (a generation cut short is sampled again).
* Executors: local processes (pyabc ``MulticoreEvalParallelSampler``), or a Dask cluster through
  pyabc's ``DaskDistributedSampler``.
* Ownership: the folder must be new, empty or a fit's (a sweep, an optimisation, a ``sim run`` output
  or a folder of other files is refused: :func:`check_fit_folder`); the Dask scheduler is reached
  before the folder is created; one fit at a time writes a folder (an ``flock`` on ``.lock``, as
  sweeps: a second fit is refused naming the first's pid; a killed fit's lock is taken over). Two
  fits appending generations to one pyabc run would leave a history no resume can read.

Only ``sim.outputs.calibration.target_measures`` (which steps a ``ClusterModel``) is called; ``sim`` knows
nothing of pyabc.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from experiments.calibration.spec import CalibrationSpec
from experiments.running.files import DamagedFile, detail, read_json_object
from experiments.running.spec import SpecError
from experiments.running.store import FolderInUse, Store, describe_kind, foreign_entries, result_kind, write_text

PENALTY = 1e3  # tolerances of deviation counted for a target the run could not measure (NaN)


class FitModel:
    """pyabc model: particle -> mean target measures over ``seeds_per_particle`` runs (picklable)."""

    def __init__(self, spec: CalibrationSpec):
        self.spec = spec
        self.names = [t.name for t in spec.targets]

    def seeds(self, particle: dict) -> list[int]:
        key = json.dumps({k: round(float(v), 12) for k, v in sorted(particle.items())})
        digest = int(hashlib.sha256(f"{self.spec.seed}|{key}".encode()).hexdigest()[:15], 16)
        ss = np.random.SeedSequence([self.spec.seed, digest])
        return [int(s.generate_state(1, np.uint64)[0] % (2**63)) for s in ss.spawn(self.spec.seeds_per_particle)]

    def __call__(self, particle: dict) -> dict[str, float]:
        from experiments.running.runner import settle_process
        from sim.outputs.calibration import target_measures

        settle_process()  # once per sampler process

        cfg = self.spec.base_config().with_overrides({k: float(v) for k, v in particle.items()})
        runs = [target_measures(cfg, seed) for seed in self.seeds(particle)]
        return {n: float(np.nanmean([r[n] for r in runs])) if any(np.isfinite(r[n]) for r in runs) else math.nan
                for n in self.names}


def scaled_distance(spec: CalibrationSpec) -> Callable[[dict, dict], float]:
    tol = {t.name: t.tolerance for t in spec.targets}

    def distance(x: dict, x0: dict) -> float:
        total = 0.0
        for name, scale in tol.items():
            d = (x[name] - x0[name]) / scale
            total += PENALTY**2 if not np.isfinite(d) else d * d
        return math.sqrt(total)

    return distance


class _Progress(logging.Handler):
    """One line per finished generation from pyabc's log: epsilon, acceptance, time, ETA."""

    _eps = re.compile(r"^t: (\d+), eps: ([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|inf)")
    _acc = re.compile(r"^Accepted: (\d+) / (\d+) = ")

    def __init__(self, spec: CalibrationSpec, log: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.spec, self.log = spec, log
        self.done, self.eps, self.prev, self.times, self.t0 = 0, math.nan, math.nan, [], time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if m := self._eps.match(msg):
            self.eps = float(m.group(2))
        elif m := self._acc.match(msg):
            accepted, simulated = int(m.group(1)), int(m.group(2))
            now = time.perf_counter()
            self.times.append(now - self.t0)
            self.t0 = now
            self.done += 1
            left = self.spec.generations - self.done
            change = "" if not np.isfinite(self.prev) else f" ({self.eps - self.prev:+.3g})"
            self.log(f"{self.spec.name}: generation {self.done}/{self.spec.generations}: epsilon {self.eps:.4g}{change}, "
                     f"acceptance {accepted / max(simulated, 1):.2f} ({simulated} simulations), "
                     f"{self.times[-1]:.1f} s; ETA {np.mean(self.times) * left / 60:.1f} min")
            self.prev = self.eps


@dataclass
class FitResult:
    root: Path
    db: Path
    run_id: int
    generations: int
    wall_s: float
    resumed: bool
    stopped: str


def _prior(spec: CalibrationSpec):
    import pyabc

    return pyabc.Distribution(**{n: pyabc.RV("uniform", lo, hi - lo) for n, (lo, hi) in spec.priors().items()})


def _sampler(workers: int | None, dask: str | None):
    """The pyabc sampler (and Dask client, if any). An unreachable scheduler raises
    :class:`~experiments.running.executors.ExecutorError` (one line) before anything is written."""
    import pyabc

    if dask:
        from distributed import Client

        from experiments.running.executors import ExecutorError

        try:
            client = (Client(dask) if dask != "local" else Client(
                n_workers=workers or os.cpu_count(), threads_per_worker=1, dashboard_address="127.0.0.1:0"))
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ExecutorError(f"--dask {dask}: cannot use Dask there ({type(exc).__name__}: {first}); "
                                "nothing was written") from None
        return pyabc.sampler.DaskDistributedSampler(dask_client=client), client
    n = workers or os.cpu_count() or 1
    if n <= 1:
        return pyabc.sampler.SingleCoreSampler(), None
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=n), None


def _abc(spec: CalibrationSpec, sampler):
    import pyabc

    return pyabc.ABCSMC(FitModel(spec), _prior(spec), scaled_distance(spec), population_size=spec.population,
                        sampler=sampler)


def observed(spec: CalibrationSpec) -> dict[str, float]:
    return {t.name: t.value for t in spec.targets}


def fit_folder(spec: CalibrationSpec, out: Path | None = None) -> Path:
    """Where the fit of ``spec`` goes: ``out``, or ``results/<name>``."""
    return Path(out) if out is not None else Path("results") / spec.name


def check_fit_folder(root: Path) -> None:
    """Refuse (:class:`FolderInUse`, one line, nothing written) a folder a fit must not write into: one
    holding another kind of result (sweep, optimisation, ``sim run``), or files that are not a fit's."""
    kind = result_kind(root)
    if kind is not None and kind != "fit":
        raise FolderInUse(f"--out {root} holds {describe_kind(kind)}; a fit is never mixed into another result. "
                          "Nothing was written; give another --out")
    if kind is None and root.is_dir():
        foreign = foreign_entries(root, "fit")
        if foreign:
            shown = ", ".join(foreign[:6]) + (" ..." if len(foreign) > 6 else "")
            raise FolderInUse(f"--out {root} holds files that are not a calibration fit ({shown}); a fit writes "
                              "only into a new or empty folder or its own. Nothing was written; give another --out")


def _start_again(root: Path, meta: dict | None, spec: CalibrationSpec, force: bool) -> bool:
    """Does ``root`` hold a fit of another spec (to be started again with ``force``)? Without ``force``
    that is refused (SpecError, one line)."""
    if not meta or meta.get("digest") == spec.digest():
        return False
    if not force:
        raise SpecError(f"{root} holds a fit of another spec ({meta.get('spec')}, digest {meta.get('digest')}); "
                        f"use another --out, or --force to start again")
    return True


def _orphan_history(db: Path, meta: dict | None, force: bool) -> bool:
    """An ``abc.db`` without ``fit.json``: a fit killed before its first record, or a database someone
    put there. It is deleted only with ``force`` (True); without, refused (SpecError, one line)."""
    if meta is not None or not db.is_file():
        return False
    if not force:
        raise SpecError(f"{db}: a pyabc database without the fit.json that names its run (a fit killed before "
                        "its first record, or a database not made here); nothing was changed. Give another --out, "
                        "or --force to delete it and start again")
    return True


_SQLITE_OS_ERRORS = (("disk is full", errno.ENOSPC), ("readonly database", errno.EROFS),
                     ("disk i/o error", errno.EIO))


@contextlib.contextmanager
def _disk_errors(db: Path) -> Iterator[None]:
    """SQLite's write failures under pyabc (disk full, read-only disk, I/O error) raised as the OSError
    they are, naming ``abc.db`` (one line at the command line instead of SQLAlchemy's many)."""
    import sqlalchemy.exc

    try:
        yield
    except (sqlalchemy.exc.OperationalError, sqlite3.OperationalError) as exc:
        text = str(getattr(exc, "orig", None) or exc).lower()
        for needle, code in _SQLITE_OS_ERRORS:
            if needle in text:
                raise OSError(code, f"{os.strerror(code)} (SQLite: {needle})", str(db)) from None
        raise


def run_fit(spec: CalibrationSpec, out: Path | None = None, workers: int | None = None, dask: str | None = None,
            force: bool = False, log: Callable[[str], None] = print,
            hold: contextlib.ExitStack | None = None) -> FitResult:
    """Fit (or resume fitting) ``spec``; returns where its history is. Progress lines go to ``log``.

    Nothing is written before the folder is checked (:func:`check_fit_folder`, a fit of another spec
    without ``force``) and the Dask scheduler, if any, answered. The folder's lock is held for the fit;
    with ``hold`` it is entered on that stack and stays held until the caller closes it (so the report
    and the published posterior are written under it too). A folder another fit holds raises
    :class:`~experiments.running.store.StoreLocked` naming its pid.
    """
    root = fit_folder(spec, out)
    db, meta_path = root / "abc.db", root / "fit.json"
    check_fit_folder(root)
    _start_again(root, read_fit_meta(meta_path), spec, force)
    _orphan_history(db, read_fit_meta(meta_path), force)
    sampler, client = _sampler(workers, dask)  # before the folder is created: a bad address leaves nothing
    try:
        with contextlib.ExitStack() as own:
            (hold if hold is not None else own).enter_context(Store(root).lock("fit"))
            meta = read_fit_meta(meta_path)  # again, under the lock
            if _start_again(root, meta, spec, force) or _orphan_history(db, meta, force):
                for f in (db, meta_path):
                    f.unlink(missing_ok=True)
                meta = None
            with _disk_errors(db):
                return _fit(spec, root, db, meta_path, meta, sampler, log)
    finally:
        if client is not None:
            client.close()


def _fit(spec: CalibrationSpec, root: Path, db: Path, meta_path: Path, meta: dict | None, sampler,
         log: Callable[[str], None]) -> FitResult:
    start = time.perf_counter()
    progress = _Progress(spec, log)
    abc_log = logging.getLogger("ABC")
    quiet = {h: h.level for h in abc_log.handlers}  # pyabc's own lines give way to one line per generation
    for h in quiet:
        h.setLevel(logging.WARNING)
    abc_log.addHandler(progress)
    abc_log.setLevel(logging.INFO)
    try:
        abc = _abc(spec, sampler)
        resumed = bool(meta and db.is_file())
        if resumed:
            check_history(db, meta["run_id"])
            history = abc.load(f"sqlite:///{db}", meta["run_id"])
        else:
            db.unlink(missing_ok=True)
            history = abc.new(f"sqlite:///{db}", observed(spec))
            meta = {"spec": str(spec.path or spec.name), "digest": spec.digest(), "run_id": history.id}
            write_text(json.dumps(meta, indent=2), meta_path)
        done = history.max_t + 1 if history.max_t is not None and history.max_t >= 0 else 0
        progress.done = done
        if resumed:
            log(f"{spec.name}: resuming pyabc run {history.id} after {done} of {spec.generations} generations")
        stopped = "generations"
        if done < spec.generations:  # one call: pyabc adapts epsilon across the generations of a call
            guard = {"max_walltime": timedelta(minutes=spec.max_minutes)} if spec.max_minutes > 0 else {}
            history = abc.run(max_nr_populations=spec.generations - done, min_eps_diff=spec.min_eps_diff, **guard)
            done = history.max_t + 1
            if done < spec.generations:
                late = spec.max_minutes > 0 and time.perf_counter() - start > 60 * spec.max_minutes
                stopped = (f"wall-time guard of {spec.max_minutes:g} min" if late
                           else f"epsilon improved by less than {spec.min_eps_diff:g} tolerances")
        meta["stopped"] = stopped
        write_text(json.dumps(meta, indent=2), meta_path)
        return FitResult(root=root, db=db, run_id=int(meta["run_id"]), generations=done,
                         wall_s=time.perf_counter() - start, resumed=resumed, stopped=stopped)
    except Exception as exc:
        if (damaged := history_error(db, exc)) is None:
            raise
        raise damaged from None
    finally:
        abc_log.removeHandler(progress)
        for h, level in quiet.items():
            h.setLevel(level)


_RESTART = "move abc.db and fit.json out of this folder (or give another --out) to start a new fit"
LOCK_WAIT_S = 2.0  # how long to wait for another process's lock on abc.db before saying so


def read_fit_meta(path: Path) -> dict | None:
    """``fit.json`` (None if absent): the spec digest and the pyabc run of ``abc.db``; :class:`DamagedFile`
    if it is unreadable or not such a record."""
    if not path.exists():
        return None
    meta = read_json_object(path, _RESTART)
    run_id = meta.get("run_id")
    if not isinstance(meta.get("digest"), str) or not isinstance(run_id, int) or isinstance(run_id, bool):
        raise DamagedFile(path, "lacks 'digest' (text) or 'run_id' (integer): not the record of a fit", _RESTART)
    return meta


def check_history(db: Path, run_id: int) -> None:
    """``abc.db`` must be a sound SQLite file holding pyabc run ``run_id``; else :class:`DamagedFile`
    (random bytes, cut short, empty, another database, or locked by another process)."""
    if not db.is_file():
        raise DamagedFile(db, f"is missing (fit.json names pyabc run {run_id} in it)", _RESTART)
    if db.stat().st_size == 0:
        raise DamagedFile(db, "is empty (0 bytes)", _RESTART)
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_WAIT_S)
        try:
            check = con.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise DamagedFile(db, f"is damaged (sqlite quick_check: {detail(check)})", _RESTART)
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"abc_smc", "populations"} <= tables:
                raise DamagedFile(db, "is a SQLite database but not a pyabc history (no abc_smc/populations tables)",
                                  _RESTART)
            if not con.execute("SELECT count(*) FROM abc_smc WHERE id = ?", (run_id,)).fetchone()[0]:
                raise DamagedFile(db, f"holds no pyabc run {run_id} (the run fit.json names)", _RESTART)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise _sqlite_damage(db, exc) from None


def history_error(db: Path, exc: BaseException) -> DamagedFile | None:
    """pyabc's database errors (through SQLAlchemy) as :class:`DamagedFile` naming ``db``; None for others."""
    orig = getattr(exc, "orig", None)
    err = orig if isinstance(orig, sqlite3.Error) else exc if isinstance(exc, sqlite3.Error) else None
    if err is None or any(needle in str(err).lower() for needle in ("disk is full", "readonly database")):
        return None  # not SQLite's, or a full / read-only disk (:func:`_disk_errors` names it as such)
    return _sqlite_damage(db, err)


def _sqlite_damage(db: Path, exc: BaseException) -> DamagedFile:
    text = detail(exc)
    if "locked" in text or "busy" in text:
        return DamagedFile(db, f"is locked by another process (sqlite: {text})",
                           "is another fit or a database browser using it? Run again when it has finished")
    if "not a database" in text:
        return DamagedFile(db, f"is not a SQLite database (sqlite: {text})", _RESTART)
    return DamagedFile(db, f"is damaged (sqlite: {text})", _RESTART)


def posterior(db: Path, run_id: int):
    """The last generation's particles: DataFrame of parameter columns plus ``weight`` (sums to 1)."""
    import pyabc

    check_history(db, run_id)
    history = pyabc.History(f"sqlite:///{db}", _id=run_id, create=False)
    try:
        df, w = history.get_distribution(m=0, t=history.max_t)
    except Exception as exc:
        if (damaged := history_error(db, exc)) is None:
            raise
        raise damaged from None
    if len(df) == 0 or not np.all(np.isfinite(np.asarray(w, float))) or np.sum(w) <= 0:
        raise DamagedFile(db, f"pyabc run {run_id} has no weighted particles in its last generation", _RESTART)
    out = df.reset_index(drop=True).copy()
    out.columns.name = None
    out["weight"] = np.asarray(w, float) / np.sum(w)
    return out, history
