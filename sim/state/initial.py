"""The start state (2025Q1): firms and talent generated to reproduce the paper's figures.

Firms: per cluster, the named leaders of ``city.toml`` first, then SMEs whose revenues follow a
log-normal law scaled so the cluster's total matches its cited revenue (automotive 327.9亿, medical
222.9亿, ...). Segment mix is mid-chain heavy; niches are herded (Zipf), so homogeneity is high;
22 little giants are the most technological cluster SMEs among those meeting what the start can
show of MIIT's criteria (sim.behaviour.rules); about a third of above-scale firms do R&D (the
participation logit of sim.behaviour.innovation, its intercept solved here to match
``rd_participation_share``), each at its own intensity; the records the yearly reviews read start
from an assumed past (``start_records``); digital maturity follows the CESI 2022 shares, assigned by
size so large firms are more mature. Talent: skilled staff of each firm (its segment's
skilled share of employees, in whole persons by field, packed into agents of ``persons_per_agent``
persons and one smaller remainder agent), an unemployed pool, a stock in the non-manufacturing sector, and
city-trained talent living in Beijing, Tianjin and elsewhere (the return-migration pool), each with
ties to the city and ``home_ties`` (pull of a home region outside it).
"""

from __future__ import annotations

import numpy as np

from sim.state.constants import NO_EMPLOYER, OTHER_SECTOR, Field, Loc, SizeClass
from sim.state.tables import normalised_cdf, stochastic_round


def _counts(shares: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to n, proportional to shares (largest remainder)."""
    raw = np.asarray(shares, float) * n
    out = np.floor(raw).astype(int)
    out[np.argsort(raw - out)[::-1][: n - out.sum()]] += 1
    return out


def placement_cdf(layout_cells_km, district_cells, seat_km, scale_km=6.0) -> np.ndarray:
    """Cumulative probabilities over a district's cells of :func:`place_near` (exp(-d / scale))."""
    d = np.hypot(*(layout_cells_km[district_cells] - seat_km).T)
    w = np.exp(-d / scale_km)
    return normalised_cdf(w / w.sum())


def place_near(rng, layout_cells_km, district_cells, seat_km, n, scale_km=6.0, cdf=None):
    """Pick ``n`` cells of a district, favouring cells near its seat (exp(-d / scale)).

    Draw for draw ``rng.choice(district_cells, size=n, p=w / w.sum())``; ``cdf``, when given, is the
    district's :func:`placement_cdf` computed once (entry places firms every quarter)."""
    if cdf is None:
        cdf = placement_cdf(layout_cells_km, district_cells, seat_km, scale_km)
    return district_cells[cdf.searchsorted(rng.random(n), side="right")]


def build_firms(model) -> None:
    """Create the firm rows of ``model.firms`` (see module docstring)."""
    rng, city, p = model.rng, model.city, model.p
    seg = city["segments"]
    eco = city["economy"]
    n_seg = len(seg["keys"])
    district_names = model.layout.district_names
    firm_share = np.array([city["districts"][d]["firm_share"] for d in district_names])
    herd = city["programmes"]["herding_exponent"]
    rows: dict[str, list] = {k: [] for k in ("cluster", "segment", "revenue", "size", "district", "rd_rate",
                                             "patents", "tech", "niche", "leader_name", "suppliers")}
    for c, key in enumerate(model.cluster_keys):
        spec = city["clusters"][key]
        leaders = [ld for ld in city["leaders"] if ld["cluster"] == key]
        n_sme = spec["firms"] - len(leaders)
        sme_rev_total = spec["revenue"] - sum(ld["revenue"] for ld in leaders)
        segs = np.repeat(np.arange(n_seg), _counts(np.array(seg["initial_firm_mix"]), n_sme))
        rng.shuffle(segs)
        rev = rng.lognormal(0.0, p["revenue_dispersion"], n_sme)
        rev *= sme_rev_total / rev.sum()
        niche_p = 1.0 / np.arange(1, spec["niches"] + 1) ** herd
        niches = rng.choice(spec["niches"], size=n_sme, p=niche_p / niche_p.sum())
        for ld in leaders:
            rows["cluster"].append(c)
            rows["segment"].append(seg["keys"].index(ld["segment"]))
            rows["revenue"].append(ld["revenue"])
            rows["size"].append(SizeClass.LEADER)
            rows["district"].append(district_names.index(ld["district"]))
            rows["rd_rate"].append(ld["rd_intensity"])
            rows["patents"].append(ld["patents"])
            rows["tech"].append(0.65)
            rows["niche"].append(0)
            rows["leader_name"].append(ld["name"])
            rows["suppliers"].append(ld["suppliers"])
        rows["cluster"] += [c] * n_sme
        rows["segment"] += list(segs)
        rows["revenue"] += list(rev)
        rows["size"] += [SizeClass.SME] * n_sme
        rows["district"] += list(rng.choice(len(district_names), size=n_sme, p=firm_share))
        rows["rd_rate"] += [p["rd_intensity_sme"]] * n_sme
        rows["patents"] += [-1] * n_sme
        rows["tech"] += list(np.clip(rng.beta(2.0, 5.0, n_sme), 0.02, 0.9))
        rows["niche"] += list(niches)
        rows["leader_name"] += [""] * n_sme
        rows["suppliers"] += [0] * n_sme
    n = len(rows["cluster"])
    cluster = np.array(rows["cluster"], np.int8)
    segment = np.array(rows["segment"], np.int8)
    revenue_year = np.array(rows["revenue"], float)
    size = np.array(rows["size"], np.int8)
    tech = np.array(rows["tech"], float)
    rd_rate = np.array(rows["rd_rate"], float)
    # Large SMEs above the leader threshold are leaders too (龙头 by size).
    size[(revenue_year >= eco["leader_revenue_threshold"]) & (size == SizeClass.SME)] = SizeClass.LEADER
    tech[size == SizeClass.LEADER] = np.maximum(tech[size == SizeClass.LEADER], 0.55)
    age = rng.integers(8, 80, n)  # quarters; each firm has made its product in its niche since it began
    # Little giants: the most technological cluster SMEs among those that meet the MIIT criteria the start
    # state can show (sim.behaviour.rules): revenue in a band with a path (>= little_giant_min_revenue), an
    # SME (below sme_large_revenue), >= little_giant_niche_years in the niche and a large enough share of
    # its niche's revenue; they met the technology bar (and the R&D and growth records) when designated.
    other = model.cluster_keys.index("other")
    niche = np.array(rows["niche"], np.int64)
    key = (cluster.astype(np.int64) * model.n_segments + segment) * model.max_niches + niche
    share = revenue_year / np.bincount(key, weights=revenue_year)[key]
    cand = np.flatnonzero((size == SizeClass.SME) & (cluster != other)
                          & (revenue_year >= p["little_giant_min_revenue"]) & (revenue_year < p["sme_large_revenue"])
                          & (age >= 4 * p["little_giant_niche_years"]) & (share >= p["little_giant_niche_share_min"]))
    lg = cand[np.argsort(-(tech[cand] + rng.normal(0, 0.05, cand.size)))[: eco["little_giants"]]]
    size[lg] = SizeClass.LITTLE_GIANT
    tech[lg] = np.clip(tech[lg] + 0.25, p["little_giant_tech"], 0.9)
    # Segments need their technology: firms below a segment's requirement are lifted to it.
    tech = np.maximum(tech, np.array(seg["tech_required"])[segment])
    # R&D (sim.behaviour.innovation): each firm's own intensity draw around its status mean (named leaders
    # keep their cited figure) and its taste for R&D; who does R&D follows the participation logit, its
    # intercept set so the expected share of above-scale firms doing R&D is rd_participation_share.
    # Little giants (the title requires R&D) and named leaders (cited R&D) do R&D.
    taste, draw = draw_rd_traits(rng, n, p["rd_intensity_dispersion"])
    named = np.array(rows["patents"]) >= 0
    base = np.where(size == SizeClass.LEADER, p["rd_intensity_leader"],
                    np.where(size == SizeClass.LITTLE_GIANT, p["rd_intensity_specialised"],
                             p["rd_intensity_sme"] * (0.6 + 1.4 * tech)))  # as sim.behaviour.innovation
    if p["rd_intensity_leader"] > 0:  # the named leaders' cited intensity is their own multiplier's outcome
        draw[named] = rd_rate[named] / p["rd_intensity_leader"]
    rd_rate = base * draw
    need = np.where(revenue_year >= p["little_giant_revenue_band"], p["little_giant_rd_min"],
                    p["little_giant_rd_min_small"])
    rd_rate[lg] = np.maximum(rd_rate[lg], need[lg])
    forced = named | (size == SizeClass.LITTLE_GIANT)
    above = revenue_year >= city["programmes"]["above_scale_revenue"]
    logit0 = rd_participation_logit(p, revenue_year, tech, np.zeros(n, bool), 0.0,
                                    city["programmes"]["above_scale_revenue"])
    model.rd_intercept = calibrate_rd_intercept(logit0[above], forced[above], p["rd_participation_share"])
    rd_active = forced | (logit0 + model.rd_intercept + taste > 0.0)
    # Digital maturity (CESI shares), larger firms more mature.
    mat_levels = np.repeat(np.arange(1, 6), _counts(np.array(eco["initial_maturity_shares"]), n))
    order = np.argsort(np.log(revenue_year) + rng.normal(0, 1.0, n))
    maturity = np.empty(n, np.int8)
    maturity[order] = mat_levels
    maturity[size == SizeClass.LEADER] = np.maximum(maturity[size == SizeClass.LEADER], 3)
    # Patents: leaders as cited; others the steady-state stock of their R&D at the patent yield
    # (yearly flow / depreciation rate: what the stock settles at, so it has no built-in drift).
    patents = np.array(rows["patents"], float)
    est = rd_rate * rd_active * revenue_year * eco["patents_per_million_rd"] / 1e6 * (0.5 + tech) / p["patent_depreciation"]
    patents = np.where(patents < 0, np.floor(est * rng.uniform(0.5, 1.5, n)), patents)
    # Location: a cell of the firm's district near its seat.
    district = np.array(rows["district"], np.int8)
    cells = np.empty(n, np.int64)
    coords = model.cell_km
    for d in range(len(district_names)):
        idx = np.flatnonzero(district == d)
        if idx.size:
            cells[idx] = place_near(rng, coords, model.district_cells[d], model.seat_km[d], idx.size,
                                    cdf=model.seat_cdf[d])
    # Revenue -> capacity -> employees. Mid-chain runs below capacity (over-capacity).
    sales_q = revenue_year / 4.0
    utilisation = np.where(segment == 1, seg["assembly_utilisation"], 1.0)
    capacity = sales_q / utilisation
    dg = p["digital_gain_per_level"]
    employees = capacity / (p["labour_productivity"] * (1 + tech) * (1 + dg * (maturity - 1)))
    idx = model.firms.append(
        n, alive=True, cluster=cluster, segment=segment, niche=np.array(rows["niche"]), size_class=size,
        district=district, cell=cells, employees=employees, sales=sales_q, capacity=capacity, tech=tech,
        rd_rate=rd_rate, rd_spend=rd_rate * sales_q * rd_active, rd_stock=rd_rate * rd_active * revenue_year * 2.5,
        patent_stock=patents, maturity=maturity,
        cash=p["cash_buffer_to_revenue"] * revenue_year, debt=eco["debt_to_revenue"] * revenue_year,
        age=age, supplies=-1, above_scale=above,
        little_giant=size == SizeClass.LITTLE_GIANT, entered=-1, exited=-1,
        # designated in one of the last three years: MIIT reviews fall due over 2025-2027
        lg_since=np.where(size == SizeClass.LITTLE_GIANT, -rng.integers(0, 4 * eco["little_giant_review_years"], n), 0),
        rd_active=rd_active, rd_taste=taste, rd_draw=draw, rd_drawn=True,
        niche_since=-age, niche_seen=segment.astype(np.int64) * model.max_niches + niche + 1,
        **start_records(model, cluster, revenue_year, rd_rate * rd_active, size == SizeClass.LITTLE_GIANT),
    )
    model.firm_names = {int(i): name for i, name in zip(idx, rows["leader_name"]) if name}
    # Suppliers of named leaders: same-cluster SMEs, moved next to their leader.
    for i, k in zip(idx, rows["suppliers"]):
        if k <= 0:
            continue
        pool = np.flatnonzero((cluster == cluster[i]) & (size == SizeClass.SME) & (model.firms.supplies == -1))
        pick = rng.choice(pool, size=min(k, pool.size), replace=False)
        model.firms.supplies[pick] = i
        model.firms.district[pick] = district[i]
        model.firms.cell[pick] = place_near(rng, coords, model.district_cells[int(district[i])],
                                            coords[cells[i]], pick.size, scale_km=4.0)


def rd_participation_logit(p, revenue_year, tech, loss, subsidy: float, size_ref: float, intercept: float = 0.0):
    """Log-odds that a firm does R&D this year (sim.behaviour.innovation): ``intercept``
    + ``rd_participation_size`` x log(annual revenue / ``size_ref``) + ``rd_participation_tech`` x technology
    - ``rd_participation_loss`` x [last quarter's profit <= 0] + ``rd_elasticity`` x ``rd_extensive_share``
    x -log(1 - subsidy): the subsidy lowers the after-subsidy price of R&D to 1 - subsidy."""
    size = np.log(np.maximum(np.asarray(revenue_year, float), 1.0) / size_ref)
    price = -np.log1p(-subsidy)
    return (intercept + p["rd_participation_size"] * size + p["rd_participation_tech"] * np.asarray(tech)
            - p["rd_participation_loss"] * np.asarray(loss, float) + p["rd_elasticity"] * p["rd_extensive_share"] * price)


def draw_rd_traits(rng, n: int, sigma: float, intensity: bool = True):
    """``n`` firms' taste for R&D (Logistic(0, 1)) and, unless ``intensity`` is False, their own R&D
    intensity multiplier (LogNormal(-sigma^2 / 2, sigma), mean 1)."""
    u = np.clip(rng.random(n), 1e-12, 1.0 - 1e-12)
    taste = np.log(u / (1.0 - u))
    draw = np.exp(sigma * rng.normal(0.0, 1.0, n) - 0.5 * sigma * sigma) if intensity else None
    return taste, draw


def calibrate_rd_intercept(logit: np.ndarray, forced: np.ndarray, share: float) -> float:
    """The intercept a0 at which the expected share of firms doing R&D, ``mean(forced or
    sigmoid(a0 + logit))``, is ``share`` (bisection; the share rises with a0)."""
    def expected(a0):
        return np.where(forced, 1.0, 1.0 / (1.0 + np.exp(-(a0 + logit)))).mean()

    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expected(mid) < share else (lo, mid)
    return 0.5 * (lo + hi)


def start_records(model, cluster, revenue_year, rd_year_share, little_giant) -> dict[str, np.ndarray]:
    """The records the yearly reviews read (sim.behaviour.rules), for the start state: the start quarter's
    sales and R&D as the year so far, and revenue and R&D of 2024, 2023 and 2022 (nominal, the start's
    prices = 1). Past revenue grew like the firm's market (its cluster's real demand growth plus
    ``price_inflation``); little giants, designated in the last three years, grew at least the rule's
    ``little_giant_growth_min`` (assumption: the past is not modelled). Years are centred mid-year, the
    start quarter being 2025's first."""
    p = model.p
    growth = (1.0 + model.demand_growth[cluster]) * (1.0 + p["price_inflation"])
    growth = np.where(little_giant, np.maximum(growth, 1.0 + p["little_giant_growth_min"]), growth)
    past = {f"revenue_y{k}": revenue_year * growth ** (0.375 - k) for k in (1, 2, 3)}
    return {
        "sales_ytd": revenue_year / 4.0, "rd_ytd": rd_year_share * revenue_year / 4.0, **past,
        "rd_y1": rd_year_share * past["revenue_y1"], "rd_y2": rd_year_share * past["revenue_y2"],
    }


def _pack(persons: np.ndarray, ppa: int) -> tuple[np.ndarray, np.ndarray]:
    """Pack each group's whole persons into agents of ``ppa`` persons and one smaller remainder agent.

    Returns (group of each agent, persons of each agent); groups with no persons get no agent.
    """
    persons = np.asarray(persons, np.int64)
    agents = -(-persons // ppa)  # ceil
    group = np.repeat(np.arange(persons.size), agents)
    first = np.repeat(np.cumsum(agents) - agents, agents)
    rank = np.arange(group.size) - first  # 0, 1, ... within the group
    return group, np.minimum(ppa, persons[group] - rank * ppa)


def build_talent(model) -> None:
    """Create talent rows: firm staff, unemployed, other-sector workers and the off-map pool.

    Firm staff are counted in whole persons per firm and field (so a firm's skilled staff do not
    depend on ``persons_per_agent``) and packed into agents of ``persons_per_agent`` persons plus one
    smaller agent for the remainder; the other groups are agents of ``persons_per_agent`` persons.
    """
    rng, city, p = model.rng, model.city, model.p
    ppa = model.persons_per_agent
    f = model.firms
    seg = city["segments"]
    skilled_need = f.employees * np.array(seg["skilled_share"])[f.segment]
    vacancy = rng.uniform(0.0, 0.1, len(f))  # firms start a little short of skilled staff
    staff_persons = stochastic_round(skilled_need * (1 - vacancy), rng)  # whole persons per firm
    # fields of each firm's staff, person by person: digital staff rise with maturity, the rest are
    # 80% engineering
    digital = rng.binomial(staff_persons, 0.04 + 0.05 * (f.maturity - 1))
    engineering = rng.binomial(staff_persons - digital, 0.8)
    by_field = np.zeros((len(f), 3), np.int64)
    by_field[:, Field.DIGITAL] = digital
    by_field[:, Field.ENGINEERING] = engineering
    by_field[:, Field.OTHER] = staff_persons - digital - engineering
    group, staff_agent_persons = _pack(by_field.ravel(), ppa)
    employer, staff_field = np.divmod(group, 3)
    n_staff = employer.size
    univ = city["universities"]
    fields = np.mean([u["fields"] for u in univ.values()], axis=0)
    degrees = np.mean([u["degrees"] for u in univ.values()], axis=0)
    grads_year = sum(u["graduates"] for u in univ.values())
    other_stock = p["other_jobs_per_year"] * 10.0  # ten years of openings (assumption)
    n_other = int(stochastic_round(other_stock / ppa, rng))
    n_unemp = int(stochastic_round((staff_persons.sum() / ppa + n_other) * city["economy"]["unemployed_share"], rng))
    offmap_persons = city["talent"]["initial_offmap_years"] * grads_year * 0.7
    dest_share = np.array(city["talent"]["initial_offmap_split"])  # leavers' split, see city.toml [talent]
    n_off = stochastic_round(offmap_persons * dest_share / ppa, rng)
    n_city = n_staff + n_other + n_unemp
    n = n_city + int(n_off.sum())
    loc = np.r_[np.full(n_city, Loc.CITY), np.repeat([Loc.BEIJING, Loc.TIANJIN, Loc.ELSEWHERE], n_off)]
    emp = np.r_[employer, np.full(n_other, OTHER_SECTOR), np.full(n - n_staff - n_other, NO_EMPLOYER)]
    persons = np.r_[staff_agent_persons, np.full(n - n_staff, ppa, np.int64)]
    field = rng.choice(3, size=n, p=fields)
    staff = emp >= 0
    field[:n_staff] = staff_field
    degree = rng.choice(3, size=n, p=degrees)
    age = rng.uniform(22, p["retirement_age"], n)
    age[loc != Loc.CITY] = rng.uniform(23, 35, (loc != Loc.CITY).sum())
    cells = np.full(n, -1, np.int64)
    cells[staff] = f.cell[emp[staff]]
    city_free = (loc == Loc.CITY) & ~staff
    core = np.flatnonzero(model.cell_in_core)
    cells[city_free] = rng.choice(core, size=city_free.sum())
    wage = model.wage_offer(emp, degree)
    ties = np.where(loc == Loc.CITY, rng.uniform(0.3, 0.9, n), rng.uniform(0.0, 0.3, n))
    # pull of a home outside the city (assumption): settled city residents U(0, 0.3) (faded, or home is
    # the city); the off-map pool, city-trained leavers mostly from elsewhere, as graduates from elsewhere
    hm = p["home_ties_graduates"]
    home_ties = np.where(loc == Loc.CITY, rng.uniform(0.0, 0.3, n), rng.beta(4.0 * hm, 4.0 * (1.0 - hm), n))
    model.talent.append(
        n, persons=persons, loc=loc, employer=emp, field=field, degree=degree, age=age, cell=cells, wage=wage,
        ties=ties, tenure=rng.integers(0, 40, n), cohort=-1, university=-1, home_ties=home_ties,
    )
