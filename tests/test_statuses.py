"""Little giants follow MIIT's 2022 criteria, R&D participation is a costed stochastic choice, the county
tier reads nominal output, and the county and index ladders are reported apart (issue 22)."""

import numpy as np
import pytest

import sim
from sim.behaviour import energy, entry, innovation, rules
from sim.state.constants import SizeClass
from sim.state.records import MODEL_REPORTERS

REVIEW_QUARTER = 4  # 2026Q1: the first yearly review after the start


def _at_review(seed=5, **params):
    """A model standing in the last quarter of 2025, about to hold the 2026 review."""
    m = sim.ClusterModel(rng=seed, quarters=8, **params)
    while m.quarter < REVIEW_QUARTER - 1:
        m.step()
    m.quarter = REVIEW_QUARTER  # the review reads the records as they stand (entry._designate)
    assert m.quarter_of_year == 1
    return m


def _set_records(m, i, revenue=2e8, growth=0.10, rd=0.05):
    """Give firm ``i`` the records of a firm meeting every criterion: revenue (nominal, the year about to
    close), growth a year, R&D intensity, 5 years in its niche, patents, technology, 100 employees; and
    no rival in its niche."""
    f = m.firms
    years = [revenue / (1 + growth) ** k for k in range(3)]  # 2025 (year so far), 2024, 2023
    f.sales_ytd[i], f.revenue_y1[i], f.revenue_y2[i] = years
    f.rd_ytd[i], f.rd_y1[i] = rd * years[0], rd * years[1]
    f.niche_since[i] = m.quarter - 20
    f.patent_stock[i] = 100.0
    f.tech[i] = 0.8
    f.employees[i] = 100.0
    rivals = f.alive & (f.cluster == f.cluster[i]) & (f.segment == f.segment[i]) & (f.niche == f.niche[i])
    rivals[i] = False
    f.sales_ytd[rivals] = 0.0


def _candidate(m):
    f = m.firms
    six = f.cluster != m.cluster_keys.index("other")
    return int(np.flatnonzero(f.alive & six & ~f.little_giant & (f.size_class == SizeClass.SME))[0])


def _break(name):
    """Make the firm fail exactly one criterion (the others untouched)."""
    def sme(m, i):
        _set_records(m, i, revenue=6e8)  # >= 4亿 ...
        m.firms.employees[i] = 1500.0  # ... and >= 1000 persons: large

    def field(m, i):
        f = m.firms
        f.cluster[i] = m.cluster_keys.index("other")
        _set_records(m, i)  # no rival in its new niche either

    def market_share(m, i):
        f = m.firms
        j = int(np.flatnonzero(f.alive & (np.arange(len(f)) != i))[-1])
        f.cluster[j], f.segment[j], f.niche[j] = f.cluster[i], f.segment[i], f.niche[i]
        f.niche_seen[j] = rules.niche_code(m)[j]
        f.sales_ytd[j] = 20.0 * f.sales_ytd[i]  # a rival with most of the niche

    return {
        "sme": sme, "field": field, "market_share": market_share,
        "niche_years": lambda m, i: m.firms.niche_since.__setitem__(i, m.quarter - 4),
        "growth": lambda m, i: _set_records(m, i, growth=0.0),
        "rd": lambda m, i: _set_records(m, i, rd=0.02),  # below 3% at >= 1亿
        "ip": lambda m, i: m.firms.patent_stock.__setitem__(i, 1.0),
        "technology": lambda m, i: m.firms.tech.__setitem__(i, 0.3),
    }[name]


def _designated(breaker=None):
    m = _at_review()
    i = _candidate(m)
    _set_records(m, i)
    if breaker is not None:
        breaker(m, i)
    entry._designate(m)
    return bool(m.firms.little_giant[i])


@pytest.mark.parametrize("criterion", ["sme", "field", "niche_years", "growth", "market_share", "rd", "ip",
                                       "technology"])
def test_a_firm_failing_exactly_one_little_giant_criterion_is_not_designated(criterion):
    assert criterion in rules.LITTLE_GIANT_CRITERIA
    assert _designated() is True  # the same firm meeting them all is designated
    assert _designated(_break(criterion)) is False


def test_the_rd_criterion_follows_the_revenue_band():
    """5000万-1亿 needs 6% of revenue in each of the last two years; below 5000万 there is no path."""
    m = _at_review()
    i = _candidate(m)
    for revenue, rd, expected in ((8e7, 0.05, False), (8e7, 0.07, True), (2e8, 0.035, True), (4e7, 0.10, False)):
        _set_records(m, i, revenue=revenue, rd=rd)
        rules.close_year(m)  # the year so far becomes last year: firm i's records are all set above
        assert bool(rules.little_giant_criteria(m)["rd"][i]) is expected, (revenue, rd)


def test_a_little_giant_failing_its_three_year_review_loses_the_status():
    for fail, due in ((False, True), (True, True), (True, False)):
        m = _at_review()
        f = m.firms
        i = int(np.flatnonzero(f.alive & f.little_giant & (f.size_class == SizeClass.LITTLE_GIANT))[0])
        f.lg_since[i] = m.quarter - 4 * m.city["economy"]["little_giant_review_years"] + (0 if due else 1)
        _set_records(m, i, growth=0.0 if fail else 0.10)
        reviewed, kept = m.lg_reviewed, m.lg_kept
        entry._designate(m)
        keeps = not (fail and due)
        assert bool(f.little_giant[i]) is keeps, (fail, due)
        assert bool(f.size_class[i] == SizeClass.LITTLE_GIANT) is keeps
        assert m.lg_reviewed - reviewed >= int(due)
        assert bool(f.lg_since[i] == m.quarter) is (due and not fail)  # a passed review restarts the clock
        if due and fail:
            assert m.lg_kept - kept < m.lg_reviewed - reviewed


def test_nobody_in_other_manufacturing_is_ever_a_little_giant():
    m = sim.ClusterModel(rng=3, quarters=16, little_giant_tech=0.5, little_giant_niche_share_min=0.1)
    other = m.cluster_keys.index("other")
    f = m.firms
    assert not (f.little_giant & (f.cluster == other)).any()
    designated = 0
    while m.running:
        m.step()
        assert not (f.little_giant & (f.cluster == other)).any()
        designated = max(designated, int(f.little_giant[f.alive].sum()))
    assert designated > 0


def test_niche_tenure_restarts_when_a_firm_moves_and_entrants_start_at_entry():
    m = sim.ClusterModel(rng=2, quarters=8)
    for _ in range(3):
        m.step()
    f = m.firms
    i = _candidate(m)
    before = int(f.niche_since[i])
    rules.track_niches(m)
    assert f.niche_since[i] == before  # nothing moved
    f.niche[i] = (f.niche[i] + 1) % m.n_niches[f.cluster[i]]
    rules.track_niches(m)
    assert f.niche_since[i] == m.quarter
    entrants = np.flatnonzero(f.entered >= 0)
    assert entrants.size and (f.niche_since[entrants] >= f.entered[entrants]).all()


def test_aspirants_spend_what_their_revenue_band_requires():
    m = _at_review()
    f = m.firms
    i = _candidate(m)
    f.cash[i] = 1e9
    f.rd_draw[i] = 0.1  # on its own it would spend little
    for revenue, need in ((7e7, 0.06), (3e8, 0.03)):
        f.revenue_y1[i] = revenue
        f.lg_aspirant[i] = True
        innovation.step(m)
        assert f.rd_active[i]
        assert f.rd_spend[i] / f.sales[i] >= need
        f.lg_aspirant[i] = False
        assert innovation.usual_intensity(m)[i] < need


def test_rd_participation_at_set_up_matches_the_sourced_share():
    """Only a share of firms do R&D (NBS: about a third of above-scale industrial firms), with
    heterogeneous intensities, and the set-up share follows ``rd_participation_share``."""
    cfg = sim.default_config()
    shares = {}
    for target in (cfg.schema["rd_participation_share"].low, cfg.values["rd_participation_share"],
                   cfg.schema["rd_participation_share"].high):
        got = []
        for seed in (1, 2, 3, 4):
            m = sim.ClusterModel(rng=seed, quarters=1, rd_participation_share=target)
            f = m.firms
            above = f.alive & f.above_scale
            got.append(float((f.rd_spend[above] > 0).mean()))
            doing = f.alive & (f.rd_spend > 0) & (f.size_class == SizeClass.SME)
            intensity = f.rd_spend[doing] / f.sales[doing]
            assert intensity.std() / intensity.mean() > 0.3  # heterogeneous, not three fixed values
        assert abs(np.mean(got) - target) < 0.03, (target, got)
        assert all(abs(g - target) < 0.07 for g in got), (target, got)
        shares[target] = np.mean(got)
    lo, mid, hi = (shares[k] for k in sorted(shares))
    assert lo < mid < hi


def _rd_run(seed, subsidy, elasticity, quarters=8):
    cfg = sim.load_config().with_overrides({"rd_subsidy_rate": subsidy, "rd_elasticity": elasticity},
                                           quarters=quarters)
    m = sim.ClusterModel(config=cfg, rng=seed, record="city")
    rd = paid = 0.0
    while m.running:
        m.step()
        rd += m.firms.rd_spend[m.firms.alive].sum()
        paid += m.firms.rd_subsidy.sum()
    f = m.firms
    return rd, paid, float((f.rd_spend[f.alive & f.above_scale] > 0).mean()), m


def test_the_rd_subsidy_raises_rd_at_both_ends_of_its_elasticity_and_costs_nothing_at_zero():
    schema = sim.default_config().schema["rd_elasticity"]
    gains = {}
    for e in (schema.low, schema.high):
        rel = []
        for seed in (1, 2, 3):
            base, paid0, share0, m0 = _rd_run(seed, 0.0, e)
            more, paid1, share1, _ = _rd_run(seed, 0.3, e)
            assert paid0 == 0.0 and sum(m0.recorder.city["spending_rd_subsidy_rate"]) == 0.0
            assert paid1 > 0.0
            assert more > base, (e, seed)
            rel.append(more / base - 1.0)
        gains[e] = np.mean(rel)
    assert gains[schema.high] > gains[schema.low] > 0.0


def test_the_subsidy_lowers_the_price_of_rd_and_so_raises_participation():
    """Extensive margin: at the 2026 decision more firms do R&D with a 30% subsidy (paired seeds)."""
    up = []
    for seed in (1, 2, 3, 4):
        _, _, without, _ = _rd_run(seed, 0.0, 1.5, quarters=5)
        _, _, with_, _ = _rd_run(seed, 0.3, 1.5, quarters=5)
        up.append(with_ - without)
    assert np.mean(up) > 0.01 and min(up) >= 0.0, up


def _flat(inflation):
    """A model whose firms do not change: real output is flat, only prices move; the county review at
    quarter 12 reads nominal growth."""
    m = sim.ClusterModel(rng=1, quarters=12)
    m.p["price_inflation"] = inflation
    had = m.county_status.copy()
    for q in range(1, 13):
        m.quarter = q
        energy.update(m)
    return had, m


def test_the_county_rule_reads_nominal_growth():
    """Zero real growth: with inflation above the 10% threshold a county cluster keeps its status at the
    three-year review; with a zero deflator it does not (MIIT: 产值年均增速高于10%, at current prices)."""
    assert sim.default_config().values["county_growth_min"] == pytest.approx(0.10)
    had, inflating = _flat(0.12)
    assert had.any()
    assert inflating.county_status[had].all()
    had0, constant = _flat(0.0)
    assert (had0 == had).all() and not constant.county_status[had].any()
    assert rules.price_level(inflating, 3.0) == pytest.approx(1.12 ** 3)


def test_county_and_index_ladders_are_reported_apart():
    res = sim.run_scenario(sim.load_config().with_overrides({}, quarters=13), seed=2)
    out, cl = res.summary(), res.clusters
    six = cl[cl["cluster"] != "other"]
    start, end = six[six["quarter"] == 0], six[six["quarter"] == 13]
    assert out["index_tiers_climbed"] == int(end["index_tier"].sum() - start["index_tier"].sum())
    assert out["county_clusters_final"] == int(end["county_status"].sum())
    assert out["county_clusters_start"] == int(start["county_status"].sum())
    index_part = np.where(cl["index_tier"] > 0, cl["index_tier"] + 1, 0)
    assert (cl["energy_tier"] == np.maximum(index_part, cl["county_status"].astype(int))).all()
    m = sim.ClusterModel(rng=2, quarters=13, record="city+clusters")
    while m.running:
        m.step()
    again = m.result().summary()
    assert MODEL_REPORTERS["index_tiers_climbed"](m) == again["index_tiers_climbed"] == out["index_tiers_climbed"]
    assert MODEL_REPORTERS["county_clusters"](m) == again["county_clusters_final"]


def test_little_giant_start_state_meets_what_it_can_show():
    """The 22 set-up little giants are cluster SMEs in a niche they lead, with R&D at their band."""
    m = sim.ClusterModel(rng=4, quarters=1)
    f, p = m.firms, m.p
    lg = np.flatnonzero(f.little_giant)
    assert lg.size == m.city["economy"]["little_giants"]
    assert (f.cluster[lg] != m.cluster_keys.index("other")).all()
    assert (f.revenue_y1[lg] >= p["little_giant_min_revenue"] / 2).all()
    assert (f.rd_active[lg]).all() and (f.rd_rate[lg] >= p["little_giant_rd_min"]).all()
    assert (m.quarter - f.niche_since[lg] >= 4 * p["little_giant_niche_years"]).all()
