"""Reading experiments: statistics and figures of finished runs (EMA Workbench's ``analysis``).

    analysis     confidence intervals, probabilities, cost-effectiveness, Sobol/Morris (``load_sweep``:
                 a results folder as the report reads it)
    effects      paired effects, P(beats) and P(best) under common random numbers
    plots        matplotlib figures
    ema_results  each replication's outcomes from EMA results; paired differences and P(beats)

Imports: ``sim``, this room and ``experiments.running`` (to read results: the store, the spec, the
design's column names). Reading never imports decision, calibration or the front door;
tests/test_layout.py checks it. See docs/experiments.md.
"""
