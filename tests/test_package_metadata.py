"""What a researcher needs to cite and pin the software: a version, a citation file, type hints, and the
versions of every package that shaped a result in provenance.json."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd

import sim
from experiments.running import provenance

ROOT = Path(__file__).resolve().parents[1]


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_version_is_the_project_version_everywhere():
    version = _project_version()
    assert sim.__version__ == version
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert f'version: "{version}"' in cff and "10.33142/mem.v6i1.15272" in cff  # the software and its paper
    for module in ("sim", "experiments"):
        out = subprocess.run([sys.executable, "-m", module, "--version"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.strip() == f"qhd-cluster-sim {version}", (module, out)


def _normal(name: str) -> str:
    """A distribution name compared loosely: case, '-', '_', '.' and spaces ignored (PEP 503-like)."""
    return re.sub(r"[-_.\s]+", "", name).lower()


def test_licence_is_declared_once_and_the_same_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in licence
    assert project["license"] == "MIT" and set(project["license-files"]) == {"LICENSE", "NOTICE"}
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^license: MIT$", cff, re.M), "CITATION.cff names another licence or none"
    assert "## Licence" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_notice_names_every_dependency_and_the_third_party_material():
    """A dependency added to pyproject.toml without a word on its licence in NOTICE fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    notice = (ROOT / "NOTICE").read_text(encoding="utf-8")
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    names = {re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group(0) for r in wanted}
    missing = sorted(n for n in names if _normal(n) not in _normal(notice))
    assert not missing, f"NOTICE does not name {missing}"
    for words in ("Copyright (c) 2026 Clarmy", "configs/map/", "Noto Sans SC", "OFL-1.1", "Platypus-Opt (GPL-3.0)"):
        assert words in notice, words


def test_packages_carry_their_type_hints():
    for package in ("sim", "experiments", "app"):
        assert importlib.resources.files(package).joinpath("py.typed").is_file(), package


def test_provenance_records_every_package_that_shapes_a_result():
    versions = provenance.package_versions()
    shaping = ("mesa", "numpy", "pandas", "scipy", "pyarrow", "pyabc", "SALib", "ema-workbench", "Platypus-Opt",
               "dask", "scikit-learn", "numba", "pymoo")
    assert set(shaping) <= set(versions) and versions["python"] == sys.version.split()[0]
    for name in shaping:
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        assert versions[name] == installed, name
    for name in ("mesa", "numpy", "pyabc", "ema-workbench", "Platypus-Opt"):  # dependencies: always installed
        assert versions[name][0].isdigit(), (name, versions[name])


def test_provenance_says_not_installed_for_an_absent_package(monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGES", (*provenance.PACKAGES, "no-such-distribution-qhd"))
    assert provenance.package_versions()["no-such-distribution-qhd"] == "not installed"


def test_a_sweeps_provenance_json_records_the_versions(tmp_path):
    """What a user opens: the provenance.json of a results folder (a one-run sweep of a stand-in model)."""
    from experiments import run_sweep
    from experiments.running.spec import parse_spec

    class Result:
        city = clusters = districts = pd.DataFrame({"quarter": [0, 1]})

        def summary(self):
            return {"x": 1.0}

    spec = parse_spec('[experiment]\nname = "p"\nseed = 1\nreplicates = 1\nhorizon = 1\n'
                      '[design]\nkind = "full_factorial"\n[levers]\npackage = ["status_quo"]\n'
                      '[outcomes]\ncity = []\nclusters = []\ndistricts = []\n', path=tmp_path / "spec.toml")
    run_sweep(spec, tmp_path / "out", model=lambda cfg, seed: Result(), progress=False)
    recorded = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))["packages"]
    assert recorded == provenance.package_versions()
