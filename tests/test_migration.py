"""Graduates' destinations, cohort retention and in-house training (sim.behaviour.labour).

Calibration bands come from MISSION §3 (a Hebei university's 2022 cohort: 12% Beijing, 2% Tianjin;
20-35% of graduates stay in the city). Lever comparisons are paired (common random numbers): each
policy run shares its seed with a status-quo run.
"""

import numpy as np
import pandas as pd
import pytest

import sim
from sim.state.constants import Field

SEEDS = (1, 2, 3, 4)
QUARTERS = 40


def _mean(run_cached, levers, key, quarters=QUARTERS):
    return float(np.mean([run_cached(levers, s, quarters).summary()[key] for s in SEEDS]))


def _paired(run_cached, levers, outcome, base=None, quarters=QUARTERS):
    base = base or {}
    return [outcome(run_cached({**base, **levers}, s, quarters)) - outcome(run_cached(base, s, quarters))
            for s in SEEDS]


def test_status_quo_destinations_of_graduates_match_the_hebei_cohort(run_cached):
    assert 0.08 <= _mean(run_cached, {}, "graduates_to_beijing_share") <= 0.16
    assert 0.01 <= _mean(run_cached, {}, "graduates_to_tianjin_share") <= 0.05
    assert 0.20 <= _mean(run_cached, {}, "graduate_retention") <= 0.35
    c = run_cached({}, 1, QUARTERS).city
    # every new graduate makes one decision at graduation, and only then
    decided = c[["graduates_retained", "graduates_to_beijing", "graduates_to_tianjin", "graduates_elsewhere"]].sum(axis=1)
    assert np.allclose(decided, c["graduates"])
    assert (decided[c["graduates"] == 0] == 0).all() and (c["graduates"] > 0).sum() == 10
    assert (c["graduates_to_beijing"] <= c["outflow_beijing"]).all()  # graduates are part of the outflow


@pytest.mark.parametrize("beta_ties", ["default", "min", "max"])
def test_consortium_keeps_graduates_without_sending_more_to_beijing(run_cached, beta_ties):
    """Consortium ties pull towards Qinhuangdao only; they must not weaken the pull of home (old bug)."""
    p = sim.load_config().schema["beta_ties"]
    base = {} if beta_ties == "default" else {"beta_ties": p.low if beta_ties == "min" else p.high}
    lever = {"industry_education_consortium": 1.0}
    beijing = _paired(run_cached, lever, lambda r: r.summary()["outflow_beijing_total"], base)
    assert np.mean(beijing) <= 0, f"consortium raises cumulative Beijing outflow by {np.mean(beijing):.0f}"
    kept = _paired(run_cached, lever, lambda r: r.summary()["retention_3y"], base)
    assert np.mean(kept) > 0, f"retention_3y paired difference {np.mean(kept):.4f}"


def _graduates(m):
    """Graduate persons by (cohort, university, home ties, consortium): splitting an agent (hiring, layoffs,
    training) keeps these, so the same graduates give the same table whatever became of them."""
    t = m.talent
    g = t.cohort >= 0
    df = pd.DataFrame({"cohort": t.cohort[g], "university": t.university[g], "home_ties": t.home_ties[g],
                       "consortium": t.consortium[g], "persons": t.persons[g]})
    return df.groupby(["cohort", "university", "home_ties", "consortium"])["persons"].sum()


def test_consortium_cannot_touch_home_ties():
    a = sim.ClusterModel(rng=3, quarters=8)
    b = sim.ClusterModel(rng=3, quarters=8, industry_education_consortium=1.0)
    for m in (a, b):
        while m.running:
            m.step()
    grads_a, grads_b = _graduates(a), _graduates(b)
    assert grads_a.sum() > 0 and grads_a.sum() == grads_b.sum()
    home_a = grads_a.groupby(level=["cohort", "university", "home_ties"]).sum()
    home_b = grads_b.groupby(level=["cohort", "university", "home_ties"]).sum()
    assert home_a.index.equals(home_b.index) and (home_a == home_b).all()  # the same graduates, home ties included
    consortium = lambda g: g[g.index.get_level_values("consortium")].sum()  # noqa: E731
    assert consortium(grads_b) > consortium(grads_a)  # the lever did act
    ta, tb = a.talent, b.talent
    at_grad = tb.consortium & (tb.cohort >= 0)
    in_a = ta.cohort >= 0
    assert np.average(tb.ties[at_grad], weights=tb.persons[at_grad]) > np.average(ta.ties[in_a], weights=ta.persons[in_a])
    # local-origin graduates have no pull elsewhere; graduates from elsewhere do
    home = grads_a.groupby(level="home_ties").sum()
    values = home.index.to_numpy()
    assert home[values == 0].sum() / home.sum() > 0.05
    assert np.average(values[values > 0], weights=home[values > 0]) == pytest.approx(a.p["home_ties_graduates"], abs=0.05)


def test_cohort_retention_horizons(run_cached):
    short = run_cached({}, 1, 12).summary()
    assert np.isnan(short["retention_5y"]) and np.isnan(short["retention_3y"])
    assert 0 <= short["retention_1y"] <= 1
    r1, r3, r5 = (_mean(run_cached, {}, f"retention_{y}y") for y in (1, 3, 5))
    assert 0 <= r5 <= 1 and r1 >= r3 >= r5
    assert r1 <= _mean(run_cached, {}, "graduate_retention") + 0.05  # few come back within a year
    res = run_cached({}, 2, QUARTERS)
    c = res.city
    # the cohort followed 4 quarters later is that quarter's graduates; the summary derives from the table
    size_1y = c["cohort_size_1y"].to_numpy()
    assert np.array_equal(size_1y[4:], c["graduates"].to_numpy()[:-4])
    assert res.summary()["retention_3y"] == c["cohort_in_city_3y"].sum() / c["cohort_size_3y"].sum()


def test_training_takes_training_quarters():
    m = sim.ClusterModel(rng=2, quarters=16, in_house_cultivation=0.9, training_quarters=3)
    enrolled_at = np.full(0, -1)
    converted = 0
    while m.running:
        t = m.talent
        was_engineer = t.field == Field.ENGINEERING
        m.step()
        t = m.talent
        enrolled_at = np.r_[enrolled_at, np.full(len(t) - enrolled_at.size, -1)]
        now_digital = np.flatnonzero(was_engineer & (t.field[: was_engineer.size] == Field.DIGITAL))
        assert (enrolled_at[now_digital] >= 0).all()
        assert (m.quarter - enrolled_at[now_digital] >= 3).all(), m.period
        converted += now_digital.size
        enrolled_at[t.training_left == 3] = m.quarter  # countdown runs before enrolment
        c = m.recorder.city
        assert c["spending_in_house_cultivation"][-1] == pytest.approx(
            c["training_enrolled"][-1] * m.p["training_cost_per_person"] * 0.9)
        assert c["trainees"][-1] == t.persons[t.training_left > 0].sum()
    # in persons (an agent's trainees can be split off it): whoever finishes in quarter q enrolled in q - 3
    c = m.recorder.city
    enrolled = np.array(c["training_enrolled"])
    finished = np.array(c["training_completed"]) + np.array(c["training_failed"])
    assert (finished[1:4] == 0).all() and (finished[4:] <= enrolled[1:-3]).all()
    assert converted > 0 and sum(c["training_completed"]) > 0
    assert m.recorder.city["spending_in_house_cultivation"][1] > 0  # booked at enrolment, quarter 1


def test_firms_pay_their_share_of_training_at_enrolment(monkeypatch):
    """The firm's cash falls by its share; nothing else in the quarter separates the two runs."""
    from sim.behaviour import labour

    cash = {}

    def wrapped(m, needs, original=labour._cultivate):
        before = m.firms.cash.copy()
        original(m, needs)
        cash[m.policy.level("cultivation.cofunding")] = (before - m.firms.cash).sum(), m.flows_q.get("training_enrolled", 0.0)

    monkeypatch.setattr(labour, "_cultivate", wrapped)
    for share in (0.2, 0.9):
        m = sim.ClusterModel(rng=4, quarters=1, in_house_cultivation=share)
        m.step()
        paid, persons = cash[share]
        assert persons > 0 and paid == pytest.approx(persons * m.p["training_cost_per_person"] * (1 - share))


def test_in_house_training_raises_digital_talent(run_cached):
    lever = {"in_house_cultivation": 1.0}
    done = _paired(run_cached, lever, lambda r: r.city["training_completed"].sum())
    assert min(done) > 0
    digital = _paired(run_cached, lever, lambda r: r.city["talent_city_digital"].iloc[-1])
    assert np.mean(digital) > 0, f"digital talent paired difference {np.mean(digital):.0f}"
    enrolled = _paired(run_cached, {"in_house_cultivation": 0.6}, lambda r: r.city["training_enrolled"].sum(),
                       base={"in_house_cultivation": 0.0})
    assert min(enrolled) > 0  # co-funding lowers firms' cost, so more of them train


def test_failed_training_leaves_engineers(run_cached):
    p = sim.load_config().schema["training_success_rate"]
    low = {"in_house_cultivation": 0.9, "training_success_rate": p.low}
    high = {"in_house_cultivation": 0.9, "training_success_rate": p.high}

    def diff(outcome):
        return np.mean([outcome(run_cached(high, s, QUARTERS)) - outcome(run_cached(low, s, QUARTERS)) for s in SEEDS])

    assert diff(lambda r: r.city["training_completed"].sum()) > 0
    assert diff(lambda r: r.city["training_failed"].sum()) < 0
    # (the city's digital stock at the end is not asserted: trained staff fill vacancies digital
    # graduates would have taken, so it moves by less than seed noise between these two settings)
    assert min(run_cached(low, s, QUARTERS).city["training_failed"].sum() for s in SEEDS) > 0


def _utilities_as_one_array(m, idx, new_grad):
    """The random-utility formula of sim.behaviour.labour evaluated term by term on a (persons, 4) array: the
    reference sim.behaviour.labour._utilities must reproduce number for number (it looks destinations up in a
    (degree, location) table instead)."""
    from sim.behaviour.labour import DEST_NAMES
    from sim.state.constants import NO_EMPLOYER, Loc

    t, p, city = m.talent, m.p, m.city
    deg, here = t.degree[idx], t.loc[idx]
    employed_here = (here == Loc.CITY) & (t.employer[idx] != NO_EMPLOYER)
    offer = m.city_wage() * m.degree_premium[deg]
    qhd_wage = np.where(employed_here, t.wage[idx], offer * (0.3 + 0.7 * m.job_finding))
    dests = city["destinations"]
    wages = np.column_stack([qhd_wage] + [m.destination_wage(d) * m.degree_premium[deg] for d in DEST_NAMES])
    here_cell = np.where(t.cell[idx] >= 0, t.cell[idx], m.core_cells[0])
    dest_housing = [p[f"housing_{d.lower()}"] * m.destination_wage(d) / p[f"wage_{d.lower()}"] for d in DEST_NAMES]
    housing = np.column_stack([m.layer_values("housing_price")[here_cell]] + [np.full(idx.size, h) for h in dest_housing])
    prosp = np.column_stack([m.prospects[t.field[idx]]] + [np.full(idx.size, dests[d]["prospects"]) for d in DEST_NAMES])
    const = np.array([city["talent"]["qinhuangdao_constant"]] + [dests[d]["constant"] for d in DEST_NAMES])
    u = (p["beta_wage"] * np.log(np.maximum(wages, 1.0)) + p["beta_prospects"] * prosp
         - p["beta_housing"] * np.log(housing) - p["beta_distance"] * m.distance_km[here] / 100.0 + const[None, :])
    u[:, 0] += p["beta_amenity"] * m.layer_values("amenity")[here_cell]
    u -= p["moving_cost"] * (np.arange(4)[None, :] != here[:, None])
    bound = t.stayed_at_graduation[idx] & (m.quarter - t.cohort[idx] < 12)
    owed = np.where(new_grad, 1.0, np.where(bound, 1.0 - (m.quarter - t.cohort[idx]) / 12.0, 0.0))
    u[:, 0] += p["beta_ties"] * t.ties[idx] + p["beta_subsidy"] * owed * m.policy.level("talent_subsidy.settlement") / np.maximum(qhd_wage, 1.0)
    u[:, 3] += p["beta_home"] * t.home_ties[idx]
    return u


@pytest.mark.parametrize("levers", [{}, {"talent_settlement_subsidy": 30000.0, "industry_education_consortium": 0.6}])
def test_stay_or_leave_utilities_are_the_formula_number_for_number(levers):
    """The same seed must give the same moves: the table lookup of destination terms has to give
    bit-identical utilities to the formula on the whole array, for everyone who can move."""
    from sim.behaviour.labour import _utilities
    from sim.model import ClusterModel
    from sim.state.constants import Loc

    m = ClusterModel(config=sim.default_config().with_overrides(levers, quarters=12), rng=6)
    gen = np.random.default_rng(0)
    for _ in range(12):
        m.step()
        idx = np.flatnonzero(m.talent.loc != Loc.RETIRED)
        new_grad = gen.random(idx.size) < 0.1
        assert np.array_equal(_utilities(m, idx, new_grad), _utilities_as_one_array(m, idx, new_grad))


@pytest.mark.parametrize("levers", [{}, {"talent_settlement_subsidy": 30000.0, "industry_education_consortium": 0.6,
                                        "in_house_cultivation": 0.8, "return_consider_rate": 0.05}])
def test_people_in_work_live_in_the_city_and_firm_staff_are_counted_from_them(levers):
    """The labour market relies on it (sim.behaviour.labour.refresh_staff): whoever has an employer lives in
    Qinhuangdao, so leaving or retiring ends the job; firms' skilled counts are their staff."""
    from sim.state.constants import NO_EMPLOYER, Loc

    m = sim.ClusterModel(rng=5, quarters=24, **levers)
    while m.running:
        m.step()
        t, f = m.talent, m.firms
        working = t.employer != NO_EMPLOYER
        assert (t.loc[working] == Loc.CITY).all(), f"quarter {m.quarter}: someone away or retired kept a job"
        staff = t.employer >= 0
        persons = np.bincount(t.employer[staff], weights=t.persons[staff], minlength=len(f))[: len(f)]
        assert np.array_equal(f.skilled, persons)
        digital = staff & (t.field == Field.DIGITAL)
        persons = np.bincount(t.employer[digital], weights=t.persons[digital], minlength=len(f))[: len(f)]
        assert np.array_equal(f.digital_staff, persons)
    assert (m.talent.loc != Loc.CITY).sum() > 0 and working.sum() > 0  # both kinds were there to check
