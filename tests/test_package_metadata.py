"""What a researcher needs to cite and pin the software: a version, a citation file, type hints, and the
versions of every package that shaped a result in provenance.json."""

from __future__ import annotations

import importlib.resources
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import sim
from experiments import provenance

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
    for name in ("mesa", "numpy", "pandas", "pyabc", "ema-workbench", "Platypus-Opt", "SALib", "dask"):
        assert versions.get(name), name
