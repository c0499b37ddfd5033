"""Calibration as inference: ABC-SMC (pyabc) fits of behavioural coefficients to calibration targets.

    spec    read and validate a calibration spec (TOML)              -> CalibrationSpec
    fit     the resumable pyabc fit (SQLite history under results/<name>/)
    report  posterior.parquet, posterior predictive, identifiability, figures, calibration_report.md
    publish a fit's posterior written to where runs read it (``--publish``)
    carry   an existing posterior carried over to a new model version, with its provenance

``python -m experiments calibrate configs/experiments/calibrate_smoke.toml`` runs one. The fit calls
``sim.outputs.calibration.target_measures`` only; ``sim`` knows nothing of pyabc.

Imports: ``sim``, this room and ``experiments.running`` (spec errors, the store, provenance,
executors); never reading, decision or the front door (tests/test_layout.py checks it).
"""

from experiments.calibration.fit import FitResult, run_fit
from experiments.calibration.report import write_outputs
from experiments.calibration.spec import CalibrationSpec, load_calibration_spec, parse_calibration_spec

__all__ = ["CalibrationSpec", "FitResult", "load_calibration_spec", "parse_calibration_spec", "run_fit",
           "write_outputs"]
