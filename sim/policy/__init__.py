"""Policy: the paper's packages of levers.

- ``presets.py``  the policy packages of ``configs/presets.toml`` (``Preset``, ``load_presets``)

May import: ``sim.policy`` and ``sim.inputs`` (the levers are configuration parameters). Nothing of the
state, the submodels or the model.
"""
