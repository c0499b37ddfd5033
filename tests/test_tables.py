"""The vectorised helpers of sim.tables that the submodels' results depend on."""

import numpy as np
import pytest

from sim.tables import rank_within_groups, weighted_index, weighted_rows


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


def test_weighted_rows_never_picks_a_zero_weight():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    picks = np.array([weighted_rows(np.random.default_rng(s), p) for s in range(500)])
    assert (picks[:, 0] == 1).all() and set(picks[:, 1]) == {0, 2}


def test_rank_within_groups_of_a_subset_equals_the_ranks_in_the_whole():
    """Layoffs and training rank only the staff of firms that act; ranks are per group, so leaving
    out whole groups must not change anyone's rank."""
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 30, 2000)
    keys = rng.random(2000)
    full = rank_within_groups(groups, keys)
    keep = np.isin(groups, rng.choice(30, 12, replace=False))
    assert (rank_within_groups(groups[keep], keys[keep]) == full[keep]).all()
    for g in range(30):  # ranks are 0..n-1 within every group, in key order
        r = full[groups == g]
        assert sorted(r) == list(range(r.size))
        assert (np.argsort(keys[groups == g]) == np.argsort(r)).all()


def test_agent_table_appends_keep_every_row_and_grow_by_doubling():
    from sim.tables import AgentTable

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


def test_niche_choice_draws_what_the_per_entrant_loop_draws():
    """Entry picks all of a quarter's niches at once (sim.entry._choose_niche); the same seed must give
    the same niches, draw for draw, as the loop it replaced: per entrant ``rng.random(k)`` noise, then
    the least crowded niche under the plan or a Zipf draw by popularity rank (``weighted_index``)."""
    import sim
    from sim import entry
    from sim.model import ClusterModel

    m = ClusterModel(config=sim.default_config().with_overrides({}, quarters=8), rng=4)
    for _ in range(3):
        m.step()
    f, herd = m.firms, m.prog["herding_exponent"]
    occupancy = np.zeros((m.n_clusters, m.n_segments, m.max_niches))
    np.add.at(occupancy, (f.cluster[f.alive], f.segment[f.alive], f.niche[f.alive]), 1.0)

    def loop(rng, cluster, segment, planned):
        out = []
        for c, s, plan in zip(cluster, segment, planned):
            k = m.n_niches[c]
            counts = occupancy[c, s, :k]
            if plan:
                out.append(int(np.argmin(counts + rng.random(k) * 0.1)))
            else:
                rank = np.argsort(np.argsort(-counts - rng.random(k) * 0.1))
                w = 1.0 / (rank + 1.0) ** herd
                out.append(weighted_index(rng, w / w.sum()))
        return out

    gen = np.random.default_rng(9)
    for trial in range(60):
        n = int(gen.integers(0, 30))
        cluster = gen.integers(0, m.n_clusters, n).astype(np.int8)
        segment = gen.integers(0, m.n_segments, n).astype(np.int8)
        planned = gen.random(n) < gen.random()
        m.rng = np.random.default_rng(trial)
        got = entry._choose_niche(m, cluster, segment, planned).tolist()
        ref = np.random.default_rng(trial)
        assert got == loop(ref, cluster, segment, planned)
        assert m.rng.random() == ref.random()  # both streams advanced by the same draws
