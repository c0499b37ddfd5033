"""Graduates, jobs and the stay-or-leave choice (paper §2.4 problem 4, §3.5 remedies).

Talent agents are super-individuals: each stands for ``persons`` persons (``persons_per_agent`` when
made) who share field, degree, employer and situation and decide where to live together.

**Resolution.** Production depends on skilled *persons* (a firm's ``skilled`` staff are the persons of
the agents it employs), so every labour-market quantity is in whole persons: vacancies are the gap to
need stochastically rounded to persons, layoffs the whole persons above the threshold, training places
and training success person by person. Where such a quantity concerns only some of an agent's persons,
the agent is split (:func:`split`): a copy holding those persons takes the job (is laid off, enrols,
completes training) and the rest keep their situation; matching lines up the seekers' and the
vacancies' persons (:func:`_line_up`) and splits seekers where one employer's vacancies end
(:func:`_hire`). So a firm needing 3 skilled persons hires 3 persons of a 10-person agent while the
other 7 keep seeking, instead of a whole agent or nobody; a firm's staff, capacity and survival no
longer depend on ``persons_per_agent`` (before, 36% of firms needed less than one agent at the default
10, 18% had no skilled staff, and 2035's status-quo firm count fell from ~930 to ~740 between 1 and 10
persons per agent). Copies keep every attribute, so persons are conserved and cohorts followed as
before; agents are never merged back (more agents at coarse resolutions: ~34,000 instead of ~25,000
rows by 2035 at 10). The migration choice stays per agent: its reconsideration draw and taste shocks
move all its persons together (variance, not bias). Tested in ``tests/test_resolution.py``; the gap
is measured by ``benchmarks/bench_resolution.py``.

Per quarter, in order:

1. **Ageing and retirement** at the statutory age; staff of firms that exited lose their job.
2. **Graduation** (third quarter of each year, i.e. July): each university's cohort by field and degree
   (``city.toml``); ``ties`` to Qinhuangdao from local origin, plus extra ties for graduates trained in
   an industry-education consortium (share = consortium strength); ``home_ties`` (the pull of a home
   region outside the city) are 0 for local-origin graduates and drawn around ``home_ties_graduates``
   for the others. The consortium adds to ``ties`` only. Cohorts are drawn from their own random
   stream (model seed, quarter, university), so the same seed gives the same graduates, home ties
   included, whatever the levers.
3. **Layoffs and vacancies**: a firm needs ``employees x skilled_share(segment)`` skilled persons (a
   digital share rising with its maturity); the whole persons above ``layoff_threshold`` x need are laid
   off, a gap is posted as vacancies (whole persons). Outside manufacturing ``other_jobs_per_year``
   skilled openings appear (one-person slots: many small employers).
4. **Stay or leave** (random utility, Klabunde & Willekens 2016): new graduates all decide; the
   unemployed reconsider with ``unemployed_consider_rate``, employed staff with
   ``migration_consider_employed``, people outside with ``return_consider_rate``. For option j in
   {Qinhuangdao, Beijing, Tianjin, elsewhere}::

       U_j = b_w ln(wage_j) + b_p prospects_j - b_h ln(housing_j) - b_d dist_j / 100 + constant_j
             - moving_cost [j != here] + b_t ties [j = QHD] + b_a amenity [j = QHD]
             + b_s owed_subsidy / wage_QHD [j = QHD] + b_home home_ties [j = elsewhere]
             + Gumbel noise

   Qinhuangdao's housing price and amenity are read from the property layers at the person's cell
   (people outside: the city centre). The Qinhuangdao wage is one's own wage when employed there
   (wages follow the city wage and the employer's level every quarter), else
   ``offer x (0.3 + 0.7 x job-finding rate)`` (the share of job seekers hired per quarter, smoothed over
   about a year). Prospects in Qinhuangdao are the share of skilled jobs that are high-level (leaders,
   little giants, design and service segments, digitally mature firms). The settlement subsidy comes
   with a three-year commitment (assumption): new graduates weigh all of it, subsidised stayers the
   part they would forfeit by leaving; it is booked in full when paid, at graduation, and repayments by
   early leavers are not tracked (a conservative cost).
5. **Matching**: digital vacancies first to digital-field seekers, then the other vacancies to all;
   assortative in persons (best-qualified seekers' persons to best-paid vacancies, with noise);
   consortium graduates queue first.
6. **In-house cultivation** (training that takes time, costs the firm and can fail): firms at maturity
   >= 2 with a digital-staff gap left after matching (digital need minus digital staff minus their
   trainees) enrol engineering staff. Each open slot is filled with probability
   ``training_uptake_max x exp(-training_cost_sensitivity x net_cost / (training_success_rate x wage))``
   (slots and trainees in persons),
   where ``net_cost = training_cost_per_person x (1 - in_house_cultivation)`` is the firm's share per
   trainee and ``wage`` the annual city wage (the value of a digital staffer the firm cannot hire);
   only profitable firms enrol, spending at most a fifth of their cash (assumption). The firm pays its
   share at enrolment, the government the rest (lever
   ``in_house_cultivation`` = co-funded share). Trainees keep working; after ``training_quarters`` they
   become digital with probability ``training_success_rate`` (else stay engineers). Trainees who leave
   their firm or the city before the end lose the training. Success is drawn person by person.
"""

from __future__ import annotations

import numpy as np

from sim.state.compiled import kernel, pairwise_sum
from sim.state.constants import NO_EMPLOYER, OTHER_SECTOR, Field, Loc, SizeClass
from sim.state.tables import stochastic_round, take_within_groups, uniform_choice, weighted_draws

DEST_NAMES = ("Beijing", "Tianjin", "Elsewhere")
RETIRED, CITY, N_LOC = int(Loc.RETIRED), int(Loc.CITY), len(Loc)  # (kernels take plain ints)
DIGITAL, ENGINEERING, LEADER = int(Field.DIGITAL), int(Field.ENGINEERING), int(SizeClass.LEADER)
RETURN_TIES = 0.3  # ties to the city of someone who comes back are at least this (assumption, as before)


def refresh_staff(m, staff: np.ndarray | None = None) -> np.ndarray:
    """Skilled and digital persons per firm (the persons of the agents it employs); returns the staff's
    rows (``staff``, when the caller knows them already).

    Firm staff live in the city: whoever moves away or retires leaves their employer (``step``,
    ``_migrate``) and only seekers in the city are hired, so ``employer >= 0`` marks the staff.
    """
    t, f = m.talent, m.firms
    if staff is None:
        staff = np.flatnonzero(t.employer >= 0)
    _staff_counts(staff, t.persons, t.employer, t.field, f.skilled, f.digital_staff)
    m._staff_known = True
    return staff


@kernel
def _staff_counts(staff, persons, employer, field, skilled, digital):
    """Persons per firm of the ``staff`` rows, and of them the digital ones (sums of whole persons)."""
    skilled[:] = 0.0
    digital[:] = 0.0
    for i in staff:
        skilled[employer[i]] += persons[i]
        if field[i] == DIGITAL:
            digital[employer[i]] += persons[i]


def split(m, rows: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Split ``take`` persons (0 <= take <= persons) off each agent of ``rows``; returns the rows that now
    hold exactly the taken persons (the agent itself when all its persons are taken, else a new agent).

    The new agent is a copy of its parent (field, degree, age, ties, cohort, employer, training, ...)
    with ``take`` persons; the parent keeps the rest. Persons are conserved; agents with nothing
    taken are left alone.
    """
    t = m.talent
    whole, parents, part = _split_plan(rows, np.asarray(take, np.int64), t.persons)
    new = t.copy_rows(parents)
    _split_persons(new, parents, part, t.persons)
    return np.concatenate((whole, new))


@kernel
def _split_plan(rows, take, persons):
    """Of ``rows``: those whose persons are all taken, and those that give only ``part`` of them."""
    n_whole = n_part = 0
    for k in range(rows.size):
        if take[k] > 0:
            if take[k] < persons[rows[k]]:
                n_part += 1
            else:
                n_whole += 1
    whole = np.empty(n_whole, np.int64)
    parents = np.empty(n_part, np.int64)
    part = np.empty(n_part, np.int64)
    a = b = 0
    for k in range(rows.size):
        if take[k] > 0:
            if take[k] < persons[rows[k]]:
                parents[b], part[b] = rows[k], take[k]
                b += 1
            else:
                whole[a] = rows[k]
                a += 1
    return whole, parents, part


@kernel
def _split_persons(new, parents, part, persons):
    for k in range(new.size):
        persons[new[k]] = part[k]
        persons[parents[k]] -= part[k]


def step(m) -> None:
    t, p = m.talent, m.p
    m.prospects = prospects(m)
    # wages of those in work follow the city's wage and their employer's level; a quarter older;
    # retirement at the statutory age; staff of firms that exited lose their job
    retired, staff = _age_and_retire(t.age, t.tenure, t.loc, t.employer, t.cell, t.wage, t.persons, t.degree,
                                     m.city_wage() * m.degree_premium, m.employer_levels(), float(p["retirement_age"]),
                                     m.firms.alive)
    m.flows_q["retired"] = int(retired)
    new_grads = _graduate(m) if m.quarter_of_year == 3 else np.zeros(0, np.int64)
    need = skilled_need(m)  # firms' sizes and maturity do not change in the labour market
    _layoffs(m, need, staff)
    _migrate(m, new_grads)
    _match(m, need)
    _cultivate(m, need)  # ends with the staff counts of the quarter (refresh_staff after the last hire)
    # ties of people away fade (a factor per location: 1 in the city and in retirement)
    fade = np.ones(len(Loc))
    fade[[Loc.BEIJING, Loc.TIANJIN, Loc.ELSEWHERE]] = 1.0 - m.city["talent"]["ties_decay"]
    _fade_ties(t.ties, t.loc, fade)


@kernel
def _fade_ties(ties, loc, fade):
    """Ties times the fading factor of where each row lives."""
    for i in range(ties.size):
        ties[i] *= fade[loc[i]]


@kernel
def _age_and_retire(age, tenure, loc, employer, cell, wage, persons, degree, wage_by_degree, level, retirement_age,
                    firm_alive):
    """One pass over the talent rows (``step``): wages of those in work (``employer != NO_EMPLOYER``) =
    ``wage_by_degree[degree] x level[employer]`` (ClusterModel.wage_offer); ages + 0.25 years, tenure + 1
    quarter; rows reaching ``retirement_age`` retire (no employer, no cell); staff of firms no longer
    alive lose their job. Returns (persons retired, the rows still employed by a firm)."""
    retired = 0
    n_staff = 0
    for i in range(age.size):
        if employer[i] != NO_EMPLOYER:
            wage[i] = wage_by_degree[degree[i]] * level[employer[i]]
        age[i] += 0.25
        tenure[i] += 1
        if age[i] >= retirement_age and loc[i] != RETIRED:
            loc[i] = RETIRED
            employer[i] = NO_EMPLOYER
            cell[i] = -1
            retired += persons[i]
        if employer[i] >= 0:
            if firm_alive[employer[i]]:
                n_staff += 1
            else:
                employer[i] = NO_EMPLOYER
    staff = np.empty(n_staff, np.int64)
    k = 0
    for i in range(age.size):
        if employer[i] >= 0:
            staff[k] = i
            k += 1
    return retired, staff


def _graduate(m) -> np.ndarray:
    city, t = m.city, m.talent
    tal = city["talent"]
    home_mean = m.p["home_ties_graduates"]
    cohorts = []
    for ui, spec in enumerate(city["universities"].values()):
        # the cohort's own stream: same seed, same graduates (home ties included) under any levers
        rng = np.random.default_rng([int(m._seed) % 2**32, 20250701, m.quarter, ui])
        n = int(stochastic_round(spec["graduates"] / m.persons_per_agent, rng))
        field = weighted_draws(rng, spec["fields"], n)
        degree = weighted_draws(rng, spec["degrees"], n)
        local = rng.random(n) < spec["local_origin"]
        consortium = rng.random(n) < m.policy.level("consortium.ties")
        ties = np.where(local, tal["local_origin_ties"], tal["new_graduate_ties"]) + consortium * tal["consortium_ties"]
        # pull of home outside the city: none for local origin (home is Qinhuangdao, counted in ties)
        home = np.where(local, 0.0, rng.beta(4.0 * home_mean, 4.0 * (1.0 - home_mean), n))
        cell = m.seat_cell[m.layout.district_names.index(spec["district"])]
        cohorts.append(dict(field=field, degree=degree, cell=np.full(n, cell), ties=np.minimum(ties, 1.0),
                            university=np.full(n, ui), consortium=consortium, home_ties=home))
    cols = {name: np.concatenate([c[name] for c in cohorts]) for name in cohorts[0]}
    idx = t.append(cols["field"].size, persons=m.persons_per_agent, loc=Loc.CITY, employer=NO_EMPLOYER,
                   age=np.array([21.0, 22.0, 25.0])[cols["degree"]], wage=0.0, tenure=0, cohort=m.quarter,
                   **cols)  # Talent agents are made when first asked for
    m.graduate_persons_total += idx.size * m.persons_per_agent
    m.flows_q["graduates"] = idx.size * m.persons_per_agent
    return idx


def skilled_need(m) -> tuple[np.ndarray, np.ndarray]:
    """Skilled persons each firm needs, and how many of them digital."""
    f = m.firms
    need = np.where(f.alive, f.employees * m.skilled_share[f.segment], 0.0)
    digital = need * (0.04 + 0.05 * (f.maturity - 1))
    return need, digital


def _layoffs(m, needs: tuple[np.ndarray, np.ndarray], staff: np.ndarray) -> None:
    """Firms lay off the whole persons they have above ``layoff_threshold`` x need, from staff agents
    in random order (the last agent cut is split: only its surplus persons go); ``staff`` are the
    rows of all firm staff."""
    t, f, rng = m.talent, m.firms, m.rng
    need, _ = needs
    refresh_staff(m, staff)
    k, staff = _cuts(staff, t.employer, f.skilled, need, m.p["layoff_threshold"])  # persons per firm, their staff
    if staff.size == 0:
        return
    employer = t.employer[staff]
    keys = rng.random(staff.size)
    take = take_within_groups(employer, keys, t.persons[staff], k)
    fired = split(m, staff, take)
    t.employer[fired] = NO_EMPLOYER
    m.flows_q["layoffs"] = int(take.sum())


@kernel
def _cuts(staff, employer, skilled, need, threshold):
    """Whole persons each firm lays off (those above ``threshold`` x need) and the staff rows of the
    firms that lay off (none when nobody does)."""
    k = np.empty(skilled.size, np.int64)
    total = 0
    for j in range(skilled.size):
        k[j] = np.int64(np.floor(max(0.0, skilled[j] - threshold * need[j])))
        total += k[j]
    if staff.size == 0 or total == 0:
        return k, np.zeros(0, np.int64)
    cutting = np.zeros(staff.size, np.bool_)
    for s in range(staff.size):
        cutting[s] = k[employer[staff[s]]] > 0
    return k, staff[cutting]


def prospects(m) -> np.ndarray:
    """Share of high-level skilled jobs in the city, per field (engineering, digital, other)."""
    f = m.firms
    general, digital = _prospects(f.alive, f.size_class, f.little_giant, f.segment, f.maturity, f.skilled,
                                  m.city["talent"]["prospects_weight_digital"])
    return np.array([general, digital, general])


@kernel
def _prospects(alive, size_class, little_giant, segment, maturity, skilled, digital_weight):
    """Skilled-job-weighted shares of high-level jobs: general (leaders 0.4, little giants 0.3, design and
    service segments 0.3, digital maturity up to 0.3; at most 1) and digital (half the general level
    plus ``digital_weight`` x maturity). Sums in numpy's order."""
    n = alive.size
    w = np.empty(n)
    general = np.empty(n)
    digital = np.empty(n)
    for i in range(n):
        level = (0.4 * (1.0 if size_class[i] == LEADER else 0.0) + 0.3 * (1.0 if little_giant[i] else 0.0)
                 + 0.3 * (1.0 if 2 <= segment[i] <= 3 else 0.0) + 0.3 * (maturity[i] - 1) / 4.0)
        level = min(level, 1.0)
        w[i] = skilled[i] if alive[i] else 0.0
        general[i] = level * w[i]
        digital[i] = min(1.0, 0.5 * level + digital_weight * (maturity[i] - 1) / 4.0) * w[i]
    total = max(pairwise_sum(w, 0, n), 1.0)
    return pairwise_sum(general, 0, n) / total, pairwise_sum(digital, 0, n) / total


def _utilities(m, idx: np.ndarray, new_grad: np.ndarray) -> np.ndarray:
    """(len(idx), 4) utilities of Qinhuangdao, Beijing, Tianjin, elsewhere (without noise).

    A destination's terms depend on a person only through degree and current location, so they are
    a (degree, location) table looked up per person; Qinhuangdao's column is computed per person. The
    terms are added in the order of the module docstring's formula (the same numbers as evaluating it
    on a (persons, 4) array). Logarithms are taken by numpy (module ``sim.state.compiled``).
    """
    t, p, city = m.talent, m.p, m.city
    qhd_wage = _qhd_wage(idx, t.employer, t.wage, t.degree, m.city_wage() * m.degree_premium,
                         OFFER_FLOOR + (1.0 - OFFER_FLOOR) * m.job_finding)
    dests = city["destinations"]
    here_cell = np.where(t.cell[idx] >= 0, t.cell[idx], m.core_cells[0])
    distance = p["beta_distance"] * m.distance_km / 100.0  # (from, to) locations
    moving = p["moving_cost"] * (np.arange(4)[None, :] != np.arange(distance.shape[0])[:, None])  # (from, to)
    # the destinations' terms by (destination, degree, location), all three at once
    dest_wage = np.array([m.destination_wage(d) for d in DEST_NAMES])
    wage = dest_wage[:, None] * m.degree_premium[None, :]
    # destination prices grow with their wages, as Qinhuangdao's layer grows with the city wage
    housing = np.array([p[f"housing_{d.lower()}"] * m.destination_wage(d) / p[f"wage_{d.lower()}"] for d in DEST_NAMES])
    dest_prospects = np.array([dests[d]["prospects"] for d in DEST_NAMES])
    constant = np.array([dests[d]["constant"] for d in DEST_NAMES])
    by_degree = (p["beta_wage"] * np.log(np.maximum(wage, 1.0)) + p["beta_prospects"] * dest_prospects[:, None]
                 - p["beta_housing"] * np.log(np.broadcast_to(housing[:, None], wage.shape)))
    table = by_degree[:, :, None] - distance.T[1:, None, :] + constant[:, None, None] - moving.T[1:, None, :]
    betas = np.array([p["beta_wage"], p["beta_prospects"], p["beta_housing"], city["talent"]["qinhuangdao_constant"],
                      p["beta_amenity"], p["beta_ties"], p["beta_subsidy"], p["beta_home"]])
    return _utility_matrix(idx, new_grad, np.log(np.maximum(qhd_wage, 1.0)),
                   np.log(m.layer_values("housing_price")[here_cell]), m.layer_values("amenity")[here_cell], qhd_wage,
                   t.loc, t.degree, t.field, t.ties, t.stayed_at_graduation, t.cohort, t.home_ties, m.prospects,
                   distance, moving, table, betas, m.quarter, float(m.policy.level("talent_subsidy.settlement")))


OFFER_FLOOR = 0.3  # share of the offer a job seeker expects with no chance of finding a job (docstring)
COMMITMENT_QUARTERS = 12  # the settlement subsidy's commitment (three years, assumption)


@kernel
def _qhd_wage(idx, employer, wage, degree, offer_by_degree, expected):
    """Qinhuangdao wage each ``idx`` row weighs: its own when employed there, else the offer for its
    degree x ``expected`` (the job-finding factor)."""
    out = np.empty(idx.size)
    for k in range(idx.size):
        i = idx[k]
        out[k] = wage[i] if employer[i] != NO_EMPLOYER else offer_by_degree[degree[i]] * expected
    return out


@kernel
def _utility_matrix(idx, new_grad, log_wage, log_housing, amenity, qhd_wage, loc, degree, field, ties, stayed,
                    cohort, home_ties, prospects, distance, moving, table, betas, quarter, settlement):
    """The utility of each option for each ``idx`` row (module docstring's formula, terms added in its
    order)."""
    b_wage, b_prospects, b_housing, constant, b_amenity, b_ties, b_subsidy, b_home = (
        betas[0], betas[1], betas[2], betas[3], betas[4], betas[5], betas[6], betas[7])
    u = np.empty((idx.size, 4))
    for k in range(idx.size):
        i = idx[k]
        here, deg = loc[i], degree[i]
        u0 = (b_wage * log_wage[k] + b_prospects * prospects[field[i]] - b_housing * log_housing[k]
              - distance[here, 0] + constant)
        u0 += b_amenity * amenity[k]
        u0 -= moving[here, 0]
        # the settlement subsidy comes with a three-year commitment: new graduates weigh all of it,
        # subsidised stayers weigh the part they would forfeit by leaving before three years
        if new_grad[k]:
            owed = 1.0
        elif stayed[i] and quarter - cohort[i] < COMMITMENT_QUARTERS:
            owed = 1.0 - (quarter - cohort[i]) / float(COMMITMENT_QUARTERS)
        else:
            owed = 0.0
        u0 += b_ties * ties[i] + b_subsidy * owed * settlement / max(qhd_wage[k], 1.0)
        u[k, 0] = u0
        for d in range(3):
            u[k, d + 1] = table[d, deg, here]
        u[k, 3] += b_home * home_ties[i]  # pull of a home region outside the city
    return u


@kernel
def _choose(u, noise):
    """Per row, the option of the largest utility + noise (the first such, as ``np.argmax``)."""
    choice = np.empty(u.shape[0], np.int8)
    for k in range(u.shape[0]):
        best, pick = -np.inf, 0
        for d in range(u.shape[1]):
            v = u[k, d] + noise[k, d]
            if d == 0 or v > best:
                best, pick = v, d
        choice[k] = pick
    return choice


def _migrate(m, new_grads: np.ndarray) -> None:
    t, p, rng = m.talent, m.p, m.rng
    r = rng.random(len(t))
    # reconsideration chance by where one lives (retired people never move), employed people's own
    # (in work means in the city, refresh_staff): a table by location + len(Loc) x in work
    chance = np.zeros(2 * len(Loc))
    chance[Loc.CITY] = p["unemployed_consider_rate"]
    chance[[Loc.BEIJING, Loc.TIANJIN, Loc.ELSEWHERE]] = p["return_consider_rate"]
    chance[len(Loc) + Loc.CITY] = p["migration_consider_employed"]
    idx, is_new = _considering(r, t.loc, t.employer, chance, new_grads)
    if idx.size == 0:
        return
    u = _utilities(m, idx, is_new)
    choice = _choose(u, rng.gumbel(size=u.shape))
    # graduates who stay get the settlement subsidy; persons by destination of the new graduates, of
    # those who left the city, and those who came back
    graduates, outflow, back_persons, ret = _move(idx, choice, is_new, t.loc, t.employer, t.cell, t.persons,
                                                  t.stayed_at_graduation)
    m.spend("talent_settlement_subsidy", graduates[Loc.CITY] * m.policy.level("talent_subsidy.settlement"))
    m.flows_q["graduates_retained"] = graduates[Loc.CITY]
    for loc, name in zip((Loc.BEIJING, Loc.TIANJIN, Loc.ELSEWHERE), ("beijing", "tianjin", "elsewhere")):
        key = "graduates_elsewhere" if name == "elsewhere" else f"graduates_to_{name}"
        m.flows_q[key] = graduates[loc]
        m.flows_q[f"outflow_{name}"] = outflow[loc]
    m.flows_q["return_inflow"] = float(back_persons)
    t.cell[ret] = uniform_choice(rng, m.core_cells, ret.size)
    t.ties[ret] = np.maximum(t.ties[ret], RETURN_TIES)


@kernel
def _considering(r, loc, employer, chance, new_grads):
    """Rows that reconsider where to live this quarter: ``r < chance[loc + len(Loc) x in work]``, and
    every new graduate. Returns (rows, whether each is a new graduate)."""
    consider = np.empty(loc.size, np.bool_)
    for i in range(loc.size):
        consider[i] = r[i] < chance[loc[i] + (N_LOC if employer[i] != NO_EMPLOYER else 0)]
    new = np.zeros(loc.size, np.bool_)
    for i in new_grads:
        consider[i] = True
        new[i] = True
    idx = np.flatnonzero(consider)
    return idx, new[idx]


@kernel
def _move(idx, choice, is_new, loc, employer, cell, persons, stayed_at_graduation):
    """Apply the choices of the ``idx`` rows: movers change location, lose their job and cell; new
    graduates who stay are marked (settlement subsidy). Returns persons by destination of the new
    graduates and of those leaving the city, the persons who came back, and the rows that came back
    (to be given a cell)."""
    graduates = np.zeros(4)
    outflow = np.zeros(4)
    back = 0.0
    n_back = 0
    for k in range(idx.size):
        i, c = idx[k], choice[k]
        if is_new[k]:
            graduates[c] += persons[i]
            if c == CITY:
                stayed_at_graduation[i] = True
        if c != loc[i]:
            if loc[i] == CITY:
                outflow[c] += persons[i]
            if c == CITY:
                back += persons[i]
                n_back += 1
    ret = np.empty(n_back, np.int64)
    j = 0
    for k in range(idx.size):
        i, c = idx[k], choice[k]
        if c != loc[i]:
            if c == CITY:
                ret[j] = i
                j += 1
            loc[i] = c
            employer[i] = NO_EMPLOYER
            cell[i] = -1
    return graduates, outflow, back, ret


def _match(m, needs: tuple[np.ndarray, np.ndarray]) -> None:
    """Vacancies in whole persons (the gap to need, stochastically rounded) filled from the seekers:
    digital vacancies by digital-field seekers first, then the other vacancies and the openings
    outside manufacturing by all (module docstring, step 5)."""
    t, f, p, rng = m.talent, m.firms, m.p, m.rng
    need, dig_need = needs
    gap = np.maximum(0.0, need - f.skilled)
    dig_gap = np.minimum(gap, np.maximum(0.0, dig_need - f.digital_staff))
    dig_slots = stochastic_round(dig_gap, rng)  # persons per firm
    gen_slots = stochastic_round(gap - dig_gap, rng)
    other = int(stochastic_round(p["other_jobs_per_year"] / 4.0, rng))  # persons
    seekers = _seekers(t.loc, t.employer)
    if seekers.size == 0:
        return
    # best qualified first: degree, consortium graduates ahead, noise
    seekers = _queue(seekers, t.degree, t.consortium, rng.gumbel(size=seekers.size), float(p["matching_noise"]))
    persons = t.persons[seekers]
    # log wage of a bachelor by employer code (firm rows, then OTHER_SECTOR (-2) and NO_EMPLOYER (-1))
    n = len(f)
    log_wage = np.log(m.wage_offer(np.arange(-2, n), np.ones(n + 2, np.int64)))  # codes -2, -1, 0, 1, ...
    log_wage = np.concatenate((log_wage[2:], log_wage[:2]))
    firms = np.arange(n)
    dig = np.flatnonzero(t.field[seekers] == Field.DIGITAL)
    owner, employer, count = _line_up(m, persons[dig], firms, dig_slots, log_wage)
    owner = dig[owner]
    left = persons - np.bincount(owner, weights=count, minlength=seekers.size).astype(np.int64)
    # then everyone still seeking, to the other vacancies and the openings outside manufacturing
    rest = np.flatnonzero(left)
    owner2, employer2, count2 = _line_up(m, left[rest], firms, gen_slots, log_wage, other)
    hired = _hire(m, seekers, np.concatenate((owner, rest[owner2])), np.concatenate((employer, employer2)),
                  np.concatenate((count, count2)))
    m.flows_q["hires"] = hired
    # job-finding rate job seekers expect: smoothed share of seekers (persons) hired per quarter
    m.job_finding = 0.75 * m.job_finding + 0.25 * hired / float(persons.sum())


def _line_up(m, amounts: np.ndarray, slot_employer: np.ndarray, slot_persons: np.ndarray,
             log_wage: np.ndarray, other: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assortative matching in persons: seekers (``amounts`` persons each, best qualified first) fill
    slots sorted by wage with noise (``log_wage`` by employer code), best paid first.

    A slot is an employer's vacancies (``slot_persons`` whole persons). Persons are lined up, the
    seekers' in order and the slots' in wage order, and paired one to one (computed on cumulative
    persons, not person by person). Returns the pieces (seeker index into ``amounts``, employer,
    persons): a seeker whose persons go to several employers has several pieces.

    ``other`` openings outside manufacturing are one-person slots (many small employers) whose noisy
    log wages are independent draws ``log_wage[OTHER_SECTOR] + 0.1 Gumbel``. Rather than drawing and
    sorting each, the numbers of them above the best firm slot, between each two firm slots and below
    the last are drawn from their multinomial law (the same order, in distribution), and they enter the
    line as blocks between the firm slots.
    """
    open_ = np.flatnonzero(slot_persons)
    empty = np.zeros(0, np.int64)
    if amounts.size == 0 or (open_.size == 0 and other == 0):
        return empty, empty, empty
    slot_employer, slot_persons = slot_employer[open_], slot_persons[open_]
    noisy = log_wage[slot_employer] + m.rng.gumbel(size=slot_employer.size) * 0.1
    order = np.argsort(-noisy)
    slot_employer, slot_persons = slot_employer[order], slot_persons[order]
    if other:
        # P(an opening's value is below each firm slot's), Gumbel CDF, best paid first
        below = np.exp(-np.exp(-np.clip((noisy[order] - log_wage[OTHER_SECTOR]) / 0.1, -50.0, 50.0)))
        share = -np.diff(np.concatenate(([1.0], below, [0.0])))  # above the first, between, below the last
        blocks = m.rng.multinomial(other, share)
        employer = np.full(2 * slot_employer.size + 1, OTHER_SECTOR)
        employer[1::2] = slot_employer
        persons = np.empty(employer.size, np.int64)
        persons[0::2], persons[1::2] = blocks, slot_persons
        open_ = np.flatnonzero(persons)
        slot_employer, slot_persons = employer[open_], persons[open_]
    return _pieces(np.asarray(amounts, np.int64), slot_employer, np.asarray(slot_persons, np.int64))


@kernel
def _pieces(amounts, slot_employer, slot_persons):
    """The line of persons (seekers' in order, slots' in order) cut where a seeker's or a slot's
    persons end: each stretch is a piece (seeker index, employer, persons) of one seeker going to one
    employer, until the seekers or the slots run out."""
    n = amounts.size + slot_persons.size
    owner = np.empty(n, np.int64)
    employer = np.empty(n, np.int64)
    count = np.empty(n, np.int64)
    i = j = k = 0
    seeker_left = amounts[0] if amounts.size else 0
    slot_left = slot_persons[0] if slot_persons.size else 0
    while i < amounts.size and j < slot_persons.size:
        take = min(seeker_left, slot_left)
        if take > 0:
            owner[k], employer[k], count[k] = i, slot_employer[j], take
            k += 1
        seeker_left -= take
        slot_left -= take
        if seeker_left == 0:
            i += 1
            if i < amounts.size:
                seeker_left = amounts[i]
        if slot_left == 0:
            j += 1
            if j < slot_persons.size:
                slot_left = slot_persons[j]
    return owner[:k], employer[:k], count[:k]


@kernel
def _seekers(loc, employer):
    """Rows of job seekers: in the city without a job."""
    return np.flatnonzero((loc == CITY) & (employer == NO_EMPLOYER))


@kernel
def _queue(seekers, degree, consortium, noise, scale):
    """``seekers`` best qualified first: by degree + 1 for consortium graduates + ``scale`` x noise."""
    key = np.empty(seekers.size)
    for k in range(seekers.size):
        i = seekers[k]
        key[k] = degree[i] + 1.0 * consortium[i] + noise[k] * scale
    return seekers[np.argsort(-key)]


def _hire(m, seekers: np.ndarray, owner: np.ndarray, employer: np.ndarray, count: np.ndarray) -> int:
    """Give the pieces (index into ``seekers``, employer, persons) their jobs; returns the persons hired.

    A seeker hired whole keeps its row for its first piece; every other piece is split off it
    (:func:`split` semantics: a copy with the piece's persons), and the persons left keep seeking in
    the seeker's row. So a firm gets exactly the persons it hires, whatever ``persons_per_agent``.
    """
    if owner.size == 0:
        return 0
    t = m.talent
    # a seeker's one-person slots outside manufacturing are one piece (pieces come in seeker order
    # within each matching round, and only the second has such slots)
    owner, employer, count, rows, reuse, rest = _hire_plan(seekers, owner, employer, count, t.persons)
    who = rows.copy()
    who[~reuse] = t.copy_rows(rows[~reuse], skip=("persons", "employer", "wage", "tenure", "cell"))  # set below
    elsewhere = _hire_apply(who, count, employer, seekers, rest, t.persons, t.employer, t.wage, t.tenure, t.cell,
                            t.degree, m.city_wage() * m.degree_premium, m.employer_levels(), m.firms.cell)
    if elsewhere.size:
        t.cell[elsewhere] = uniform_choice(m.rng, m.core_cells, elsewhere.size)
    return int(count.sum())


@kernel
def _hire_plan(seekers, owner, employer, count, persons):
    """The pieces to give (one piece per seeker for its slots outside manufacturing), the seeker row of
    each, whether the piece keeps that row (the seeker's first piece when it is hired whole) and the
    persons each seeker keeps seeking with."""
    keep = np.ones(owner.size, np.bool_)
    count = count.copy()
    last_other = -1  # index of the last piece outside manufacturing
    for k in range(owner.size):
        if employer[k] == OTHER_SECTOR:
            if last_other >= 0 and owner[last_other] == owner[k]:
                count[last_other] += count[k]
                keep[k] = False
            else:
                last_other = k
    owner, employer, count = owner[keep], employer[keep], count[keep]
    rest = np.empty(seekers.size, np.int64)
    for s in range(seekers.size):
        rest[s] = persons[seekers[s]]
    first = np.full(seekers.size, -1)
    for k in range(owner.size):
        rest[owner[k]] -= count[k]
        if first[owner[k]] < 0:
            first[owner[k]] = k
    reuse = np.zeros(owner.size, np.bool_)
    for s in range(seekers.size):
        if rest[s] == 0 and first[s] >= 0:
            reuse[first[s]] = True
    return owner, employer, count, seekers[owner], reuse, rest


@kernel
def _hire_apply(who, count, employer, seekers, rest, persons, employer_col, wage, tenure, cell, degree,
                wage_by_degree, level, firm_cell):
    """Write the hires: persons, employer, wage (ClusterModel.wage_offer), tenure 0 and, at a firm,
    its cell; the seekers partly hired keep their other persons. Returns the rows hired outside
    manufacturing (to be given a cell in the city)."""
    for s in range(seekers.size):
        if rest[s] > 0 and rest[s] < persons[seekers[s]]:
            persons[seekers[s]] = rest[s]
    n_else = 0
    for k in range(who.size):
        i = who[k]
        persons[i] = count[k]
        employer_col[i] = employer[k]
        wage[i] = wage_by_degree[degree[i]] * level[employer[k]]
        tenure[i] = 0
        if employer[k] >= 0:
            cell[i] = firm_cell[employer[k]]
        else:
            n_else += 1
    elsewhere = np.empty(n_else, np.int64)
    j = 0
    for k in range(who.size):
        if employer[k] < 0:
            elsewhere[j] = who[k]
            j += 1
    return elsewhere


@kernel
def _training_countdown(loc, employer, training_employer, training_left):
    """Trainees who left the city or their firm lose the training; the others count a quarter down.
    Returns (rows still in training, rows whose training ends now), each in row order."""
    n = 0
    for i in range(loc.size):
        if training_left[i] > 0:
            n += 1
    still = np.empty(n, np.int64)
    done = np.empty(n, np.int64)
    a = b = 0
    for i in range(loc.size):
        if training_left[i] > 0:
            if loc[i] != CITY or employer[i] != training_employer[i]:
                training_left[i] = 0
                continue
            training_left[i] -= 1
            if training_left[i] == 0:
                done[b] = i
                b += 1
            else:
                still[a] = i
                a += 1
    return still[:a], done[:b]


@kernel
def _enrolment_pool(staff, employer, field, training_left, slots, done):
    """Engineers on the ``staff`` rows of firms with training ``slots``, not in training and not among
    the rows whose training just ended (``done``), in row order."""
    just_done = set()
    for i in done:
        just_done.add(i)
    keep = np.zeros(staff.size, np.bool_)
    for k in range(staff.size):
        i = staff[k]
        keep[k] = (slots[employer[i]] > 0 and field[i] == ENGINEERING and training_left[i] == 0
                   and i not in just_done)
    return staff[keep]


def _cultivate(m, needs: tuple[np.ndarray, np.ndarray]) -> None:
    """In-house training of engineers into composite digital talent (module docstring, step 6);
    ``needs`` = :func:`skilled_need` of this quarter."""
    t, f, p, rng = m.talent, m.firms, m.p, m.rng
    cost, share = p["training_cost_per_person"], m.policy.level("cultivation.cofunding")
    # trainees who left their firm or the city lose the training; the others count down; at the end,
    # success (person by person) makes composite digital talent, failure leaves an engineer
    still, done = _training_countdown(t.loc, t.employer, t.training_employer, t.training_left)
    if done.size:
        done_persons = int(t.persons[done].sum())
        ok = split(m, done, rng.binomial(t.persons[done], p["training_success_rate"]))
        t.field[ok] = Field.DIGITAL
        completed = int(t.persons[ok].sum())
        m.flows_q["training_completed"] = completed
        m.flows_q["training_failed"] = done_persons - completed
    # enrolment: digital posts (persons) still open after matching, at firms at maturity >= 2
    staff = refresh_staff(m)
    n = len(f)
    _, dig_need = needs
    trainees = np.bincount(t.employer[still], weights=t.persons[still], minlength=n)[:n]
    gap = np.where(f.alive & (f.maturity >= 2), np.maximum(0.0, dig_need - f.digital_staff - trainees), 0.0)
    net = cost * (1.0 - share)  # the firm's cost per trainee, yuan
    prob = p["training_uptake_max"] * np.exp(
        -p["training_cost_sensitivity"] * net / (p["training_success_rate"] * m.city_wage()))
    places = stochastic_round(gap, rng)  # persons
    slots = np.zeros(n, np.int64)
    open_ = np.flatnonzero(places)
    slots[open_] = rng.binomial(places[open_], prob)  # (a binomial of 0 draws nothing)
    if net > 0:  # profitable firms only, spending at most a fifth of their cash (assumption)
        budget = np.where(f.profit > 0, 0.2 * np.maximum(f.cash, 0.0), 0.0)
        slots = np.minimum(slots, np.floor(budget / net).astype(np.int64))
    if slots.sum() == 0:
        return
    # engineers of the firms that enrol, not in training and not just back from it (agents split off
    # ``done`` above are its successes: digital, not engineers)
    eng = _enrolment_pool(staff, t.employer, t.field, t.training_left, slots, done)
    if eng.size == 0:
        return
    keys = rng.random(eng.size)
    new = split(m, eng, take_within_groups(t.employer[eng], keys, t.persons[eng], slots))
    t.training_left[new] = max(1, int(round(p["training_quarters"])))
    t.training_employer[new] = t.employer[new]
    enrolled = t.persons[new]
    f.cash[:] -= np.bincount(t.employer[new], weights=enrolled, minlength=n)[:n] * net
    m.flows_q["firm_training_spending"] += float(enrolled.sum()) * net
    m.spend("in_house_cultivation", float(enrolled.sum()) * cost * share)
    m.flows_q["training_enrolled"] = int(enrolled.sum())
