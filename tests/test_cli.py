"""``python -m sim``: run writes tables and plots atomically; bad input exits non-zero naming the key."""

import subprocess
import sys

import pandas as pd


def sim_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True)


def test_run_writes_tables_and_plots(tmp_path, repo_root):
    out = tmp_path / "base"
    proc = sim_cli("run", "--config", "configs/baseline.toml", "--seed", "1", "--out", str(out),
                   "--quarters", "6", cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    for name in ("city", "clusters", "districts"):
        pq = pd.read_parquet(out / f"{name}.parquet")
        csv = pd.read_csv(out / f"{name}.csv")
        assert len(pq) == len(csv) > 0
    for png in ("energy_levels.png", "talent_flows.png", "maturity.png", "district_map.png"):
        assert (out / png).stat().st_size > 10_000
    assert not list(out.glob("firms.*"))  # the firm panel is opt-in (--firms, tests/test_firm_panel.py)
    assert "quarter" in proc.stderr  # the progress bar
    assert str(out) in proc.stdout


def test_bad_config_exits_nonzero_and_writes_nothing(tmp_path, repo_root):
    bad = tmp_path / "bad.toml"
    bad.write_text("[levers]\ntalent_subsidy = 50000\n")
    out = tmp_path / "never"
    proc = sim_cli("run", "--config", str(bad), "--out", str(out), cwd=repo_root)
    assert proc.returncode == 2
    assert "talent_subsidy" in proc.stderr and "talent_settlement_subsidy" in proc.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".never-*"))


def test_existing_output_is_not_overwritten_without_force(tmp_path, repo_root):
    out = tmp_path / "kept"
    out.mkdir()
    (out / "precious.csv").write_text("x\n1\n")
    proc = sim_cli("run", "--out", str(out), "--quarters", "2", cwd=repo_root)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert (out / "precious.csv").read_text() == "x\n1\n"


def test_calibrate_prints_the_table(repo_root):
    proc = sim_cli("calibrate", "--quiet", cwd=repo_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "equipment_share" in proc.stdout and "pass" in proc.stdout and "rows pass" in proc.stdout and "set-up checks" in proc.stdout


def test_parameter_doc_is_generated_from_the_config(repo_root):
    """docs/parameters.md is the generated table of configs/parameters.toml (regenerate: python -m sim params)."""
    from sim.inputs.paramdoc import markdown

    assert (repo_root / "docs/parameters.md").read_text(encoding="utf-8") == markdown()
