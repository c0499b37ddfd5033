"""Damaged files are detected and named: every file the tools read (a sweep's design, parts, checksums,
provenance and stored spec; a fit's fit.json and abc.db; a posterior and its JSON) gives one line on
stderr naming the file and what is wrong, a non-zero exit, no traceback, and nothing is overwritten.
The one intended repair: ``run`` moves a damaged batch to ``damaged/`` and recomputes its runs.

Table-driven like tests/test_bad_inputs.py: (id, file, damage, command, fragments of the one line).
One tiny sweep (2 packages x 2 replicates, 2 quarters, batches of 2 runs) is built per module and
copied per case; the fit cases need no fit (they fail before pyabc samples), the tiny pyabc history
for the truncated/locked cases comes from a 5-particle toy model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_bad_inputs import assert_one_line_error

SPEC = """\
[experiment]
name = "tiny"
seed = 1
replicates = 2
horizon = 2

[design]
kind = "full_factorial"

[levers]
package = ["status_quo", "digital"]
"""

SMOKE = Path(__file__).resolve().parents[1] / "configs/experiments/calibrate_smoke.toml"


# ---------------------------------------------------------------------------- damage
def random_bytes(p: Path) -> None:
    p.write_bytes(np.random.default_rng(1).bytes(max(p.stat().st_size, 64)))


def truncated(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def empty(p: Path) -> None:
    p.write_bytes(b"")


def flipped(p: Path) -> None:
    """One bit changed in the middle: the Parquet file may still parse (only the checksum sees it)."""
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1
    p.write_bytes(bytes(data))


def other(source: str):
    """Wrong content type: the bytes of another sound file of the folder (``@table/n``: a part, or a file
    name), or else the given text."""
    def damage(p: Path, root: Path) -> None:
        src = _resolve(root, source)
        p.write_bytes(src.read_bytes() if src.is_file() else source.encode())
    damage.needs_root = True
    return damage


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A finished tiny sweep (with checksums), its spec, an old-style copy without checksums, a posterior
    and its JSON, and a tiny pyabc history."""
    from experiments.running.executors import SerialExecutor
    from experiments.running.spec import load_spec
    from experiments.running.sweep import run_sweep

    root = tmp_path_factory.mktemp("base")
    (root / "tiny.toml").write_text(SPEC)
    run_sweep(load_spec(root / "tiny.toml"), root / "sweep", SerialExecutor(), progress=False, batch=2)
    old = root / "old"
    shutil.copytree(root / "sweep", old)
    shutil.rmtree(old / "checksums")  # as written before checksums
    w = np.array([1.0, 2.0, 3.0, 4.0])
    post = pd.DataFrame({"beta_wage": np.linspace(1.5, 2.5, 4), "weight": w / w.sum()})
    post.to_parquet(root / "posterior.parquet", index=False)
    (root / "posterior.json").write_text(json.dumps({"targets": ["graduate_retention"], "posterior_mean": {
        "beta_wage": float((post["beta_wage"] * post["weight"]).sum())}}))
    _toy_history(root / "toy.db")
    return root


def _toy_history(db: Path) -> None:
    import logging

    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)
    abc = pyabc.ABCSMC(_toy_model, pyabc.Distribution(a=pyabc.RV("uniform", 0, 1)), _toy_distance,
                       population_size=4, sampler=pyabc.sampler.SingleCoreSampler())
    abc.new(f"sqlite:///{db}", {"x": 0.5})
    abc.run(max_nr_populations=1)


def _toy_model(p):
    return {"x": float(p["a"])}


def _toy_distance(x, y):
    return abs(x["x"] - y["x"])


def part(table: str, n: int = 0) -> str:
    return f"@{table}/{n}"  # the n-th part of a table, resolved per case


def _resolve(root: Path, name: str) -> Path:
    if name.startswith("@"):
        table, n = name[1:].split("/")
        return sorted((root / table).glob("*.json" if table == "checksums" else "part-*.parquet"))[int(n)]
    return root / name


# (id, folder, file, damage, module, arguments, fragments) -- folder: "sweep" (checksums), "old" (none),
# "fit" (fit.json + abc.db of the smoke spec), "post" (a posterior + JSON). {dir}: the folder, {file}: the
# damaged file; fragments may name {name} (the damaged file's name as the line shows it).
CASES = [
    # --- committed parts of a sweep with checksums
    ("summary-flipped-status", "sweep", part("summary"), flipped, "experiments", ["status", "{dir}"],
     ["{name}", "checksum", "python -m experiments run", "recomputes"]),
    ("summary-random-analyze", "sweep", part("summary", 1), random_bytes, "experiments", ["analyze", "{dir}"],
     ["{name}", "checksum", "recomputes"]),
    ("summary-truncated-status", "sweep", part("summary"), truncated, "experiments", ["status", "{dir}"],
     ["{name}", "cut short"]),
    ("summary-empty-analyze", "sweep", part("summary"), empty, "experiments", ["analyze", "{dir}"],
     ["{name}", "0 bytes"]),
    ("summary-other-discover", "sweep", part("summary"), other("@city/0"), "experiments",
     ["discover", "{dir}", "--where", "retention_3y > 0"], ["{name}", "recomputes"]),
    ("runs-random-status", "sweep", part("runs"), random_bytes, "experiments", ["status", "{dir}"], ["{name}"]),
    ("runs-truncated-robustness", "sweep", part("runs", 1), truncated, "experiments",
     ["robustness", "{dir}", "--goal", "retention_3y >= 0"], ["{name}", "cut short"]),
    ("runs-empty-analyze", "sweep", part("runs"), empty, "experiments", ["analyze", "{dir}"], ["{name}"]),
    ("runs-other-status", "sweep", part("runs"), other("@summary/0"), "experiments", ["status", "{dir}"],
     ["{name}", "overwritten"]),
    ("city-random-analyze", "sweep", part("city"), random_bytes, "experiments", ["analyze", "{dir}"], ["{name}"]),
    ("clusters-truncated-status", "sweep", part("clusters"), truncated, "experiments", ["status", "{dir}"],
     ["{name}"]),
    ("districts-empty-status", "sweep", part("districts", 1), empty, "experiments", ["status", "{dir}"],
     ["{name}"]),
    ("checksums-random-status", "sweep", part("checksums"), random_bytes, "experiments", ["status", "{dir}"],
     ["1 damaged file: {name} is not UTF-8 text"]),
    ("checksums-other-analyze", "sweep", part("checksums"), other('{"parts": 3}'), "experiments",
     ["analyze", "{dir}"], ["checksums/", "'parts'"]),
    # --- the same in a store written before checksums: the parts must parse and hold their key columns
    ("old-summary-random-status", "old", part("summary"), random_bytes, "experiments", ["status", "{dir}"],
     ["{name}", "not a readable Parquet file"]),
    ("old-runs-truncated-analyze", "old", part("runs"), truncated, "experiments", ["analyze", "{dir}"],
     ["{name}", "not a readable Parquet file"]),
    ("old-summary-empty-status", "old", part("summary", 1), empty, "experiments", ["status", "{dir}"],
     ["{name}", "0 bytes"]),
    ("old-runs-other-status", "old", part("runs"), other("@summary/0"), "experiments", ["status", "{dir}"],
     ["{name}", "lacks the column(s)"]),
    # --- design.parquet
    ("design-random-status", "sweep", "design.parquet", random_bytes, "experiments", ["status", "{dir}"],
     ["design.parquet", "not a readable Parquet file", "writes it again"]),
    ("design-truncated-analyze", "sweep", "design.parquet", truncated, "experiments", ["analyze", "{dir}"],
     ["design.parquet", "not a readable Parquet file"]),
    ("design-empty-run", "sweep", "design.parquet", empty, "experiments",
     ["run", "{spec}", "--out", "{dir}", "--serial"], ["design.parquet", "0 bytes"]),
    ("design-other-discover", "sweep", "design.parquet", other("@summary/0"), "experiments",
     ["discover", "{dir}", "--where", "retention_3y > 0"], ["design.parquet", "lacks the column(s)", "point"]),
    # --- provenance.json
    ("provenance-random-status", "sweep", "provenance.json", random_bytes, "experiments", ["status", "{dir}"],
     ["provenance.json", "not UTF-8"]),
    ("provenance-truncated-run", "sweep", "provenance.json", truncated, "experiments",
     ["run", "{spec}", "--out", "{dir}", "--serial"], ["provenance.json", "not valid JSON"]),
    ("provenance-empty-analyze", "sweep", "provenance.json", empty, "experiments", ["analyze", "{dir}"],
     ["provenance.json", "empty"]),
    ("provenance-other-status", "sweep", "provenance.json", other("[1, 2]"), "experiments", ["status", "{dir}"],
     ["provenance.json", "not an object"]),
    # --- spec.toml stored in the folder
    ("spec-random-analyze", "sweep", "spec.toml", random_bytes, "experiments", ["analyze", "{dir}"],
     ["spec.toml", "UTF-8"]),
    ("spec-truncated-discover", "sweep", "spec.toml", other("[experiment\nname = "), "experiments",
     ["discover", "{dir}", "--where", "retention_3y > 0"], ["spec.toml", "not valid TOML"]),
    ("spec-empty-robustness", "sweep", "spec.toml", empty, "experiments",
     ["robustness", "{dir}", "--goal", "retention_3y >= 0"], ["spec.toml", "empty"]),
    ("spec-other-analyze", "sweep", "spec.toml", other("design = 3\n"), "experiments", ["analyze", "{dir}"],
     ["spec.toml", "[design]", "not a table"]),
    # --- a calibration fit being resumed: fit.json and pyabc's abc.db
    ("abcdb-random-calibrate", "fit", "abc.db", random_bytes, "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["abc.db", "not a SQLite database"]),
    ("abcdb-truncated-calibrate", "fit", "abc.db", truncated, "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["abc.db", "malformed"]),
    ("abcdb-empty-calibrate", "fit", "abc.db", empty, "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["abc.db", "0 bytes"]),
    ("abcdb-other-calibrate", "fit", "abc.db", other("sqlite"), "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["abc.db", "not a pyabc history"]),
    ("fitjson-random-calibrate", "fit", "fit.json", random_bytes, "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["fit.json", "not UTF-8"]),
    ("fitjson-truncated-calibrate", "fit", "fit.json", truncated, "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["fit.json", "not valid JSON"]),
    ("fitjson-empty-calibrate", "fit", "fit.json", empty, "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["fit.json", "empty"]),
    ("fitjson-other-calibrate", "fit", "fit.json", other('{"run_id": "one"}'), "experiments",
     ["calibrate", "{smoke}", "--out", "{dir}", "--workers", "1"], ["fit.json", "'run_id' (integer)"]),
    # --- the posterior (sim calibrate --posterior PATH; a sweep spec's [base] uncertainties = PATH)
    ("posterior-random-sim", "post", "posterior.parquet", random_bytes, "sim",
     ["calibrate", "--posterior", "{file}", "--draws", "1"], ["posterior.parquet", "not a readable parquet"]),
    ("posterior-truncated-plan", "post", "posterior.parquet", truncated, "experiments", ["plan", "{postspec}"],
     ["[base] uncertainties", "posterior.parquet", "not a readable parquet"]),
    ("posterior-empty-sim", "post", "posterior.parquet", empty, "sim",
     ["calibrate", "--posterior", "{file}", "--draws", "1"], ["posterior.parquet", "not a readable parquet"]),
    ("posterior-zero-rows-sim", "post", "posterior.parquet", "zero_rows", "sim",
     ["calibrate", "--posterior", "{file}", "--draws", "1"], ["posterior.parquet", "zero rows"]),
    ("posterior-only-weight-plan", "post", "posterior.parquet", "only_weight", "experiments", ["plan", "{postspec}"],
     ["posterior.parquet", "no parameter columns", "beta_wage"]),
    ("posterior-only-weight-sim", "post", "posterior.parquet", "only_weight_no_json", "sim",
     ["calibrate", "--posterior", "{file}", "--draws", "1"], ["posterior.parquet", "no parameter columns"]),
    ("posterior-text-column-sim", "post", "posterior.parquet", "text_column", "sim",
     ["calibrate", "--posterior", "{file}", "--draws", "1"], ["posterior.parquet", "'beta_wage'", "not numbers"]),
    ("posterior-nan-weight-sim", "post", "posterior.parquet", "nan_weight", "sim",
     ["calibrate", "--posterior", "{file}", "--draws", "1"], ["posterior.parquet", "weight", "missing"]),
    ("posterior-negative-weight-plan", "post", "posterior.parquet", "negative_weight", "experiments",
     ["plan", "{postspec}"], ["posterior.parquet", "negative"]),
    ("posterior-json-random-sim", "post", "posterior.json", random_bytes, "sim",
     ["calibrate", "--posterior", "{dir}/posterior.parquet", "--draws", "1"], ["posterior.json", "not valid JSON"]),
    ("posterior-json-truncated-plan", "post", "posterior.json", truncated, "experiments", ["plan", "{postspec}"],
     ["posterior.json", "not valid JSON"]),
    ("posterior-json-empty-sim", "post", "posterior.json", empty, "sim",
     ["calibrate", "--posterior", "{dir}/posterior.parquet", "--draws", "1"], ["posterior.json", "not valid JSON"]),
    ("posterior-json-other-sim", "post", "posterior.json", other('{"fingerprint": "fast"}'), "sim",
     ["calibrate", "--posterior", "{dir}/posterior.parquet", "--draws", "1"],
     ["posterior.json", "'fingerprint'", "not a table of numbers"]),
]


def _posterior_damage(kind: str, p: Path) -> None:
    t = pd.read_parquet(p)
    if kind == "zero_rows":
        t = t.iloc[:0]
    elif kind.startswith("only_weight"):
        t = t[["weight"]]
        if kind == "only_weight_no_json":
            p.with_suffix(".json").unlink()
    elif kind == "text_column":
        t = t.assign(beta_wage=t["beta_wage"].astype(str))
    elif kind == "nan_weight":
        t = t.assign(weight=[np.nan, 0.5, 0.25, 0.25])
    elif kind == "negative_weight":
        t = t.assign(weight=[-0.5, 0.5, 0.5, 0.5])
    t.to_parquet(p, index=False)


def _prepare(case: tuple, base: Path, tmp: Path) -> dict[str, str]:
    """Copy the folder a case damages into ``tmp``, damage the file; returns the placeholders."""
    cid, folder, name, damage = case[:4]
    root = tmp / "case"
    if folder in ("sweep", "old"):
        shutil.copytree(base / folder, root)
    elif folder == "fit":
        from experiments.calibration import load_calibration_spec

        root.mkdir()
        shutil.copy(base / "toy.db", root / "abc.db")
        (root / "fit.json").write_text(json.dumps({"spec": str(SMOKE), "digest": load_calibration_spec(SMOKE).digest(),
                                                   "run_id": 1}))
        with sqlite3.connect(root / "sqlite") as con:  # a sound SQLite file that is no pyabc history
            con.execute("CREATE TABLE notes (x TEXT)")
    else:
        root.mkdir()
        for f in ("posterior.parquet", "posterior.json"):
            shutil.copy(base / f, root / f)
    target = _resolve(root, name)
    if isinstance(damage, str):
        _posterior_damage(damage, target)
    elif getattr(damage, "needs_root", False):
        damage(target, root)
    else:
        damage(target)
    (tmp / "post.toml").write_text(SPEC.replace(
        "[design]", f'[base]\nuncertainties = "{root / "posterior.parquet"}"\nposterior_draws = 2\n\n[design]'))
    shown = str(target.relative_to(root)) if folder in ("sweep", "old") else target.name
    return {"dir": str(root), "file": str(target), "name": shown, "spec": str(base / "tiny.toml"),
            "smoke": str(SMOKE), "postspec": str(tmp / "post.toml")}


def cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)



def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _launch(case: tuple, base: Path, tmp: Path, repo_root: Path):  # noqa: ANN202
    paths = _prepare(case, base, tmp)
    before = _snapshot(tmp)
    proc = cli(case[4], *[a.format(**paths) for a in case[5]], cwd=repo_root)
    return proc, paths, before, tmp


@pytest.fixture(scope="module")
def launched(request, base, tmp_path_factory, repo_root):
    """The selected cases' CLI processes, two at a time (each is mostly interpreter start-up)."""
    wanted = {item.callspec.params["case"] for item in request.session.items
              if getattr(item, "originalname", None) == "test_damaged_file_is_one_line_naming_it"}
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {c[0]: pool.submit(_launch, c, base, tmp_path_factory.mktemp(c[0]), repo_root)
               for c in CASES if c[0] in wanted}
    yield futures
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_damaged_file_is_one_line_naming_it(launched, case):
    fragments = {c[0]: c[6] for c in CASES}[case]
    proc, paths, before, tmp = launched[case].result()
    assert_one_line_error(proc, [f.format(**paths) for f in fragments])
    after = _snapshot(tmp)
    assert {p: after.get(p) for p in before} == before  # the damaged file and every other file untouched
    new = [p for p in after if p not in before and p.name != ".lock"]  # a lock file holds no data
    assert not new, new  # nothing written beside them


def test_case_table_covers_every_file_kind_and_damage():
    assert len(CASES) >= 28 and len({c[0] for c in CASES}) == len(CASES)
    kinds = {c[2].split("/")[0].lstrip("@") for c in CASES}
    assert kinds >= {"summary", "runs", "city", "clusters", "districts", "checksums", "design.parquet",
                     "provenance.json", "spec.toml", "abc.db", "fit.json", "posterior.parquet", "posterior.json"}


# ---------------------------------------------------------------------------- status, load, repair
def _copy(base: Path, tmp: Path, folder: str = "sweep") -> Path:
    root = tmp / folder
    shutil.copytree(base / folder, root)
    return root


def test_every_committed_part_is_in_the_checksums(base):
    root = base / "sweep"
    parts = sorted(p for t in ("runs", "summary", "city", "clusters", "districts") for p in (root / t).glob("*.parquet"))
    listed = {}
    for f in (root / "checksums").glob("*.json"):
        listed |= json.loads(f.read_text())["parts"]
    assert len(parts) == 10 and sorted(listed) == sorted(str(p.relative_to(root)) for p in parts)
    for p in parts:
        entry = listed[str(p.relative_to(root))]
        assert entry == {"bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}


def test_status_counts_runs_in_damaged_parts_and_an_intact_store_is_clean(base, tmp_path, repo_root):
    root = _copy(base, tmp_path)
    proc = cli("experiments", "status", str(root), cwd=repo_root)
    assert proc.returncode == 0 and proc.stderr == "" and "4 done, 0 failed, 0 pending" in proc.stdout
    flipped(_resolve(root, part("summary")))
    proc = cli("experiments", "status", str(root), cwd=repo_root)
    assert "2 done, 0 failed, 0 pending, 2 in damaged parts" in proc.stdout
    assert_one_line_error(proc, ["1 damaged file", "summary/part-", f"run {base / 'tiny.toml'} --out {root}"])


@pytest.mark.parametrize("folder", ["sweep", "old"])
def test_run_recomputes_damaged_runs_and_then_loads_the_same_numbers(base, tmp_path, repo_root, folder):
    import experiments

    root = _copy(base, tmp_path, folder)
    bad = _resolve(root, part("summary"))
    random_bytes(bad)
    damaged = bad.read_bytes()
    proc = cli("experiments", "run", str(base / "tiny.toml"), "--out", str(root), "--serial", "--no-progress",
               cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    assert f"damaged: summary/{bad.name}; moved with the rest of their batch to {root / 'damaged'}, the 2 runs " \
           "they held are computed again" in proc.stderr
    assert "4/4 runs done" in proc.stdout and "this session: 2 runs" in proc.stdout
    assert (root / "damaged" / "summary" / bad.name).read_bytes() == damaged  # kept, not deleted
    assert (root / "damaged" / "runs" / bad.name).is_file()  # the whole batch went aside
    key = ["run_id"]
    for table in ("summary", "city", "districts"):
        a, b = experiments.load(base / "sweep", table), experiments.load(root, table)
        sort = key + (["quarter"] if table != "summary" else []) + (["district"] if table == "districts" else [])
        pd.testing.assert_frame_equal(a.sort_values(sort).reset_index(drop=True),
                                      b.sort_values(sort).reset_index(drop=True))
    proc = cli("experiments", "status", str(root), cwd=repo_root)
    assert proc.returncode == 0 and "4 done" in proc.stdout


def test_load_names_the_damaged_part_in_one_line(base, tmp_path):
    import experiments
    from experiments.running.files import DamagedFile

    root = _copy(base, tmp_path)
    bad = _resolve(root, part("summary", 1))
    flipped(bad)
    with pytest.raises(DamagedFile) as exc:
        experiments.load(root)
    msg = str(exc.value)
    assert f"summary/{bad.name}" in msg and "recomputes" in msg and "\n" not in msg
    assert len(experiments.load(root, "city")) > 0  # the intact tables still load


def test_load_refuses_a_runs_file_instead_of_every_run_pending(base, tmp_path, repo_root):
    import experiments
    from experiments.running.files import DamagedFile

    root = _copy(base, tmp_path)
    shutil.rmtree(root / "runs")
    (root / "runs").write_text("not a folder\n")
    with pytest.raises(DamagedFile, match=r"runs is a file, not a folder of Parquet parts; move it away"):
        experiments.load(root)
    for args in (["status", str(root)], ["run", str(base / "tiny.toml"), "--out", str(root), "--serial"]):
        assert_one_line_error(cli("experiments", *args, cwd=repo_root), ["runs is a file"])
    assert (root / "runs").read_text() == "not a folder\n"


def test_a_missing_part_the_checksums_list_is_damage(base, tmp_path, repo_root):
    root = _copy(base, tmp_path)
    gone = _resolve(root, part("districts"))
    gone.unlink()
    proc = cli("experiments", "status", str(root), cwd=repo_root)
    assert_one_line_error(proc, [f"districts/{gone.name} is missing (listed in checksums/"])


def test_locked_history_is_named_not_a_traceback(base, tmp_path, repo_root):
    """Another process holds abc.db (sqlite "database is locked"): one line, after a short wait."""
    case = ("locked", "fit", "abc.db", lambda p: None)
    paths = _prepare(case, base, tmp_path)
    con = sqlite3.connect(paths["file"], isolation_level=None)
    try:
        con.execute("BEGIN EXCLUSIVE")
        proc = cli("experiments", "calibrate", str(SMOKE), "--out", paths["dir"], "--workers", "1", cwd=repo_root)
    finally:
        con.close()
    assert_one_line_error(proc, ["abc.db", "locked by another process", "database is locked"])


def test_fit_history_errors_become_one_line_naming_the_file(tmp_path):
    """pyabc reports SQLite trouble through SQLAlchemy: still one line naming abc.db."""
    import sqlalchemy.exc

    from experiments.calibration.fit import history_error

    db = tmp_path / "abc.db"
    err = sqlalchemy.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    assert str(history_error(db, err)).startswith(f"{db}: is locked by another process")
    assert history_error(db, KeyError("x")) is None
    assert "is damaged (sqlite: disk I/O error)" in str(history_error(db, sqlite3.DatabaseError("disk I/O error")))


def test_optimize_moves_a_damaged_cache_part_aside_and_makes_its_runs_again(tmp_path):
    """optimize's run cache (DIR/optimize/) is a store too: a damaged part is set aside, its runs made again."""
    from test_optimize import budget_model, spec_known

    from experiments.decision.optimize import optimize

    spec, out = spec_known(tmp_path), tmp_path / "out"
    optimize(spec, out, model=budget_model, log=lambda line: None)
    pareto = pd.read_csv(out / "pareto.csv")
    bad = sorted((out / "optimize" / "summary").glob("part-*.parquet"))[0]  # the packages' runs come first
    random_bytes(bad)
    res = optimize(spec, out, model=budget_model, log=lambda line: None)
    assert res.runs > 0 and (out / "optimize" / "damaged" / "summary" / bad.name).is_file()
    pd.testing.assert_frame_equal(pd.read_csv(out / "pareto.csv"), pareto)
