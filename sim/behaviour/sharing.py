"""The resource-sharing platform (资源共享平台; paper §2.4 problem 4, §3.5): a real allocation.

Each quarter (after capacities are known, before orders are split) the platform serves up to
``round(resource_sharing_platform x sharing_slots)`` SMEs. Applicants are alive non-leader firms that
lack skilled staff (skilled fill < 1) or sit outside the core districts (Haigang, ETDZ), served in
order of their skilled-staff fill (the neediest first; random among equals). The pool it can lend is
``sharing_idle_usable`` of the idle capacity (capacity - last quarter's sales) of leaders and little
giants (at this quarter's capacity). Each matched SME asks for ``sharing_capacity_gain`` x its own capacity; if the pool is short
every matched firm gets the same share of its ask. Matched SMEs also reach the partners' experts:
their university-spillover distance is doubled this quarter (``sim.behaviour.innovation``). Gains come only
from matched pairs: with no idle capacity, no slots or no applicants, nothing changes.
"""

from __future__ import annotations

import numpy as np

from sim.state.constants import SizeClass


def match(m, capacity: np.ndarray, skilled_fill: np.ndarray) -> np.ndarray:
    """Mark matched SMEs in ``firms.shared`` and return the extra capacity (yuan/quarter) per firm."""
    f, p = m.firms, m.p
    f.shared[:] = False
    extra = np.zeros(len(f))
    slots = int(round(m.policy.level("sharing.places") * p["sharing_slots"]))
    if slots <= 0:
        return extra
    a = f.alive
    sme = a & (f.size_class != SizeClass.LEADER) & ~f.little_giant
    outside = ~m.district_is_core[f.district]
    applicants = np.flatnonzero(sme & ((skilled_fill < 1.0) | outside))
    holders = a & ((f.size_class == SizeClass.LEADER) | f.little_giant)
    pool = p["sharing_idle_usable"] * np.maximum(capacity[holders] - f.sales[holders], 0.0).sum()
    if applicants.size == 0 or pool <= 0:
        return extra
    order = np.lexsort((m.rng.random(applicants.size), skilled_fill[applicants]))
    served = applicants[order[:slots]]
    ask = p["sharing_capacity_gain"] * capacity[served]
    scale = min(1.0, pool / max(ask.sum(), 1e-9))
    extra[served] = ask * scale
    f.shared[served] = True
    return extra
