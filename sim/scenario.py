"""``run_scenario(config, seed) -> ScenarioResult``: the one function sweeps, tests and the app call.

Pure: no files written, nothing printed (unless ``progress=True`` asks for a progress bar on stderr).
"""

from __future__ import annotations

from sim.inputs.config import Config, load_config, resolve_config
from sim.model import ClusterModel
from sim.policy.presets import load_presets
from sim.state.records import ScenarioResult


def run_scenario(config: Config | str | dict | None = None, seed: int = 0, quarters: int | None = None,
                 progress: bool = False, record: str = "all") -> ScenarioResult:
    """Run one scenario for its horizon and return its tables.

    Args:
        config: Config, scenario TOML path, mapping in the TOML layout, or None (baseline).
        seed: integer seed; the same (config, seed) gives identical tables in any process.
        quarters: optional horizon override.
        progress: show a tqdm progress bar (quarters) on stderr.
        record: the tables to keep (``ClusterModel``'s ``record``): ``"all"``, ``"city+clusters"``
            (``summary()`` needs no more; the districts table is then empty), ``"city"`` or
            ``"all+firms"`` (also the firm panel ``result.firms``, firm x model year; with the other
            modes it is an empty frame with the same columns). Results are the same in every mode.
    """
    cfg = resolve_config(config)
    if quarters is not None:
        cfg = cfg.with_overrides({}, quarters=quarters)
    model = ClusterModel(config=cfg, rng=int(seed), record=record)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.quarters, unit="quarter", desc=cfg.scenario["name"])
    while model.running:
        model.step()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return ScenarioResult.from_recorder(model.recorder, cfg, seed=seed)


WARM_UP_QUARTERS = 4  # a year: every submodel runs, graduation included


def warm_up() -> None:
    """Make this process ready for fast runs: run the all-five package for a year with every table recorded,
    which imports the model and loads (or, the first time on a machine, compiles) every compiled kernel
    (``sim.state.compiled``). Workers of sweeps, fits and the app call it when they start, so no user's
    first run pays for it."""
    # every lever on (the all-five package), so kernels only a lever reaches (the data centre's joining) load too
    cfg = load_config().with_overrides(load_presets()["all_five"].levers)
    run_scenario(cfg, seed=0, quarters=WARM_UP_QUARTERS, record="all+firms")
