"""Nothing lost: a command writes only where it owns the target (issue 20, part 2).

Every command that writes checks first that the target is its own (a marker or layout it wrote), never
overwrites a file it did not write, moves aside only folders it made, and is refused in one line
(naming the file or folder and the flag) with everything already there untouched and nothing left
behind. Fits take the folder's lock like sweeps; a full disk is one line too.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from experiments.running.store import FolderInUse, Store, why_not_movable

try:
    from tests.test_bad_inputs import assert_one_line_error as _one_line
except ImportError:  # tests/ on sys.path instead of the project root
    from test_bad_inputs import assert_one_line_error as _one_line

ROOT = Path(__file__).resolve().parents[1]
SMOKE_FIT = ROOT / "configs/experiments/calibrate_smoke.toml"
SMOKE_OPT = ROOT / "configs/experiments/optimize_smoke.toml"
SWEEP = """\
[experiment]
name = "tiny"
seed = 1
replicates = 1
horizon = 1

[design]
kind = "full_factorial"

[levers]
package = ["status_quo"]
"""
# Dask's connect timeout (30 s) shortened for the unreachable-scheduler case
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _design(folder: Path, name: str = "other") -> None:
    """A sweep folder of experiment ``name`` as `experiments run` lays it out (one planned run)."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"point": [0], "replicate": [0], "seed": [1], "config_digest": ["x"], "run_id": ["r0"],
                  "rd_subsidy_rate": [0.1]}).to_parquet(folder / "design.parquet")
    (folder / "spec.toml").write_text(f'[experiment]\nname = "{name}"\n[design]\nkind = "full_factorial"\n')
    (folder / "provenance.json").write_text(json.dumps({"experiment": name, "sessions": []}))


def _write(tmp: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("/"):
            p.mkdir(exist_ok=True)
        else:
            p.write_text(text)


def _setup(tmp: Path, case: str) -> None:
    """The files a case starts from (a user's files, other kinds of results)."""
    (tmp / "spec.toml").write_text(SWEEP)
    layouts = {
        "user-files": {"victim.txt": "precious\n", "victim.parquet": "not a posterior\n",
                       "lonely/victim.json": '{"mine": true}\n', "pubdir/": "", "dir.parquet/": ""},
        "sweep": {}, "optimize": {"opt/optimize/.lock": "", "opt/spec.toml": "[experiment]\n",
                                  "opt/pareto.csv": "a\n1\n"},
        "sim-run": {"run/.sim-run": "written by `python -m sim run`\n", "run/city.csv": "q\n0\n"},
        "user-folder": {"mine/README": "my notes\n", "mine/figures/plot.png": "png"},
        "user-csv": {"mine/city.csv": "my own city table\n"},
        "run-with-note": {"run/.sim-run": "written by `python -m sim run`\n", "run/city.csv": "q\n0\n",
                          "run/note.txt": "mine\n"},
        "checkout": {"repo/.git/HEAD": "ref: refs/heads/main\n", "repo/README.md": "# my project\n",
                     "repo/setup.py": "print('x')\n"},
        "sweep-with-notes": {"sw/notes.md": "what I found\n"},
        "lonely-db": {"fit/abc.db": "a database someone put here\n"},
    }
    _write(tmp, layouts[case])
    if case in ("sweep", "sweep-with-notes"):
        _design(tmp / "sw")


# (id, setup, module, arguments, fragments the one stderr line must contain). Every case is refused
# before anything is written: every file that was there is byte-identical and nothing new appears.
CASES = [
    # calibrate --publish writes only a pair it wrote before
    ("publish-not-parquet", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--publish", "{tmp}/victim.txt"],
     ["--publish", "victim.txt", ".parquet"]),
    ("publish-foreign-parquet", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--publish", "{tmp}/victim.parquet"],
     ["--publish", "victim.parquet", "not written by --publish"]),
    ("publish-foreign-sidecar", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--publish", "{tmp}/lonely/victim.parquet"],
     ["--publish", "victim.json", "not written by --publish"]),
    ("publish-dir", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--publish", "{tmp}/pubdir"], ["--publish", "pubdir"]),
    ("publish-dir-parquet", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--publish", "{tmp}/dir.parquet"],
     ["--publish", "dir.parquet", "not a file"]),
    ("sim-calibrate-has-no-publish", "user-files", "sim", ["calibrate", "--publish", "{tmp}/victim.txt"],
     ["--publish"]),
    # calibrate --out: new, empty, or a fit's folder; nothing created when refused
    ("fit-into-sweep", "sweep", "experiments", ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/sw"],
     ["--out", "sw", "a sweep"]),
    ("fit-into-optimize", "optimize", "experiments", ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/opt"],
     ["--out", "opt", "an optimisation"]),
    ("fit-into-sim-run", "sim-run", "experiments", ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/run"],
     ["--out", "sim run"]),
    ("fit-into-user-folder", "user-folder", "experiments", ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/mine"],
     ["--out", "mine", "not a calibration fit", "README"]),
    ("fit-over-a-lonely-abc-db", "lonely-db", "experiments", ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit"],
     ["abc.db", "without the fit.json", "--force"]),
    ("fit-dask-bad-scheme", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--dask", "bogus://127.0.0.1:1"],
     ["--dask", "bogus", "nothing was written"]),
    ("fit-dask-unreachable", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--dask", "tcp://127.0.0.1:{port}"],
     ["--dask", "127.0.0.1", "nothing was written"]),
    ("fit-dask-empty", "user-files", "experiments",
     ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--dask", ""], ["--dask", "empty"]),
    # sim run --force: only a folder it marked, holding nothing but its own output
    ("sim-force-user-csv", "user-csv", "sim", ["run", "--quarters", "1", "--out", "{tmp}/mine", "--force"],
     ["--out", "mine", ".sim-run"]),
    ("sim-force-keeps-user-files", "run-with-note", "sim",
     ["run", "--quarters", "1", "--out", "{tmp}/run", "--force"], ["--out", "note.txt", "did not write"]),
    # sweep / optimize --force: move aside only a results folder the tools made, holding nothing else
    ("sweep-force-checkout", "checkout", "experiments",
     ["run", "{tmp}/spec.toml", "--out", "{tmp}/repo", "--force", "--serial", "--no-progress"],
     ["repo", "--force", "not made by"]),
    ("sweep-force-sweep-with-notes", "sweep-with-notes", "experiments",
     ["run", "{tmp}/spec.toml", "--out", "{tmp}/sw", "--force", "--serial", "--no-progress"],
     ["sw", "notes.md", "--force"]),
    ("optimize-force-checkout", "checkout", "experiments",
     ["optimize", str(SMOKE_OPT), "--out", "{tmp}/repo", "--force", "--serial"], ["repo", "--force", "not made by"]),
]


def _launch(setup: str, module: str, args: list[str], tmp: Path) -> tuple:
    _setup(tmp, setup)
    before = {p: p.read_bytes() for p in tmp.rglob("*") if p.is_file()}
    dirs = {p for p in tmp.rglob("*") if p.is_dir()}
    argv = [a.format(tmp=tmp, port=_free_port()) for a in args]
    proc = subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=180)
    return proc, before, dirs


@pytest.fixture(scope="module")
def launched(request, tmp_path_factory):
    """The selected cases' CLI processes, a few at a time (each is mostly interpreter start-up)."""
    wanted = {item.callspec.params["case"] for item in request.session.items
              if getattr(item, "originalname", None) == "test_refused_in_one_line_and_nothing_lost"}
    pool = ThreadPoolExecutor(max_workers=3)
    futures = {cid: pool.submit(_launch, setup, module, args, tmp_path_factory.mktemp(cid))
               for cid, setup, module, args, _ in CASES if cid in wanted}
    yield futures
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_refused_in_one_line_and_nothing_lost(launched, case):
    proc, before, dirs = launched[case].result()
    _one_line(proc, {c[0]: c[4] for c in CASES}[case])
    root = min((p.parent for p in before), key=lambda p: len(p.parts))  # the case's folder (spec.toml is in it)
    for p, data in before.items():  # every file is where it was, byte for byte
        assert p.is_file() and p.read_bytes() == data, p
    now = {p for p in root.rglob("*")}
    new = sorted(str(p.relative_to(root)) for p in now if p not in before and p not in dirs)
    assert new == [], new  # nothing created: no fit folder, no DIR.tmp, no moved-aside sibling


# ---------------------------------------------------------------------------- ownership rules
@pytest.mark.parametrize("files, movable", [
    ({"design.parquet": "", "spec.toml": "", "runs/": "", "report.md": ""}, True),  # a sweep
    ({"optimize/": "", "spec.toml": "", "pareto.csv": ""}, True),  # an optimisation
    ({"fit.json": "{}", "abc.db": "", "figures/": ""}, True),  # a fit
    ({".sim-run": "", "city.csv": "", "district_map.png": ""}, True),  # a sim run
    ({"design.parquet": "", "spec.toml": "", "notes.md": ""}, "notes.md"),  # a sweep plus a user's file
    ({".git/": "", "README.md": "", "spec.toml": ""}, "not made by"),  # a git checkout
    ({"city.csv": "", "clusters.csv": ""}, "not made by"),  # sim-run names, but no marker
])
def test_force_moves_aside_only_folders_the_tools_made(tmp_path, files, movable):
    folder = tmp_path / "out"
    folder.mkdir()
    _write(folder, files)
    problem = why_not_movable(folder)
    if movable is True:
        assert problem is None
        moved = Store(folder).move_aside()
        assert moved.name.startswith("out.old-") and not folder.exists()
        assert sorted(p.name for p in moved.iterdir()) == sorted([*(f.rstrip("/") for f in files), ".lock"])
    else:
        assert movable in problem
        with pytest.raises(FolderInUse, match=movable):
            Store(folder).move_aside()
        assert sorted(p.name for p in folder.iterdir()) == sorted(f.rstrip("/") for f in files)
        assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_sim_run_marker_name_agrees():
    from experiments.running.store import SIM_RUN_MARKER
    from sim.outputs import plots
    from sim.outputs.cli import MARKER, PLOT_NAMES

    assert SIM_RUN_MARKER == MARKER and tuple(plots.FIGURES) == PLOT_NAMES


def test_publish_overwrites_only_its_own_pair(tmp_path):
    from experiments.calibration.publish import WRITTEN_BY, check_publish_target
    from experiments.running.spec import SpecError

    check_publish_target(tmp_path / "new.parquet")  # nothing there: fine
    check_publish_target(ROOT / "configs/posterior.parquet")  # the committed posterior (written before the mark)
    (tmp_path / "ours.parquet").write_bytes(b"PAR1")
    (tmp_path / "ours.json").write_text(json.dumps({"written_by": WRITTEN_BY}))
    check_publish_target(tmp_path / "ours.parquet")
    (tmp_path / "theirs.parquet").write_bytes(b"PAR1")
    (tmp_path / "theirs.json").write_text(json.dumps({"written_by": "someone else"}))
    for bad in ("theirs.parquet", "ours.json"):
        with pytest.raises(SpecError, match="--publish"):
            check_publish_target(tmp_path / bad)


def test_writers_leave_no_tmp_behind(tmp_path):
    """An atomic write that fails (here: the target is a folder) removes its temporary file."""
    from experiments.running.store import write_parquet, write_text

    (tmp_path / "x.parquet").mkdir()
    (tmp_path / "x.json").mkdir()
    with pytest.raises(OSError):
        write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "x.parquet")
    with pytest.raises(OSError):
        write_text("{}", tmp_path / "x.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.parquet"]


def test_clean_deletes_only_uncommitted_parts_never_a_users_files(tmp_path):
    """A resumed sweep removes the parts of batches that never committed, not files a user put there."""
    store = Store(tmp_path / "sw")
    mine = {"runs/notes.json": "{}", "summary/my_table.parquet": "mine", "city/readme.txt": "x",
            "checksums/notes.txt": "x", "summary/part-x.csv": "x"}
    _write(store.root, mine)
    _write(store.root, {"summary/part-orphan.parquet": "half a batch", "checksums/orphan.json": "{}",
                        "city/part-orphan.parquet.tmp": "", "runs/part-b.parquet.tmp": ""})
    assert store.clean() == 4
    left = sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    assert left == sorted(mine)


# ---------------------------------------------------------------------------- the fit's lock
def _fit(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "experiments", "calibrate", str(SMOKE_FIT), "--out", str(out), "--workers", "1",
            *extra]


def test_a_fit_is_refused_while_another_holds_its_folder(tmp_path):
    """The lock held (here by this test process) refuses a second fit naming the holder's pid; a lock
    file left by a killed process (no flock held) is taken over."""
    out = tmp_path / "fit"
    out.mkdir()
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        proc = subprocess.run(_fit(out), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    _one_line(proc, [str(out), "another fit", f"pid {os.getpid()}"])
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
    (out / ".lock").write_text("pid 999999999")  # left by a killed fit: nobody holds the flock
    with Store(out).lock("fit"):
        assert (out / ".lock").read_text() == f"pid {os.getpid()}"


def _generations(db: Path) -> list[int]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("select t from populations where t >= 0 order by t")]


@pytest.mark.slow
def test_two_fits_in_one_folder_one_runs_the_other_is_refused(tmp_path):
    """Two fits started in one folder: the second is refused naming the first's pid, the first finishes
    with one history (no duplicate generations) that the same command resumes."""
    out = tmp_path / "fit"
    out.mkdir()
    (out / ".lock").write_text("pid 999999999")  # a stale lock file of a killed fit: taken over
    first = subprocess.Popen(_fit(out), cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and first.poll() is None:
            if (out / ".lock").read_text() == f"pid {first.pid}":
                break
            time.sleep(0.1)
        assert (out / ".lock").read_text() == f"pid {first.pid}", first.communicate()
        second = subprocess.run(_fit(out), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
        _one_line(second, [str(out), "another fit", f"pid {first.pid}"])
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert _generations(out / "abc.db") == [0, 1]
    again = subprocess.run(_fit(out), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming pyabc run" in again.stderr and _generations(out / "abc.db") == [0, 1]


# ---------------------------------------------------------------------------- a full disk
def _full_disk(_obj, path, *_a, **_k):
    """DataFrame.to_parquet(self, path) / write_parquet(df, path) on a full disk."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _sqlite_full(*_a, **_k):
    import sqlalchemy.exc

    raise sqlalchemy.exc.OperationalError("INSERT INTO populations ...", {}, sqlite3.OperationalError(
        "database or disk is full"))


# (id, entry point, arguments, what to patch, replacement, fragments of the one line, exit status)
DISK_CASES = [
    ("sim-run", "sim.outputs.cli", ["run", "--quiet", "--quarters", "1", "--out", "{tmp}/run"],
     "pandas.DataFrame.to_parquet", _full_disk, ["city.parquet", "No space left", "disk is full"], 1),
    ("sweep", "experiments.cli", ["run", "{tmp}/spec.toml", "--out", "{tmp}/sw", "--serial", "--no-progress"],
     "experiments.running.store.write_parquet", _full_disk, ["design.parquet", "No space left", "disk is full"], 2),
    ("fit-history", "experiments.cli", ["calibrate", str(SMOKE_FIT), "--out", "{tmp}/fit", "--workers", "1"],
     "pyabc.ABCSMC.new", _sqlite_full, ["abc.db", "No space left", "disk is full"], 2),
]


@pytest.mark.parametrize("case", [c[0] for c in DISK_CASES], ids=[c[0] for c in DISK_CASES])
def test_a_full_disk_is_one_line(case, tmp_path, monkeypatch, capsys):
    import importlib

    _, module, args, target, fake, fragments, status = next(c for c in DISK_CASES if c[0] == case)
    (tmp_path / "spec.toml").write_text(SWEEP)
    monkeypatch.chdir(ROOT)
    owner, attr = target.rsplit(".", 1)
    try:
        obj = importlib.import_module(owner)
    except ModuleNotFoundError:
        mod, cls = owner.rsplit(".", 1)
        obj = getattr(importlib.import_module(mod), cls)
    monkeypatch.setattr(obj, attr, fake)
    main = importlib.import_module(module).main
    assert main([a.format(tmp=tmp_path) for a in args]) == status
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    if case == "sim-run":  # the run's temporary folder is gone, no --out was created
        assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]


def test_programming_errors_are_not_swallowed(tmp_path, monkeypatch):
    """Only OSError becomes one line: a bug (TypeError) still raises with its traceback."""
    import sim.outputs.cli

    def bug(*_a, **_k):
        raise TypeError("a bug")

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", bug)
    with pytest.raises(TypeError, match="a bug"):
        sim.outputs.cli.main(["run", "--quiet", "--quarters", "1", "--out", str(tmp_path / "run")])


def test_optimize_force_moves_aside_its_own_folder_only(tmp_path):
    """--force moves a stale optimisation aside, but not while it holds a file the user added."""
    from experiments.decision.optimize import optimize
    from experiments.decision.optimize_spec import OptimizeError, parse_optimize_spec

    try:
        from tests.test_optimize import KNOWN, budget_model
    except ImportError:  # tests/ on sys.path instead of the project root
        from test_optimize import KNOWN, budget_model

    def spec(text: str):
        return parse_optimize_spec(text.replace("generations = 4", "generations = 1"),
                                   path=tmp_path / "optimize_known.toml")

    out, quiet = tmp_path / "out", {"model": budget_model, "log": lambda line: None}
    optimize(spec(KNOWN), out, **quiet)
    other = spec(KNOWN.replace("population = 8", "population = 10"))
    (out / "notes.md").write_text("what I found\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(OptimizeError, match=r"notes\.md.*--force will not move it"):
        optimize(other, out, force=True, **quiet)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    (out / "notes.md").unlink()
    res = optimize(other, out, force=True, **quiet)
    assert res.finished
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("out.old-")]
    assert len(aside) == 1 and (aside[0] / "pareto.csv").is_file()
