"""The optimiser's checkpoint (experiments/decision/checkpoint.py): data, never code.

* The JSON state holds everything platypus's EpsNSGAII changes while it runs: a fresh algorithm filled
  from the checkpoint of generation g makes generation g + 1 exactly as the uninterrupted one does, for
  every g of a run long enough for the adaptive-time-continuation restart (population resized, at
  generation 100).
* Every damaged checkpoint or evaluations file makes ``python -m experiments optimize SPEC --out DIR``
  exit non-zero with one line on stderr naming the file and what is wrong; nothing in the folder changes.
* A ``state.pkl`` of an older version is refused unread: a canary file its unpickling would create never
  appears.
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import platypus
import pytest
from test_optimize import TINY, budget_model

from experiments import cli
from experiments.decision import checkpoint
from experiments.decision.optimize import optimize
from experiments.decision.optimize_spec import load_optimize_spec

ROOT = Path(__file__).resolve().parents[1]
CASE = "budget_3e8"


# ---------------------------------------------------------------------------- the state round trip
class Mixed(platypus.Problem):
    """Two reals and an integer, three objectives (one maximised), one constraint."""

    def __init__(self):
        super().__init__(3, 3, 1)
        self.types[:] = [platypus.Real(0.0, 1.0), platypus.Real(-2.0, 2.0), platypus.Integer(0, 5)]
        self.directions[:] = [platypus.Direction.MINIMIZE, platypus.Direction.MAXIMIZE,
                              platypus.Direction.MINIMIZE]
        self.constraints[:] = "<=0"

    def evaluate(self, s):
        x, y, k = s.variables
        s.objectives[:] = [x ** 2 + 0.1 * k, math.sin(3 * y) - x, (1 - x) ** 2 + abs(y) + 0.05 * (5 - k)]
        s.constraints[:] = [x + y - 2.5]


def fresh() -> platypus.EpsNSGAII:
    problem = Mixed()
    alg = platypus.EpsNSGAII(problem, [0.3, 0.3, 0.3], population_size=8,
                             variator=platypus.CompoundOperator(platypus.SBX(), platypus.HUX(), platypus.PM(),
                                                                platypus.BitFlip()), log_frequency=10**9)
    for ext in alg._extensions:
        ext.start_run(alg)
    return alg


def step(alg: platypus.EpsNSGAII, rng: tuple) -> tuple:
    """One generation as optimize's loop makes it (random state in, random state out)."""
    random.setstate(rng)
    for ext in alg._extensions:
        ext.pre_step(alg)
    alg.step()
    for ext in alg._extensions:
        ext.post_step(alg)
    return random.getstate()


def dump(alg: platypus.EpsNSGAII, rng: tuple) -> str:
    return json.dumps({"random": checkpoint.random_data(rng), "algorithm": checkpoint.algorithm_state(alg)},
                      allow_nan=False)


def test_a_fresh_algorithm_filled_from_any_generation_continues_exactly(tmp_path):
    outer = random.getstate()
    try:
        random.seed(11)
        alg, rng = fresh(), random.getstate()
        dumps, sizes = [], []
        for _ in range(115):  # past the restart of adaptive time continuation at iteration 100
            rng = step(alg, rng)
            dumps.append(dump(alg, rng))
            sizes.append(alg.population_size)
            attrs = {k for s in [*alg.population, *alg.archive] for k in vars(s)}
            assert attrs <= {"problem", "variables", "objectives", "constraints", "constraint_violation", "feasible",
                             "evaluated", "rank", "crowding_distance"}, attrs  # nothing the checkpoint misses
        assert sizes[98] == 8 and sizes[99] != 8, sizes[95:102]  # a restart resized the population
        assert any(id(s) in {id(a) for a in alg.archive} for s in alg.population)  # shared, as platypus keeps them
        path = tmp_path / "state.json"
        for g in range(len(dumps) - 1):
            data = json.loads(dumps[g])
            resumed = fresh()
            checkpoint.restore_algorithm(resumed, data["algorithm"], path)
            nxt = step(resumed, checkpoint.random_state(data["random"], path))
            assert dump(resumed, nxt) == dumps[g + 1], f"generation {g + 2} differs after resuming at {g + 1}"
    finally:
        random.setstate(outer)


# ---------------------------------------------------------------------------- damaged files, by the CLI
@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """(spec file, results folder) of a search stopped after two generations (stand-in model)."""
    tmp = tmp_path_factory.mktemp("made")
    spec_file = tmp / "ckpt.toml"
    spec_file.write_text(TINY, encoding="utf-8")
    out = tmp / "out"
    optimize(load_optimize_spec(spec_file), out, model=budget_model, stop_after=2, log=lambda line: None)
    return spec_file, out


def edit_state(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / "state.json"
        state = json.loads(path.read_text(encoding="utf-8"))
        change(state)
        path.write_text(json.dumps(state), encoding="utf-8")
    return apply


def write(name: str, data: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)
    return apply


def edit_evaluations(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / "evaluations.parquet"
        change(pd.read_parquet(path)).to_parquet(path, index=False)
    return apply


def _set(path: str, value) -> Callable[[dict], None]:
    """Set a dotted path (``algorithm.solutions.0.variables.1``) in the state."""
    def change(state: dict) -> None:
        *parents, last = path.split(".")
        node = state
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value(copy.deepcopy(node[int(last)] if isinstance(
            node, list) else node[last])) if callable(value) else value
    return change


def _drop_first(key: str) -> Callable[[dict], None]:
    return _set(key, lambda v: v[1:])


def _half(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


# (id, damage, fragments the one stderr line must contain)
DAMAGE = [
    ("state-garbage", write("state.json", b"\x8f\x00garbage\xff" * 40), ["state.json", "not UTF-8"]),
    ("state-not-json", write("state.json", b"{'generation': 2,"), ["state.json", "not valid JSON"]),
    ("state-truncated", write("state.json", _half), ["state.json", "not valid JSON", "truncated"]),
    ("state-empty", write("state.json", b""), ["state.json", "is empty"]),
    ("state-a-folder", lambda folder: ((folder / "state.json").unlink(), (folder / "state.json").mkdir()),
     ["state.json", "not a regular file"]),
    ("state-links-to-a-device", lambda folder: ((folder / "state.json").unlink(),
                                                (folder / "state.json").symlink_to("/dev/zero")),
     ["state.json", "not a regular file"]),
    ("state-huge", lambda folder: os.truncate(folder / "state.json", 300_000_000), ["state.json", "300 MB"]),
    ("state-a-list", write("state.json", b"[1, 2, 3]"), ["state.json", "JSON list"]),
    ("state-infinity-literal", write("state.json", lambda b: b.replace(b'"inf"', b"Infinity")),
     ["state.json", "Infinity is not JSON"]),
    ("state-old-meta-only", write("state.json", b'{"digest": "abc", "generation": 2, "nfe": 12}'),
     ["state.json", "not a checkpoint of this program"]),
    ("state-version", edit_state(_set("version", 99)), ["state.json", "version 99"]),
    ("state-no-digest", edit_state(lambda s: s.pop("digest")), ["state.json", "digest: None"]),
    ("generation-negative", edit_state(_set("generation", -1)), ["state.json", "generation: -1", ">= 1"]),
    ("generation-a-string", edit_state(_set("generation", "2")), ["state.json", "generation: '2'"]),
    ("improvements-length", edit_state(_drop_first("improvements")), ["state.json", "improvements", "expected 2"]),
    ("random-short", edit_state(_set("random.internal", lambda v: v[:3])),
     ["state.json", "random.internal", "expected 625"]),
    ("random-position", edit_state(_set("random.internal.624", 100_000)), ["state.json", "random.internal", "0-624"]),
    ("random-huge-int", edit_state(_set("random.internal.0", 2**80)), ["state.json", "random.internal", "2**32"]),
    ("random-version", edit_state(_set("random.version", "3")), ["state.json", "random.version", "not 3"]),
    ("random-gauss", edit_state(_set("random.gauss_next", "x")), ["state.json", "random.gauss_next"]),
    ("random-missing", edit_state(lambda s: s.pop("random")), ["state.json", "no 'random'"]),
    ("algorithm-not-object", edit_state(_set("algorithm", [])), ["state.json", "algorithm", "not an object"]),
    ("nfe-zero", edit_state(_set("algorithm.nfe", 0)), ["state.json", "algorithm.nfe: 0"]),
    ("population-short", edit_state(_drop_first("algorithm.population")),
     ["state.json", "algorithm.population", "population_size is 6"]),
    ("population-index", edit_state(_set("algorithm.population.0", 10_000)),
     ["state.json", "algorithm.population[0]", "10000"]),
    ("archive-index", edit_state(_set("algorithm.archive.0", -1)), ["state.json", "algorithm.archive[0]", "-1"]),
    ("real-out-of-range", edit_state(_set("algorithm.solutions.0.variables.0", 5.0)),
     ["state.json", "algorithm.solutions[0].variables[0]", "5.0 is outside"]),
    ("real-not-a-number", edit_state(_set("algorithm.solutions.0.variables.0", "nan")),
     ["state.json", "variables[0]", "not a finite number"]),
    ("integer-bits", edit_state(_set("algorithm.solutions.1.variables.1", [1, 0, 1])),
     ["state.json", "algorithm.solutions[1].variables[1]", "2 bits"]),
    ("objectives-count", edit_state(_drop_first("algorithm.solutions.0.objectives")),
     ["state.json", "algorithm.solutions[0].objectives", "expected 3"]),
    ("objective-huge-int", edit_state(_set("algorithm.solutions.2.objectives.0", 10**400)),
     ["state.json", "objectives[0]", "is not a number"]),
    ("objective-string", edit_state(_set("algorithm.solutions.2.objectives.1", "high")),
     ["state.json", "objectives[1]", "'high' is not a number"]),
    ("constraints-count", edit_state(_set("algorithm.solutions.0.constraints", [])),
     ["state.json", "constraints", "expected 2"]),
    ("feasible-contradicts", edit_state(_set("algorithm.solutions.0", lambda s: {**s, "feasible": not s["feasible"]})),
     ["state.json", "solutions[0]", "constraint_violation"]),
    ("unknown-solution-key", edit_state(_set("algorithm.solutions.0.__reduce__", "os.system")),
     ["state.json", "solutions[0]", "unknown key '__reduce__'"]),
    ("extensions-swapped", edit_state(_set("algorithm.extensions", lambda v: v[::-1])),
     ["state.json", "algorithm.extensions", "LoggingExtension"]),
    ("extension-setting", edit_state(_set("algorithm.extensions.0.state.window_size", 1)),
     ["state.json", "algorithm.extensions[0].window_size", "setting 100"]),
    ("extension-counter", edit_state(_set("algorithm.extensions.0.state.iteration", -3)),
     ["state.json", "iteration", "negative"]),
    ("archive-improvements", edit_state(_set("algorithm.archive_improvements", 10**6)),
     ["state.json", "improvements", "archive's 1000000"]),
    ("evaluations-garbage", write("evaluations.parquet", b"\x00garbage" * 100),
     ["evaluations.parquet", "not a readable Parquet file"]),
    ("evaluations-truncated", write("evaluations.parquet", _half), ["evaluations.parquet", "not a readable Parquet"]),
    ("evaluations-empty", write("evaluations.parquet", b""), ["evaluations.parquet", "not a readable Parquet"]),
    ("evaluations-missing", lambda folder: (folder / "evaluations.parquet").unlink(),
     ["evaluations.parquet", "is missing", "generation 2"]),
    ("evaluations-columns", edit_evaluations(lambda df: df.drop(columns=["feasible", "rd_subsidy_rate"])),
     ["evaluations.parquet", "no column 'rd_subsidy_rate', 'feasible'"]),
    ("evaluations-objective-text", edit_evaluations(lambda df: df.assign(retention_3y="high")),
     ["evaluations.parquet", "'retention_3y'", "not numbers"]),
    ("evaluations-feasible-text", edit_evaluations(lambda df: df.assign(feasible="yes")),
     ["evaluations.parquet", "'feasible'", "true/false"]),
    ("evaluations-no-rows", edit_evaluations(lambda df: df.iloc[:0]),
     ["evaluations.parquet", "no evaluation of generations 1-2"]),
    ("evaluations-generation", edit_evaluations(lambda df: df.assign(generation=0)),
     ["evaluations.parquet", "'generation'", "whole numbers from 1"]),
]


def _files(folder: Path) -> dict[Path, bytes | tuple[int, int]]:
    """Every file's bytes (a big one's size and time)."""
    return {p: p.read_bytes() if p.stat().st_size < 10**7 else (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("damage", "fragments"), [c[1:] for c in DAMAGE], ids=[c[0] for c in DAMAGE])
def test_damaged_checkpoint_is_one_line_naming_the_file(made, tmp_path, capsys, damage, fragments):
    spec_file, source = made
    out = tmp_path / "out"
    shutil.copytree(source, out)
    damage(out / "optimize" / CASE)
    before = _files(out)
    code = cli.main(["optimize", str(spec_file), "--out", str(out), "--serial"])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {out / 'optimize' / CASE}/"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert lines[0].endswith("give another --out, or --force to move the old results aside and start again")
    assert _files(out) == before  # nothing written, nothing lost


def test_the_undamaged_copy_resumes(made, tmp_path, capsys):
    """The control for the table above: the same copy, undamaged, is resumed and finished."""
    spec_file, source = made
    out = tmp_path / "out"
    shutil.copytree(source, out)
    res = optimize(load_optimize_spec(spec_file), out, model=budget_model, log=lambda line: None)
    assert res.finished and res.cases[0].generation == res.spec.generations


def test_real_cli_names_a_damaged_file_without_a_traceback(made, tmp_path):
    spec_file, source = made
    out = tmp_path / "out"
    shutil.copytree(source, out)
    (out / "optimize" / CASE / "evaluations.parquet").write_bytes(b"PAR1\x00\x01")
    proc = subprocess.run([sys.executable, "-m", "experiments", "optimize", str(spec_file), "--out", str(out),
                           "--serial"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "evaluations.parquet: is not a readable Parquet file" in proc.stderr


# ---------------------------------------------------------------------------- an older version's pickle
class Canary:
    """Unpickling this creates the file ``path`` (as a hostile checkpoint could run anything)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_an_old_pickled_checkpoint_is_refused_unread(made, tmp_path):
    spec_file, source = made
    control = tmp_path / "control-canary"
    pickle.loads(pickle.dumps(Canary(control)))  # the payload works: unpickling it creates the file
    assert control.exists()
    out = tmp_path / "out"
    shutil.copytree(source, out)
    canary = tmp_path / "canary"
    old = out / "optimize" / CASE / "state.pkl"
    old.write_bytes(pickle.dumps({"algorithm": Canary(canary)}))
    before = _files(out)
    proc = subprocess.run([sys.executable, "-m", "experiments", "optimize", str(spec_file), "--out", str(out),
                           "--serial"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: {old}: checkpoint from an older version in a format that can run code; not loaded — give another "
        "--out, or --force to move the old results aside and start again"]
    assert not canary.exists()
    assert _files(out) == before
    # --force moves the old folder aside (unread) and starts again
    res = optimize(load_optimize_spec(spec_file), out, model=budget_model, force=True, log=lambda line: None)
    assert res.finished and not canary.exists()
    assert not list(out.rglob("*.pkl")) and [p.name for p in tmp_path.glob("out.old-*")]
