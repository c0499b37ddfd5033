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
from sim.inputs.base import ConfigError
from sim.inputs.config import shown

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
    for k, timed in base.items():  # a lever the base times keeps its window when a package or factor sets it
        if isinstance(timed, Mapping) and not isinstance(overrides[k], Mapping):
            overrides[k] = {**timed, "value": overrides[k]}
    cfg = sim.default_config().with_overrides(
        overrides, quarters=int(quarters), persons_per_agent=int(persons_per_agent), start=str(start), map=str(map))
    return sim.run_scenario(cfg, seed=int(seed)).summary()


def _base_overrides(cfg: sim.Config) -> dict[str, Any]:
    """The base scenario as overrides of the default config: changed values, timed levers as their
    schedule (``{value, start, end, ramp_quarters}``) and ``channels_off``."""
    out: dict[str, Any] = cfg.changed()
    for k, sch in cfg.schedules.items():
        out[k] = {"value": cfg.values[k], **sch.to_dict()}
    if cfg.channels_off:
        out["channels_off"] = sorted(cfg.channels_off)
    return out


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
            ``package``'s values are a list of at least two preset names; a single name (``'digital'``)
            is refused, not read as one value: one package is a constant (put its levers in ``base``).
        uncertainties: the same for uncertainties (facts allowed too); None = every uncertainty.
        horizon: quarters per run (1-400).
        replications: None = one run per experiment with ``seed``; N = N seeds per experiment;
            a list of seeds = those seeds.
        outcomes: summary outcomes to declare (default :data:`DEFAULT_OUTCOMES`).
        base: the base scenario (a Config, a scenario TOML path or mapping; default the baseline).
        seed: the seed, or the root of the replication seeds.
        name: the model's name: a Python identifier (EMA Workbench's rule) of at most 100 characters.
    Raises:
        sim.ConfigError: one line naming the argument, the value and what is allowed. Every argument
            is checked here, before EMA Workbench sees it: its own ``EMAError`` derives from
            ``BaseException`` (3.0), so ``except Exception`` would not catch it.
    """
    name = _name(name)
    cfg = _base(base)
    cfg = cfg.with_overrides({}, quarters=_integer(horizon, "horizon", 1, 400))
    seed = _integer(seed, "seed", 0, 2**63 - 1)
    presets = sim.load_presets()
    lever_params = _parameters(levers, "levers", cfg, presets)
    unc_params = _parameters(uncertainties, "uncertainties", cfg, presets)
    both = sorted({p.name for p in lever_params} & {p.name for p in unc_params})
    if both:
        raise ConfigError(f"levers and uncertainties: {both} given as both; a parameter is one or the other")
    declared = _outcomes(outcomes, cfg)

    replication_seeds = None if replications is None else _seeds(replications, seed)

    constants = [ema.Constant("quarters", cfg.quarters), ema.Constant("base", _base_overrides(cfg)),
                 *[ema.Constant(k, cfg.scenario[k]) for k in _SETTINGS]]
    try:  # everything was checked above; should EMA still refuse, its error becomes one ConfigError line
        if replication_seeds is None:
            model = ema.Model(name, function=simulate)
            constants.append(ema.Constant("seed", seed))
            model.outcomes = [ema.ScalarOutcome(o, kind=_kind(o)) for o in declared]
        else:
            model = ema.ReplicatorModel(name, function=simulate)
            model.replications = [{"seed": s} for s in replication_seeds]
            model.outcomes = [ema.ScalarOutcome(o, kind=_kind(o), function=replicate_mean) for o in declared]
        model.levers = lever_params
        model.uncertainties = unc_params
        model.constants = constants
    except (ema.EMAError, ValueError, TypeError) as exc:  # EMAError is a BaseException, not an Exception
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"make_model: EMA Workbench refused the model: {first}") from None
    return model


# ---------------------------------------------------------------------------- helpers
MAX_NAME = 100


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier() or len(name) > MAX_NAME:
        raise ConfigError(f"name: {shown(name)} is not allowed; give a Python identifier (letters, digits and _, "
                          f"not starting with a digit) of at most {MAX_NAME} characters, such as {MODEL_NAME!r}")
    return name


def _base(base: Any) -> sim.Config:
    """``base`` as a Config; a mapping is checked for the scenario layout's string keys first."""
    if isinstance(base, Mapping):
        for section, table in base.items():
            keys = list(table) if isinstance(table, Mapping) else []
            bad = next((k for k in [section, *keys] if not isinstance(k, str)), None)
            if bad is not None:
                raise ConfigError(f"base: key {shown(bad)} is not allowed; give a scenario mapping with string keys, "
                                  "such as {'scenario': {'quarters': 8}, 'levers': {'rd_subsidy_rate': 0.1}}")
    try:
        return sim.resolve_config(base)
    except ConfigError as exc:
        raise ConfigError(f"base: {exc}") from None


def _integer(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ConfigError(f"{key}: {shown(value)} is not allowed; give an integer from {low} to {high:,}")
    return int(value)


def _seeds(replications: int | Sequence[int], seed: int) -> list[int]:
    if isinstance(replications, (int, np.integer)) and not isinstance(replications, (bool, np.bool_)):
        n = _integer(replications, "replications", 1, 10_000)
        return [seeds.run_seed(seed, None, r) for r in range(n)]
    if isinstance(replications, (str, bytes)) or not isinstance(replications, Sequence) or not replications:
        raise ConfigError(f"replications: {shown(replications)} is not allowed; give a number of seeds (>= 1), "
                          "a non-empty list of seeds, or None for one run per experiment")
    out = [_integer(s, "replications", 0, 2**63 - 1) for s in replications]
    if len(set(out)) != len(out):
        raise ConfigError(f"replications: {shown(list(replications))} lists a seed twice; give distinct seeds")
    return out


def _kind(outcome: str) -> int:
    d = direction(outcome)
    return {MAXIMIZE: ema.ScalarOutcome.MAXIMIZE, MINIMIZE: ema.ScalarOutcome.MINIMIZE}.get(d, ema.ScalarOutcome.INFO)


def _outcomes(outcomes: Sequence[str] | None, cfg: sim.Config) -> list[str]:
    if outcomes is None:
        return list(DEFAULT_OUTCOMES)
    if isinstance(outcomes, str) or not isinstance(outcomes, Sequence) or not outcomes:
        raise ConfigError(f"outcomes: {shown(outcomes)} is not allowed; give a non-empty list of summary outcome "
                          "names")
    names = list(outcomes)
    for o in names:
        if not isinstance(o, str):
            raise ConfigError(f"outcomes: {shown(o)} is not a name; give summary outcome names as strings, such as "
                              f"{DEFAULT_OUTCOMES[0]!r}")
    if set(names) - set(DEFAULT_OUTCOMES):
        from experiments.runner import probe_config

        known = list(sim.run_scenario(probe_config(cfg), seed=0).summary())  # 1-quarter probe
        for o in names:
            if o not in known:
                raise ConfigError(f"outcomes: {shown(o)} is not a summary outcome.{_suggest(o, known)}")
    twice = next((o for i, o in enumerate(names) if o in names[:i]), None)
    if twice is not None:
        raise ConfigError(f"outcomes: {twice!r} is listed twice; give each outcome once")
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
    elif isinstance(spec, (str, bytes)) or not isinstance(spec, Iterable):
        raise ConfigError(f"{kind}: {shown(spec)} is not allowed; give a list of names, a mapping "
                          "{name: (low, high) or [values]}, or None for all")
    else:
        items = {}
        for n in spec:
            if isinstance(n, str) and n in items:
                raise ConfigError(f"{kind}: {n!r} is listed twice")
            items[n if isinstance(n, str) else _Bad(n)] = None
        if isinstance(spec, (set, frozenset)):  # no order of its own: sorted, so a seed gives one design
            items = dict.fromkeys(sorted(items, key=str))
    out = []
    for n, rng in items.items():
        if not isinstance(n, str):
            raise ConfigError(f"{kind}: {shown(getattr(n, 'value', n))} is not a name; the {kind} are named by "
                              f"strings, such as {allowed[0]!r}")
        if n not in allowed:
            raise ConfigError(f"{kind}: {shown(n)} is not one of the {kind}.{_suggest(n, allowed)}")
        out.append(_parameter(n, rng, kind, cfg, presets))
    return out


class _Bad:
    """A name that is not a string (unhashable ones too), kept until its one-line message."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _parameter(name: str, rng: Any, kind: str, cfg: sim.Config, presets: Mapping[str, sim.Preset]):
    where = f"{kind} {name}"
    if name == PACKAGE:
        return ema.CategoricalParameter(PACKAGE, _packages(rng, where, presets))
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
            raise ConfigError(f"{where}: {shown(rng)} is not allowed; give at least two values")
        values = [p.check(v, where) for v in rng]
        twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if twice is not None:
            raise ConfigError(f"{where}: {twice!r} is listed twice; give distinct values")
        return ema.CategoricalParameter(name, values)
    elif isinstance(rng, tuple) and len(rng) == 2:
        lo, hi = (p.check(v, where) for v in rng)
        if not lo < hi:
            raise ConfigError(f"{where}: ({lo}, {hi}) is an empty range; low must be below high")
    else:
        raise ConfigError(f"{where}: {shown(rng)} is not allowed; give (low, high), a list of values, or None for "
                          f"the whole range [{p.low}, {p.high}]")
    if integer:
        return ema.IntegerParameter(name, int(lo), int(hi))
    return ema.RealParameter(name, float(lo), float(hi))


def _packages(rng: Any, where: str, presets: Mapping[str, sim.Preset]) -> list[str]:
    """The presets the ``package`` lever ranges over: None = all; else a list (or tuple) of at least two
    distinct preset names. A single name (``'status_quo'``) is refused, not read as one value: one
    package is a constant, not a lever (leave ``package`` out and give its levers in ``base``)."""
    allowed = list(presets)
    if rng is None:
        return allowed
    example = f"[{allowed[0]!r}, {allowed[-1]!r}]"
    if isinstance(rng, str):
        raise ConfigError(f"{where}: {shown(rng)} is one name; give a list of at least two preset names, such as "
                          f"{example} (one package is a constant: leave 'package' out and put its levers in base)")
    if not isinstance(rng, (list, tuple)):
        raise ConfigError(f"{where}: {shown(rng)} is not allowed; give a list of at least two preset names, such as "
                          f"{example}, or None for all presets")
    for k in rng:
        if not isinstance(k, str):
            raise ConfigError(f"{where}: {shown(k)} is not a preset name; give names as strings, such as {example}")
        if k not in presets:
            raise ConfigError(f"{where}: {shown(k)} is not a preset of configs/presets.toml.{_suggest(k, allowed)}")
    twice = next((k for i, k in enumerate(rng) if k in rng[:i]), None)
    if twice is not None:
        raise ConfigError(f"{where}: {twice!r} is listed twice; give each preset once")
    if len(rng) < 2:
        raise ConfigError(f"{where}: {shown(list(rng))} is not allowed; give at least two presets (one package is "
                          "a constant: leave 'package' out and put its levers in base)")
    return list(rng)
