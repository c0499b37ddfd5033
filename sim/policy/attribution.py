"""Where a package's effect comes from: its channels, the variants to run, and paired statistics.

The light, pure part of channel attribution, shared by ``python -m experiments explain``
(:mod:`experiments.attribution`) and the workshop page's "where does the effect come from" view
(:mod:`app.explain`). Numpy and the standard library only (the page imports it while it loads).

A package (lever values) is compared with a **reference** at the status quo for the levers it changes.
Its **channels** are those of the levers it changes (:func:`package_channels`), but for any the base
config already switches off (``channels_off``: off in every run, the reference's too, so they contribute
nothing by construction; :func:`channels_off_in_base` lists them). The **variants** run
in the same worlds (same seed, same parameter draw) are the reference, the package, the package with
each channel switched off ("without"), with each channel alone (the others off; optional), and with
all of its channels off ("none", :func:`package_variants`); :func:`variant_config` builds a variant's
config. A switched-off channel acts at its lever's status-quo value, so "none" is the status quo for
every outcome but spending (a lever's programme runs, and costs, whatever its channels do). A variant's
channels off are added to the base's, never put in their place.

Per world :func:`decompose` gives the **effect** (package − reference), each channel's
**contribution** (effect − effect without it) and the **interaction** (effect − effect of "none" −
the sum of the contributions; the parts need not add up: negative when channels need each other,
positive when they stand in for one another). :func:`mean_ci` is the mean of paired differences with
a Student-t interval; a difference is **measurable** only when its interval excludes 0
(:func:`excludes_zero`). Worlds that share a posterior draw are not independent (they share the
parameters and differ in seed only): given ``groups`` (each world's draw), :func:`mean_ci` first averages
the worlds of each draw (:func:`group_means`) and takes the interval over the draw means (t with
draws − 1 degrees of freedom).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from sim.inputs.config import Channel, Config

LEVEL = 0.95
KINDS = ("reference", "package", "without", "alone", "none")


# ---------------------------------------------------------------------------- channels of a package
class AttributionError(ValueError):
    """A package that cannot be split into channels against its reference.

    ``problem``: ``"unchanged"`` (no lever differs from the reference), ``"reference_not_status_quo"``
    (a changed lever is not at its status-quo value in the reference: ``lever``, ``value``,
    ``default``) or ``"no_channels"`` (the changed levers, ``levers``, declare none)."""

    def __init__(self, problem: str, message: str, **detail: Any):
        super().__init__(message)
        self.problem = problem
        self.detail = detail


def changed_levers(reference: Config, package: Config) -> list[str]:
    """The levers whose value differs between ``package`` and ``reference`` (file order)."""
    return [name for name in reference.names("levers") if package[name] != reference[name]]


def channels_off_in_base(reference: Config, package: Config) -> tuple[Channel, ...]:
    """The channels of the levers ``package`` changes that the base already switches off (the reference's
    or the package's ``channels_off``): off in every run, so not among the package's channels."""
    off = reference.channels_off | package.channels_off
    schema = reference.schema
    return tuple(c for name in changed_levers(reference, package) for c in schema[name].channels if c.name in off)


def package_channels(reference: Config, package: Config) -> tuple[Channel, ...]:
    """The channels of the levers ``package`` changes against ``reference`` (in lever, then declaration
    order), without those the base already switches off (:func:`channels_off_in_base`: they act at the
    status quo in every run and contribute nothing by construction); :class:`AttributionError` when
    there is nothing to split (no lever changed, no channel left) or a changed lever's reference value
    is not its status-quo value (a switched-off channel acts at the status quo, so the package would not
    split into its channels then)."""
    schema = reference.schema
    changed = changed_levers(reference, package)
    if not changed:
        raise AttributionError("unchanged", "the package changes no lever against the reference")
    for name in changed:
        if reference[name] != schema[name].default:
            raise AttributionError("reference_not_status_quo",
                                   f"lever {name} is {reference[name]!r} in the reference, not its status-quo "
                                   f"value {schema[name].default!r}",
                                   lever=name, value=reference[name], default=schema[name].default)
    off = reference.channels_off | package.channels_off
    declared = [c for name in changed for c in schema[name].channels]
    out = tuple(c for c in declared if c.name not in off)
    if not out:
        why = ("whose channels are all switched off in the base (channels_off)" if declared
               else "which declare no channels")
        raise AttributionError("no_channels", f"the package changes {', '.join(changed)}, {why}",
                               levers=tuple(changed), off=tuple(c.name for c in declared))
    return out


# ---------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class Variant:
    """One configuration to run in every world: a package's levers with some of its channels off."""

    package: str  # the package's key (the reference's key for the reference)
    kind: str  # one of KINDS: "reference" | "package" | "without" | "alone" | "none" (all channels off)
    channel: str | None
    levers: Mapping[str, Any]
    off: frozenset[str] = frozenset()


def package_variants(key: str, levers: Mapping[str, Any], channels: Sequence[str | Channel],
                     alone: bool = True) -> list[Variant]:
    """The package, each channel off, each channel alone (when ``alone``), all channels off."""
    chans = [c.name if isinstance(c, Channel) else c for c in channels]
    levers = dict(levers)
    out = [Variant(key, "package", None, levers)]
    out += [Variant(key, "without", c, levers, frozenset({c})) for c in chans]
    if alone:
        out += [Variant(key, "alone", c, levers, frozenset(chans) - {c}) for c in chans]
    out.append(Variant(key, "none", None, levers, frozenset(chans)))
    return out


def variant_config(base: Config, v: Variant, overrides: Mapping[str, Any] | None = None) -> Config:
    """``base`` with ``overrides`` (e.g. a posterior draw's parameter values), the variant's levers and
    its channels switched off in addition to those the base (or ``overrides``) already switches off."""
    values: dict[str, Any] = {**dict(overrides or {}), **dict(v.levers)}
    if v.off:
        values["channels_off"] = sorted(set(base.channels_off) | set(values.get("channels_off", ())) | v.off)
    return base.with_overrides(values)


# ---------------------------------------------------------------------------- paired statistics
def _abs_t_cdf(x: float, df: int) -> float:
    """P(|T| <= x) for Student's t with integer ``df`` >= 1 (Abramowitz & Stegun 26.7.3-4: finite sums)."""
    theta = math.atan(x / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 0:  # sin(theta) * (1 + 1/2 c^2 + 1*3/(2*4) c^4 + ... up to c^(df-2))
        k = np.arange(1, df // 2)
        terms = np.cumprod((2 * k - 1) / (2 * k) * c2) if len(k) else np.zeros(0)
        return float(s * (1.0 + terms.sum()))
    # 2/pi * (theta + sin(theta) * (cos + 2/3 cos^3 + 2*4/(3*5) cos^5 + ... up to cos^(df-2)))
    if df == 1:
        return 2.0 * theta / math.pi
    c = math.sqrt(c2)
    k = np.arange(1, (df - 1) // 2)
    terms = np.cumprod(2 * k / (2 * k + 1) * c2) if len(k) else np.zeros(0)
    return float(2.0 / math.pi * (theta + s * c * (1.0 + terms.sum())))


@lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with integer ``df`` >= 1 (bisection on the exact
    distribution function, to the last bits of a float)."""
    if not 0.5 < p < 1 or int(df) != df or df < 1:
        raise ValueError(f"t_quantile: need 0.5 < p < 1 and a whole df >= 1, got p={p!r}, df={df!r}")
    target = 2 * p - 1
    lo, hi = 0.0, 1.0
    while _abs_t_cdf(hi, int(df)) < target:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _abs_t_cdf(mid, int(df)) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def group_means(d: Sequence[float] | np.ndarray, groups: Sequence[Any] | np.ndarray) -> np.ndarray:
    """The mean of ``d`` within each group (e.g. the worlds sharing a posterior draw), in sorted group order."""
    d = np.asarray(d, dtype=float)
    groups = np.asarray(groups)
    if groups.shape != d.shape:
        raise ValueError(f"group_means: {d.shape[0] if d.ndim else 0} values but {groups.size} groups")
    keys, idx = np.unique(groups, return_inverse=True)
    return np.bincount(idx.ravel(), weights=d.ravel(), minlength=len(keys)) / np.bincount(idx.ravel(),
                                                                                          minlength=len(keys))


def n_units(n: int, groups: Sequence[Any] | np.ndarray | None = None) -> int:
    """How many independent units an interval over ``n`` worlds rests on: the distinct groups, else ``n``."""
    return n if groups is None else int(np.unique(np.asarray(groups)).size)


def mean_ci(d: Sequence[float] | np.ndarray, level: float = LEVEL,
            groups: Sequence[Any] | np.ndarray | None = None) -> tuple[float, float, float]:
    """Mean and Student-t interval of the mean (NaN bounds below 2 values; a point interval when all
    values are equal).

    ``groups`` (one label per value, e.g. each world's posterior draw): the values of a group are not
    independent, so they are averaged first and the mean and interval are those of the group means
    (t with groups − 1 degrees of freedom; NaN bounds below 2 groups). Without ``groups``, or with every
    value its own group, each value counts as independent."""
    if groups is not None:
        d = group_means(d, groups)
    d = np.asarray(d, dtype=float)
    n = d.size
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(d.mean())
    if n < 2:
        return m, math.nan, math.nan
    half = float(t_quantile(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half


def excludes_zero(lo: float, hi: float) -> bool:
    """Does an interval lie entirely on one side of 0 (a measurable difference)?"""
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


# ---------------------------------------------------------------------------- decomposition
@dataclass(frozen=True)
class Decomposition:
    """One outcome of one package, per world (arrays over the paired worlds, in the same order)."""

    effect: np.ndarray  # package - reference
    none: np.ndarray  # all the package's channels off - reference
    without: Mapping[str, np.ndarray]  # channel -> (package without it) - reference
    alone: Mapping[str, np.ndarray] = field(default_factory=dict)  # channel -> (it alone) - reference

    @property
    def channels(self) -> list[str]:
        return list(self.without)

    @property
    def contribution(self) -> dict[str, np.ndarray]:
        """What the package loses without each channel: effect - effect without it."""
        return {c: self.effect - w for c, w in self.without.items()}

    @property
    def sum_contributions(self) -> np.ndarray:
        parts = list(self.contribution.values())
        return np.sum(parts, axis=0) if parts else np.zeros_like(self.effect)

    @property
    def interaction(self) -> np.ndarray:
        """effect - none - sum of the contributions (0 when the channels' parts add up)."""
        return self.effect - self.none - self.sum_contributions

    @property
    def sum_alone(self) -> np.ndarray:
        parts = list(self.alone.values())
        return np.sum(parts, axis=0) if parts else np.zeros_like(self.effect)


def decompose(reference: Sequence[float] | np.ndarray, package: Sequence[float] | np.ndarray,
              without: Mapping[str, Sequence[float] | np.ndarray], none: Sequence[float] | np.ndarray,
              alone: Mapping[str, Sequence[float] | np.ndarray] | None = None) -> Decomposition:
    """The decomposition from one outcome's values per world: of the reference, the package, the package
    without each channel, with all channels off and (optional) with each channel alone."""
    r0 = np.asarray(reference, dtype=float)
    diff = lambda x: np.asarray(x, dtype=float) - r0  # noqa: E731
    return Decomposition(effect=diff(package), none=diff(none), without={c: diff(v) for c, v in without.items()},
                         alone={c: diff(v) for c, v in (alone or {}).items()})
