"""The cluster model as an EMA Workbench model (``ema_workbench`` 3.0): XLRM declared, ``sim.run_scenario`` inside.

    from ema_workbench import MultiprocessingEvaluator, perform_experiments
    from experiments.ema import make_model

    model = make_model(levers=["package", "talent_settlement_subsidy"],
                       uncertainties=["beijing_wage_growth", "beta_wage"], horizon=40, replications=3)
    with MultiprocessingEvaluator(model, n_processes=2) as ev:
        experiments, outcomes = ev.perform_experiments(scenarios=50, policies=4)

* **Levers** (L) and **uncertainties** (X) are ``RealParameter`` / ``IntegerParameter`` /
  ``BooleanParameter`` with the ranges of ``configs/parameters.toml`` (or narrower ranges you give);
  the lever ``package`` is a ``CategoricalParameter`` over the presets of ``configs/presets.toml``.
  A design point's config is built as in sweeps: base scenario, then the package's levers, then the
  sampled values (a lever value wins over the package).
* **Constants**: the horizon (``quarters``), the base scenario's settings (``persons_per_agent``,
  ``start``, ``map``), its changed parameter values (``base``) and, without replications, the
  ``seed``. Every experiment then runs with the same seed (common random numbers across scenarios
  and policies). With ``replications=N`` a ``ReplicatorModel`` runs N seeds per experiment (the same
  N seeds in every experiment, from ``SeedSequence(seed)``) and each outcome is the mean over them
  (a yes/no outcome such as ``any_national`` becomes the share of seeds).
* **Outcomes** (M) are ``ScalarOutcome`` of ``ScenarioResult.summary()``, each with its direction
  (``MAXIMIZE`` / ``MINIMIZE`` / ``INFO``, from :mod:`experiments.decision.goals`) so the model can
  be handed to ``optimize`` as it is.

The model function :func:`simulate` is a top-level function (picklable), so the model runs under
``SequentialEvaluator`` and ``MultiprocessingEvaluator`` alike. ``sim`` knows nothing of EMA.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import sim
from experiments import seeds
from experiments.decision.goals import MAXIMIZE, MINIMIZE, direction
from sim.config import ConfigError

with warnings.catch_warnings():  # "ipyparallel not installed": an evaluator this project does not use
    warnings.simplefilter("ignore")
    import ema_workbench as ema

PACKAGE = "package"
MODEL_NAME = "qhd_clusters"
DEFAULT_OUTCOMES = (
    "n_national_clusters", "any_national", "tiers_climbed_clusters", "tiers_climbed_total",
    "mean_energy_index_final", "graduate_retention", "retention_3y", "outflow_beijing_total",
    "outflow_tianjin_total", "outflow_elsewhere_total", "spending_total", "spending_talent_total",
)
_SETTINGS = ("persons_per_agent", "start", "map")

LeverSpec = Iterable[str] | Mapping[str, Any] | None


def simulate(*, seed: int, quarters: int, base: Mapping[str, Any], persons_per_agent: int, start: str, map: str,
             **factors: Any) -> dict[str, Any]:
    """One run for EMA: base values, then the package's levers, then the sampled factors; the summary.

    Calls ``sim.run_scenario`` only. Keyword arguments are what EMA passes: the constants and one
    value per lever and uncertainty (numpy scalars are fine).
    """
    overrides = dict(base)
    package = factors.pop(PACKAGE, None)
    if package is not None:
        overrides.update(sim.load_presets()[str(package)].levers)
    overrides.update(factors)
    cfg = sim.default_config().with_overrides(
        overrides, quarters=int(quarters), persons_per_agent=int(persons_per_agent), start=str(start), map=str(map))
    return sim.run_scenario(cfg, seed=int(seed)).summary()


def replicate_mean(values: Sequence[Any]) -> float:
    """Mean over replications, ignoring missing values (NaN when every replication has none)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


def make_model(levers: LeverSpec = None, uncertainties: LeverSpec = None, horizon: int = 40,
               replications: int | Sequence[int] | None = None, *, outcomes: Sequence[str] | None = None,
               base: sim.Config | str | Path | Mapping[str, Any] | None = None, seed: int = 0,
               name: str = MODEL_NAME) -> ema.Model | ema.ReplicatorModel:
    """The model as an ``ema_workbench.Model`` (or ``ReplicatorModel`` when ``replications`` is given).

    Args:
        levers: None = every lever of ``configs/parameters.toml`` over its range; a list of names
            (``"package"`` = the presets); or ``{name: (low, high) | [values]}``. ``[]`` = no levers.
        uncertainties: the same for uncertainties (facts allowed too); None = every uncertainty.
        horizon: quarters per run (1-400).
        replications: None = one run per experiment with ``seed``; N = N seeds per experiment;
            a list of seeds = those seeds.
        outcomes: summary outcomes to declare (default :data:`DEFAULT_OUTCOMES`).
        base: the base scenario (a Config, a scenario TOML path or mapping; default the baseline).
        seed: the seed, or the root of the replication seeds.
    Raises:
        sim.ConfigError: one line naming the argument, the value and what is allowed.
    """
    cfg = sim.resolve_config(base)
    cfg = cfg.with_overrides({}, quarters=_integer(horizon, "horizon", 1, 400))
    seed = _integer(seed, "seed", 0, 2**63 - 1)
    presets = sim.load_presets()
    lever_params = _parameters(levers, "levers", cfg, presets)
    unc_params = _parameters(uncertainties, "uncertainties", cfg, presets)
    both = sorted({p.name for p in lever_params} & {p.name for p in unc_params})
    if both:
        raise ConfigError(f"levers and uncertainties: {both} given as both; a parameter is one or the other")
    declared = _outcomes(outcomes, cfg)

    constants = [ema.Constant("quarters", cfg.quarters), ema.Constant("base", cfg.changed()),
                 *[ema.Constant(k, cfg.scenario[k]) for k in _SETTINGS]]
    if replications is None:
        model = ema.Model(name, function=simulate)
        constants.append(ema.Constant("seed", seed))
        model.outcomes = [ema.ScalarOutcome(o, kind=_kind(o)) for o in declared]
    else:
        model = ema.ReplicatorModel(name, function=simulate)
        model.replications = [{"seed": s} for s in _seeds(replications, seed)]
        model.outcomes = [ema.ScalarOutcome(o, kind=_kind(o), function=replicate_mean) for o in declared]
    model.levers = lever_params
    model.uncertainties = unc_params
    model.constants = constants
    return model


# ---------------------------------------------------------------------------- helpers
def _integer(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ConfigError(f"{key}: {value!r} is not allowed; give an integer from {low} to {high:,}")
    return int(value)


def _seeds(replications: int | Sequence[int], seed: int) -> list[int]:
    if isinstance(replications, (int, np.integer)) and not isinstance(replications, (bool, np.bool_)):
        n = _integer(replications, "replications", 1, 10_000)
        return [seeds.run_seed(seed, None, r) for r in range(n)]
    if isinstance(replications, (str, bytes)) or not isinstance(replications, Sequence) or not replications:
        raise ConfigError(f"replications: {replications!r} is not allowed; give a number of seeds (>= 1), "
                          "a non-empty list of seeds, or None for one run per experiment")
    out = [_integer(s, "replications", 0, 2**63 - 1) for s in replications]
    if len(set(out)) != len(out):
        raise ConfigError(f"replications: {list(replications)!r} lists a seed twice; give distinct seeds")
    return out


def _kind(outcome: str) -> int:
    d = direction(outcome)
    return {MAXIMIZE: ema.ScalarOutcome.MAXIMIZE, MINIMIZE: ema.ScalarOutcome.MINIMIZE}.get(d, ema.ScalarOutcome.INFO)


def _outcomes(outcomes: Sequence[str] | None, cfg: sim.Config) -> list[str]:
    if outcomes is None:
        return list(DEFAULT_OUTCOMES)
    if isinstance(outcomes, str) or not isinstance(outcomes, Sequence) or not outcomes:
        raise ConfigError(f"outcomes: {outcomes!r} is not allowed; give a non-empty list of summary outcome names")
    names = list(outcomes)
    if set(names) - set(DEFAULT_OUTCOMES):
        known = list(sim.run_scenario(cfg.with_overrides({}, quarters=1), seed=0).summary())  # 1-quarter probe
        for o in names:
            if o not in known:
                raise ConfigError(f"outcomes: {o!r} is not a summary outcome.{_suggest(o, known)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"outcomes: {names!r} lists an outcome twice")
    return names


def _suggest(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(name), allowed, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Allowed: {', '.join(allowed)}."


def _parameters(spec: LeverSpec, kind: str, cfg: sim.Config, presets: Mapping[str, sim.Preset]) -> list:
    """EMA parameters for ``levers`` or ``uncertainties`` (see :func:`make_model`)."""
    if kind == "levers":
        allowed = [PACKAGE, *cfg.names("levers")]
        default = cfg.names("levers")
    else:
        allowed = [*cfg.names("uncertainties"), *cfg.names("facts")]
        default = cfg.names("uncertainties")
    if spec is None:
        items: dict[str, Any] = dict.fromkeys(default)
    elif isinstance(spec, Mapping):
        items = dict(spec)
    elif isinstance(spec, str) or not isinstance(spec, Iterable):
        raise ConfigError(f"{kind}: {spec!r} is not allowed; give a list of names, a mapping "
                          "{name: (low, high) or [values]}, or None for all")
    else:
        items = {}
        for n in spec:
            if n in items:
                raise ConfigError(f"{kind}: {n!r} is listed twice")
            items[n] = None
    out = []
    for n, rng in items.items():
        if n not in allowed:
            raise ConfigError(f"{kind}: {n!r} is not one of the {kind}.{_suggest(n, allowed)}")
        out.append(_parameter(n, rng, kind, cfg, presets))
    return out


def _parameter(name: str, rng: Any, kind: str, cfg: sim.Config, presets: Mapping[str, sim.Preset]):
    where = f"{kind} {name}"
    if name == PACKAGE:
        keys = list(presets) if rng is None else list(rng)
        for k in keys:
            if k not in presets:
                raise ConfigError(f"{where}: {k!r} is not a preset of configs/presets.toml."
                                  f"{_suggest(k, list(presets))}")
        if len(keys) < 2:
            raise ConfigError(f"{where}: {keys!r} is not allowed; give at least two presets (one is a constant: "
                              "use base=)")
        return ema.CategoricalParameter(PACKAGE, keys)
    p = cfg.schema[name]
    if isinstance(p.default, bool):
        if rng is not None:
            raise ConfigError(f"{where}: {rng!r} is not allowed; a true/false parameter takes no range (give None)")
        return ema.BooleanParameter(name)
    integer = isinstance(p.default, int)
    if rng is None:
        lo, hi = p.low, p.high
    elif isinstance(rng, list):
        if len(rng) < 2:
            raise ConfigError(f"{where}: {rng!r} is not allowed; give at least two values")
        return ema.CategoricalParameter(name, [p.check(v, where) for v in rng])
    elif isinstance(rng, tuple) and len(rng) == 2:
        lo, hi = (p.check(v, where) for v in rng)
        if not lo < hi:
            raise ConfigError(f"{where}: ({lo}, {hi}) is an empty range; low must be below high")
    else:
        raise ConfigError(f"{where}: {rng!r} is not allowed; give (low, high), a list of values, or None for "
                          f"the whole range [{p.low}, {p.high}]")
    if integer:
        return ema.IntegerParameter(name, int(lo), int(hi))
    return ema.RealParameter(name, float(lo), float(hi))
