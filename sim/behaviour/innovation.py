"""R&D, technology and patents (paper §2.2 problem 2, §3.2 remedies).

Per firm and quarter (simultaneous update):

* **Who does R&D** (extensive margin; a yearly decision, in the first quarter of each year, and by
  entrants in their first quarter). Only a share of firms do R&D (NBS: about a third of above-scale
  industrial firms, ``rd_participation_share``). Firm i does R&D this year when
  ``a0 + b_size * log(revenue / above_scale_revenue) + b_tech * T - b_loss * [profit <= 0]
  + e * w * (-log(1 - s)) + u_i > 0``: a logit choice (``sim.state.initial.rd_participation_logit``)
  whose taste ``u_i`` ~ Logistic(0, 1) is the firm's own and is redrawn with probability
  ``rd_taste_redraw`` a year (R&D status is persistent but not fixed). Larger, more technological and
  profitable firms do R&D more often; the subsidy s lowers the after-subsidy price of R&D
  ``1 - s``, which raises the odds by ``(1 - s) ** (-e * w)`` with e = ``rd_elasticity`` and w =
  ``rd_extensive_share`` (the part of the R&D response on this margin). The intercept ``a0`` is set
  once, at set-up, so that the expected share of above-scale firms doing R&D in the 2025 state (no
  subsidy) is ``rd_participation_share`` (``sim.state.initial``); afterwards the share moves with
  firms' size, technology, profits and the subsidy. Little giants always do R&D (the title requires
  it), and so do aspirants (below).
* **How much** (intensive margin): a performer's usual intensity ``r0`` is its status mean times its
  own draw ``d_i`` ~ LogNormal(-sigma^2 / 2, sigma), sigma = ``rd_intensity_dispersion`` (drawn once per
  firm: intensities are heterogeneous and persistent): leaders ``rd_intensity_leader`` (named leaders:
  their cited figure), little giants ``rd_intensity_specialised``, ordinary SMEs
  ``rd_intensity_sme * (0.6 + 1.4 T)`` (technology-intensive SMEs invest more; assumption). Little
  giants and **aspirants** spend at least the R&D intensity MIIT's little-giant rule requires at their
  last year's revenue (3% at >= 1亿, 6% at 5000万-1亿; ``sim.behaviour.rules.rd_required``). An
  aspirant is a firm that at the last yearly review met every little-giant criterion the model
  observes except the two earned by R&D (the R&D intensity record and the Class-I IP count) and made
  a profit (``sim.behaviour.entry``): it needs two years of R&D at the bar to qualify. The subsidy
  raises the intensity to ``r = r0 * (1 + e * (1 - w) * s / (1 - s))``.
  Firms without positive cash skip R&D. Spending ``R = r * sales`` (yuan); the government reimburses
  ``s * R`` (nothing when s = 0). Without city coordination a share of the subsidised part duplicates
  other districts' projects and adds no knowledge: effective R&D ``R_eff = R - s * R * waste``.
* Technology ``T`` (index 0-1) moves by
  ``dT = (learn * (R_eff / sales) / 0.03 + U) * (1 - T) + P - obsolescence * T``
  with U the university spillover ``sum_u spill * align_u * c_i * w_u * exp(-d_iu / lambda_i)``
  (distance d in km; ``c_i`` = 1 for a firm in a joint 产学研 project, ``iur_outside_spillover``
  otherwise; ``lambda_i`` doubled for SMEs matched on the resource-sharing platform this quarter)
  and P the peer spillover ``peer * openness_i * max(0, T_leader(cluster) - T)`` with the firm's own
  openness ``min(1, openness_base + link_openness * (supply link + data exchange))`` — measured from
  the links it has (sim.behaviour.links), not from a lever (paper: information between firms is closed).
* Patents ~ Poisson(R_eff / 1e6 * yield * (0.5 + T)); the patent stock depreciates at
  ``patent_depreciation`` a year (knowledge capital; patents lapse), so it stays up only with R&D.
* University alignment moves ``alignment_speed`` of the way per quarter toward the target its active
  joint projects give (``sim.behaviour.links.university_alignment_targets``). The R&D stock depreciates at
  ``rd_depreciation`` per quarter.
"""

from __future__ import annotations

import numpy as np

from sim.behaviour import links, rules
from sim.state.compiled import kernel, pairwise_sum
from sim.state.constants import SizeClass
from sim.state.initial import draw_rd_traits, rd_participation_logit


def step(m) -> None:
    f, p = m.firms, m.p
    s = m.policy.level("rd_subsidy.reimbursement")
    decide_participation(m, s)
    f.rd_rate[:] = usual_intensity(m)
    intensive = p["rd_elasticity"] * (1.0 - p["rd_extensive_share"])
    rd_eff, subsidies = _rd_spending(f.alive, f.rd_active, f.cash, f.sales, f.rd_rate, 1.0 + intensive * s / (1.0 - s),
                                     s, m.waste(), p["rd_depreciation"], f.rd_spend, f.rd_subsidy, f.rd_stock)
    m.spend("rd_subsidy_rate", subsidies)
    update_alignment(m)
    lam = _technology(f.alive, f.cluster, f.sales, f.tech, rd_eff, university_spillover(m), firm_openness(m),
                      f.knowledge_q, m.n_clusters, p["tech_learning_rate"], p["peer_spillover"], p["tech_obsolescence"],
                      m.city["economy"]["patents_per_million_rd"])
    f.patents_q[:] = np.where(f.alive, m.rng.poisson(np.maximum(lam, 0.0)), 0)
    keep = (1.0 - p["patent_depreciation"]) ** 0.25
    f.patent_stock[:] = f.patent_stock * keep + f.patents_q


@kernel
def _rd_spending(alive, active, cash, sales, rd_rate, response, s, waste, depreciation, rd_spend, rd_subsidy, rd_stock):
    """R&D of the firms doing it with cash (intensity x the subsidy's response x sales), the subsidy
    ``s`` pays, and the R&D stock. Returns (effective R&D per firm, the subsidies in all)."""
    n = alive.size
    rd_eff = np.empty(n)
    for i in range(n):
        rd = rd_rate[i] * response * sales[i] if alive[i] and active[i] and cash[i] > 0 else 0.0
        rd_spend[i] = rd
        rd_subsidy[i] = s * rd
        rd_eff[i] = rd - rd_subsidy[i] * waste
        rd_stock[i] = (1.0 - depreciation) * rd_stock[i] + rd_eff[i]
    return rd_eff, pairwise_sum(rd_subsidy, 0, n)


@kernel
def _technology(alive, cluster, sales, tech, rd_eff, spill, openness, knowledge, n_clusters, learning_rate, peer_rate,
                obsolescence, patents_per_million):
    """Technology moves by learning from own R&D, university and peer spillovers, minus obsolescence
    (module docstring); ``knowledge`` gets the technology gained from universities. Returns each firm's
    expected patents this quarter (after the move)."""
    lead = np.zeros(n_clusters)  # the cluster's best technology (the benchmark peers learn from)
    for i in range(alive.size):
        if alive[i]:
            lead[cluster[i]] = max(lead[cluster[i]], tech[i])
    lam = np.empty(alive.size)
    for i in range(alive.size):
        t = tech[i]
        learn = learning_rate * (rd_eff[i] / max(sales[i], 1.0) if sales[i] > 0 else 0.0) / RD_REFERENCE_INTENSITY
        peer = peer_rate * openness[i] * max(0.0, lead[cluster[i]] - t)
        knowledge[i] = spill[i] * (1.0 - t) if alive[i] else 0.0  # technology from universities this quarter
        if alive[i]:
            tech[i] = min(max(t + ((learn + spill[i]) * (1.0 - t) + peer - obsolescence * t), 0.0), 1.0)
        lam[i] = rd_eff[i] / 1e6 * patents_per_million * (0.5 + tech[i])
    return lam


RD_REFERENCE_INTENSITY = 0.03  # R&D / sales at which learning runs at ``tech_learning_rate``


def measure_knowledge(m) -> None:
    """``firms.knowledge_q``: technology each firm gains from universities this quarter (the start state's
    flow at set-up, so the index's collaboration component has no jump at the first quarter)."""
    f = m.firms
    f.knowledge_q[:] = np.where(f.alive, university_spillover(m) * (1.0 - f.tech), 0.0)


def decide_participation(m, s: float) -> None:
    """The yearly R&D decision (module docstring): entrants in their first quarter, everybody in the
    first quarter of a year (with a redrawn taste for a share ``rd_taste_redraw``); little giants and
    aspirants always do R&D."""
    f, p, rng = m.firms, m.p, m.rng
    new = np.flatnonzero(f.alive & ~f.rd_drawn)
    if new.size:
        taste, draw = draw_rd_traits(rng, new.size, p["rd_intensity_dispersion"])
        f.rd_taste[new], f.rd_draw[new], f.rd_drawn[new] = taste, draw, True
    if m.quarter_of_year == 1:
        old = f.alive.copy()
        old[new] = False
        old = np.flatnonzero(old)
        redraw = old[rng.random(old.size) < p["rd_taste_redraw"]]
        f.rd_taste[redraw] = draw_rd_traits(rng, redraw.size, p["rd_intensity_dispersion"], intensity=False)[0]
        decide = np.flatnonzero(f.alive)
    else:
        decide = new
    if decide.size:
        logit = rd_participation_logit(p, 4.0 * f.sales[decide], f.tech[decide], f.profit[decide] <= 0.0, s,
                                       m.prog["above_scale_revenue"], m.rd_intercept)
        f.rd_active[decide] = logit + f.rd_taste[decide] > 0.0
    f.rd_active[f.alive & (f.little_giant | f.lg_aspirant)] = True


def usual_intensity(m) -> np.ndarray:
    """Per firm: R&D / sales it spends if it does R&D, before the subsidy response (module docstring)."""
    f, p = m.firms, m.p
    return _usual_intensity(f.size_class, f.little_giant, f.lg_aspirant, f.tech, f.rd_draw,
                            rules.rd_required(f.revenue_y1, p), p["rd_intensity_leader"],
                            p["rd_intensity_specialised"], p["rd_intensity_sme"])


@kernel
def _usual_intensity(size_class, little_giant, aspirant, tech, draw, need, leader_rate, specialised_rate, sme_rate):
    out = np.empty(size_class.size)
    for i in range(size_class.size):
        if size_class[i] == LEADER:
            base = leader_rate
        elif little_giant[i]:
            base = specialised_rate
        else:  # technology-intensive SMEs invest more (assumption: 0.6 at T = 0 to 2.0 at T = 1)
            base = sme_rate * (0.6 + 1.4 * tech[i])
        own = base * draw[i]
        out[i] = max(own, need[i]) if (little_giant[i] or aspirant[i]) and np.isfinite(need[i]) else own
    return out


LEADER = int(SizeClass.LEADER)


def firm_openness(m) -> np.ndarray:
    """Per firm: information openness (0-1) from the links it has (supply link, data exchange)."""
    st, p = m.link_state, m.p
    channels = (st["supplier"] | st["buyer"]).astype(float) + st["data"].astype(float)
    return np.minimum(1.0, p["openness_base"] + p["link_openness"] * channels)


def update_alignment(m) -> None:
    target = links.university_alignment_targets(m)
    for u, goal in zip(m.universities, target):
        u.alignment += m.p["alignment_speed"] * (goal - u.alignment)


def university_spillover(m) -> np.ndarray:
    """Technology gain per quarter each firm receives from the universities (before the (1 - T) factor)."""
    f, p = m.firms, m.p
    weight = np.array([u.graduates_per_year for u in m.universities], float)
    weight /= weight.max()
    align = np.array([u.alignment for u in m.universities])
    return _spillover(f.cell, f.shared, m.link_state["iur"], _decay_table(m), align * weight,
                      p["university_spillover"], m.city["energy"]["iur_outside_spillover"])


def _decay_table(m) -> np.ndarray:
    """(cells, 2, universities): ``exp(-km / lambda)`` from each cell to each university, lambda =
    ``spillover_decay_km`` (column 0) and twice that for SMEs matched on the sharing platform (column 1,
    experts reached through the platform). Firms never move, so it is computed once a run."""
    decay = m.p["spillover_decay_km"]
    cached = getattr(m, "_univ_decay", None)
    if cached is None or cached[0] != decay:
        lam = decay * (1.0 + np.array([0.0, 1.0]))
        cached = (decay, np.exp(-m.cell_univ_km[:, None, :] / lam[None, :, None]))
        m._univ_decay = cached
    return cached[1]


@kernel
def _spillover(cell, shared, in_project, decay, align_weight, rate, outside):
    """Per firm: ``rate x c x sum_u align_weight[u] x exp(-d_u / lambda)`` (module docstring), c = 1 in a
    joint project, ``outside`` otherwise."""
    out = np.empty(cell.size)
    for i in range(cell.size):
        total = 0.0
        k = 1 if shared[i] else 0
        for u in range(align_weight.size):
            total += decay[cell[i], k, u] * align_weight[u]
        out[i] = rate * (1.0 if in_project[i] else outside) * total
    return out


def leader_tech(m) -> np.ndarray:
    """Highest technology among each cluster's alive firms (the benchmark peers learn from)."""
    f = m.firms
    out = np.zeros(m.n_clusters)
    np.maximum.at(out, f.cluster[f.alive], f.tech[f.alive])
    return out
