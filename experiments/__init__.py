"""Policy experiments on the Qinhuangdao cluster model: resumable sweeps, analysis, report.

The model is called through one function, ``sim.run_scenario(config, seed)``. Rooms, as EMA Workbench
separates ``em_framework/`` from ``analysis/`` (each room's ``__init__.py`` names its modules):

    running/      spec, design, seeds, timing, runner, executors, store (``experiments.load``), tidy,
                  sweep, files, provenance, ema (the EMA Workbench adapter), expressions, goals
    reading/      analysis, effects, plots, ema_results: statistics and figures of finished runs
    decision/     scenario discovery (PRIM), robustness, optimisation (optimize, optimize_spec,
                  optimize_scoring, optimize_report, checkpoint)
    calibration/  ABC-SMC fits of behavioural coefficients, the posterior
The front door (this folder), which may use every room:
    report      report.md of a sweep: reading's statistics, decision's sections, the channels section
    attribution which channels carry each package's effect (``experiments.explain(SPEC)``; figures
                and words in attribution_report)
    study       the whole study in one command (``make study``): the posterior, every shipped spec with its
                documented commands, resumable, one index page (configs/study.toml)
    cli         ``python -m experiments run | analyze | status | plan | explain | ... | study``
Imports point one way: front door -> calibration, decision -> reading -> running -> sim (calibration
imports running only); tests/test_layout.py checks every import of ``experiments/``.

See docs/experiments.md.
"""

from experiments.attribution import ExplainError, explain
from experiments.running.spec import Spec, SpecError, load_spec, parse_spec
from experiments.running.store import Store, load
from experiments.running.sweep import SweepResult, run_sweep

__all__ = ["ExplainError", "Spec", "SpecError", "Store", "SweepResult", "explain", "load", "load_spec", "parse_spec",
           "run_sweep"]
