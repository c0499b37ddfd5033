"""Firms' statuses, links and shared resources follow behaviour and reviews, not lever formulas."""

import numpy as np

import sim
from sim.behaviour import entry, links, sharing
from sim.state.constants import SizeClass


def _choose_niche_loop(m, cluster, segment, planned):
    """The per-entrant loop entry._choose_niche replaced (draw for draw)."""
    from sim.state.tables import cell_counts, weighted_index

    f = m.firms
    a = f.alive
    occupancy = cell_counts((m.n_clusters, m.n_segments, m.max_niches), f.cluster[a], f.segment[a], f.niche[a])
    crowding = entry.capacity_per_order(m)
    out = np.empty(len(cluster), np.int16)
    for i, (c, s) in enumerate(zip(cluster, segment)):
        k = m.n_niches[c]
        counts = occupancy[c, s, :k]
        if planned[i]:
            out[i] = int(np.argmin(crowding[c, s, :k] * (1.0 + 0.01 * m.rng.random(k))))
        else:
            rank = np.argsort(np.argsort(-counts - m.rng.random(k) * 0.1))
            w = 1.0 / (rank + 1.0) ** m.prog["herding_exponent"]
            out[i] = weighted_index(m.rng, w / w.sum())
    return out


def test_niche_choice_for_all_entrants_at_once_draws_what_a_loop_over_entrants_draws():
    """Same seed, same niches: the vectorised choice keeps the loop's numbers and random stream."""
    m = sim.ClusterModel(rng=3, quarters=8)
    for _ in range(4):
        m.step()
    gen = np.random.default_rng(0)
    for trial in range(60):
        n = int(gen.integers(0, 25))
        cluster = gen.integers(0, m.n_clusters, n).astype(np.int8)
        segment = gen.integers(0, m.n_segments, n).astype(np.int8)
        planned = gen.random(n) < gen.random()
        state = m.rng.bit_generator.state
        fast = entry._choose_niche(m, cluster, segment, planned)
        after = m.rng.random()
        m.rng.bit_generator.state = state
        assert fast.tolist() == _choose_niche_loop(m, cluster, segment, planned).tolist()
        assert m.rng.random() == after


def test_anchor_firms_enter_as_ordinary_firms():
    """An attracted anchor is not born a leader: it becomes one only by the leader criterion (v1 shortcut)."""
    m = sim.ClusterModel(rng=1, quarters=6, anchor_attraction_budget=600_000_000.0, anchor_cost=50_000_000.0)
    while m.running:
        m.step()
    f = m.firms
    eco = m.city["economy"]
    anchors = np.flatnonzero(f.anchor & f.alive)
    assert anchors.size >= 10
    revenue = 4 * f.sales[anchors]
    is_leader = f.size_class[anchors] == SizeClass.LEADER
    assert (~is_leader).any()  # v1: every anchor was a leader on arrival
    assert (revenue[~is_leader] < eco["leader_revenue_threshold"] * 1.5).all()
    # a leader met the size criterion at its last yearly review (revenue may have moved since)
    assert (revenue[is_leader] >= 0.5 * eco["leader_review_band"] * eco["leader_revenue_threshold"]).all()


def test_little_giants_are_reviewed_and_can_lose_the_status():
    """MIIT's three-year review: with a stricter technology bar, some of the 22 fail and lose the title."""
    strict = sim.ClusterModel(rng=2, quarters=16, little_giant_tech=0.65, little_giant_rd_min=0.05)
    assert strict.firms.little_giant.sum() == 22
    while strict.running:
        strict.step()
    f = strict.firms
    assert not (f.little_giant & (f.size_class == SizeClass.LEADER) & ~f.alive).any()
    assert f.little_giant[f.alive].sum() < 22


def test_leader_status_follows_current_size():
    m = sim.ClusterModel(rng=3, quarters=8)
    f = m.firms
    leader = np.flatnonzero(f.alive & (f.size_class == SizeClass.LEADER))[0]
    while m.quarter_of_year != 4:
        m.step()
    f.sales[leader] = 0.1 * m.city["economy"]["leader_revenue_threshold"] / 4.0  # collapsed orders
    m.quarter += 1  # the yearly review runs in the first quarter of a year
    entry._designate(m)
    assert f.size_class[leader] != SizeClass.LEADER


def test_supply_links_follow_buyers_input_needs_and_break_when_a_side_exits():
    m = sim.ClusterModel(rng=4, quarters=12, city_coordination=1.0)
    while m.running:
        slots_before = links.supplier_slots(m)
        used_before = np.bincount(m.firms.supplies[m.firms.alive & (m.firms.supplies >= 0)],
                                  minlength=len(m.firms))[: len(m.firms)]
        m.step()
        f = m.firms
        a = f.alive
        linked = a & (f.supplies >= 0)
        assert a[f.supplies[linked]].all() or m.quarter > 0  # dead buyers are cleared at the next links step
        used = np.bincount(f.supplies[linked], minlength=len(f))[: len(f)]
        n = len(slots_before)
        # a buyer gains suppliers only while its input needs had room for them (entrants: none yet)
        gained = used[:n] > used_before
        assert (used[:n][gained] <= slots_before[gained]).all()
        # contracts deliver no more than buyers' chain inputs and no more than suppliers' capacity
        supplied, bought = links.contracts(m, f.capacity)
        assert (bought <= links.chain_inputs(m) * (1 + 1e-9) + 1e-6).all()
        assert (supplied <= f.capacity + 1e-6).all()
        assert np.isclose(supplied.sum(), bought.sum())


def test_resource_sharing_is_an_allocation_with_a_capacity():
    m = sim.ClusterModel(rng=5, quarters=6, resource_sharing_platform=0.5, sharing_slots=40.0)
    while m.running:
        m.step()
        matched = m.firms.shared & m.firms.alive
        assert matched.sum() <= round(0.5 * 40)
        assert not (matched & (m.firms.size_class == SizeClass.LEADER)).any()
    # no idle capacity on offer -> no gains, however strong the platform
    f = m.firms
    cap = f.capacity.copy()
    f.sales[:] = cap  # every holder at full use
    extra = sharing.match(m, cap, np.full(len(f), 0.5))
    assert extra.sum() == 0 and not f.shared.any()


def test_productivity_is_real_and_separate_from_wages():
    slow = sim.ClusterModel(rng=1, quarters=8, qinhuangdao_wage_growth=0.02)
    fast = sim.ClusterModel(rng=1, quarters=8, qinhuangdao_wage_growth=0.07)
    for m in (slow, fast):
        for _ in range(8):
            m.step()
    assert slow.productivity() == fast.productivity()
    assert slow.city_wage() < fast.city_wage()
