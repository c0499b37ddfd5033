"""The optimiser's checkpoint as plain data: JSON that can be read without running anything in it.

``python -m experiments optimize`` saves, after every generation, the state of its ``platypus.EpsNSGAII``
search so that a killed search continues exactly as if it had not stopped. That state used to be a pickle,
and unpickling a file runs whatever code the file names: a results folder given by someone else could
run code when resumed. Here the state is data only:

* ``nfe``, ``population_size``;
* ``solutions``: every solution the population and the ε-archive hold, once (the two share objects, and
  platypus relies on that: survival sets ``rank`` / ``crowding_distance`` on archive members too), each
  with its variables as platypus stores them (a ``Real`` as its float, an ``Integer`` as its list of
  gray-coded bits), ``objectives``, ``constraints``, ``constraint_violation``, ``feasible``, ``evaluated``
  and, where non-dominated sorting has set them, ``rank`` and ``crowding_distance``;
* ``population`` and ``archive``: indices into ``solutions``, in order, and the archive's ``improvements``;
* ``extensions``: the counters of the algorithm's extensions (adaptive time continuation: ``iteration``,
  ``last_invocation``, ``last_restart``; logging: ``start_time``) and their settings, which must equal those
  of the freshly built algorithm;
* ``random``: Python's ``random.getstate()`` (version, 625 ints, ``gauss_next``).

Non-finite floats (a crowding distance of infinity) are written as the strings ``"inf"``, ``"-inf"``,
``"nan"``, so the file is strict JSON. Resuming builds a fresh algorithm with the same constructor
arguments and :func:`restore_algorithm` fills it in; everything is checked first (types, lengths, bounds,
indices), and a damaged file raises :class:`CheckpointError`, one line naming the file and what is wrong.
A ``state.pkl`` of an older version is never read (:func:`refuse_pickle`).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import platypus
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.running.store import write_text

FORMAT = "experiments.optimize checkpoint"
VERSION = 1
MAX_BYTES = 256_000_000  # a population of 10,000 with its archive takes some tens of MB
OLD_PICKLE = "state.pkl"  # the checkpoint of versions before this one: a pickle, never loaded
# the counters an extension changes while it runs; every other attribute is a setting and must match
EXTENSION_COUNTERS = frozenset({"iteration", "last_invocation", "last_restart", "last_improvements", "start_time"})
_SCALARS = (bool, int, float, str, type(None))


class CheckpointError(ValueError):
    """A checkpoint file that cannot be resumed: one line naming the file and what is wrong with it."""

    def __init__(self, path: Path | str, what: str):
        super().__init__(f"{path}: {what}")
        self.path, self.what = Path(path), what


class StaleCheckpoint(CheckpointError):
    """A sound checkpoint of another search (spec, scenario or model version): its digest differs."""


# ============================================================================ the search's state
def save(path: Path, alg: platypus.EpsNSGAII, rng_state: tuple, *, digest: str, generation: int,
         improvements: Sequence[int], **meta: Any) -> None:
    """Write the checkpoint of a search after ``generation``: ``digest`` (what it must match to be resumed),
    the generation, the archive's ε-improvements after each generation, ``meta`` (case, budget, ...),
    the random state and the algorithm's state."""
    write_json({"format": FORMAT, "version": VERSION, "digest": digest, **meta, "generation": generation,
                "improvements": list(improvements), "random": random_data(rng_state),
                "algorithm": algorithm_state(alg)}, path)


def load(path: Path, alg: platypus.EpsNSGAII, digest: str, max_generation: int) -> tuple[int, list[int], tuple]:
    """Restore the checkpoint ``path`` into the freshly built ``alg``: (generation, improvements, random
    state). :class:`StaleCheckpoint` if it was made for another ``digest``; :class:`CheckpointError` if
    anything in it is damaged."""
    data = read_json(path)
    if not isinstance(data.get("digest"), str):
        raise CheckpointError(path, f"digest: {_show(data.get('digest'))} is not the digest of a search")
    if data["digest"] != digest:
        raise StaleCheckpoint(path, f"made by another spec or model version (digest {_show(data.get('digest'))}, "
                                    f"this one {digest!r})")
    r = _Reader(path, "")
    generation = r.integer(data, "generation", low=1)
    if generation > max_generation:
        r.fail(f"{generation} is more than {max_generation:,}", "generation")
    improvements = r.list(data, "improvements", length=generation)
    if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in improvements) or any(
            b < a for a, b in zip(improvements, improvements[1:])):
        r.fail("not a growing list of whole numbers >= 0", "improvements")
    rng = random_state(r.get(data, "random"), path)
    restore_algorithm(alg, r.get(data, "algorithm"), path)
    if improvements[-1] != alg.archive.improvements:
        r.fail(f"the last, {improvements[-1]}, is not the archive's {alg.archive.improvements}", "improvements")
    return generation, list(improvements), rng


# ============================================================================ files
def refuse_pickle(folder: Path) -> None:
    """An older version's pickled checkpoint is refused, unread (unpickling it could run code)."""
    old = folder / OLD_PICKLE
    if old.exists() or old.is_symlink():
        raise CheckpointError(old, "checkpoint from an older version in a format that can run code; not loaded")


def read_json(path: Path) -> dict[str, Any]:
    """The checkpoint's JSON object; a missing, unreadable, empty, non-UTF-8 or invalid file is one line."""
    if not path.is_file():
        raise CheckpointError(path, "is not a regular file")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise CheckpointError(path, f"is {path.stat().st_size / 1e6:,.0f} MB, more than a checkpoint can be "
                                        f"({MAX_BYTES / 1e6:,.0f} MB)")
        blob = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not blob.strip():
        raise CheckpointError(path, "is empty")
    try:
        data = json.loads(blob.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise CheckpointError(path, f"is not UTF-8 text (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(path, f"is not valid JSON ({_short(exc)}): truncated or damaged") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, f"holds a JSON {type(data).__name__}, not a checkpoint object")
    if data.get("format") != FORMAT:
        raise CheckpointError(path, f"is not a checkpoint of this program (format {_show(data.get('format'))}, "
                                    f"expected {FORMAT!r})")
    if data.get("version") != VERSION:
        raise CheckpointError(path, f"checkpoint version {_show(data.get('version'))} is not {VERSION}, the one this "
                                    "program reads")
    return data


def write_json(data: Mapping[str, Any], path: Path) -> None:
    """Strict JSON, written atomically (temporary file, fsync, rename)."""
    write_text(json.dumps(data, allow_nan=False, separators=(",", ":")) + "\n", path)


def read_parquet(path: Path, columns: Sequence[str], generation: int) -> pd.DataFrame:
    """The evaluations of a checkpoint at ``generation``: every column in ``columns``, ``generation`` whole
    numbers from 1. Rows of a later generation (written just before a kill, before the state) are dropped:
    the resumed search evaluates them again, identically."""
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(path, f"is missing, but the checkpoint next to it is at generation {generation}")
    if not path.is_file():
        raise CheckpointError(path, "is not a regular file")
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, ValueError, pa.ArrowException) as exc:
        reason = _short(re.sub(r"Could not open Parquet input source '[^']*': ", "", str(exc)).replace(str(path),
                                                                                                      path.name))
        raise CheckpointError(path, f"is not a readable Parquet file ({reason})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CheckpointError(path, f"has no column {', '.join(map(repr, missing[:5]))}"
                                    f"{' ...' if len(missing) > 5 else ''}: not the evaluations of this search")
    gen = pd.to_numeric(frame["generation"], errors="coerce")
    if not pd.api.types.is_numeric_dtype(frame["generation"]) or gen.isna().any() or (gen % 1 != 0).any() \
            or (gen < 1).any():
        raise CheckpointError(path, "column 'generation' must hold whole numbers from 1")
    frame = frame[gen <= generation].reset_index(drop=True)
    if frame.empty:
        raise CheckpointError(path, f"holds no evaluation of generations 1-{generation}")
    return frame


# ============================================================================ the algorithm
def algorithm_state(alg: platypus.EpsNSGAII) -> dict[str, Any]:
    """Everything of ``alg`` that changes while it runs, as plain data (see the module docstring)."""
    index: dict[int, int] = {}
    solutions: list[dict[str, Any]] = []

    def ref(s: platypus.Solution) -> int:
        if id(s) not in index:
            index[id(s)] = len(solutions)
            solutions.append(_solution_data(s))
        return index[id(s)]

    population = [ref(s) for s in alg.population]
    archive = [ref(s) for s in alg.archive]
    return {"nfe": int(alg.nfe), "population_size": int(alg.population_size), "solutions": solutions,
            "population": population, "archive": archive, "archive_improvements": int(alg.archive.improvements),
            "extensions": [{"type": type(e).__name__, "state": {k: _num(v) if isinstance(v, float) else v
                                                                for k, v in vars(e).items()
                                                                if isinstance(v, _SCALARS)}}
                           for e in alg._extensions]}


def restore_algorithm(alg: platypus.EpsNSGAII, state: Any, path: Path) -> None:
    """Fill a freshly built ``alg`` (constructor as when the checkpoint was made, extensions started) with
    ``state`` from :func:`algorithm_state`; everything is checked before ``alg`` is changed."""
    r = _Reader(path, "algorithm")
    state = r.mapping(state)
    problem = alg.problem
    nfe = r.integer(state, "nfe", low=1)
    size = r.integer(state, "population_size", low=1)
    raw = r.list(state, "solutions")
    solutions = [_solution(r.at(f"solutions[{i}]"), s, problem) for i, s in enumerate(raw)]
    population = r.indices(state, "population", len(solutions))
    if len(population) != size:
        r.fail(f"{len(population)} solutions, but population_size is {size}", "population")
    archive = r.indices(state, "archive", len(solutions))
    improvements = r.integer(state, "archive_improvements", low=0)
    extensions = r.list(state, "extensions")
    names = [e.get("type") if isinstance(e, dict) else e for e in extensions]
    if names != [type(e).__name__ for e in alg._extensions]:
        r.fail(f"{_show(names)} are not the algorithm's {[type(e).__name__ for e in alg._extensions]!r}",
               "extensions")
    counters = [_extension(r.at(f"extensions[{i}]"), e, ext) for i, (e, ext) in
                enumerate(zip(extensions, alg._extensions, strict=True))]
    # everything checked: now change the algorithm
    alg.nfe, alg.population_size = nfe, size
    alg.population = [solutions[i] for i in population]
    alg.archive._contents = [solutions[i] for i in archive]
    alg.archive.improvements = improvements
    alg.result = alg.archive
    for ext, values in zip(alg._extensions, counters, strict=True):
        for k, v in values.items():
            setattr(ext, k, v)


def _solution_data(s: platypus.Solution) -> dict[str, Any]:
    out = {"variables": [_variable_data(t, v) for t, v in zip(s.problem.types, s.variables, strict=True)],
           "objectives": [_num(x) for x in s.objectives], "constraints": [_num(x) for x in s.constraints],
           "constraint_violation": _num(s.constraint_violation), "feasible": bool(s.feasible),
           "evaluated": bool(s.evaluated)}
    if hasattr(s, "rank"):
        out["rank"] = int(s.rank)
    if hasattr(s, "crowding_distance"):
        out["crowding_distance"] = _num(s.crowding_distance)
    return out


def _variable_data(t: platypus.types.Type, v: Any) -> Any:
    if isinstance(t, platypus.Real):
        return _num(v)
    if isinstance(t, platypus.Integer):
        return [bool(b) for b in v]
    raise TypeError(f"a checkpoint cannot hold a {type(t).__name__} variable")  # programming error


def _solution(r: _Reader, data: Any, problem: platypus.Problem) -> platypus.Solution:
    d = r.mapping(data)
    known = {"variables", "objectives", "constraints", "constraint_violation", "feasible", "evaluated", "rank",
             "crowding_distance"}
    if set(d) - known:
        r.fail(f"unknown key {sorted(set(d) - known)[0]!r}")
    variables = r.list(d, "variables", length=problem.nvars)
    values = []
    for i, (t, v) in enumerate(zip(problem.types, variables, strict=True)):
        where = f"variables[{i}]"
        if isinstance(t, platypus.Integer):
            if not isinstance(v, list) or len(v) != t.nbits or not all(isinstance(b, bool) for b in v):
                r.fail(f"{_show(v)} is not {t.nbits} bits (true/false) of {t}", where)
            values.append(list(v))
        else:
            x = r.number(v, where, finite=True)
            if not t.min_value <= x <= t.max_value:
                r.fail(f"{x!r} is outside {t.min_value!r}-{t.max_value!r}", where)
            values.append(x)
    objectives = [r.number(x, f"objectives[{i}]") for i, x in
                  enumerate(r.list(d, "objectives", length=problem.nobjs))]
    constraints = [r.number(x, f"constraints[{i}]") for i, x in
                   enumerate(r.list(d, "constraints", length=problem.nconstrs))]
    violation = r.number(r.get(d, "constraint_violation"), "constraint_violation")
    if not violation >= 0:
        r.fail(f"{violation!r} is not >= 0", "constraint_violation")
    feasible, evaluated = r.boolean(d, "feasible"), r.boolean(d, "evaluated")
    if feasible != (violation == 0.0):
        r.fail(f"feasible is {feasible} but constraint_violation is {violation!r}")
    if not evaluated:
        r.fail("evaluated is false: a checkpoint holds evaluated solutions only")
    s = platypus.Solution(problem)
    s.variables[:] = values
    s.objectives[:] = objectives
    s.constraints[:] = constraints
    s.constraint_violation, s.feasible, s.evaluated = violation, feasible, evaluated
    if "rank" in d:
        s.rank = r.integer(d, "rank", low=0)
    if "crowding_distance" in d:
        s.crowding_distance = r.number(d["crowding_distance"], "crowding_distance")
    return s


def _extension(r: _Reader, data: Any, ext: platypus.extensions.Extension) -> dict[str, Any]:
    """The counters to set on ``ext``; its settings in ``data`` must equal the fresh extension's."""
    state = r.mapping(r.get(r.mapping(data), "state"))
    fresh = {k: v for k, v in vars(ext).items() if isinstance(v, _SCALARS)}
    if set(state) != set(fresh):
        r.fail(f"keys {sorted(state)!r} are not {type(ext).__name__}'s {sorted(fresh)!r}", "state")
    counters = {}
    for k, v in state.items():
        value = r.number(v, k, finite=True) if isinstance(fresh[k], float) else v
        if type(value) is not type(fresh[k]):
            r.fail(f"{_show(v)} is not a {type(fresh[k]).__name__}", k)
        if k in EXTENSION_COUNTERS:
            if isinstance(value, int) and value < 0:
                r.fail(f"{value} is negative", k)
            counters[k] = value
        elif value != fresh[k]:
            r.fail(f"{value!r} is not this algorithm's setting {fresh[k]!r}", k)
    return counters


# ============================================================================ Python's random state
def random_data(state: tuple) -> dict[str, Any]:
    version, internal, gauss = state
    return {"version": version, "internal": list(internal), "gauss_next": gauss}


def random_state(data: Any, path: Path) -> tuple:
    """``random.getstate()``'s tuple from :func:`random_data`, checked (``random.setstate`` on a scratch
    generator) so that applying it cannot fail."""
    r = _Reader(path, "random")
    d = r.mapping(data)
    version = r.get(d, "version")
    if version != 3 or isinstance(version, bool):
        r.fail(f"{_show(version)} is not 3", "version")
    internal = r.list(d, "internal", length=625)
    if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2 ** 32 for x in internal):
        r.fail("the 625 values must be whole numbers from 0 to 2**32 - 1", "internal")
    if not internal[-1] <= 624:
        r.fail(f"the position {internal[-1]} is not 0-624", "internal")
    gauss = r.get(d, "gauss_next")
    if gauss is not None:
        gauss = r.number(gauss, "gauss_next", finite=True)
    state = (3, tuple(internal), gauss)
    try:
        random.Random().setstate(state)
    except (ValueError, TypeError, OverflowError) as exc:
        r.fail(f"not a state of Python's random generator ({exc})")
    return state


# ============================================================================ reading, with one-line errors
class _Reader:
    """Typed access to decoded JSON; a wrong type, length or bound raises CheckpointError naming the key."""

    def __init__(self, path: Path, where: str):
        self.path, self.where = path, where

    def at(self, key: str) -> _Reader:
        return _Reader(self.path, f"{self.where}.{key}" if self.where else key)

    def fail(self, what: str, key: str | None = None) -> None:
        """Raise CheckpointError: ``where.key: what``."""
        at = ".".join(k for k in (self.where, key) if k)
        raise CheckpointError(self.path, f"{at}: {what}" if at else what)

    def mapping(self, v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            self.fail(f"{_show(v)} is not an object")
        return v

    def get(self, d: Mapping[str, Any], key: str) -> Any:
        if key not in d:
            self.fail(f"no {key!r}", None)
        return d[key]

    def list(self, d: Mapping[str, Any], key: str, length: int | None = None) -> list[Any]:
        v = self.get(d, key)
        if not isinstance(v, list):
            self.fail(f"{_show(v)} is not a list", key)
        if length is not None and len(v) != length:
            self.fail(f"{len(v)} values, expected {length}", key)
        return v

    def integer(self, d: Mapping[str, Any], key: str, low: int) -> int:
        v = self.get(d, key)
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            self.fail(f"{_show(v)} is not a whole number >= {low}", key)
        return v

    def boolean(self, d: Mapping[str, Any], key: str) -> bool:
        v = self.get(d, key)
        if not isinstance(v, bool):
            self.fail(f"{_show(v)} is not true or false", key)
        return v

    def number(self, v: Any, key: str, finite: bool = False) -> float:
        if isinstance(v, str) and v in ("inf", "-inf", "nan"):
            x = float(v)
        elif isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2 ** 1000):
            x = float(v)
        else:
            x = None
        if x is None or (finite and not math.isfinite(x)):
            self.fail(f"{_show(v)} is not a {'finite ' if finite else ''}number", key)
        return x

    def indices(self, d: Mapping[str, Any], key: str, n: int) -> list[int]:
        v = self.list(d, key)
        for i, x in enumerate(v):
            if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < n:
                self.fail(f"{_show(x)} is not the index of one of the {n} solutions", f"{key}[{i}]")
        return v


def _num(x: Any) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _short(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."

