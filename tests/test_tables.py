"""The vectorised helpers of sim.state.tables that the submodels' results depend on."""

import numpy as np
import pytest

from sim.state.tables import weighted_draws, weighted_index, weighted_rows


@pytest.mark.parametrize("k", [2, 4, 7, 11, 25])
def test_weighted_index_draws_what_generator_choice_draws(k):
    """Entry replaced per-entrant ``rng.choice(k, p=p)`` by weighted_index: the same seed must keep
    giving the same firms, so the helper has to reproduce numpy's draws exactly, stream included."""
    gen = np.random.default_rng(k)
    for trial in range(300):
        w = gen.random(k) ** 3
        w[gen.random(k) < 0.2] = 0.0
        w[0] += 1e-3
        p = w / w.sum()
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        assert [int(a.choice(k, p=p)) for _ in range(5)] == [weighted_index(b, p) for _ in range(5)]
        assert a.random() == b.random()  # both streams advanced by the same draws


@pytest.mark.parametrize("k", [3, 4, 9])
def test_weighted_rows_draws_what_a_loop_of_choice_draws(k):
    gen = np.random.default_rng(100 + k)
    for trial in range(200):
        n = int(gen.integers(1, 40))
        w = gen.random((n, k)) ** 2 + 1e-3
        p = w / w.sum(axis=1, keepdims=True)
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        expected = [int(a.choice(k, p=row / row.sum())) for row in w]
        assert weighted_rows(b, p).tolist() == expected
        assert a.random() == b.random()


@pytest.mark.parametrize("k", [3, 5])
def test_weighted_draws_draw_what_generator_choice_draws(k):
    """Graduation replaced ``rng.choice(3, size=n, p=fields)`` by weighted_draws: same cohorts per seed."""
    gen = np.random.default_rng(200 + k)
    for trial in range(200):
        p = list(gen.dirichlet(np.ones(k)))
        n = int(gen.integers(0, 60))
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        assert weighted_draws(b, p, n).tolist() == a.choice(k, size=n, p=p).tolist()
        assert a.random() == b.random()


def test_weighted_rows_never_picks_a_zero_weight():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    picks = np.array([weighted_rows(np.random.default_rng(s), p) for s in range(500)])
    assert (picks[:, 0] == 1).all() and set(picks[:, 1]) == {0, 2}

def test_agent_table_appends_keep_every_row_and_grow_by_doubling():
    from sim.state.tables import AgentTable

    t = AgentTable({"x": float, "k": np.int8})
    rows = []
    for i in range(40):
        idx = t.append(i % 7, x=np.arange(i % 7) + 100.0 * i, k=i % 5)
        rows += [(100.0 * i + j, i % 5) for j in range(i % 7)]
        assert len(t) == len(t.x) == len(t.k) == len(rows) and list(idx) == list(range(len(rows) - i % 7, len(rows)))
    assert t.x.tolist() == [r[0] for r in rows] and t.k.tolist() == [r[1] for r in rows]
    t.x += 1.0  # in place, through the view
    first = rows[0][0] + 1.0
    assert t.x[0] == first and t.append(1)[0] == len(rows) and t.x[-1] == 0.0 and t.x[0] == first
    assert len(t._buffers["x"]) < 4 * len(t)  # capacity doubles, it does not grow per append



def test_cell_counts_equal_add_at():
    """Entry, digital and the energy index count firms per (cluster, segment, niche) or (cluster,
    maturity) cell with cell_counts; it must give np.add.at's counts, empty input included."""
    from sim.state.tables import cell_counts

    gen = np.random.default_rng(5)
    for shape in [(7, 5), (7, 5, 20), (3,)]:
        for n in (0, 1, 50, 1200):
            codes = [gen.integers(0, s, n).astype(np.int8) for s in shape]
            expected = np.zeros(shape)
            np.add.at(expected, tuple(codes), 1.0)
            got = cell_counts(shape, *codes)
            assert got.dtype == float and np.array_equal(got, expected)


def test_uniform_choice_draws_what_generator_choice_draws():
    """Returning graduates and hires outside manufacturing get a city cell by uniform_choice; the same
    seed must keep giving the same cells as ``rng.choice(values, size=n)``, stream included."""
    from sim.state.tables import uniform_choice

    values = np.arange(100, 137)
    for n in (0, 1, 5, 1000):
        a, b = np.random.default_rng(n), np.random.default_rng(n)
        assert np.array_equal(a.choice(values, size=n), uniform_choice(b, values, n))
        assert a.random() == b.random()


def test_group_sums_of_many_columns_equal_one_group_sum_per_column_exactly():
    from sim.state.tables import group_sum, group_sums

    gen = np.random.default_rng(7)
    for trial in range(50):
        n = int(gen.integers(0, 300))
        groups = gen.integers(0, 7, n)
        rows = gen.random(n) < 0.7
        cols = [gen.lognormal(10, 3, n), gen.random(n) < 0.3, gen.integers(0, 5, n), gen.normal(0, 1e6, n)]
        got = group_sums(groups[rows], cols, 7, rows=rows)
        for j, col in enumerate(cols):
            assert np.array_equal(got[j], group_sum(groups[rows], np.asarray(col, float)[rows], 7))  # bit for bit
