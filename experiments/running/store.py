"""The results directory of one experiment: Parquet tables written batch by batch, atomically.

Layout of ``results/<experiment>/``::

    spec.toml           the spec as last run          provenance.json   git, packages, host, sessions
    design.parquet      every planned run: point, replicate, seed, run_id, factor values
    runs/part-<batch>.parquet       one row per finished run (ok or failed, error text, timings)
    summary/part-<batch>.parquet    one row per ok run: run_id + the model's summary scalars
    city|clusters|districts/part-<batch>.parquet   tidy per-quarter tables with a run_id column

    checksums/<batch>.json          size and SHA-256 of every part of the batch (the store's index)
    damaged/<table>/part-<batch>.parquet   damaged batches `run` moved aside before recomputing their runs

A batch is a handful of runs that finished close together. Its table parts are written first, each
to a temporary name then renamed (atomic), then its checksums; the ``runs`` part is written last and
*commits* the batch. Parts whose batch has no ``runs`` part (a crash between the two) are ignored and
deleted by the next sweep. A run that appears more than once (failed, then retried) counts with its
latest record. One sweep at a time may write a store (an advisory ``flock`` on ``.lock``).

Damage: every part is checked against its checksum when it is read (older stores without checksums:
it must parse and hold its table's key columns). A damaged part is never read as data: ``status``
names it, ``load``/``analyze`` refuse in one line (:class:`StoreDamaged`), and the next ``run`` moves
the whole batch to ``damaged/`` and runs its runs again (:meth:`Store.quarantine`).

Which folder may a command claim? :func:`result_kind` tells what a results folder holds (a sweep, an
optimisation, a calibration fit or a ``sim run``) by the files that command always writes first, and
:func:`foreign_entries` lists what in it that command did not write. ``--force`` moves aside only a
folder of a known kind holding nothing else (:func:`why_not_movable`): never a folder a user made.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import tomllib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.running.files import DamagedFile, detail, parquet_problem, read_json_object, read_parquet, read_toml
from experiments.running.runner import STATUS_FAILED, STATUS_OK, RunRecord
from experiments.running.spec import TABLES

RUNS = "runs"
SUMMARY = "summary"
PART_TABLES = (SUMMARY, *TABLES)
DESIGN_FILE = "design.parquet"
PROVENANCE_FILE = "provenance.json"
SPEC_FILE = "spec.toml"
CHECKSUMS = "checksums"  # checksums/<batch>.json: {"parts": {"<table>/part-<batch>.parquet": {"bytes", "sha256"}}}
DAMAGED = "damaged"  # where `run` moves damaged batches before it recomputes their runs
KEY_COLUMNS = {RUNS: ("run_id", "status", "finished_at", "error"), **{t: ("run_id",) for t in PART_TABLES}}
DESIGN_COLUMNS = ("point", "replicate", "seed", "run_id")


class StoreLocked(RuntimeError):
    """Another sweep holds the results directory."""


class FolderInUse(RuntimeError):
    """The results folder holds another experiment, or files that are not a sweep (nothing was written)."""


VALIDATION_REPORT = "validation.md"  # `make run`: `python -m sim validate --report` writes it; analyze embeds it
# What a sweep and ``analyze`` / ``discover`` / ``robustness`` (and ``make run``'s validation step) write
# into a results folder.
OWN_ENTRIES = frozenset({".lock", SPEC_FILE, PROVENANCE_FILE, DESIGN_FILE, RUNS, SUMMARY, *TABLES, CHECKSUMS, DAMAGED,
                         "report.md", "figures", "tables", "discovery", "robustness", "explain", VALIDATION_REPORT})
# What ``python -m experiments optimize`` writes into its folder (the run store goes under optimize/).
OPTIMIZE_ENTRIES = frozenset({".lock", SPEC_FILE, "optimize", "pareto.csv", "figures", "report.md"})
# What ``python -m experiments calibrate`` writes into its folder (SQLite may leave abc.db-journal/-wal/-shm).
FIT_ENTRIES = frozenset({".lock", "abc.db", "abc.db-journal", "abc.db-wal", "abc.db-shm", "fit.json",
                         "posterior.parquet", "identifiability.csv", "posterior_correlations.csv",
                         "posterior_predictive.csv", "figures", "calibration_report.md"})
SIM_RUN_MARKER = ".sim-run"  # the marker `python -m sim run` writes (sim.outputs.cli.MARKER)
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
        from sim.outputs.cli import own_output  # the files `sim run` writes

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


@dataclass(frozen=True)
class Damage:
    """A damaged file of a store: its path, what is wrong, and its batch (None: the store's layout itself)."""

    path: Path
    problem: str
    batch: str | None


class StoreDamaged(DamagedFile):
    """Parts of a results folder are damaged; the message names them and how to recompute their runs."""

    def __init__(self, store: Store, damage: list[Damage]):
        self.damage = damage
        root = store.root
        shown = "; ".join(f"{_rel(d.path, root)} {d.problem}" for d in damage[:3])
        more = f"; and {len(damage) - 3} more" if len(damage) > 3 else ""
        n = f"{len(damage)} damaged file{'s' if len(damage) > 1 else ''}"
        if any(d.batch is None for d in damage):
            hint = "move it away: the tools read a folder of Parquet parts there"
        elif store.exists():
            hint = (f"`python -m experiments run {store.spec_hint()} --out {root}` recomputes their runs "
                    f"(the damaged files are kept in {root / DAMAGED})")
        else:  # a run cache without a design (optimize): its command recomputes what it needs
            hint = (f"the command that wrote them (e.g. `python -m experiments optimize`) recomputes their runs "
                    f"when run again (the damaged files are kept in {root / DAMAGED})")
        super().__init__(root, f"{n}: {shown}{more}", hint)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as the bytes of a Parquet file (zstd), to checksum before writing."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def write_bytes(data: bytes, path: str | Path) -> None:
    """Write bytes atomically."""
    _fsync_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(text: str, path: str | Path) -> None:
    """Write text atomically."""
    _fsync_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class Store:
    """Read and write one experiment's results directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._counter = 0
        self._index_cache: dict[str, dict[str, Any] | None] = {}
        self._verified: dict[Path, tuple[int, int]] = {}  # part -> (size, mtime_ns) when it last checked out

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
        """Write finished runs as one committed batch; returns the batch id (None if empty).

        Order: the table parts, the batch's checksums (``checksums/<batch>.json``), then the ``runs``
        part, which commits the batch."""
        records = list(records)
        if not records:
            return None
        batch = self._batch_id()
        sums: dict[str, dict[str, Any]] = {}
        ok = [r for r in records if r.ok]
        if ok:
            summary = pd.DataFrame([{"run_id": r.run_id, **r.summary} for r in ok])
            self._write_part(SUMMARY, batch, summary, sums)
            for name in TABLES:
                frames = [r.tables[name].assign(run_id=r.run_id) for r in ok if name in r.tables]
                if frames:
                    df = pd.concat(frames, ignore_index=True)
                    self._write_part(name, batch, df[["run_id", *[c for c in df.columns if c != "run_id"]]], sums)
        runs = pd.DataFrame([r.row for r in records])
        runs["error"] = runs["error"].astype("string")  # a string column even when no run failed
        data = parquet_bytes(runs)
        sums[f"{RUNS}/part-{batch}.parquet"] = {"bytes": len(data), "sha256": sha256(data)}
        (self.root / CHECKSUMS).mkdir(parents=True, exist_ok=True)
        write_text(json.dumps({"batch": batch, "parts": sums}, indent=1) + "\n", self._index_path(batch))
        self._write_part(RUNS, batch, data)  # commit
        return batch

    def _write_part(self, table: str, batch: str, df: pd.DataFrame | bytes,
                    sums: dict[str, dict[str, Any]] | None = None) -> None:
        folder = self.root / table
        folder.mkdir(parents=True, exist_ok=True)
        data = df if isinstance(df, bytes) else parquet_bytes(df)
        if sums is not None:
            sums[f"{table}/part-{batch}.parquet"] = {"bytes": len(data), "sha256": sha256(data)}
        write_bytes(data, folder / f"part-{batch}.parquet")

    def clean(self) -> int:
        """Delete temporary files and parts (and checksums) of uncommitted batches; returns how many."""
        committed = self.batches()
        removed = 0
        for table in (RUNS, *PART_TABLES, CHECKSUMS):
            folder = self.root / table
            if not folder.is_dir():
                continue
            own = ".json" if table == CHECKSUMS else ".parquet"
            for f in folder.iterdir():  # only what a batch writes: part-<batch>.parquet / <batch>.json (+ .tmp)
                name = f.name.removesuffix(".tmp")
                if not f.is_file() or not name.endswith(own) or (own == ".parquet" and not name.startswith("part-")):
                    continue  # a file a user put here is never deleted
                if f.name.endswith(".tmp") or _batch_of(f) not in committed:
                    f.unlink()
                    removed += 1
        return removed

    def quarantine(self) -> tuple[list[Damage], set[str]]:
        """Move every damaged batch (its parts in every table and its checksums) to ``damaged/``.

        Returns the damage found and the ids of the runs those batches held (as far as their ``runs``
        part is readable): they are to be run again even if an older record of them exists. Nothing is
        deleted. Raises :class:`StoreDamaged` for damage no batch accounts for (e.g. ``runs`` is a file).
        """
        damage = self.verify()
        if blocking := [d for d in damage if d.batch is None]:
            raise StoreDamaged(self, blocking)
        ids: set[str] = set()
        for batch in sorted({d.batch for d in damage if d.batch is not None}):
            runs = self.root / RUNS / f"part-{batch}.parquet"
            with contextlib.suppress(Exception):
                ids |= set(pq.read_table(pa.BufferReader(runs.read_bytes()), columns=["run_id"])["run_id"].to_pylist())
            # table parts first, the commit next, the checksums last: a crash in between leaves a
            # committed batch with missing parts (found damaged again), never one without its checksums
            for table in (*PART_TABLES, RUNS):
                self._move_to_damaged(self.root / table / f"part-{batch}.parquet")
            self._move_to_damaged(self._index_path(batch))
            self._index_cache.pop(batch, None)
        return damage, ids

    def _move_to_damaged(self, path: Path) -> None:
        if not path.is_file():
            return
        dest = self.root / DAMAGED / path.parent.name / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{path.name}.{n}")
        os.rename(path, dest)
        self._verified.pop(path, None)

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
        if folder.exists() and not folder.is_dir():
            raise StoreDamaged(self, [Damage(folder, "is a file, not a folder of Parquet parts", None)])
        return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []

    def batches(self) -> set[str]:
        """Ids of committed batches."""
        return {_batch_of(p) for p in self._parts(RUNS)}

    def design(self) -> pd.DataFrame:
        """The plan (``design.parquet``); :class:`DamagedFile` if it is unreadable or not a plan."""
        path = self.root / DESIGN_FILE
        hint = (f"it is the plan of the spec: remove it and `python -m experiments run {self.spec_hint()} --out "
                f"{self.root}` writes it again (finished runs are kept)")
        df = read_parquet(path, required=DESIGN_COLUMNS, hint=hint)
        if df.empty:
            raise DamagedFile(path, "holds no planned runs (zero rows)", hint)
        return df

    def provenance(self) -> dict[str, Any]:
        """``provenance.json`` ({} if absent); :class:`DamagedFile` if it is unreadable or not a record."""
        path = self.root / PROVENANCE_FILE
        if not path.exists():
            return {}
        hint = "restore it, or move it away (the next `run` starts a new record; finished runs are kept)"
        prov = read_json_object(path, hint)
        if not isinstance(prov.get("sessions", []), list) or not all(isinstance(s, dict) for s in prov.get("sessions", [])):
            raise DamagedFile(path, "'sessions' is not a list of objects", hint)
        return prov

    def spec_raw(self) -> dict[str, Any]:
        """The stored ``spec.toml`` as TOML ({} if absent); :class:`DamagedFile` if unreadable or not a spec."""
        path = self.root / SPEC_FILE
        if not path.exists():
            return {}
        hint = f"it is the spec last run here: `python -m experiments run {self.spec_hint()} --out {self.root}` writes it again"
        raw = read_toml(path, hint)
        if not raw:
            raise DamagedFile(path, "is empty (no spec in it)", hint)
        bad = [k for k in ("experiment", "design", "base", "analysis", "robustness", "outcomes")
               if k in raw and not isinstance(raw[k], dict)]
        if bad:
            raise DamagedFile(path, f"[{bad[0]}] is {type(raw[bad[0]]).__name__}, not a table: not a sweep spec", hint)
        return raw

    def spec_hint(self) -> str:
        """The spec file that made this folder (from provenance.json) for messages, else ``SPEC``."""
        try:
            prov = json.loads((self.root / PROVENANCE_FILE).read_text(encoding="utf-8"))
            spec = prov.get("spec_file") if isinstance(prov, dict) else None
        except (OSError, ValueError):
            spec = None
        return str(spec) if isinstance(spec, str) and spec else "SPEC"

    # ------------------------------------------------------------------ damage
    def _index_path(self, batch: str) -> Path:
        return self.root / CHECKSUMS / f"{batch}.json"

    def _index(self, batch: str) -> dict[str, Any] | None:
        """The checksums of a batch's parts (None: written before checksums); DamagedFile if unreadable."""
        if batch in self._index_cache:
            return self._index_cache[batch]
        path = self._index_path(batch)
        if not path.exists():
            sums = None
        else:
            parts = read_json_object(path).get("parts")
            if not isinstance(parts, dict) or not all(
                    isinstance(v, dict) and isinstance(v.get("bytes"), int) and isinstance(v.get("sha256"), str)
                    for v in parts.values()):
                raise DamagedFile(path, "'parts' is not a table of {bytes, sha256}")
            sums = parts
        self._index_cache[batch] = sums
        return sums

    def _problem(self, table: str, path: Path, data: bytes | None = None) -> str | None:
        """Why the committed part ``path`` of ``table`` is damaged, or None. ``data``: its bytes, if read.

        A part with checksums must have its recorded size and SHA-256; one without (older stores) must
        parse and hold its table's key columns. Parts that checked out are remembered by size and mtime."""
        try:
            st = path.stat()
        except OSError as exc:
            return f"cannot be read ({exc.strerror or detail(exc)})"
        if self._verified.get(path) == (st.st_size, st.st_mtime_ns):
            return None
        batch = _batch_of(path)
        try:
            sums = self._index(batch)
        except DamagedFile as exc:
            return f"cannot be checked: {_rel(self._index_path(batch), self.root)} {exc.problem}"
        if data is None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                return f"cannot be read ({exc.strerror or detail(exc)})"
        if sums is not None:
            entry = sums.get(f"{table}/{path.name}")
            if entry is None:
                return f"is not listed in {CHECKSUMS}/{batch}.json"
            if len(data) != entry["bytes"]:
                return f"is {len(data):,} bytes, {entry['bytes']:,} when written (cut short or overwritten)"
            if sha256(data) != entry["sha256"]:
                return f"does not match its checksum in {CHECKSUMS}/{batch}.json (changed after it was written)"
        else:
            if problem := parquet_problem(path, data):
                return problem
            names = pq.read_schema(pa.BufferReader(data)).names
            if missing := [c for c in KEY_COLUMNS[table] if c not in names]:
                return f"lacks the column(s) {', '.join(missing)}: not a {table} part"
        self._verified[path] = (st.st_size, st.st_mtime_ns)
        return None

    def verify(self) -> list[Damage]:
        """Every damaged file among the committed batches: parts of every table (checked against the
        checksums, or parsed for batches written before checksums), parts the checksums list that are
        missing, unreadable checksum files, and a table folder that is a file."""
        damage: list[Damage] = []
        for table in (RUNS, *PART_TABLES):
            folder = self.root / table
            if folder.exists() and not folder.is_dir():
                damage.append(Damage(folder, "is a file, not a folder of Parquet parts", None))
        if damage:
            return damage
        committed = self.batches()
        unchecked = set()  # batches whose checksum file is damaged: that file is named, not each part
        for batch in sorted(committed):
            try:
                sums = self._index(batch)
            except DamagedFile as exc:
                damage.append(Damage(exc.path, exc.problem, batch))
                unchecked.add(batch)
                continue
            for rel in sums or {}:
                if not (self.root / rel).is_file():
                    damage.append(Damage(self.root / rel, f"is missing (listed in {CHECKSUMS}/{batch}.json)", batch))
        for table in (RUNS, *PART_TABLES):
            for p in self._parts(table):
                batch = _batch_of(p)
                if batch in committed and batch not in unchecked and (problem := self._problem(table, p)):
                    damage.append(Damage(p, problem, batch))
        return damage

    def _read_parts(self, table: str, columns: list[str] | None = None,
                    skip: Collection[str] = ()) -> list[tuple[str, pd.DataFrame]]:
        """``(batch, frame)`` of every part of ``table`` (but batches in ``skip``), each checked first;
        raises :class:`StoreDamaged` naming every damaged part once all were looked at."""
        out, damage = [], []
        for p in self._parts(table):
            batch = _batch_of(p)
            if batch in skip:
                continue
            try:
                data = p.read_bytes()
            except OSError as exc:
                damage.append(Damage(p, f"cannot be read ({exc.strerror or detail(exc)})", batch))
                continue
            if problem := self._problem(table, p, data):
                damage.append(Damage(p, problem, batch))
                continue
            cols = columns
            if cols is not None:
                present = set(pq.read_schema(pa.BufferReader(data)).names)
                cols = [c for c in cols if c in present]
            try:
                out.append((batch, read_parquet(p, data, columns=cols)))
            except DamagedFile as exc:
                damage.append(Damage(p, exc.problem, batch))
        if damage:
            raise StoreDamaged(self, damage)
        return out

    def runs(self, history: bool = False, skip: Collection[str] = ()) -> pd.DataFrame:
        """The runs table: latest record per run id (``history=True``: every record, with ``batch``).

        Raises :class:`StoreDamaged` if a ``runs`` part is damaged (batches in ``skip`` are left out)."""
        frames = [f.assign(batch=b) for b, f in self._read_parts(RUNS, skip=skip) if len(f)]
        if not frames:
            return pd.DataFrame(columns=["run_id", "status", "error", "batch"])
        df = pd.concat(frames, ignore_index=True)
        df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
        if history:
            return df
        df = df.sort_values(["finished_at", "batch"], kind="stable")
        return df.drop_duplicates("run_id", keep="last").reset_index(drop=True)

    def status_of_runs(self, skip: Collection[str] = ()) -> dict[str, str]:
        """``{run_id: "ok" | "failed"}`` from the latest records (reads only three columns).

        Raises :class:`StoreDamaged` if a ``runs`` part is damaged (batches in ``skip`` are left out)."""
        out: dict[str, tuple[Any, str, str]] = {}
        for batch, df in self._read_parts(RUNS, columns=["run_id", "status", "finished_at"], skip=skip):
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
        cols = None if columns is None else ["run_id", *[c for c in columns if c != "run_id"]]
        unused = {_batch_of(p) for p in self._parts(name)} - set(accepted)  # superseded batches are not read
        frames = [df[df["run_id"].isin(accepted[b])] for b, df in self._read_parts(name, cols, skip=unused)]
        if not frames:
            return pd.DataFrame(columns=["run_id", *(columns or [])])
        return pd.concat(frames, ignore_index=True)

    def status(self) -> dict[str, Any]:
        """Counts of the current design's runs: total, done, failed, pending, plus stale store runs,
        ``damaged`` (runs held by damaged batches: the next ``run`` recomputes them) and
        ``damaged_files`` (their paths, relative to the folder). Every committed part is checked."""
        planned = set(self.design()["run_id"]) if self.exists() else set()
        damage = self.verify()
        if blocking := [d for d in damage if d.batch is None]:
            raise StoreDamaged(self, blocking)
        bad = {d.batch for d in damage}
        state = self.status_of_runs(skip=bad)
        held: set[str] = set()  # runs the damaged batches held, where their runs part can still tell
        for batch in bad:
            with contextlib.suppress(Exception):
                p = self.root / RUNS / f"part-{batch}.parquet"
                held |= set(pq.read_table(pa.BufferReader(p.read_bytes()), columns=["run_id"])["run_id"].to_pylist())
        damaged = planned & held
        done = sum(1 for r in planned - damaged if state.get(r) == STATUS_OK)
        failed = sum(1 for r in planned - damaged if state.get(r) == STATUS_FAILED)
        return {
            "total": len(planned), "done": done, "failed": failed,
            "pending": len(planned) - done - failed - len(damaged), "damaged": len(damaged),
            "stale": sum(1 for r in state if r not in planned),
            "damaged_files": [_rel(d.path, self.root) for d in damage],
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
    Typed as :mod:`experiments.running.tidy` says: ``package`` / ``cluster`` / ``district`` ordered
    categoricals (presets' and config order), ``period`` a ``pd.Period`` (quarterly), ``year`` the
    calendar year (int), units in ``attrs["units"]``.

    Raises FileNotFoundError if ``root`` holds no sweep, ValueError for an unknown table.
    """
    from experiments.running.tidy import tidy

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
    typed = {"factors": factor_columns(design), "posterior": posterior_columns(design)}
    if table != SUMMARY:
        return tidy(design.merge(store.table(table), on="run_id", how="inner", validate="one_to_many"), table, **typed)
    runs = store.runs()[["run_id", "status", "error"]]
    runs = runs.assign(error=runs["error"].map(_last_line))
    df = design.merge(runs, on="run_id", how="left", validate="one_to_one")
    df["status"] = df["status"].fillna(STATUS_PENDING)
    return tidy(df.merge(store.table(SUMMARY), on="run_id", how="left", validate="one_to_one"), table, **typed)


def _last_line(error: Any) -> Any:
    if not isinstance(error, str) or not error.strip():
        return None
    return error.strip().splitlines()[-1]
