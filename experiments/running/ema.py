"""The cluster model as an EMA Workbench model (``ema_workbench`` 3.0): XLRM declared, ``sim.run_scenario`` inside.

    from ema_workbench import MultiprocessingEvaluator, perform_experiments
    from experiments.running.ema import HEADLINE_SERIES, make_model

    model = make_model(levers=["package", "talent_settlement_subsidy"],
                       uncertainties=["beijing_wage_growth"], horizon=40, replications=3,
                       base="posterior", time_series=HEADLINE_SERIES)
    with MultiprocessingEvaluator(model, n_processes=2) as ev:
        experiments, outcomes = ev.perform_experiments(scenarios=50, policies=4)

* **Levers** (L) and **uncertainties** (X) are ``RealParameter`` / ``IntegerParameter`` /
  ``BooleanParameter`` with the ranges of ``configs/parameters.toml`` (or narrower ranges you give);
  the lever ``package`` is a ``CategoricalParameter`` over the presets of ``configs/presets.toml``.
  A design point's config is built as in sweeps: base scenario, then the posterior draw's fitted
  coefficients (with a posterior), then the package's levers, then the sampled values (a lever value
  wins over the package, a sampled coefficient over the draw).
* **The posterior** (``configs/posterior.parquet``, the ABC fit) as a source of uncertainty, three
  ways (``posterior=``): ``"replications"`` (``base="posterior"``'s default, as the headline sweeps
  do: replication r runs posterior draw r % posterior_draws, the same draw in every experiment);
  ``"categorical"`` (an uncertainty ``posterior_draw``, a ``CategoricalParameter`` over the draws'
  indices: each experiment runs one draw's fitted coefficients, jointly); ``"parameters"`` (each fitted
  coefficient an uncertainty sampled from its weighted posterior marginal, independently of the others).
* **Constants**: the horizon (``quarters``), the base scenario's settings (``persons_per_agent``,
  ``start``, ``map``), its changed parameter values (``base``), the posterior draws' values
  (``posterior_draws``) and, without replications, the ``seed``. Every experiment then runs with the
  same seed (common random numbers across scenarios and policies). With ``replications=N`` a
  ``ReplicatorModel`` runs N seeds per experiment (the same N seeds in every experiment, from
  ``SeedSequence(seed)``, as a ``crn = true`` sweep's replicates).
* **Outcomes** (M) are ``ScalarOutcome`` of ``ScenarioResult.summary()``, each with its direction
  (``MAXIMIZE`` / ``MINIMIZE`` / ``INFO``, from :mod:`experiments.running.goals`) so the model can
  be handed to ``optimize`` as it is; with ``time_series``, ``TimeSeriesOutcome`` ``NAME_by_quarter``
  (quarters 0..horizon, 0 = the start state) and ``TIME`` (the model year of each quarter, EMA's
  name for the time axis). With replications each outcome is the mean over the seeds (a yes/no
  outcome the share of seeds) and ``NAME_by_replication`` (an ``ArrayOutcome``) keeps every
  replication's value, so paired comparisons can be rebuilt (:mod:`experiments.reading.ema_results`).

The model function :func:`simulate` is a top-level function (picklable), so the model runs under
``SequentialEvaluator`` and ``MultiprocessingEvaluator`` alike. ``sim`` knows nothing of EMA.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import sim
from experiments.running import seeds
from experiments.running.goals import MAXIMIZE, MINIMIZE, direction
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
BY_QUARTER = "_by_quarter"  # a time series' outcome name: the summary outcome's or city column's + this
BY_REPLICATION = "_by_replication"  # with replications: an outcome's every replication, not their mean
TIME = "TIME"  # EMA Workbench's name for the time axis of time series (its plots look for it)
DRAW = "posterior_draw"  # the posterior draw a run uses: a replication's key or a categorical uncertainty
DRAWS = "posterior_draws"  # the constant holding the draws' fitted coefficients (one mapping per draw)
POSTERIOR = "posterior"  # base="posterior": the baseline with the published posterior's coefficients
POSTERIOR_MODES = ("replications", "categorical", "parameters")  # how the posterior's draws enter
MAX_REPLICATIONS = 10_000  # bound of replications and posterior_draws: EMA holds them all in memory


def _running_share(city: pd.DataFrame, part: str, whole: str) -> np.ndarray:
    """sum(part) / sum(whole) over quarters 0..q, for every q (NaN while ``whole`` has summed to 0)."""
    num, den = np.cumsum(city[part].to_numpy(float)), np.cumsum(city[whole].to_numpy(float))
    return np.divide(num, den, out=np.full(den.shape, np.nan), where=den > 0)


def _column(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda city: city[name].to_numpy(float)


def _cumulative(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda city: np.cumsum(city[name].to_numpy(float))


# The headline outcomes' trajectories (sim.state.records.HEADLINE_OUTCOMES): at quarter q, the summary
# outcome of ScenarioResult.summary() as if the run had ended at q (so the last value is the summary's).
HEADLINE_SERIES_OF: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "value_added_real_final": _column("value_added"),  # yuan/yr (annual rate, 2021 yuan)
    "local_sourcing_share_final": _column("local_sourcing_share"),  # share
    "employment_final": _column("employment"),  # persons
    "net_fiscal_balance_total": lambda city: np.cumsum(city["tax_revenue"].to_numpy(float)
                                                       - city["spending_total"].to_numpy(float)),  # yuan
    "retention_3y": lambda city: _running_share(city, "cohort_in_city_3y", "cohort_size_3y"),  # share
    "outflow_beijing_total": _cumulative("outflow_beijing"),  # persons
    "outflow_tianjin_total": _cumulative("outflow_tianjin"),  # persons
}
HEADLINE_SERIES = tuple(HEADLINE_SERIES_OF)
_NOT_SERIES = ("quarter", "period", "year")  # city columns that are the time axis, not outcomes

LeverSpec = Iterable[str] | Mapping[str, Any] | None


def series_of(city: pd.DataFrame, name: str) -> np.ndarray:
    """The quarterly trajectory ``name`` of a run's city table (one value per row, quarter 0 first):
    a headline outcome's running value (:data:`HEADLINE_SERIES_OF`) or a city column as it is."""
    return HEADLINE_SERIES_OF[name](city) if name in HEADLINE_SERIES_OF else _column(name)(city)


def simulate(*, seed: int, quarters: int, base: Mapping[str, Any], persons_per_agent: int, start: str, map: str,
             series: Sequence[str] = (), posterior_draws: Sequence[Mapping[str, float]] = (),
             posterior_draw: int | None = None, **factors: Any) -> dict[str, Any]:
    """One run for EMA: base values, then the posterior draw's coefficients, then the package's levers,
    then the sampled factors; the summary, plus ``NAME_by_quarter`` and ``TIME`` for each of ``series``.

    Calls ``sim.run_scenario`` only. Keyword arguments are what EMA passes: the constants, the
    replication's seed (and draw), and one value per lever and uncertainty (numpy scalars are fine).
    """
    overrides = dict(base)
    if posterior_draw is not None:
        overrides.update(posterior_draws[int(posterior_draw)])
    package = factors.pop(PACKAGE, None)
    if package is not None:
        overrides.update(sim.load_presets()[str(package)].levers)
    overrides.update(factors)
    for k, timed in base.items():  # a lever the base times keeps its window when a package or factor sets it
        if isinstance(timed, Mapping) and not isinstance(overrides[k], Mapping):
            overrides[k] = {**timed, "value": overrides[k]}
    cfg = sim.default_config().with_overrides(
        overrides, quarters=int(quarters), persons_per_agent=int(persons_per_agent), start=str(start), map=str(map))
    result = sim.run_scenario(cfg, seed=int(seed))
    out: dict[str, Any] = result.summary()
    if series:
        out[TIME] = result.city["year"].to_numpy(float)
        out.update({name + BY_QUARTER: series_of(result.city, name) for name in series})
    return out


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


def replicate_mean_series(values: Sequence[Any]) -> np.ndarray:
    """Quarter by quarter mean over replications (replications x quarters), ignoring missing values
    (NaN in a quarter where every replication has none, e.g. ``retention_3y`` before a cohort is 3)."""
    x = np.asarray(values, dtype=float)
    n = np.sum(~np.isnan(x), axis=0)
    return np.divide(np.nansum(x, axis=0), n, out=np.full(n.shape, np.nan), where=n > 0)


def first_replication(values: Sequence[Any]) -> np.ndarray:
    """The first replication's series (``TIME``: the same quarters in every replication)."""
    return np.asarray(values[0], dtype=float)


class _KeepsScenariosApart:
    """EMA Workbench 3.0 fix, mixed into the model classes: with no uncertainties (or no levers) a
    scenario (policy) kept the values the results callback merged into it (``scenario | policy`` copies
    shallowly, so the shared scenario gains the previous policy's levers) and the next policy's run then
    failed with "Parameters exist in both ...". An empty parameter list now empties the sample too."""

    def _transform(self, sampled_parameters, parameters):
        if not parameters:
            sampled_parameters.data = {}
            return
        super()._transform(sampled_parameters, parameters)


class Model(_KeepsScenariosApart, ema.Model):
    """``ema_workbench.Model`` with the fix of :class:`_KeepsScenariosApart`."""


class ReplicatorModel(_KeepsScenariosApart, ema.ReplicatorModel):
    """``ema_workbench.ReplicatorModel`` with the fix of :class:`_KeepsScenariosApart`."""


def make_model(levers: LeverSpec = None, uncertainties: LeverSpec = None, horizon: int = 40,
               replications: int | Sequence[int] | None = None, *, outcomes: Sequence[str] | None = None,
               time_series: Sequence[str] | None = None,
               base: sim.Config | str | Path | Mapping[str, Any] | None = None, posterior: str | None = None,
               posterior_draws: int | None = None, posterior_file: str | Path | None = None, seed: int = 0,
               name: str = MODEL_NAME) -> ema.Model | ema.ReplicatorModel:
    """The model as an ``ema_workbench.Model`` (or ``ReplicatorModel`` when ``replications`` is given).

    Args:
        levers: None = every lever of ``configs/parameters.toml`` over its range; a list of names
            (``"package"`` = the presets); or ``{name: (low, high) | [values]}``. ``[]`` = no levers.
            ``package``'s values are a list of at least two preset names; a single name (``'digital'``)
            is refused, not read as one value: one package is a constant (put its levers in ``base``).
        uncertainties: the same for uncertainties (facts allowed too); None = every uncertainty (with
            a posterior: every uncertainty the posterior does not fit).
        horizon: quarters per run (1-400).
        replications: None = one run per experiment with ``seed``; N = N seeds per experiment;
            a list of seeds = those seeds.
        outcomes: summary outcomes to declare (default :data:`DEFAULT_OUTCOMES`).
        time_series: quarterly trajectories to declare as ``TimeSeriesOutcome`` ``NAME_by_quarter``
            (plus ``TIME``): headline outcomes (:data:`HEADLINE_SERIES`, each the summary outcome as if
            the run ended that quarter) or columns of the city table; None = none.
        base: the base scenario (a Config, a scenario TOML path or mapping; default the baseline), or
            ``"posterior"``: the baseline with the fitted posterior (``posterior="replications"`` unless
            ``posterior`` says otherwise).
        posterior: how the posterior's draws enter (None = no posterior unless ``base="posterior"``):
            ``"replications"`` (replication r runs draw r % posterior_draws in every experiment, as
            the headline sweeps), ``"categorical"`` (an uncertainty ``posterior_draw`` over the draws) or
            ``"parameters"`` (each fitted coefficient an uncertainty with its weighted marginal).
        posterior_draws: how many draws (by weight, systematic resampling from ``seed``): with
            ``"replications"`` it divides the replications (default one draw per replication); with
            ``"categorical"`` required (2 or more); with ``"parameters"`` not used.
        posterior_file: the posterior table (default ``configs/posterior.parquet``).
        seed: the seed, or the root of the replication seeds (and of the posterior draws).
        name: the model's name: a Python identifier (EMA Workbench's rule) of at most 100 characters.
    Raises:
        sim.ConfigError: one line naming the argument, the value and what is allowed. Every argument
            is checked here, before EMA Workbench sees it: its own ``EMAError`` derives from
            ``BaseException`` (3.0), so ``except Exception`` would not catch it.
    """
    name = _name(name)
    mode = _posterior_mode(posterior, base, posterior_draws, posterior_file)
    cfg = _base(None if isinstance(base, str) and base == POSTERIOR else base)
    cfg = cfg.with_overrides({}, quarters=_integer(horizon, "horizon", 1, 400))
    seed = _integer(seed, "seed", 0, 2**63 - 1)
    post = None if mode is None else _posterior(posterior_file, cfg)
    fitted = [] if post is None else post.parameters
    probe = _Probe(cfg)
    presets = sim.load_presets()
    lever_params = _parameters(levers, "levers", cfg, presets)
    unc_params = _parameters(uncertainties, "uncertainties", cfg, presets, fitted=fitted)
    replication_seeds = None if replications is None else _seeds(replications, seed)
    draws = None if post is None else _draws(post, mode, posterior_draws, replication_seeds, seed)
    if mode == "parameters":
        if given := [p.name for p in unc_params if p.name in fitted]:
            raise ConfigError(f"uncertainties: {given[0]!r} comes from the posterior (posterior='parameters' samples "
                              "each fitted coefficient from its marginal); leave it out of uncertainties")
        unc_params += [_marginal(post, n, cfg) for n in fitted]
    elif mode == "categorical":
        unc_params.append(ema.CategoricalParameter(DRAW, list(range(len(draws)))))
    both = sorted({p.name for p in lever_params} & {p.name for p in unc_params})
    if both:
        raise ConfigError(f"levers and uncertainties: {both} given as both; a parameter is one or the other")
    declared = _outcomes(outcomes, probe)
    series = _series(time_series, probe)

    constants = [ema.Constant("quarters", cfg.quarters), ema.Constant("base", _base_overrides(cfg)),
                 *[ema.Constant(k, cfg.scenario[k]) for k in _SETTINGS]]
    if draws is not None:
        constants.append(ema.Constant(DRAWS, tuple({k: float(v) for k, v in row.items()}
                                                   for row in draws[post.parameters].to_dict("records"))))
    if series:
        constants.append(ema.Constant("series", tuple(series)))
    try:  # everything was checked above; should EMA still refuse, its error becomes one ConfigError line
        if replication_seeds is None:
            model = Model(name, function=simulate)
            constants.append(ema.Constant("seed", seed))
            if mode == "replications":
                constants.append(ema.Constant(DRAW, 0))
            model.outcomes = [*(ema.ScalarOutcome(o, kind=_kind(o)) for o in declared),
                              *([ema.TimeSeriesOutcome(TIME)] if series else []),
                              *(ema.TimeSeriesOutcome(s + BY_QUARTER) for s in series)]
        else:
            model = ReplicatorModel(name, function=simulate)
            n_draws = len(draws) if mode == "replications" else 0
            model.replications = [{"seed": s, **({DRAW: r % n_draws} if n_draws else {})}
                                  for r, s in enumerate(replication_seeds)]
            model.outcomes = [*_replicated(declared, ema.ScalarOutcome, replicate_mean, kinds=True),
                              *([ema.TimeSeriesOutcome(TIME, function=first_replication)] if series else []),
                              *_replicated([s + BY_QUARTER for s in series], ema.TimeSeriesOutcome,
                                           replicate_mean_series)]
        model.levers = lever_params
        model.uncertainties = unc_params
        model.constants = constants
    except (ema.EMAError, ValueError, TypeError) as exc:  # EMAError is a BaseException, not an Exception
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"make_model: EMA Workbench refused the model: {first}") from None
    return model


def _replicated(names: Sequence[str], kind: type, mean: Callable[[Sequence[Any]], Any],
                kinds: bool = False) -> list:
    """For each name: the mean over replications (``kind``, with its direction when ``kinds``) and every
    replication's value (``NAME_by_replication``, an ``ArrayOutcome``: replications first)."""
    out = []
    for n in names:
        out.append(kind(n, kind=_kind(n), function=mean) if kinds else kind(n, function=mean))
        out.append(ema.ArrayOutcome(n + BY_REPLICATION, variable_name=n))
    return out


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
        n = _integer(replications, "replications", 1, MAX_REPLICATIONS)
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


class _Probe:
    """The 1-quarter probe run of the base config, made once and only when a name must be checked
    against what the model gives (a summary outcome or a city column not known beforehand)."""

    def __init__(self, cfg: sim.Config) -> None:
        self.cfg = cfg
        self._result = None

    def result(self):
        if self._result is None:
            from experiments.running.runner import probe_config

            self._result = sim.run_scenario(probe_config(self.cfg), seed=0)
        return self._result


def _names(names: Any, key: str, example: str) -> list[str]:
    """A non-empty list of distinct strings (``key`` names the argument in the one-line refusal)."""
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise ConfigError(f"{key}: {shown(names)} is not allowed; give a non-empty list of names, such as "
                          f"[{example!r}]")
    out = list(names)
    for o in out:
        if not isinstance(o, str):
            raise ConfigError(f"{key}: {shown(o)} is not a name; give names as strings, such as {example!r}")
    twice = next((o for i, o in enumerate(out) if o in out[:i]), None)
    if twice is not None:
        raise ConfigError(f"{key}: {twice!r} is listed twice; give each name once")
    return out


def _outcomes(outcomes: Sequence[str] | None, probe: _Probe) -> list[str]:
    if outcomes is None:
        return list(DEFAULT_OUTCOMES)
    names = _names(outcomes, "outcomes", DEFAULT_OUTCOMES[0])
    if set(names) - set(DEFAULT_OUTCOMES):
        known = list(probe.result().summary())
        for o in names:
            if o not in known:
                raise ConfigError(f"outcomes: {shown(o)} is not a summary outcome.{_suggest(o, known)}")
    return names


def _series(time_series: Sequence[str] | None, probe: _Probe) -> list[str]:
    """The trajectories to declare: headline outcomes (:data:`HEADLINE_SERIES_OF`) or city columns."""
    if time_series is None:
        return []
    names = _names(time_series, "time_series", HEADLINE_SERIES[0])
    if set(names) - set(HEADLINE_SERIES):
        columns = [c for c in probe.result().city.columns if c not in _NOT_SERIES]
        for n in names:
            if n not in HEADLINE_SERIES and n not in columns:
                raise ConfigError(f"time_series: {shown(n)} is neither a headline outcome nor a column of the city "
                                  f"table.{_close(n, [*HEADLINE_SERIES, *columns])} Allowed: "
                                  f"{', '.join(HEADLINE_SERIES)}, or one of the {len(columns)} columns of "
                                  f"ScenarioResult.city but {', '.join(_NOT_SERIES)} (such as {columns[0]!r})")
    return names


def _posterior_mode(posterior: Any, base: Any, draws: Any, file: Any) -> str | None:
    """How the posterior enters (None: no posterior); ``base="posterior"`` alone means "replications"."""
    if posterior is None:
        mode = "replications" if isinstance(base, str) and base == POSTERIOR else None
    elif isinstance(posterior, str) and posterior in POSTERIOR_MODES:
        mode = posterior
    else:
        raise ConfigError(f"posterior: {shown(posterior)} is not allowed; give one of "
                          f"{', '.join(map(repr, POSTERIOR_MODES))} (how the posterior's draws enter), or None")
    if mode is None:
        for key, value in (("posterior_draws", draws), ("posterior_file", file)):
            if value is not None:
                raise ConfigError(f"{key}: {shown(value)} needs a posterior; give base='posterior' or posterior="
                                  f"{' or '.join(map(repr, POSTERIOR_MODES))}")
    return mode


def _posterior(file: Any, cfg: sim.Config):
    from sim.outputs.posterior import load_posterior

    if file is not None and not isinstance(file, (str, Path)):
        raise ConfigError(f"posterior_file: {shown(file)} is not allowed; give the path of a posterior parquet table")
    try:
        return load_posterior(file, cfg)
    except ConfigError as exc:
        raise ConfigError(f"posterior_file: {exc}") from None


def _draws(post: Any, mode: str, n: Any, replication_seeds: list[int] | None, seed: int) -> pd.DataFrame | None:
    """The posterior draws (index draw; "particle" + the fitted coefficients), None with "parameters"."""
    if mode == "parameters":
        if n is not None:
            raise ConfigError(f"posterior_draws: {shown(n)} is not used with posterior='parameters' (each fitted "
                              "coefficient is sampled from its posterior marginal); leave it out")
        return None
    if mode == "categorical":
        if n is None:
            raise ConfigError(f"posterior_draws: None is not allowed with posterior='categorical'; give the number of "
                              f"draws the uncertainty {DRAW!r} ranges over (an integer from 2 to {MAX_REPLICATIONS:,})")
        return post.draws(_integer(n, "posterior_draws", 2, MAX_REPLICATIONS), seed)
    reps = 1 if replication_seeds is None else len(replication_seeds)
    n = reps if n is None else _integer(n, "posterior_draws", 1, MAX_REPLICATIONS)
    if reps % n:
        have = f"replications ({reps})" if replication_seeds is not None else "replications (none given: 1 run)"
        raise ConfigError(f"posterior_draws: {n} must divide the {have}: replication r runs draw r % {n}; give "
                          f"replications as a multiple of {n}, or posterior='categorical' to sample the draws")
    return post.draws(n, seed)


def _marginal(post: Any, name: str, cfg: sim.Config):
    """A fitted coefficient as a ``RealParameter`` whose distribution is its weighted posterior marginal:
    a histogram of the particles (numpy's ``"auto"`` bins) with their weights as masses."""
    x, w = post.table[name].to_numpy(float), post.weights
    if isinstance(cfg.schema[name].default, int):
        raise ConfigError(f"posterior='parameters': {name} is a whole-number parameter; its marginal cannot be "
                          "sampled as a real (use posterior='categorical')")
    if x.min() == x.max():
        raise ConfigError(f"posterior='parameters': {name} has the value {x[0]:g} in every particle, no spread to "
                          "sample (use posterior='replications' or 'categorical')")
    edges = np.histogram_bin_edges(x, bins="auto")
    mass, _ = np.histogram(x, bins=edges, weights=w)
    return ema.RealParameter.from_dist(name, stats.rv_histogram((mass, edges), density=False)())


def _close(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(name), allowed, n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _suggest(name: str, allowed: list[str]) -> str:
    return f"{_close(name, allowed)} Allowed: {', '.join(allowed)}."


def _parameters(spec: LeverSpec, kind: str, cfg: sim.Config, presets: Mapping[str, sim.Preset],
                fitted: Sequence[str] = ()) -> list:
    """EMA parameters for ``levers`` or ``uncertainties`` (see :func:`make_model`); ``None`` = all of
    them but the ``fitted`` coefficients (a posterior gives those)."""
    if kind == "levers":
        allowed = [PACKAGE, *cfg.names("levers")]
        default = cfg.names("levers")
    else:
        allowed = [*cfg.names("uncertainties"), *cfg.names("facts")]
        default = [n for n in cfg.names("uncertainties") if n not in fitted]
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
