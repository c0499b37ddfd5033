"""What a researcher needs to cite and pin the software: a version, a citation file, type hints, and the
versions of every package that shaped a result in provenance.json."""

from __future__ import annotations

import importlib.resources
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


def test_packages_carry_their_type_hints():
    for package in ("sim", "experiments", "app"):
        assert importlib.resources.files(package).joinpath("py.typed").is_file(), package


def test_provenance_records_every_package_that_shapes_a_result():
    versions = provenance.package_versions()
    for name in ("mesa", "numpy", "pandas", "pyabc", "ema-workbench", "Platypus-Opt", "SALib", "dask"):
        assert versions.get(name), name
