"""Decision support on finished sweeps: scenario discovery and robustness of policy packages.

    expressions the grammar of conditions, goals and constraints (parsed with ast, walked here; never eval'd)
    goals       boolean expressions over summary outcomes (``--where``, goals), outcome directions
    discovery   PRIM (EMA Workbench) over the levers and uncertainties: where does an outcome happen?
    robustness  regret and satisficing of each package across the futures of a sweep
    optimize    best lever values under a budget: many-objective search (platypus EpsNSGAII), resumable
    sections    the plain-words sections these add to ``report.md``

The model package ``sim`` never imports this; it reads results through :func:`experiments.load`.
See docs/experiments.md ("Scenario discovery", "Robustness", "Best packages under a budget").
"""
