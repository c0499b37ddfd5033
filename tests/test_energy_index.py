"""The energy index: MIIT-style county criteria, index tiers with hysteresis, a start state no lever
can touch, no built-in upward drift, and conclusions checked against the (assumed) weights."""

import dataclasses

import numpy as np
import pytest

import sim
from sim.behaviour import energy
from sim.behaviour.energy import COMPONENTS, index_thresholds, reweighted_index, tier_of

LEVER_EXTREMES = {  # every lever at the end of its range that differs most from the status quo
    name: (p.high if abs(p.high - p.default) >= abs(p.low - p.default) else p.low)
    for name, p in sim.default_config().schema.items() if p.kind == "levers"
}


def test_index_tiers_follow_the_parameter_thresholds():
    p = sim.default_config().values
    thr = index_thresholds(p)
    assert list(tier_of(np.array([0.0, thr[0], thr[1] + 0.01, 0.99]), thr)) == [0, 1, 2, 3]
    raised = sim.ClusterModel(rng=1, quarters=1, tier_threshold_provincial=0.48)
    default = sim.ClusterModel(rng=1, quarters=1)
    assert (raised.energy_tier <= default.energy_tier).all() and (raised.energy_tier < default.energy_tier).any()


def test_index_weights_are_parameters_and_normalised():
    m = sim.ClusterModel(rng=2, quarters=1, energy_weight_scale=0.35)
    w = energy.weights(m.p)
    assert w.sum() == pytest.approx(1.0) and w[COMPONENTS.index("scale")] > 0.25
    assert np.allclose(m.energy_index, m.energy_components @ w)


def test_start_state_is_identical_whatever_the_levers():
    """Quarter 0 is 2025's state, before any policy acts: index, components and tiers cannot depend on levers."""
    base = sim.run_scenario(sim.load_config().with_overrides({}, quarters=1), seed=3).clusters
    pushed = sim.run_scenario(sim.load_config().with_overrides(LEVER_EXTREMES, quarters=1), seed=3).clusters
    q0 = [c for c in base.columns if c.startswith("idx_")] + ["energy_index", "energy_tier", "link_share",
                                                               "supply_links", "iur_projects", "data_members"]
    a, b = base[base["quarter"] == 0][q0].reset_index(drop=True), pushed[pushed["quarter"] == 0][q0].reset_index(drop=True)
    assert a.equals(b), (a - b).abs().max()
    assert not base[base["quarter"] == 1]["energy_index"].equals(pushed[pushed["quarter"] == 1]["energy_index"])


def _county_model(**values):
    m = sim.ClusterModel(rng=1, quarters=16, **values)
    return m


def test_county_tier_follows_the_miit_criteria_not_the_index():
    """A cluster holds the county tier only while output >= 40亿 for 3 years, SMEs > 70% and growth hold."""
    m = _county_model()
    st = m.stats
    expected = (st["revenue"] >= m.p["county_output_min"]) & (st["sme_revenue_share"] > m.p["county_sme_share_min"])
    assert (m.county_status == expected).all()
    auto = m.cluster_keys.index("automotive")
    assert not m.county_status[auto]  # Dicastal makes over half the output: not an SME cluster
    assert m.energy_tier[auto] >= 2  # ... but its index makes it provincial
    # no demand growth: the (nominal, 10%) growth criterion fails at the three-year review, county status is lost
    flat = _county_model(**{k: 0.0 for k in m.config.names("uncertainties") if k.startswith("demand_growth_")})
    had = flat.county_status.copy()
    assert had.any()
    while flat.running:
        flat.step()
    assert not flat.county_status[had].any()
    assert (flat.energy_tier[had] <= np.where(flat.index_tier[had] > 0, flat.index_tier[had] + 1, 0)).all()


def test_hysteresis_needs_consecutive_quarters(monkeypatch):
    """A cluster climbs an index tier only after `hysteresis_quarters` quarters above its threshold."""
    m = sim.ClusterModel(rng=1, quarters=8)
    k = m.city["energy"]["hysteresis_quarters"]
    thr = np.r_[index_thresholds(m.p), np.inf]
    tier0 = m.index_tier.copy()
    target = thr[tier0] + 0.01
    w = energy.weights(m.p)
    monkeypatch.setattr(energy, "components", lambda m_, st: np.tile((target / w.sum())[:, None], (1, len(w))))
    for q in range(1, k + 1):
        m.step()
        expected = np.minimum(tier0 + (1 if q >= k else 0), 3)
        assert (m.index_tier == expected).all(), q


def _no_growth(quarters=40, **values):
    """Status quo with no demand, wage or productivity growth (values outside the swept ranges on purpose)."""
    cfg = sim.load_config().with_overrides({}, quarters=quarters)
    v = dict(cfg.values)
    for k in v:
        if k.startswith("demand_growth_") or k.endswith("_wage_growth") or k == "productivity_growth":
            v[k] = 0.0
    v.update(values)
    return dataclasses.replace(cfg, values=v)


@pytest.mark.slow
def test_no_built_in_upward_drift_without_growth():
    """With patents depreciating, statuses reviewed and nothing growing, the index does not creep up
    (v1 under the same settings: +0.075 in 10 years, mostly from patent stocks and titles that could only
    grow; v2: about +0.02, the convergence of crowding, skill shares and maturity from the 2025 state),
    and it can fall."""
    changes, falls = [], 0
    for seed in (1, 2, 3, 4):
        cl = sim.run_scenario(_no_growth(), seed=seed).clusters
        cl = cl[cl["cluster"] != "other"]
        piv = cl.pivot(index="quarter", columns="cluster", values="energy_index")
        changes.append(piv.iloc[-1].mean() - piv.iloc[0].mean())
        falls += int((piv.diff().iloc[1:] < 0).to_numpy().sum())
    assert np.mean(changes) < 0.04, changes
    assert falls > 0
    # the patent stock shrinks when nobody does R&D: knowledge depreciates
    cfg = _no_growth(quarters=12, rd_intensity_sme=0.0, rd_intensity_specialised=0.0, rd_intensity_leader=0.0)
    m = sim.ClusterModel(config=cfg, rng=1)
    stock0 = m.firms.patent_stock.sum()
    m.firms.rd_rate[:] = 0.0
    while m.running:
        m.step()
    assert m.firms.patent_stock[m.firms.alive].sum() < 0.7 * stock0


@pytest.mark.slow
def test_package_signs_are_robust_to_index_weights(run_cached):
    """Every package whose mean index gain (paired seeds) is clear of noise keeps its sign under 200
    random weightings of the components (MISSION §4: no official formula)."""
    presets = sim.load_presets()
    rng = np.random.default_rng(0)
    draws = [dict(zip(COMPONENTS, rng.dirichlet(np.ones(len(COMPONENTS)) * 2.0))) for _ in range(200)]
    # v3's costed mechanisms give smaller index gains: at 24 quarters over 4 seeds only all_five is clear
    # of seed noise, so the check runs over the full horizon and 6 seeds (cultivate, digital, all_five clear)
    seeds, q = (1, 2, 3, 4, 5, 6), 40

    def final(levers, s):
        cl = run_cached(levers, s, q).clusters
        return cl[(cl["quarter"] == q) & (cl["cluster"] != "other")]

    checked = 0
    for name, preset in presets.items():
        if name == "status_quo":
            continue
        pairs = [(final({}, s), final(preset.levers, s)) for s in seeds]
        gains = np.array([[reweighted_index(b, w).mean() - reweighted_index(a, w).mean() for a, b in pairs]
                          for w in draws])  # (weightings, seeds)
        default = np.array([b["energy_index"].mean() - a["energy_index"].mean() for a, b in pairs])
        if abs(default.mean()) < 2 * default.std(ddof=1) / np.sqrt(len(seeds)):
            continue  # not clear of seed noise at the default weights: nothing to be robust about
        checked += 1
        same_sign = (np.sign(gains.mean(axis=1)) == np.sign(default.mean())).mean()
        assert same_sign >= 0.9, f"{name}: sign holds under {same_sign:.0%} of weightings"
    assert checked >= 2
