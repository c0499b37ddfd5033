"""Publish a finished fit as the model's posterior: ``configs/posterior.parquet`` + ``posterior.json``.

The JSON records where the posterior came from and what it describes: the model version (hash of
``sim/`` and the map), the calibration targets and their digest, the date, the command, the spec and its
digest, the fit (population, generations, why it stopped, wall time) and the model's fingerprint at the
posterior mean (``sim.posterior.fingerprint``), by which ``python -m sim calibrate --posterior`` tells
whether the posterior is stale for the current model.
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
from experiments.provenance import model_version
from experiments.store import write_parquet, write_text


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
    from sim.calibration import load_targets
    from sim.posterior import FINGERPRINT_SEEDS, POSTERIOR_FILE, Posterior, fingerprint, targets_digest

    dest = Path(dest) if dest is not None else POSTERIOR_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    table = post[list(spec.parameters) + ["weight"]].reset_index(drop=True)
    targets = {t.name: load_targets()["targets"][t.name] for t in spec.targets}
    mean = Posterior(table=table, provenance={}).mean()
    meta = {
        "what": "ABC-SMC posterior of the behavioural coefficients (last generation's weighted particles)",
        "model_version": model_version(),
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
