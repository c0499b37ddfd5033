"""R&D, technology and patents (paper §2.2 problem 2, §3.2 remedies).

Per firm and quarter (simultaneous update):

* R&D intensity ``r = r0 * (1 + e * s / (1 - s))`` where r0 is the firm's usual intensity by its
  current status (little giant, leader: NBS figures in parameters.toml; ordinary SMEs ``rd_intensity_sme * (0.6 + 1.4 T)``,
  so technology-intensive SMEs invest more — assumption; cluster SMEs at the little-giant technology
  bar that made a profit last quarter aspire to the title and spend at least ``little_giant_rd_min``), s the R&D subsidy rate and e the
  elasticity.
  Firms without positive cash skip R&D. Spending ``R = r * sales`` (yuan); the government reimburses
  ``s * R``. Without city coordination a share of the subsidised part duplicates other districts'
  projects and adds no knowledge: effective R&D ``R_eff = R - s * R * waste``.
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

from sim.behaviour import links
from sim.state.constants import SizeClass


def step(m) -> None:
    f, p = m.firms, m.p
    alive = f.alive
    s = m.policy.level("rd_subsidy.reimbursement")
    leader = f.size_class == SizeClass.LEADER
    ordinary = ~leader & ~f.little_giant
    f.rd_rate[ordinary] = p["rd_intensity_sme"] * (0.6 + 1.4 * f.tech[ordinary])
    # 专精特新 aspirants: cluster SMEs at the little-giant technology bar spend what the title requires
    aspirant = (ordinary & (f.tech >= p["little_giant_tech"]) & (f.cluster != m.cluster_keys.index("other"))
                & (f.profit > 0))
    f.rd_rate[aspirant] = np.maximum(f.rd_rate[aspirant], p["little_giant_rd_min"])
    f.rd_rate[~leader & f.little_giant] = p["rd_intensity_specialised"]
    intensity = f.rd_rate * (1.0 + p["rd_elasticity"] * s / (1.0 - s))
    rd = np.where(alive & (f.cash > 0), intensity * f.sales, 0.0)
    subsidy = s * rd
    f.rd_spend[:] = rd
    f.rd_subsidy[:] = subsidy
    m.spend("rd_subsidy_rate", subsidy.sum())
    rd_eff = rd - subsidy * m.waste()
    f.rd_stock[:] = (1.0 - p["rd_depreciation"]) * f.rd_stock + rd_eff
    update_alignment(m)
    learn = p["tech_learning_rate"] * np.where(f.sales > 0, rd_eff / np.maximum(f.sales, 1.0), 0.0) / 0.03
    spill = university_spillover(m)
    lead = leader_tech(m)
    gap = np.maximum(0.0, lead[f.cluster] - f.tech)
    peer = p["peer_spillover"] * firm_openness(m) * gap
    f.knowledge_q[:] = np.where(alive, spill * (1.0 - f.tech), 0.0)  # technology from universities this quarter
    dt = (learn + spill) * (1.0 - f.tech) + peer - p["tech_obsolescence"] * f.tech
    f.tech[:] = np.where(alive, np.clip(f.tech + dt, 0.0, 1.0), f.tech)
    lam = rd_eff / 1e6 * m.city["economy"]["patents_per_million_rd"] * (0.5 + f.tech)
    f.patents_q[:] = np.where(alive, m.rng.poisson(np.maximum(lam, 0.0)), 0)
    keep = (1.0 - p["patent_depreciation"]) ** 0.25
    f.patent_stock[:] = f.patent_stock * keep + f.patents_q


def measure_knowledge(m) -> None:
    """``firms.knowledge_q``: technology each firm gains from universities this quarter (the start state's
    flow at set-up, so the index's collaboration component has no jump at the first quarter)."""
    f = m.firms
    f.knowledge_q[:] = np.where(f.alive, university_spillover(m) * (1.0 - f.tech), 0.0)


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
    d = links.university_km(m, np.arange(len(f)))  # (firms, universities)
    lam = p["spillover_decay_km"] * (1.0 + f.shared)  # experts reached through the sharing platform
    weight = np.array([u.graduates_per_year for u in m.universities], float)
    weight /= weight.max()
    align = np.array([u.alignment for u in m.universities])
    outside = m.city["energy"]["iur_outside_spillover"]
    collab = np.where(m.link_state["iur"], 1.0, outside)
    return p["university_spillover"] * collab * (np.exp(-d / lam[:, None]) * (align * weight)[None, :]).sum(axis=1)


def leader_tech(m) -> np.ndarray:
    """Highest technology among each cluster's alive firms (the benchmark peers learn from)."""
    f = m.firms
    out = np.zeros(m.n_clusters)
    np.maximum.at(out, f.cluster[f.alive], f.tech[f.alive])
    return out
