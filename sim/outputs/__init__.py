"""Outputs: what is made of runs, and the command line.

- ``plots.py``        the figures of a run (matplotlib)
- ``fonts.py``        the CJK font figures use
- ``calibration.py``  the calibration table: runs measured against ``configs/calibration.toml``
- ``posterior.py``    the fitted posterior (``configs/posterior.parquet``): read, drawn, and checked
                      against the current model (two runs at its mean)
- ``validation.py``   the validation suite: stylised facts of the firm panel and held-out trends against
                      ``configs/validation.toml`` (statistics the calibration never saw)
- ``cli.py``          ``python -m sim`` (``run``, ``calibrate``, ``validate``, ``params``)
- ``units.py``        the unit of every column of the city / clusters / districts tables and the summary

The top room: it may import every other room (``sim.model``, ``sim.scenario``, ``sim.behaviour``,
``sim.state``, ``sim.policy``, ``sim.inputs``); nothing in ``sim`` outside it imports it, except
``sim/__main__.py``.
"""
