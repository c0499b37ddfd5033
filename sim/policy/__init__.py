"""Policy: the levers as instruments and the paper's packages of them.

- ``instruments.py``  each lever's channels, cost and schedule as the model meets them (``Instrument``,
  ``instruments``, ``channels``, ``Policy``: the strength of a channel in the current quarter)
- ``presets.py``  the policy packages of ``configs/presets.toml`` (``Preset``, ``load_presets``)
- ``attribution.py``  where a package's effect comes from: its channels, the variants to run (each channel
  off, all off), their configs, the per-world decomposition and paired statistics (mean with a Student-t
  interval, ``excludes_zero``); numpy only, shared by ``experiments explain`` and the workshop page

May import: ``sim.policy`` and ``sim.inputs`` (the levers are configuration parameters). Nothing of the
state, the submodels or the model.
"""
