"""Official rules applied to the model's own quantities: prices, firm size and the little-giant criteria.

The model runs in real yuan; the rules it applies are written in nominal yuan. Everything here turns
model quantities into what an official test reads, and applies the test as written.

* **Price level** (nominal / real): ``P(t) = (1 + price_inflation) ** years since the start``, with the
  start (2025Q1) as the base (the start's cited revenues are recent nominal figures). Nominal output
  = real output x P. ``price_inflation`` is the trend of China's industrial producer prices (PPI),
  a swept uncertainty (parameters.toml).
* **Firm size** (NBS 统计上大中小微型企业划分办法, industry): a firm is *large* when it has at least
  ``sme_large_employees`` persons employed **and** nominal revenue of at least ``sme_large_revenue``
  (1000 persons and 4亿 yuan); every other firm is an SME (中小企业). Used by the little-giant criteria
  and by the county-cluster SME share (sim.behaviour.energy).
* **Firms' records** that the yearly reviews read, kept every quarter (``track_niches``,
  ``book_quarter``) and closed at the first quarter of each year (``close_year``): the quarter a firm
  entered its current niche (``niche_since``; a change of segment or niche restarts it), nominal
  revenue and R&D spending of the year so far, and of the last three (revenue) and two (R&D)
  completed years.
* **专精特新"小巨人" criteria** (MIIT, 优质中小企业梯度培育管理暂行办法, 工信部企业〔2022〕63号, annex
  认定标准; repost http://www.doulau.com/new-xiangmu/2561.html). The rule asks for six groups of
  criteria; those the model can observe are mapped to model quantities, the others are not modelled
  (every firm is taken to meet them). :func:`little_giant_criteria` returns one mask per mapped criterion:

  ==================  ========================================================  ===========================================
  mask                MIIT criterion (year = last completed calendar year)      model quantity
  ==================  ========================================================  ===========================================
  ``alive``           --                                                        the firm exists
  ``sme``             an SME (中小企业)                                          not large by the NBS standard above
  ``field``           主导产品所属领域: key industries (制造强国 ten fields,      one of the city's six clusters, not "other
                      core basic parts ...)                                     manufacturing" (assumption: the six are the
                                                                                city's key-industry list)
  ``niche_years``     专业化: in its niche market >= 3 years                     quarters since ``niche_since`` >= 4 x
                                                                                ``little_giant_niche_years``
  ``growth``          专业化: main-business revenue grew >= 5% a year on         mean of the last two yearly growth rates of
                      average over the last 2 years                             nominal revenue >= ``little_giant_growth_min``
  ``market_share``    特色化: leading product >= 10% of its national niche       the firm's share of last year's revenue of the
                      market                                                    local firms in its (cluster, segment, niche)
                                                                                >= ``little_giant_niche_share_min`` (a proxy:
                                                                                the local niche is part of the national one;
                                                                                swept uncertainty)
  ``rd``              创新能力: revenue >= 1亿: R&D >= 3% of revenue in each     R&D / revenue in each of the last two years
                      of the last 2 years; 5000万-1亿: >= 6%; below 5000万:      >= ``little_giant_rd_min`` (revenue >=
                      equity financing >= 8000万 and R&D >= 3000万 and R&D       ``little_giant_revenue_band``) or
                      staff >= 50%                                              ``little_giant_rd_min_small`` (revenue >=
                                                                                ``little_giant_min_revenue``); the path below
                                                                                5000万 needs equity financing, which the model
                                                                                does not have: closed
  ``ip``              创新能力: >= 2 Class-I IP rights on the leading product    patent stock x ``class1_ip_share`` >=
                                                                                ``little_giant_ip_min``
  ``technology``      精细化: production technology, process and quality         technology >= ``little_giant_tech`` (swept
                      "domestically leading"; 产业链配套: a key link              uncertainty)
  ==================  ========================================================  ===========================================

  Not modelled (met by assumption): main-business share >= 70% (each firm makes one product), asset
  -liability ratio <= 70% (firms have no balance sheet of assets), a management-system certificate,
  an own brand, an R&D institution (自建或联合研发机构), the 创新直通 path (national awards).
  The crowding test of v2 (a niche shared with <= 30% of segment rivals) is no MIIT criterion and is gone.
"""

from __future__ import annotations

import numpy as np

from sim.state.compiled import kernel
from sim.state.tables import cell_sums

LITTLE_GIANT_CRITERIA = ("alive", "sme", "field", "niche_years", "growth", "market_share", "rd", "ip", "technology")
R_AND_D_CRITERIA = ("rd", "ip")  # what an aspirant (sim.behaviour.innovation) still has to earn


def price_level(m, years: float | None = None) -> float:
    """Producer price level relative to the start (nominal yuan per real yuan) ``years`` after the start
    (default: now)."""
    t = m.years_elapsed if years is None else years
    return (1.0 + m.p["price_inflation"]) ** t


def large_enterprise(employees: np.ndarray, revenue_nominal: np.ndarray, p) -> np.ndarray:
    """NBS industry size standard: large = employees >= ``sme_large_employees`` and nominal annual revenue
    >= ``sme_large_revenue`` (both). Everything else is an SME."""
    return (np.asarray(employees) >= p["sme_large_employees"]) & (np.asarray(revenue_nominal) >= p["sme_large_revenue"])


def niche_code(m) -> np.ndarray:
    """Per firm: 1 + (segment, niche) as one integer (0 is left for "not seen yet")."""
    f = m.firms
    return f.segment.astype(np.int64) * m.max_niches + f.niche.astype(np.int64) + 1


def track_niches(m) -> None:
    """Restart ``niche_since`` for firms whose segment or niche changed since the last look (every quarter,
    after this quarter's moves); a firm seen for the first time entered its niche when it entered."""
    f = m.firms
    _track_niches(f.segment, f.niche, f.entered, f.niche_seen, f.niche_since, m.max_niches, m.quarter)


@kernel
def _track_niches(segment, niche, entered, seen, since, max_niches, quarter):
    for i in range(segment.size):
        code = np.int64(segment[i]) * max_niches + np.int64(niche[i]) + 1  # niche_code
        if seen[i] == 0:
            since[i] = entered[i]
        elif seen[i] != code:
            since[i] = quarter
        seen[i] = code


def book_quarter(m) -> None:
    """Add this quarter's nominal sales and R&D spending to the year so far (alive firms)."""
    f = m.firms
    _book_quarter(f.alive, f.sales, f.rd_spend, f.sales_ytd, f.rd_ytd, price_level(m))


@kernel
def _book_quarter(alive, sales, rd_spend, sales_ytd, rd_ytd, price):
    for i in range(alive.size):
        if alive[i]:
            sales_ytd[i] += sales[i] * price
            rd_ytd[i] += rd_spend[i] * price


def close_year(m) -> None:
    """The first quarter of a year: the year so far becomes the last completed year."""
    f = m.firms
    f.revenue_y3[:] = f.revenue_y2
    f.revenue_y2[:] = f.revenue_y1
    f.revenue_y1[:] = f.sales_ytd
    f.rd_y2[:] = f.rd_y1
    f.rd_y1[:] = f.rd_ytd
    f.sales_ytd[:] = 0.0
    f.rd_ytd[:] = 0.0


def rd_required(revenue_nominal: np.ndarray, p) -> np.ndarray:
    """R&D / revenue the little-giant rule requires at this (last year's, nominal) revenue; inf below
    ``little_giant_min_revenue`` (that path needs equity financing the model does not have)."""
    rev = np.asarray(revenue_nominal, float)
    return np.where(rev >= p["little_giant_revenue_band"], p["little_giant_rd_min"],
                    np.where(rev >= p["little_giant_min_revenue"], p["little_giant_rd_min_small"], np.inf))


def niche_revenue_share(m, revenue: np.ndarray) -> np.ndarray:
    """Per firm: its share of ``revenue`` among the alive firms of its (cluster, segment, niche)."""
    f = m.firms
    a = f.alive
    total = cell_sums((m.n_clusters, m.n_segments, m.max_niches), revenue[a], f.cluster[a], f.segment[a], f.niche[a])
    return np.where(a, revenue / np.maximum(total[f.cluster, f.segment, f.niche], 1e-9), 0.0)


def little_giant_criteria(m) -> dict[str, np.ndarray]:
    """One boolean mask per firm row and mapped MIIT criterion (:data:`LITTLE_GIANT_CRITERIA`, module
    docstring), read at the yearly review from the last completed years' records."""
    f, p = m.firms, m.p
    y1, y2, y3 = f.revenue_y1, f.revenue_y2, f.revenue_y3
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = 0.5 * ((y1 / y2 - 1.0) + (y2 / y3 - 1.0))
        intensity_1 = f.rd_y1 / y1
        intensity_2 = f.rd_y2 / y2
    two = (y1 > 0) & (y2 > 0)  # two completed years of records
    known = two & (y3 > 0)  # three (two growth rates)
    need = rd_required(y1, p)
    return {
        "alive": f.alive.copy(),
        "sme": ~large_enterprise(f.employees, y1, p),
        "field": f.cluster != m.cluster_keys.index("other"),
        "niche_years": m.quarter - f.niche_since >= 4 * p["little_giant_niche_years"],
        "growth": known & (np.where(known, growth, -np.inf) >= p["little_giant_growth_min"]),
        "market_share": niche_revenue_share(m, y1) >= p["little_giant_niche_share_min"],
        "rd": two & (np.where(two, intensity_1, 0.0) >= need) & (np.where(two, intensity_2, 0.0) >= need),
        "ip": f.patent_stock * p["class1_ip_share"] >= p["little_giant_ip_min"],
        "technology": f.tech >= p["little_giant_tech"],
    }


def meets_all(criteria: dict[str, np.ndarray], skip=()) -> np.ndarray:
    """Firms meeting every criterion of ``criteria`` except those named in ``skip``."""
    masks = [v for k, v in criteria.items() if k not in skip]
    return np.logical_and.reduce(masks)
