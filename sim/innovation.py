"""R&D, technology and patents (paper §2.2 problem 2, §3.2 remedies).

Per firm and quarter (simultaneous update):

* R&D intensity ``r = r0 * (1 + e * s / (1 - s))`` where r0 is the firm's usual intensity (little
  giant, leader: NBS figures in parameters.toml; ordinary SMEs ``rd_intensity_sme * (0.6 + 1.4 T)``,
  so technology-intensive SMEs invest more — assumption), s the R&D subsidy rate and e the elasticity.
  Firms without positive cash skip R&D. Spending ``R = r * sales`` (yuan); the government reimburses
  ``s * R``. Without city coordination a share of the subsidised part duplicates other districts'
  projects and adds no knowledge: effective R&D ``R_eff = R - s * R * waste``.
* Technology ``T`` (index 0-1) moves by
  ``dT = (learn * (R_eff / sales) / 0.03 + U) * (1 - T) + P - obsolescence * T``
  with U the university spillover ``sum_u spill * align_u * (0.3 + 0.7 * iur) * w_u * exp(-d_iu / lambda)``
  (distance d in km; lambda widened for SMEs by the resource-sharing platform) and P the peer spillover
  ``peer * openness * max(0, T_leader(cluster) - T)`` (doubled for a leader's own suppliers), where
  openness = openness_base + 0.4 * coordination + 0.4 * data sharing (paper: information between firms
  is closed).
* Patents ~ Poisson(R_eff / 1e6 * yield * (0.5 + T)).
* University alignment moves ``alignment_speed`` of the way per quarter toward ``a0 + (0.9 - a0) * iur``
  (产学研 platforms). The R&D stock depreciates at ``rd_depreciation`` per quarter.
"""

from __future__ import annotations

import numpy as np

from sim.constants import SizeClass


def step(m) -> None:
    f, p = m.firms, m.p
    alive = f.alive
    s = p["rd_subsidy_rate"]
    ordinary = (f.size_class == SizeClass.SME) & ~f.little_giant
    f.rd_rate[ordinary] = p["rd_intensity_sme"] * (0.6 + 1.4 * f.tech[ordinary])
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
    openness = firm_openness(p)
    linked = (f.supplies >= 0) & alive[np.maximum(f.supplies, 0)]
    gap = np.maximum(0.0, lead[f.cluster] - f.tech)
    peer = p["peer_spillover"] * openness * gap * (1.0 + linked)
    dt = (learn + spill) * (1.0 - f.tech) + peer - p["tech_obsolescence"] * f.tech
    f.tech[:] = np.where(alive, np.clip(f.tech + dt, 0.0, 1.0), f.tech)
    lam = rd_eff / 1e6 * m.city["economy"]["patents_per_million_rd"] * (0.5 + f.tech)
    f.patents_q[:] = np.where(alive, m.rng.poisson(np.maximum(lam, 0.0)), 0)
    f.patent_stock += f.patents_q


def firm_openness(p) -> float:
    """Information openness between firms (0-1): base + 0.4 x coordination + 0.4 x data sharing."""
    return min(1.0, p["openness_base"] + 0.4 * p["city_coordination"] + 0.4 * p["data_sharing_centre"])


def update_alignment(m) -> None:
    iur = m.p["iur_platform_strength"]
    for u in m.universities:
        target = u.base_alignment + (0.9 - u.base_alignment) * iur
        u.alignment += m.p["alignment_speed"] * (target - u.alignment)


def university_spillover(m) -> np.ndarray:
    """Technology gain per quarter each firm receives from the universities (before the (1 - T) factor)."""
    f, p = m.firms, m.p
    d = np.hypot(*(m.cell_km[f.cell][:, None, :] - m.univ_km[None, :, :]).transpose(2, 0, 1))  # (firms, univ)
    sme = f.size_class != SizeClass.LEADER
    lam = p["spillover_decay_km"] * (1.0 + 2.0 * p["resource_sharing_platform"] * sme)
    weight = np.array([u.graduates_per_year for u in m.universities], float)
    weight /= weight.max()
    align = np.array([u.alignment for u in m.universities])
    collab = 0.3 + 0.7 * p["iur_platform_strength"]
    return p["university_spillover"] * collab * (np.exp(-d / lam[:, None]) * (align * weight)[None, :]).sum(axis=1)


def leader_tech(m) -> np.ndarray:
    """Highest technology among each cluster's alive firms (the benchmark peers learn from)."""
    f = m.firms
    out = np.zeros(m.n_clusters)
    np.maximum.at(out, f.cluster[f.alive], f.tech[f.alive])
    return out
