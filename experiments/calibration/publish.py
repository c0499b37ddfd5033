"""Publish a finished fit as the model's posterior: ``configs/posterior.parquet`` + ``posterior.json``.

The JSON records where the posterior came from and what it describes: the model version (hash of
``sim/`` and the map), the calibration targets and their digest, the date, the command, the spec and its
digest, the fit (population, generations, why it stopped, wall time) and the model's fingerprint at the
posterior mean (``sim.outputs.posterior.fingerprint``), by which ``python -m sim calibrate --posterior`` tells
whether the posterior is stale for the current model.

Publishing never overwrites a file it did not write: the JSON names its writer (``written_by``), and an
existing ``PATH`` or ``PATH.json`` is replaced only when that JSON says ``--publish`` wrote the pair
(:func:`check_publish_target`, checked before the fit starts and again before writing).
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import sys
from pathlib import Path

import pandas as pd

from experiments.calibration.fit import FitResult
from experiments.calibration.spec import CalibrationSpec
from experiments.running.provenance import model_version, package_versions
from experiments.running.spec import SpecError
from experiments.running.store import write_parquet, write_text

WRITTEN_BY = "python -m experiments calibrate --publish"  # the sidecar's mark: a pair --publish may replace
_LEGACY_WHAT = "ABC-SMC posterior of the behavioural coefficients"  # sidecars written before the mark
_MAX_SIDECAR = 10 * 1024 * 1024


def _published_by_us(sidecar: Path) -> bool:
    """Does ``sidecar`` say ``--publish`` wrote it (and the posterior beside it)?"""
    try:
        if not sidecar.is_file() or sidecar.stat().st_size > _MAX_SIDECAR:
            return False
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and (meta.get("written_by") == WRITTEN_BY
                                       or str(meta.get("what", "")).startswith(_LEGACY_WHAT))


def check_publish_target(dest: Path) -> None:
    """Refuse (SpecError, one line naming the file and --publish) a path ``--publish`` must not write:
    not ``*.parquet``, a folder, or an existing posterior or JSON that ``--publish`` did not write."""
    from sim.outputs.cli import unwritable_folder

    dest = Path(dest)
    sidecar = dest.with_suffix(".json")
    if dest.suffix != ".parquet":
        raise SpecError(f"--publish {dest}: give a file path ending in .parquet (its provenance is written beside "
                        "it as .json), e.g. configs/posterior.parquet")
    for p in (dest, sidecar):
        if p.exists() and not p.is_file():
            raise SpecError(f"--publish {dest}: {p} exists and is not a file; give a new .parquet file path")
    present = [str(p) for p in (dest, sidecar) if p.exists()]
    if present and not _published_by_us(sidecar):
        raise SpecError(f"--publish {dest}: {' and '.join(present)} {'were' if len(present) > 1 else 'was'} not "
                        f"written by --publish (no {sidecar.name} naming it), so nothing is overwritten; give "
                        "another path, or move the file away")
    problem = unwritable_folder(dest.parent)
    if problem:
        raise SpecError(f"--publish {dest}: {problem}")


def history_summary(fit: FitResult) -> dict:
    """From pyabc's history: simulations, the fit's wall time by pyabc's own timestamps (first to
    last generation, over every invocation), epsilon and acceptance rate by generation."""
    import pyabc

    history = pyabc.History(f"sqlite:///{fit.db}", _id=fit.run_id, create=False)
    pops = history.get_all_populations()
    gens = pops[pops["t"] >= 0]
    wall = (pops["population_end_time"].max() - history.get_abc().start_time).total_seconds()
    return {"simulations": int(pops["samples"].sum()), "wall_min_pyabc": round(wall / 60, 1),
            "epsilon_by_generation": [round(float(e), 3) for e in gens["epsilon"]],
            "acceptance_by_generation": [round(float(a), 2) for a in
                                         history.get_nr_particles_per_population()[gens["t"]].to_numpy()
                                         / gens["samples"].to_numpy()]}


def publish(spec: CalibrationSpec, fit: FitResult, post: pd.DataFrame, dest: Path | None = None,
            command: str | None = None) -> Path:
    """Write ``post`` (parameter columns + weight) and its provenance beside it; returns the parquet path."""
    from sim.outputs.calibration import load_targets
    from sim.outputs.posterior import FINGERPRINT_SEEDS, POSTERIOR_FILE, Posterior, fingerprint, targets_digest

    dest = Path(dest) if dest is not None else POSTERIOR_FILE
    check_publish_target(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    table = post[list(spec.parameters) + ["weight"]].reset_index(drop=True)
    targets = {t.name: load_targets()["targets"][t.name] for t in spec.targets}
    mean = Posterior(table=table, provenance={}).mean()
    meta = {
        "what": f"{_LEGACY_WHAT} (last generation's weighted particles)",
        "written_by": WRITTEN_BY,
        "model_version": model_version(),
        "packages": package_versions(),  # pyabc, numpy, scipy ... that shaped the particles
        "targets": [t.name for t in spec.targets],
        "targets_digest": targets_digest(targets),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command or "python -m experiments " + shlex.join(sys.argv[1:]),
        "spec": str(spec.path or spec.name),
        "spec_digest": spec.digest(),
        "fit": {"population": spec.population, "generations": fit.generations, "stopped": fit.stopped,
                "wall_s_last_invocation": round(fit.wall_s, 1), "seeds_per_particle": spec.seeds_per_particle,
                "history": str(fit.db), "pyabc_run_id": fit.run_id, **history_summary(fit)},
        "posterior_mean": {k: round(v, 9) for k, v in mean.items()},
        "fingerprint_seeds": list(FINGERPRINT_SEEDS),
        "fingerprint": fingerprint(mean),  # status quo, configs/baseline.toml, its full horizon
    }
    write_parquet(table, dest)
    write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", dest.with_suffix(".json"))
    return dest
