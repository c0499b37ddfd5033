"""Policy: the levers as instruments and the paper's packages of them.

- ``instruments.py``  each lever's channels, cost and schedule as the model meets them (``Instrument``,
  ``instruments``, ``channels``, ``Policy``: the strength of a channel in the current quarter)
- ``presets.py``  the policy packages of ``configs/presets.toml`` (``Preset``, ``load_presets``)

May import: ``sim.policy`` and ``sim.inputs`` (the levers are configuration parameters). Nothing of the
state, the submodels or the model.
"""
