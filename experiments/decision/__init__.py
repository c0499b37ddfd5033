"""Decision support on finished sweeps: scenario discovery, robustness and optimisation of policy packages.

    data              a sweep's runs as the decision modules read them (levers, uncertainties, outcomes)
    discovery         PRIM (EMA Workbench) over the levers and uncertainties: where does an outcome happen?
    robustness        regret and satisficing of each package across the futures of a sweep
    sections          the plain-words sections these add to ``report.md``
    optimize          best lever values under a budget: the platypus problem, the search loop, the driver
    optimize_spec     an optimisation spec: read, validate, its cases (one per budget)
    optimize_scoring  candidates run and averaged, objectives and constraints, Pareto set, packages compared
    optimize_report   ``pareto.csv``, the parallel-coordinates figures and the optimisation's ``report.md``
    checkpoint        a search's state as checked JSON (resume after a kill; nothing is unpickled)

Imports: ``sim``, this room, ``experiments.reading`` and ``experiments.running`` (an optimisation runs
the model through running's runner, executors and store). Never calibration or the front door
(``experiments/*.py``); tests/test_layout.py checks it. The grammar of goals and conditions is
``experiments.running.expressions`` / ``goals`` (a spec is checked with it when read).
See docs/experiments.md ("Scenario discovery", "Robustness", "Best packages under a budget").
"""
