"""The results directory of one experiment: Parquet tables written batch by batch, atomically.

Layout of ``results/<experiment>/``::

    spec.toml           the spec as last run          provenance.json   git, packages, host, sessions
    design.parquet      every planned run: point, replicate, seed, run_id, factor values
    runs/part-<batch>.parquet       one row per finished run (ok or failed, error text, timings)
    summary/part-<batch>.parquet    one row per ok run: run_id + the model's summary scalars
    city|clusters|districts/part-<batch>.parquet   tidy per-quarter tables with a run_id column

A batch is a handful of runs that finished close together. Its table parts are written first, each
to a temporary name then renamed (atomic); the ``runs`` part is written last and *commits* the
batch. Parts whose batch has no ``runs`` part (a crash between the two) are ignored and deleted by
the next sweep. A run that appears more than once (failed, then retried) counts with its latest
record. One sweep at a time may write a store (an advisory ``flock`` on ``.lock``).

Which folder may a command claim? :func:`result_kind` tells what a results folder holds (a sweep, an
optimisation, a calibration fit or a ``sim run``) by the files that command always writes first, and
:func:`foreign_entries` lists what in it that command did not write. ``--force`` moves aside only a
folder of a known kind holding nothing else (:func:`why_not_movable`): never a folder a user made.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.runner import STATUS_FAILED, STATUS_OK, RunRecord
from experiments.spec import TABLES

RUNS = "runs"
SUMMARY = "summary"
PART_TABLES = (SUMMARY, *TABLES)
DESIGN_FILE = "design.parquet"
PROVENANCE_FILE = "provenance.json"
SPEC_FILE = "spec.toml"


class StoreLocked(RuntimeError):
    """Another sweep holds the results directory."""


class FolderInUse(RuntimeError):
    """The results folder holds another experiment, or files that are not a sweep (nothing was written)."""


# What a sweep and ``analyze`` / ``discover`` / ``robustness`` write into a results folder.
OWN_ENTRIES = frozenset({".lock", SPEC_FILE, PROVENANCE_FILE, DESIGN_FILE, RUNS, SUMMARY, *TABLES, "report.md",
                         "figures", "tables", "discovery", "robustness"})
# What ``python -m experiments optimize`` writes into its folder (the run store goes under optimize/).
OPTIMIZE_ENTRIES = frozenset({".lock", SPEC_FILE, "optimize", "pareto.csv", "figures", "report.md"})
# What ``python -m experiments calibrate`` writes into its folder (SQLite may leave abc.db-journal/-wal/-shm).
FIT_ENTRIES = frozenset({".lock", "abc.db", "abc.db-journal", "abc.db-wal", "abc.db-shm", "fit.json",
                         "posterior.parquet", "identifiability.csv", "posterior_correlations.csv",
                         "posterior_predictive.csv", "figures", "calibration_report.md"})
SIM_RUN_MARKER = ".sim-run"  # the marker `python -m sim run` writes (sim.cli.MARKER)
# Each kind of results folder: how it is recognised (a file or folder its command writes first), what
# the command writes there, and how a message names it.
KINDS: dict[str, tuple[str, frozenset[str], str]] = {
    "sweep": (DESIGN_FILE, OWN_ENTRIES, "a sweep (design.parquet)"),
    "optimize": ("optimize", OPTIMIZE_ENTRIES, "an optimisation (optimize/)"),
    "fit": ("fit.json", FIT_ENTRIES, "a calibration fit (fit.json)"),
    "sim run": (SIM_RUN_MARKER, frozenset(), "a `python -m sim run` output (.sim-run)"),
}


def result_kind(root: str | Path) -> str | None:
    """``"sweep"``, ``"optimize"``, ``"fit"``, ``"sim run"`` (what the folder holds), or None (missing,
    empty, or nothing a command of this project recognisably wrote)."""
    root = Path(root)
    if not root.is_dir():
        return None
    if (root / DESIGN_FILE).is_file():
        return "sweep"
    if (root / "optimize").is_dir() and (root / SPEC_FILE).is_file():
        return "optimize"
    if (root / "fit.json").is_file() or (root / "abc.db").is_file():  # abc.db alone: killed before fit.json
        return "fit"
    if (root / SIM_RUN_MARKER).is_file():
        return "sim run"
    return None


def describe_kind(kind: str) -> str:
    return KINDS[kind][2]


def foreign_entries(root: str | Path, kind: str) -> list[str]:
    """Entries of ``root`` that a command of ``kind`` does not write (temporary ``*.tmp`` files aside)."""
    root = Path(root)
    if kind == "sim run":
        from sim.cli import own_output  # the files `sim run` writes

        return sorted(p.name for p in root.iterdir() if not own_output(p))
    own = KINDS[kind][1]
    return sorted(p.name for p in root.iterdir() if p.name not in own and not p.name.endswith(".tmp"))


def why_not_movable(root: str | Path) -> str | None:
    """None if ``--force`` may move ``root`` aside (a results folder of a known kind holding nothing
    else); else why not, as the end of a sentence naming the folder."""
    kind = result_kind(root)
    if kind is None:
        return ("was not made by this project's commands (no design.parquet, optimize/, fit.json or .sim-run), "
                "so --force will not move it")
    foreign = foreign_entries(root, kind)
    if foreign:
        shown = ", ".join(foreign[:6]) + (" ..." if len(foreign) > 6 else "")
        return (f"holds {describe_kind(kind)} and files it did not write ({shown}), so --force will not move it "
                "(move those files out first)")
    return None


def _fsync_write(path: str | Path, write: Any) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, or a path that is a folder: no half-written <name>.tmp left behind
        with contextlib.suppress(OSError):
            if tmp.is_file():
                tmp.unlink()
        raise


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` atomically (temporary file, fsync, rename)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    _fsync_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_text(text: str, path: str | Path) -> None:
    """Write text atomically."""
    _fsync_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class Store:
    """Read and write one experiment's results directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._counter = 0

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def lock(self, who: str = "sweep") -> Iterator[None]:
        """Hold the directory for one sweep (or ``who``: "fit", ...); raises :class:`StoreLocked` if
        another process has it. The lock is an ``flock``: the kernel drops it when its holder dies, so
        the lock of a killed process is taken over (the pid it wrote is then just overwritten)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / ".lock", "a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                raise StoreLocked(f"{self.root} is being written by another {who} ({fh.read().strip()}); "
                                  "wait for it to finish, or give another --out") from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            yield
        finally:
            fh.close()  # closing releases the flock

    def write_design(self, plan: pd.DataFrame) -> None:
        write_parquet(plan, self.root / DESIGN_FILE)

    def write_spec(self, text: str) -> None:
        write_text(text, self.root / SPEC_FILE)

    def write_provenance(self, data: dict[str, Any]) -> None:
        write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n", self.root / PROVENANCE_FILE)

    def _batch_id(self) -> str:
        self._counter += 1
        return f"{time.time_ns():020d}-{os.getpid()}-{self._counter:06d}"

    def write_batch(self, records: Iterable[RunRecord]) -> str | None:
        """Write finished runs as one committed batch; returns the batch id (None if empty)."""
        records = list(records)
        if not records:
            return None
        batch = self._batch_id()
        ok = [r for r in records if r.ok]
        if ok:
            summary = pd.DataFrame([{"run_id": r.run_id, **r.summary} for r in ok])
            self._write_part(SUMMARY, batch, summary)
            for name in TABLES:
                frames = [r.tables[name].assign(run_id=r.run_id) for r in ok if name in r.tables]
                if frames:
                    df = pd.concat(frames, ignore_index=True)
                    self._write_part(name, batch, df[["run_id", *[c for c in df.columns if c != "run_id"]]])
        runs = pd.DataFrame([r.row for r in records])
        runs["error"] = runs["error"].astype("string")  # a string column even when no run failed
        self._write_part(RUNS, batch, runs)  # commit
        return batch

    def _write_part(self, table: str, batch: str, df: pd.DataFrame) -> None:
        folder = self.root / table
        folder.mkdir(parents=True, exist_ok=True)
        write_parquet(df, folder / f"part-{batch}.parquet")

    def clean(self) -> int:
        """Delete temporary files and parts of uncommitted batches; returns how many were removed."""
        committed = self.batches()
        removed = 0
        for table in (RUNS, *PART_TABLES):
            folder = self.root / table
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                if f.name.endswith(".tmp") or (f.suffix == ".parquet" and _batch_of(f) not in committed):
                    f.unlink()
                    removed += 1
        return removed

    def move_aside(self) -> Path:
        """Rename this folder to a new sibling ``<name>.old-<UTC date-time>`` (``run --force``); returns it.

        Holds the folder's lock while renaming, so a folder another sweep is writing is never moved.
        Only a results folder this project made, holding nothing else, is moved (:func:`why_not_movable`;
        else :class:`FolderInUse`): a user's folder (a git checkout, notes) stays where it is.
        """
        problem = why_not_movable(self.root)
        if problem:
            raise FolderInUse(f"{self.root} {problem}. Nothing was written; give another --out")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        target = self.root.with_name(f"{self.root.name}.old-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.root.with_name(f"{self.root.name}.old-{stamp}-{n}")
        with self.lock("process"):  # whoever holds it: a sweep, an optimisation or a fit
            os.rename(self.root, target)
        return target

    # ------------------------------------------------------------------ reading
    def holding(self) -> dict[str, Any] | None:
        """What the folder holds, checked before a sweep writes into it.

        None: missing, empty, or only the leftovers of a sweep that never planned a run. Else
        ``{"kind": "sweep", "name", "design", "factors", "spec_file", "done"}`` or
        ``{"kind": "other", "entries": [...]}`` (files that no sweep wrote, e.g. a calibration fit).
        """
        if not self.root.is_dir():
            return None
        entries = sorted(p.name for p in self.root.iterdir())
        if not self.exists():
            foreign = [e for e in entries if e not in OWN_ENTRIES and not e.endswith(".tmp")]
            return {"kind": "other", "entries": foreign} if foreign else None
        prov = self.provenance()
        raw: dict[str, Any] = {}
        try:
            raw = tomllib.loads((self.root / SPEC_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a missing or unreadable stored spec: the design still tells
            pass
        exp = raw.get("experiment", {}) if isinstance(raw.get("experiment"), dict) else {}
        design = raw.get("design", {}) if isinstance(raw.get("design"), dict) else {}
        return {
            "kind": "sweep", "name": prov.get("experiment") or exp.get("name") or self.root.name,
            "design": design.get("kind"), "factors": factor_columns(self.design()),
            "spec_file": prov.get("spec_file"), "done": self.status()["done"],
        }

    def exists(self) -> bool:
        return (self.root / DESIGN_FILE).is_file()

    def _parts(self, table: str) -> list[Path]:
        folder = self.root / table
        return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []

    def batches(self) -> set[str]:
        """Ids of committed batches."""
        return {_batch_of(p) for p in self._parts(RUNS)}

    def design(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / DESIGN_FILE)

    def provenance(self) -> dict[str, Any]:
        path = self.root / PROVENANCE_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def runs(self, history: bool = False) -> pd.DataFrame:
        """The runs table: latest record per run id (``history=True``: every record, with ``batch``)."""
        frames = [pd.read_parquet(p).assign(batch=_batch_of(p)) for p in self._parts(RUNS)]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["run_id", "status", "error", "batch"])
        df = pd.concat(frames, ignore_index=True)
        df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
        if history:
            return df
        df = df.sort_values(["finished_at", "batch"], kind="stable")
        return df.drop_duplicates("run_id", keep="last").reset_index(drop=True)

    def status_of_runs(self) -> dict[str, str]:
        """``{run_id: "ok" | "failed"}`` from the latest records (reads only two columns)."""
        out: dict[str, tuple[Any, str, str]] = {}
        for p in self._parts(RUNS):
            df = pq.read_table(p, columns=["run_id", "status", "finished_at"]).to_pandas()
            batch = _batch_of(p)
            for rid, status, fin in zip(df["run_id"], df["status"], df["finished_at"], strict=True):
                prev = out.get(rid)
                if prev is None or (fin, batch) >= (prev[0], prev[2]):
                    out[rid] = (fin, status, batch)
        return {rid: v[1] for rid, v in out.items()}

    def table(self, name: str, columns: list[str] | None = None, all_runs: bool = False) -> pd.DataFrame:
        """A summary or per-quarter table of ok runs (each run once, from its accepted batch).

        Only runs of the current design (``design.parquet``) unless ``all_runs=True``: a folder keeps
        the runs of earlier versions of its spec (or of the model), which must not be mixed in.
        """
        if name not in PART_TABLES:
            raise ValueError(f"unknown table {name!r}; tables: {', '.join(PART_TABLES)}")
        runs = self.runs()
        ok = runs[runs["status"] == STATUS_OK]
        if not all_runs and self.exists():
            ok = ok[ok["run_id"].isin(set(self.design()["run_id"]))]
        accepted = ok.groupby("batch")["run_id"].agg(set).to_dict()
        frames = []
        for p in self._parts(name):
            ids = accepted.get(_batch_of(p))
            if not ids:
                continue
            cols = None if columns is None else ["run_id", *[c for c in columns if c != "run_id"]]
            if cols is not None:
                present = set(pq.read_schema(p).names)
                cols = [c for c in cols if c in present]
            df = pd.read_parquet(p, columns=cols)
            frames.append(df[df["run_id"].isin(ids)])
        if not frames:
            return pd.DataFrame(columns=["run_id", *(columns or [])])
        return pd.concat(frames, ignore_index=True)

    def status(self) -> dict[str, Any]:
        """Counts of the current design's runs: total, done, failed, pending, plus stale store runs."""
        planned = set(self.design()["run_id"]) if self.exists() else set()
        state = self.status_of_runs()
        done = sum(1 for r in planned if state.get(r) == STATUS_OK)
        failed = sum(1 for r in planned if state.get(r) == STATUS_FAILED)
        return {
            "total": len(planned), "done": done, "failed": failed, "pending": len(planned) - done - failed,
            "stale": sum(1 for r in state if r not in planned),
        }


def _batch_of(path: Path) -> str:
    return path.name.removeprefix("part-").split(".")[0]


# ---------------------------------------------------------------------------- tidy loading
# design.parquet columns that are not factors ("draw": the posterior draw a replicate runs with, if any)
PLAN_COLUMNS = ("point", "replicate", "seed", "config_digest", "run_id", "draw")
UNIT_PREFIX = "u."  # design.parquet columns holding the unit-cube sample (sobol, morris)
POSTERIOR_PREFIX = "posterior."  # design.parquet columns: the coefficients of the run's posterior draw
STATUS_PENDING = "pending"
TIDY_TABLES = PART_TABLES


def factor_columns(design: pd.DataFrame) -> list[str]:
    """The factor columns of a design table (levers, uncertainties, settings, ``package``), in design order."""
    return [c for c in design.columns if c not in PLAN_COLUMNS and not c.startswith((UNIT_PREFIX, POSTERIOR_PREFIX))]


def posterior_columns(design: pd.DataFrame) -> list[str]:
    """The ``posterior.<name>`` columns of a design table: the coefficients of each run's posterior draw."""
    return [c for c in design.columns if c.startswith(POSTERIOR_PREFIX)]


def load(root: str | Path, table: str = "summary") -> pd.DataFrame:
    """One tidy DataFrame of a results folder, for the runs of its current design.

    ``table="summary"`` (default): one row per run of the design (each run id once, its latest
    record): ``run_id, point, replicate, seed`` (and ``draw`` with a posterior), the factor columns
    (and, with a posterior, ``posterior.<name>``: the coefficients of the run's draw),
    ``status`` (``ok``, ``failed``, or ``pending`` for runs not yet made), ``error`` (last line of a
    failure) and every summary outcome (missing for runs that are not ok). ``"city"``, ``"clusters"``, ``"districts"``: the per-quarter
    table of the ok runs with ``run_id, point, replicate, seed`` and the factors joined in front.

    Raises FileNotFoundError if ``root`` holds no sweep, ValueError for an unknown table.
    """
    if table not in TIDY_TABLES:
        raise ValueError(f"table {table!r} is not allowed; give one of {', '.join(TIDY_TABLES)}")
    store = Store(root)
    if not store.exists():
        raise FileNotFoundError(f"{root}: no sweep here (design.parquet missing); "
                                "run `python -m experiments run SPEC --out DIR` first")
    design = store.design()
    keys = ["run_id", "point", "replicate", "seed", *(["draw"] if "draw" in design else []), *factor_columns(design),
            *posterior_columns(design)]
    design = design.drop_duplicates("run_id")[keys].reset_index(drop=True)  # identical points share runs (Morris)
    if table != SUMMARY:
        return design.merge(store.table(table), on="run_id", how="inner", validate="one_to_many")
    runs = store.runs()[["run_id", "status", "error"]]
    runs = runs.assign(error=runs["error"].map(_last_line))
    df = design.merge(runs, on="run_id", how="left", validate="one_to_one")
    df["status"] = df["status"].fillna(STATUS_PENDING)
    return df.merge(store.table(SUMMARY), on="run_id", how="left", validate="one_to_one")


def _last_line(error: Any) -> Any:
    if not isinstance(error, str) or not error.strip():
        return None
    return error.strip().splitlines()[-1]
