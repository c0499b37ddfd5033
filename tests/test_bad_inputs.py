"""Every bad input to ``python -m sim`` / ``python -m experiments``: one line on stderr naming the key,
flag or file, a non-zero exit, no traceback, and nothing already written is lost.

Each case fails before any simulation runs (or after a 1-quarter run, for ``--force``), so the file is fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SPEC = """\
[experiment]
seed = 1
replicates = 2
horizon = 2

[design]
kind = "full_factorial"

[levers]
package = ["status_quo", "digital"]
"""

RANGE_SPEC = """\
[experiment]
seed = 1
replicates = 1
horizon = 2

[design]
kind = "{kind}"
{design}

[levers]
rd_subsidy_rate = {{min = 0.0, max = 0.2}}
"""


def files(tmp: Path) -> dict[str, str]:
    """The inputs the cases refer to as ``{name}``, written into ``tmp``."""
    def write(name: str, data: str | bytes) -> str:
        p = tmp / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(p)

    big = tmp / "huge.toml"
    with open(big, "wb") as fh:  # sparse: 11 MB without writing them
        fh.truncate(11 * 1024 * 1024)
    (tmp / "adir").mkdir()
    return {
        "tmp": str(tmp),
        "binary": write("binary.toml", b'[scenario]\nname = "\xff\xfe\x00\x01"\n'),
        "latin1": write("latin1.toml", '[scenario]\ndescription = "Qinhuangdao \u00e9t\u00e9"\n'.encode("latin-1")),
        "huge": str(big),
        "adir": str(tmp / "adir"),
        "ppa": write("ppa.toml", "[scenario]\npersons_per_agent = 1000\n"),
        "afile": write("afile.txt", "precious\n"),
        "spec": write("good.toml", SPEC),
        "spec_binary": write("spec_binary.toml", b"\xff\xfe[experiment]\n"),
        "replicates": write("replicates.toml", SPEC.replace("replicates = 2", "replicates = 1000000000")),
        "levels": write("levels.toml", RANGE_SPEC.format(kind="full_factorial", design="levels = 1000000000")),
        "lhs": write("lhs.toml", RANGE_SPEC.format(kind="lhs", design="samples = 1000000000")),
        "morris": write("morris.toml", RANGE_SPEC.format(kind="morris", design="samples = 4\nlevels = 1000000000")),
        "by_year": write("by_year.toml", SPEC + '\n[analysis]\nby_year = "abc"\n'),
        "bins": write("bins.toml", SPEC + "\n[analysis]\nbins = 0\n"),
        "heatmap": write("heatmap.toml", SPEC + '\n[analysis]\nheatmap = "rd_subsidy_rate"\n'),
        "group_by": write("group_by.toml", RANGE_SPEC.format(kind="lhs", design="samples = 4")
                          + '\n[analysis]\ngroup_by = "rd_subsidy_rat"\n'),
        "outcomes": write("outcomes.toml", SPEC + "\n[analysis]\noutcomes = 3\n"),
        "base_ppa": write("base_ppa.toml", SPEC + "\n[base]\npersons_per_agent = 500\n"),
    }


# (id, module, arguments, fragments the one stderr line must contain)
CASES = [
    # --- config files
    ("config-binary", "sim", ["run", "--config", "{binary}"], ["binary.toml", "UTF-8"]),
    ("config-latin1", "sim", ["run", "--config", "{latin1}"], ["latin1.toml", "UTF-8", "offset"]),
    ("config-directory", "sim", ["run", "--config", "{adir}"], ["adir", "directory"]),
    ("config-empty", "sim", ["run", "--config", ""], ["--config", "empty"]),
    ("config-device", "sim", ["run", "--config", "/dev/zero"], ["/dev/zero", "not a regular file"]),
    ("config-huge", "sim", ["run", "--config", "{huge}"], ["huge.toml", "10 MB"]),
    ("persons-per-agent", "sim", ["run", "--config", "{ppa}"], ["persons_per_agent", "1000", "1-280"]),
    # --- flags
    ("seed-negative", "sim", ["run", "--seed", "-1"], ["--seed", "-1", "2**63"]),
    ("seed-too-big", "sim", ["run", "--seed", str(2**63)], ["--seed", str(2**63), "2**63"]),
    ("seed-not-int", "sim", ["run", "--seed", "abc"], ["--seed", "abc", "2**63"]),
    ("quarters-zero", "sim", ["run", "--quarters", "0"], ["--quarters", "0", "1-400"]),
    ("out-is-file", "sim", ["run", "--out", "{afile}"], ["--out", "afile.txt", "file"]),
    ("out-under-file", "sim", ["run", "--out", "{afile}/sub"], ["--out", "afile.txt", "not a folder"]),
    ("out-empty", "sim", ["run", "--out", ""], ["--out", "empty"]),
    ("force-foreign-dir", "sim", ["run", "--out", "{tmp}", "--force"], ["--out", "--force", ".sim-run"]),
    ("unknown-flag", "sim", ["run", "--bogus"], ["--bogus"]),
    # --- experiment specs
    ("spec-binary", "experiments", ["plan", "{spec_binary}"], ["spec_binary.toml", "UTF-8"]),
    ("spec-directory", "experiments", ["plan", "{adir}"], ["adir", "directory"]),
    ("spec-device", "experiments", ["run", "/dev/zero"], ["/dev/zero", "not a regular file"]),
    ("replicates-huge", "experiments", ["plan", "{replicates}"], ["replicates", "1,000,000,000", "1,000,000"]),
    ("levels-huge", "experiments", ["plan", "{levels}"], ["levels", "1,000,000,000", "1,000,000"]),
    ("lhs-samples-huge", "experiments", ["plan", "{lhs}"], ["samples", "1,000,000,000", "1,000,000"]),
    ("morris-levels-huge", "experiments", ["plan", "{morris}"], ["levels", "1,000,000,000"]),
    ("analysis-by-year", "experiments", ["run", "{by_year}", "--serial"], ["by_year", "'abc'", "year"]),
    ("analysis-bins", "experiments", ["plan", "{bins}"], ["bins", "0", "1 to 100"]),
    ("analysis-heatmap", "experiments", ["plan", "{heatmap}"], ["heatmap", "rd_subsidy_rate"]),
    ("analysis-group-by", "experiments", ["plan", "{group_by}"], ["group_by", "rd_subsidy_rat", "rd_subsidy_rate"]),
    ("analysis-outcomes", "experiments", ["plan", "{outcomes}"], ["outcomes", "3"]),
    ("base-persons-per-agent", "experiments", ["plan", "{base_ppa}"], ["[base] persons_per_agent", "500", "1-280"]),
    ("sweep-out-is-file", "experiments", ["run", "{spec}", "--out", "{afile}", "--serial"], ["--out", "afile.txt"]),
    ("sweep-batch", "experiments", ["run", "{spec}", "--batch", "0"], ["--batch", "0", ">= 1"]),
    ("sweep-workers", "experiments", ["run", "{spec}", "--workers", "0"], ["--workers", "0", ">= 1"]),
    ("status-no-sweep", "experiments", ["status", "{adir}"], ["adir", "no sweep"]),
]


def cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, fragments: list[str]) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


def _launch(module: str, args: list[str], tmp_path: Path, repo_root: Path):  # noqa: ANN202
    paths = files(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size < 1_000_000}
    if args[0] == "run" and "--out" not in args:  # should a case ever run, it writes nowhere near results/
        args = [*args, "--out", "{tmp}/never"]
    return cli(module, *[a.format(**paths) for a in args], cwd=repo_root), before, tmp_path


@pytest.fixture(scope="module")
def launched(request, tmp_path_factory, repo_root):
    """The selected cases' CLI processes, started together (each process is mostly interpreter start-up)."""
    wanted = {item.callspec.params["case"] for item in request.session.items
              if getattr(item, "originalname", None) == "test_bad_input_is_one_line_and_a_nonzero_exit"}
    pool = ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1))
    futures = {cid: pool.submit(_launch, module, args, tmp_path_factory.mktemp(cid), repo_root)
               for cid, module, args, _ in CASES if cid in wanted}
    yield futures
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_bad_input_is_one_line_and_a_nonzero_exit(launched, case):
    fragments = {c[0]: c[3] for c in CASES}[case]
    proc, before, tmp_path = launched[case].result()
    assert_one_line_error(proc, fragments)
    after = {p for p in tmp_path.rglob("*")}
    for p, data in before.items():  # every input is untouched, and nothing new was left behind
        assert p.read_bytes() == data
    assert not [p for p in after if p.is_file() and p not in before and p.name != "huge.toml"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_is_refused_before_the_run(tmp_path, repo_root):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = cli("sim", "run", "--out", str(ro / "out"), cwd=repo_root)
        assert_one_line_error(proc, ["--out", "permission denied"])
        proc = cli("experiments", "run", str(Path(files(tmp_path)["spec"])), "--out", str(ro / "sweep"), "--serial",
                   cwd=repo_root)
        assert_one_line_error(proc, ["--out", "permission denied"])
    finally:
        ro.chmod(0o755)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_out_that_cannot_be_created_is_refused_before_the_run(repo_root):
    """/proc refuses new folders even for root: the error comes before the (40-quarter) run."""
    proc = cli("sim", "run", "--out", "/proc/sim-bad-inputs-out", cwd=repo_root)
    assert_one_line_error(proc, ["--out", "/proc/sim-bad-inputs-out"])


def test_refused_run_leaves_existing_results_untouched(tmp_path, repo_root):
    results = tmp_path / "results"
    (results / "paper_remedies").mkdir(parents=True)
    (results / "paper_remedies" / "summary.parquet").write_bytes(b"PAR1 computed for hours")
    (results / "baseline.csv").write_text("x\n1\n")
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    for args in (["--out", str(results)], ["--out", str(results), "--force"],
                 ["--out", str(results / "baseline.csv"), "--force"]):
        proc = cli("sim", "run", "--quarters", "1", *args, cwd=repo_root)
        assert_one_line_error(proc, ["--out"])
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no temporary folders left


def test_force_replaces_only_a_folder_sim_run_wrote(tmp_path, repo_root):
    """--force replaces a folder `sim run` marked, and only while it holds nothing else: a file the user
    added is never deleted (the run is refused naming it); a folder without the marker is never replaced."""
    out = tmp_path / "run"
    proc = cli("sim", "run", "--quiet", "--quarters", "1", "--out", str(out), cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    assert (out / ".sim-run").is_file() and (out / "city.parquet").is_file() and (out / "district_map.png").is_file()
    (out / "note.txt").write_text("mine\n")
    # without --force: refused, untouched
    proc = cli("sim", "run", "--quiet", "--quarters", "1", "--out", str(out), cwd=repo_root)
    assert_one_line_error(proc, ["--out", "--force"])
    # with --force: refused too, naming the user's file, which is kept
    city = (out / "city.parquet").read_bytes()
    proc = cli("sim", "run", "--quiet", "--quarters", "1", "--seed", "2", "--out", str(out), "--force", cwd=repo_root)
    assert_one_line_error(proc, ["--out", "note.txt", "--force"])
    assert (out / "note.txt").read_text() == "mine\n" and (out / "city.parquet").read_bytes() == city
    # the note moved out: the marked folder is replaced as a whole, nothing left beside it
    (out / "note.txt").rename(tmp_path / "note.txt")
    proc = cli("sim", "run", "--quiet", "--quarters", "1", "--seed", "2", "--out", str(out), "--force", cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    assert (out / ".sim-run").is_file() and (out / "city.parquet").read_bytes() != city
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.txt", "run"]
    # a folder without the marker is never replaced, even if it holds only names `sim run` writes
    (out / ".sim-run").unlink()
    proc = cli("sim", "run", "--quiet", "--quarters", "1", "--out", str(out), "--force", cwd=repo_root)
    assert_one_line_error(proc, ["--out", ".sim-run"])
    assert (out / "city.parquet").is_file()


def test_save_all_and_store_writers_accept_str_paths(tmp_path, run_cached):
    from experiments.running.store import write_text
    from sim.outputs import plots

    paths = plots.save_all(run_cached({}, seed=1, quarters=1), str(tmp_path))
    assert [p.name for p in paths] == ["energy_levels.png", "talent_flows.png", "maturity.png", "district_map.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    write_text("x\n", str(tmp_path / "a.txt"))
    assert (tmp_path / "a.txt").read_text() == "x\n"


def test_analyze_refuses_bad_stored_analysis_options(tmp_path, repo_root):
    """Results written before [analysis] was checked at parse time: analyze says which option is bad."""
    root = tmp_path / "old"
    root.mkdir()
    (root / "spec.toml").write_text(SPEC + '\n[analysis]\nby_year = "abc"\n')
    proc = cli("experiments", "analyze", str(root), cwd=repo_root)
    assert_one_line_error(proc, ["spec.toml", "by_year", "'abc'"])
