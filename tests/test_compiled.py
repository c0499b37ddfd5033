"""Compiled kernels (``sim.state.compiled``): the same numbers as the numpy code they replace, a cache
outside the repository that follows the source, and a warm-up that loads every kernel.

Each kernel is checked against the numpy formulation it replaced (written out here), on random
inputs, for exact equality: one seed must give the same run with or without compilation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.behaviour import entry, market
from sim.state import compiled, records
from sim.state.constants import Loc, career_stage
from sim.state.tables import cell_sums, normalised_cdf

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 1000, 4097, 100_003])
def test_pairwise_sum_is_numpys_sum(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
        assert compiled.pairwise_sum(a, 0, n) == a.sum()
    m = rng.standard_normal((4, n))
    for row, total in zip(m, m.sum(axis=1)):
        assert compiled.pairwise_sum(row.copy(), 0, n) == total


def test_cache_outside_the_repository_and_per_source(tmp_path, monkeypatch):
    assert ROOT not in compiled.CACHE_DIR.parents
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(compiled, "SIM", tmp_path)
    before = compiled.source_hash()
    (tmp_path / "a.py").write_text("x = 2\n")
    assert compiled.source_hash() != before  # an edit anywhere in sim/ gives a fresh cache folder


def test_warm_up_loads_every_kernel():
    sim.warm_up()
    # kernels called only from other kernels are compiled into their callers and need no loading
    inner = {k.py_func.__name__ for k in compiled.KERNELS
             if any(k.py_func.__name__ in o.py_func.__code__.co_names for o in compiled.KERNELS if o is not k)}
    missing = [k.py_func.__qualname__ for k in compiled.KERNELS if not k.signatures and k.py_func.__name__ not in inner]
    assert not missing, f"kernels a warm-up does not reach (a first run would load them): {missing}"


def _split_orders_numpy(key, n_groups, total, cap, weight, passes=3):
    sales = np.zeros_like(cap)
    remaining = np.asarray(total, float).copy()
    free = cap > 0
    for _ in range(passes):
        w_g = np.bincount(key, weights=np.where(free, weight, 0.0), minlength=n_groups)
        share = np.where(free & (w_g[key] > 0), weight / np.maximum(w_g[key], 1e-12), 0.0)
        take = np.minimum(remaining[key] * share, cap - sales)
        sales += take
        remaining -= np.bincount(key, weights=take, minlength=n_groups)
        free = free & (sales < cap - 1e-9)
        if remaining.max(initial=0.0) <= 1e-6 * max(float(np.max(total, initial=0.0)), 1.0):
            break
    return sales


@pytest.mark.parametrize("seed", range(6))
def test_split_orders_kernel_is_the_numpy_rule(seed):
    rng = np.random.default_rng(seed)
    n, groups = 400, 17
    key = rng.integers(0, groups, n)
    cap = np.where(rng.random(n) < 0.1, 0.0, rng.lognormal(0, 1, n))
    weight = cap * rng.uniform(0.5, 2.0, n)
    total = rng.lognormal(2, 1, groups)
    assert np.array_equal(market.split_orders(key, groups, total, cap, weight),
                          _split_orders_numpy(key, groups, total, cap, weight))


def _advise_numpy(rows, cluster, segment, niche, firm_capacity, n_niches, niche_orders, capacity, count, va_rate,
                  penalty):
    target = np.zeros(rows.size, np.int16)
    gain = np.full(rows.size, -np.inf)
    for i, r in enumerate(rows):
        c, s, own, cap = cluster[r], segment[r], niche[r], firm_capacity[r]
        k = n_niches[c]
        orders, cap_n, n_n = niche_orders[c, s, :k], capacity[c, s, :k], count[c, s, :k]
        mine = np.arange(k) == own
        others = max(n_n.sum() - 1.0, 1.0)
        cap_there = np.where(mine, cap_n, cap_n + cap)
        crowd_there = np.where(mine, n_n - 1.0, n_n) / others
        value = np.minimum(1.0, orders / np.maximum(cap_there, 1e-9)) * cap * va_rate[s] * (1.0 - penalty * crowd_there)
        g = np.where(mine, -np.inf, value - value[own])
        t = int(np.argmax(g))
        target[i], gain[i] = t, g[t]
        if g[t] > 0:
            capacity[c, s, own] -= cap
            capacity[c, s, t] += cap
            count[c, s, own] -= 1.0
            count[c, s, t] += 1.0
    return target, gain


@pytest.mark.parametrize("seed", range(6))
def test_niche_advice_kernel_is_the_numpy_loop(seed):
    rng = np.random.default_rng(seed)
    n, shape = 300, (3, 4, 20)
    n_niches = np.array([8, 12, 20])
    cluster = rng.integers(0, 3, n).astype(np.int8)
    segment = rng.integers(0, 4, n).astype(np.int8)
    niche = (rng.random(n) * n_niches[cluster]).astype(np.int16)
    firm_capacity = rng.lognormal(0, 1, n)
    orders = rng.lognormal(1, 1, shape)
    capacity = cell_sums(shape, firm_capacity, cluster, segment, niche)
    count = cell_sums(shape, None, cluster, segment, niche)
    rows = rng.permutation(n)[:60]
    args = (rows, cluster, segment, niche, firm_capacity, n_niches, orders)
    got = entry._advise(*args, capacity.copy(), count.copy(), np.array([0.2, 0.15, 0.3, 0.25]), 0.4)
    want = _advise_numpy(*args, capacity.copy(), count.copy(), np.array([0.2, 0.15, 0.3, 0.25]), 0.4)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def _pick_numpy(cluster, segment, planned, k, start, u, crowding, occupancy, herd):
    out = np.empty(cluster.size, np.int16)
    for i in range(cluster.size):
        size, first = k[i], start[i]
        noise = u[first:first + size]
        if planned[i]:
            out[i] = np.argmin(crowding[cluster[i], segment[i], :size] * (1.0 + 0.01 * noise))
            continue
        value = occupancy[cluster[i], segment[i], :size] + noise * 0.1
        rank = np.argsort(np.argsort(-value))
        w = 1.0 / (rank + 1.0) ** herd
        out[i] = (normalised_cdf(w / w.sum()) <= u[first + size]).sum()
    return out


@pytest.mark.parametrize("seed", range(6))
def test_niche_choice_kernel_is_the_numpy_rule(seed):
    rng = np.random.default_rng(seed)
    n, shape, herd = 50, (3, 4, 20), 1.3
    n_niches = np.array([6, 10, 20])
    cluster = rng.integers(0, 3, n).astype(np.int8)
    segment = rng.integers(0, 4, n).astype(np.int8)
    planned = rng.random(n) < 0.4
    k = n_niches[cluster]
    draws = k + ~planned
    start = np.cumsum(draws) - draws
    u = rng.random(int(draws.sum()))
    crowding, occupancy = rng.lognormal(0, 1, shape), rng.integers(0, 9, shape).astype(float)
    out = np.empty(n, np.int16)
    entry._pick_niches(cluster, segment, planned, k, start, u, crowding, occupancy,
                       1.0 / (np.arange(20) + 1.0) ** herd, out)
    assert np.array_equal(out, _pick_numpy(cluster, segment, planned, k, start, u, crowding, occupancy, herd))


def test_talent_census_kernel_counts_what_numpy_counts():
    rng = np.random.default_rng(3)
    n, q, n_districts = 5000, 23, 7
    loc = rng.integers(0, len(Loc), n).astype(np.int8)
    persons = rng.integers(1, 11, n)
    field, degree = rng.integers(0, 3, n).astype(np.int8), rng.integers(0, 3, n).astype(np.int8)
    age = rng.uniform(20, 64, n)
    cohort = np.where(rng.random(n) < 0.5, rng.integers(0, q + 1, n), -1).astype(np.int32)
    training = rng.integers(0, 3, n).astype(np.int8)
    cell = np.where(rng.random(n) < 0.9, rng.integers(0, 100, n), -1)
    cell_district = rng.integers(0, n_districts, 100).astype(np.int8)
    by_loc, digital, by, cohorts, trainees, district = records._talent_census(
        loc, persons, field, degree, age, cohort, training, cell, cell_district, q, len(Loc), 3, n_districts)
    here = loc == Loc.CITY
    assert np.array_equal(by_loc, np.bincount(loc, weights=persons, minlength=len(Loc)))
    assert digital == persons[here & (field == 1)].sum()
    since = np.where(cohort >= 0, (q - cohort) / 4.0, np.nan)
    stage = career_stage(age, since, False)
    assert np.array_equal(by, cell_sums((3, 4), persons[here], degree[here], stage[here]))
    for j, years in enumerate(records.COHORT_YEARS):
        assert cohorts[j] == persons[here & (cohort == q - 4 * years)].sum()
    assert trainees == persons[here & (training > 0)].sum()
    placed = here & (cell >= 0)
    assert np.array_equal(district, np.bincount(cell_district[cell[placed]], weights=persons[placed],
                                                minlength=n_districts))
