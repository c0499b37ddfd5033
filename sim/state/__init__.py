"""The city's state: what exists in a quarter, and what a run records of it.

- ``tables.py``     the struct-of-arrays agent tables (``AgentTable``) and the vectorised helpers
                    (group sums, weighted draws, ranks) the submodels use on their columns
- ``agents.py``     the Mesa agents (``Firm``, ``Talent``, ``University``, ``Government``): thin views
                    onto one table row
- ``initial.py``    the start state (2025Q1) built from ``configs/city.toml`` and the parameters
- ``records.py``    the quarterly records (``Recorder``) and the tidy tables of a run (``ScenarioResult``)
- ``compiled.py``   the set-up of the compiled kernels (numba): the ``kernel`` decorator, the on-disk
                    cache outside the repository, numpy's summation order (``pairwise_sum``)
- ``constants.py``  enums and codes (``SizeClass``, ``Loc``, ``Field``, ``Degree``, ``CareerStage``, ...)

May import: ``sim.state`` and ``sim.inputs``. Nothing here knows the submodels, the schedule, the
policy packages or the figures. (Rooms, lowest first: inputs; state and policy; behaviour; model and
scenario; outputs. A room imports only rooms below it; ``tests/test_layout.py`` checks.)
"""
