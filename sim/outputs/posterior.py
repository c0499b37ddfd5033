"""The fitted posterior of the behavioural coefficients, as data the model can be run with.

``configs/posterior.parquet`` holds one row per particle of the last ABC-SMC generation of the real
calibration fit (``python -m experiments calibrate configs/experiments/calibrate.toml``): a column per
fitted uncertainty (named as in ``configs/parameters.toml``) and ``weight`` (sums to 1).
``configs/posterior.json`` beside it records where it came from (model version, targets digest, date,
command) and the model's *fingerprint* at the fit: the calibration measures of two runs at the
posterior mean. When the current model gives other values there, the posterior is stale (the fit saw
another model): :func:`stale_reasons` says why.

This module only reads and draws; the fit itself lives in ``experiments.calibration``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.inputs.base import CONFIG_DIR, ConfigError
from sim.inputs.config import Config, default_config

POSTERIOR_FILE = CONFIG_DIR / "posterior.parquet"
FINGERPRINT_SEEDS = (1, 2)
WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Posterior:
    """Weighted particles (``table``: parameter columns + ``weight``) and their provenance."""

    table: pd.DataFrame
    provenance: dict[str, Any]
    path: Path | None = None

    @property
    def parameters(self) -> list[str]:
        return [c for c in self.table.columns if c != "weight"]

    @property
    def weights(self) -> np.ndarray:
        return self.table["weight"].to_numpy(float)

    def mean(self) -> dict[str, float]:
        """Weighted posterior mean of each parameter."""
        w = self.weights
        return {n: float(np.sum(w * self.table[n].to_numpy(float))) for n in self.parameters}

    def draws(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` particles by systematic resampling (deterministic per seed; index ``draw``, column ``particle``).

        Systematic resampling keeps the draws representative of the weights with few duplicates, so a
        small ensemble (15-30 draws) spans the posterior rather than piling onto a few particles.
        """
        if n < 1:
            raise ValueError(f"posterior draws: {n} must be >= 1")
        rng = np.random.default_rng([int(seed) % 2**63, 20251202])
        cum = np.cumsum(self.weights)
        cum[-1] = 1.0
        picks = np.searchsorted(cum, (rng.random() + np.arange(n)) / n, side="right")
        picks = rng.permutation(np.minimum(picks, len(cum) - 1))
        out = self.table.iloc[picks][self.parameters].reset_index(drop=True)
        out.insert(0, "particle", picks.astype(np.int64))
        out.index.name = "draw"
        return out


def load_posterior(path: str | Path | None = None, config: Config | None = None) -> Posterior:
    """Read and validate a posterior table (default ``configs/posterior.parquet``) and its JSON.

    Raises :class:`ConfigError` (one line naming the file and the problem) when the file is missing or
    malformed, holds no particles or no parameter columns (or lacks a parameter its JSON names), a
    column is not numeric or not an uncertainty of the schema, a value lies outside its range, or the
    weights are missing, negative or do not sum to 1; also when the JSON beside it is not a record.
    """
    path = Path(path) if path is not None else POSTERIOR_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no posterior here (fit one: python -m experiments calibrate "
                          f"configs/experiments/calibrate.toml --publish)")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader error is a bad file
        why = _one_line(str(exc).replace(f"Could not open Parquet input source '{path}': ", ""))
        raise ConfigError(f"{path}: not a readable parquet table ({why})") from None
    meta_path = path.with_suffix(".json")
    provenance = _read_provenance(meta_path) if meta_path.is_file() else {}
    schema = (config or default_config()).schema
    if "weight" not in table.columns:
        raise ConfigError(f"{path}: no 'weight' column (one row per particle: parameters + weight)")
    names = [c for c in table.columns if c != "weight"]
    fitted = list(provenance.get("posterior_mean", {}))  # the parameters the fit published
    if not names:
        expected = (f"the fitted {', '.join(fitted)} (named in {meta_path.name})" if fitted else
                    "one per fitted uncertainty of configs/parameters.toml")
        raise ConfigError(f"{path}: has no parameter columns, only 'weight'; missing {expected}")
    if missing := [n for n in fitted if n not in names]:
        raise ConfigError(f"{path}: lacks the parameter column(s) {', '.join(missing)} named in {meta_path.name}")
    if len(table) == 0:
        raise ConfigError(f"{path}: holds no particles (zero rows)")
    for name in table.columns:
        dtype = table[name].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ConfigError(f"{path}: column {name!r} holds {dtype} values, not numbers")
        if name == "weight":
            continue
        spec = schema.get(name)
        if spec is None or spec.kind != "uncertainties":
            raise ConfigError(f"{path}: column {name!r} is not an uncertainty of configs/parameters.toml")
        x = table[name].to_numpy(float)
        lo, hi = spec.low, spec.high
        if not np.all(np.isfinite(x)) or x.min() < lo or x.max() > hi:
            raise ConfigError(f"{path}: {name} has values outside its range [{lo}, {hi}]")
    w = table["weight"].to_numpy(float)
    if not np.all(np.isfinite(w)):
        raise ConfigError(f"{path}: weight has {int((~np.isfinite(w)).sum())} missing or infinite values; "
                          "weights must be >= 0 and sum to 1")
    if w.min() < 0:
        raise ConfigError(f"{path}: weight has negative values (min {w.min():.6g}); weights must be >= 0 and sum to 1")
    if abs(w.sum() - 1.0) > WEIGHT_TOLERANCE:
        raise ConfigError(f"{path}: weights must be >= 0 and sum to 1 (they sum to {w.sum():.6g})")
    return Posterior(table=table.reset_index(drop=True), provenance=provenance, path=path)


def _read_provenance(path: Path) -> dict[str, Any]:
    """The JSON beside a posterior; ConfigError (one line naming it) if it is not such a record."""
    try:
        prov = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # not UTF-8, or not JSON
        raise ConfigError(f"{path}: not valid JSON ({_one_line(exc)}); it records where the posterior "
                          "beside it came from") from None
    if not isinstance(prov, dict):
        raise ConfigError(f"{path}: holds a JSON {type(prov).__name__}, not an object (the posterior's provenance)")

    def numbers(v: Any) -> bool:
        return isinstance(v, dict) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v.values())

    checks = {"targets": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
              "targets_digest": lambda v: isinstance(v, str), "fingerprint": numbers, "posterior_mean": numbers}
    for key, ok in checks.items():
        if key in prov and prov[key] is not None and not ok(prov[key]):
            raise ConfigError(f"{path}: {key!r} is {type(prov[key]).__name__} {_one_line(prov[key])}, not "
                              + ("a list of target names" if key == "targets" else
                                 "a text" if key == "targets_digest" else "a table of numbers"))
    return prov


def _one_line(x: Any, limit: int = 120) -> str:
    text = "; ".join(ln.strip() for ln in str(x).splitlines() if ln.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def targets_digest(targets: dict[str, dict]) -> str:
    """Hash of the calibration targets a fit used (names, values and bands), 16 hex."""
    blob = json.dumps({k: [t["target"], t["low"], t["high"]] for k, t in sorted(targets.items())}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def fingerprint(values: dict[str, float], config: Config | None = None) -> dict[str, float]:
    """Calibration measures of the runs at ``values`` (seeds ``FINGERPRINT_SEEDS``), averaged: the
    model's behaviour where the posterior sits. Equal fingerprints = the same model for this posterior."""
    from sim.outputs.calibration import target_measures

    cfg = (config or default_config()).with_overrides(values)
    runs = [target_measures(cfg, s) for s in FINGERPRINT_SEEDS]
    out = {}
    for k in runs[0]:
        x = np.array([r[k] for r in runs], float)
        out[k] = round(float(x[np.isfinite(x)].mean()), 9) if np.isfinite(x).any() else float("nan")
    return out


def stale_reasons(post: Posterior, config: Config | None = None) -> list[str]:
    """Why ``post`` no longer describes the current model and targets (empty list: current)."""
    from sim.outputs.calibration import load_targets

    reasons = []
    prov = post.provenance
    used = prov.get("targets", [])
    table = load_targets()["targets"]
    now = targets_digest({k: table[k] for k in used if k in table})
    if missing := [k for k in used if k not in table]:
        reasons.append(f"targets {missing} of the fit are no longer in configs/calibration.toml")
    elif prov.get("targets_digest") != now:
        reasons.append(f"calibration targets changed since the fit (digest {prov.get('targets_digest')} -> {now})")
    if new := sorted(set(table) - set(used)):
        reasons.append(f"targets added since the fit: {new}")
    old = prov.get("fingerprint")
    if not old:
        reasons.append("the posterior has no model fingerprint (fitted before fingerprints were recorded)")
    else:
        cur = fingerprint(post.mean(), config)
        moved = [f"{k} {old[k]:.4g} -> {cur.get(k, float('nan')):.4g}" for k in old
                 if not np.isclose(old[k], cur.get(k, np.nan), rtol=1e-6, atol=1e-9, equal_nan=True)]
        if moved:
            reasons.append("the model's behaviour changed since the fit (at the posterior mean: "
                           + "; ".join(moved[:4]) + ("; ..." if len(moved) > 4 else "") + ")")
    return reasons
