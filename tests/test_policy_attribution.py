"""sim.policy.attribution: the part of channel attribution that explain and the workshop page share."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import sim
from sim.policy import attribution as at
from sim.policy.instruments import instruments


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 10, 31, 200, 9999])
@pytest.mark.parametrize("p", [0.9, 0.975, 0.995])
def test_t_quantile_is_students(df, p):
    assert at.t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-11)


def test_mean_ci_is_the_t_interval_and_excludes_zero_reads_it():
    d = np.array([1.0, 2.0, 4.0, 3.5])
    m, lo, hi = at.mean_ci(d)
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert (m, lo, hi) == pytest.approx((2.625, 2.625 - half, 2.625 + half), rel=1e-12)
    assert at.excludes_zero(lo, hi)
    assert not at.excludes_zero(*at.mean_ci([1.0, -1.0, 0.5, -0.2])[1:])
    assert at.mean_ci([5.0, 5.0]) == (5.0, 5.0, 5.0)  # all equal: a point
    m1, lo1, hi1 = at.mean_ci([3.0])
    assert m1 == 3.0 and math.isnan(lo1) and math.isnan(hi1) and not at.excludes_zero(lo1, hi1)
    assert not at.excludes_zero(0.0, 1.0) and not at.excludes_zero(-1.0, 0.0)


def test_the_module_stays_numpy_only():
    tree = ast.parse(Path(at.__file__).read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names <= {"__future__", "math", "collections", "dataclasses", "functools", "typing", "numpy", "sim"}, names


def test_channels_and_variants_of_a_package():
    base = sim.default_config()
    pkg = base.with_overrides({"city_coordination": 0.9, "rd_subsidy_rate": 0.2})
    chans = at.package_channels(base, pkg)
    inst = instruments()
    assert [c.name for c in chans] == [*inst["city_coordination"].channel_names, *inst["rd_subsidy_rate"].channel_names]
    vs = at.package_variants("p", {"city_coordination": 0.9}, inst["city_coordination"].channels, alone=False)
    names = inst["city_coordination"].channel_names
    assert [v.kind for v in vs] == ["package", *["without"] * len(names), "none"]
    assert vs[-1].off == frozenset(names) and all(v.off == {v.channel} for v in vs if v.kind == "without")
    cfg = at.variant_config(base, vs[1])
    assert cfg["city_coordination"] == 0.9 and cfg.channels_off == {names[0]}
    with pytest.raises(at.AttributionError) as e:
        at.package_channels(base, base)
    assert e.value.problem == "unchanged"
    ref = base.with_overrides({"city_coordination": 0.5})
    with pytest.raises(at.AttributionError) as e:
        at.package_channels(ref, pkg)
    assert e.value.problem == "reference_not_status_quo" and e.value.detail["lever"] == "city_coordination"


def test_decomposition_adds_up_in_every_world():
    rng = np.random.default_rng(3)
    ref, pkg, none = rng.normal(size=5), rng.normal(size=5) + 2, rng.normal(size=5)
    without = {"a": rng.normal(size=5), "b": rng.normal(size=5)}
    dec = at.decompose(ref, pkg, without, none)
    assert dec.channels == ["a", "b"]
    np.testing.assert_allclose(dec.contribution["a"], pkg - without["a"])
    np.testing.assert_allclose(dec.none + dec.sum_contributions + dec.interaction, dec.effect, rtol=0, atol=1e-12)


def test_a_variant_adds_its_channels_off_to_the_base_s():
    """A channel the base switches off stays off in every variant ("without X" must not switch it back on)."""
    base = sim.default_config().with_overrides({"channels_off": ["coordination.matchmaking"]})
    pkg = base.with_overrides({"city_coordination": 0.9})
    chans = [c.name for c in at.package_channels(base, pkg)]
    assert "coordination.matchmaking" not in chans and "coordination.planned_entry" in chans
    assert [c.name for c in at.channels_off_in_base(base, pkg)] == ["coordination.matchmaking"]
    for v in at.package_variants("p", {"city_coordination": 0.9}, chans):
        cfg = at.variant_config(base, v)
        assert cfg.channels_off == {"coordination.matchmaking"} | v.off, v
    assert at.variant_config(base, at.Variant("p", "package", None, {"city_coordination": 0.9})).channels_off \
        == {"coordination.matchmaking"}
    # a package whose only channel is off in the base has nothing to split
    off = sim.default_config().with_overrides({"channels_off": ["anchors.attraction"]})
    with pytest.raises(at.AttributionError) as e:
        at.package_channels(off, off.with_overrides({"anchor_attraction_budget": 4e8}))
    assert e.value.problem == "no_channels" and "switched off in the base" in str(e.value)


def test_mean_ci_over_groups_is_the_t_interval_of_the_group_means():
    """Worlds sharing a posterior draw: average within the draw, t over the draw means (df = draws - 1)."""
    rng = np.random.default_rng(5)
    draws = np.arange(10) % 5  # 5 draws x 2 seeds, as configs/experiments/explain.toml
    d = rng.normal(size=5)[draws] * 3 + rng.normal(size=10) * 0.1  # mostly between-draw spread
    means = np.array([d[draws == g].mean() for g in range(5)])
    m, lo, hi = at.mean_ci(d, groups=draws)
    half = stats.t.ppf(0.975, 4) * means.std(ddof=1) / math.sqrt(5)
    assert (m, lo, hi) == pytest.approx((means.mean(), means.mean() - half, means.mean() + half), rel=1e-12)
    np.testing.assert_allclose(at.group_means(d, draws), means, rtol=1e-15)
    _, plo, phi = at.mean_ci(d)  # treating the 10 worlds as independent: too narrow here
    assert phi - plo < hi - lo
    # every world its own group (the workshop page: draw r for replicate r) is the per-world interval
    assert at.mean_ci(d, groups=np.arange(10)) == pytest.approx(at.mean_ci(d), rel=1e-12)
    assert at.n_units(10, draws) == 5 and at.n_units(10) == 10
    # one group: no interval; the mean of unequal groups weights each group equally
    m1, lo1, hi1 = at.mean_ci([1.0, 2.0, 3.0], groups=[0, 0, 0])
    assert m1 == 2.0 and math.isnan(lo1) and math.isnan(hi1)
    assert at.mean_ci([1.0, 3.0, 10.0], groups=[0, 0, 1])[0] == pytest.approx(6.0)
    with pytest.raises(ValueError):
        at.group_means([1.0, 2.0], [0])
