"""Policy experiments on the Qinhuangdao cluster model: resumable sweeps, analysis, report.

The model is called through one function, ``sim.run_scenario(config, seed)``. Modules, one job each:

    spec        read and validate a sweep spec (TOML, XLRM shape)        -> Spec
    design      design points (full factorial, LHS, Sobol, Morris) and the plan of runs
    timing      timed levers in specs: periods, lever.start / .end / .ramp_quarters / .duration_quarters
    seeds       per-run seeds (SeedSequence) and run ids
    runner      run one task on a worker; errors become failed records
    executors   serial, local processes, Dask distributed
    store       Parquet results directory, atomic batches, resume
                (``experiments.load(DIR[, table])``: one tidy DataFrame of the current design)
    tidy        what ``load`` gives typed: ordered categoricals, pd.Period quarters, units in attrs
    sweep       the driver: plan, skip finished runs, run, write, progress
    analysis    confidence intervals, probabilities, cost-effectiveness, Sobol/Morris (``load_sweep``:
                a results folder as the report reads it)
    plots       matplotlib figures          report   report.md + tables + figures
    provenance  model version, git, packages, host
    ema         the model as an EMA Workbench Model (levers, uncertainties, constants, outcomes,
                time series, the posterior as uncertainty)
    ema_results each replication's outcomes from EMA results; paired differences and P(beats)
    decision/   scenario discovery (PRIM) and robustness (regret, satisficing) of a sweep
    attribution which channels carry each package's effect (``experiments.explain(SPEC)``;
                figures and words in attribution_report)
    study       the whole study in one command (``make study``): the posterior, every shipped spec with its
                documented commands, resumable, one index page (configs/study.toml)
    cli         ``python -m experiments run | analyze | status | plan | explain | ... | study``

See docs/experiments.md.
"""

from experiments.attribution import ExplainError, explain
from experiments.running.spec import Spec, SpecError, load_spec, parse_spec
from experiments.running.store import Store, load
from experiments.running.sweep import SweepResult, run_sweep

__all__ = ["ExplainError", "Spec", "SpecError", "Store", "SweepResult", "explain", "load", "load_spec", "parse_spec",
           "run_sweep"]
