"""Running experiments: from a spec to finished runs in a results folder (EMA Workbench's ``em_framework``).

    files       reading a results folder's files safely (JSON, TOML, Parquet; damaged files named)
    provenance  model version, git, packages, host
    timing      timed levers in specs: periods, lever.start / .end / .ramp_quarters / .duration_quarters
    expressions the grammar of conditions, goals and constraints (parsed with ast, walked; never eval'd)
    goals       boolean expressions over summary outcomes (``--where``, goals), outcome directions
    spec        read and validate a sweep spec (TOML, XLRM shape)        -> Spec
    seeds       per-run seeds (SeedSequence) and run ids
    design      design points (full factorial, LHS, Sobol, Morris) and the plan of runs
    runner      run one task on a worker; errors become failed records
    executors   serial, local processes, Dask distributed
    store       Parquet results directory, atomic batches, resume (``experiments.load``)
    tidy        what ``load`` gives typed: ordered categoricals, pd.Period quarters, units in attrs
    sweep       the driver: plan, skip finished runs, run, write, progress
    ema         the model as an EMA Workbench Model (levers, uncertainties, outcomes, time series, posterior)

Imports: only ``sim`` and this room. Running never imports reading, decision, calibration or the
front door (``experiments/*.py``); tests/test_layout.py checks it. ``expressions.py`` and ``goals.py``
live here because a spec's ``[robustness] goals`` and the EMA outcomes' directions are checked with
them when a spec is read. See docs/experiments.md.
"""
