"""The unit of every column the model records: the city, clusters and districts tables and the end-of-run
summary (``ScenarioResult.summary()``). Read by ``experiments.load`` for ``DataFrame.attrs["units"]``;
docs/experiments.md shows the same table (tests/test_tidy_load.py checks both, and that every column a
run records has a unit here). Parameters carry their own unit in configs/parameters.toml.

Money is real, in 2021 yuan (the model deflates nothing else: ``value_added_real_final`` equals
``value_added_final``). Flows "this quarter" are what happened in that quarter; ``/yr`` values are
annualised (4 x the quarter); stocks are at the end of the quarter. A unit is matched by the column's
exact name first, then by the first pattern (``fnmatch``: ``*`` any text) in table order.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

PERSONS = "persons"
PERSONS_Q = "persons this quarter"
YUAN_Q = "yuan this quarter (2021 prices)"
YUAN_YR = "yuan/yr (annualised, 2021 prices)"
YUAN = "yuan (2021 prices)"
SHARE = "share 0-1"
INDEX = "index 0-1"
COUNT = "count"
FIRMS = "firms"
FLAG = "true/false"

# keys the tidy tables share (experiments.load turns ``period`` into pd.Period and ``year`` into int)
KEYS = {
    "quarter": "quarters since the start (0 = start state)",
    "period": "calendar quarter",
    "year": "calendar year",
}

CITY = {
    "talent_*": PERSONS,  # living in the city / Beijing / Tianjin / elsewhere / retired; by skill and stage
    "graduates": PERSONS_Q,
    "graduates_*": PERSONS_Q,  # retained, to_beijing, to_tianjin, elsewhere: the decision at graduation
    "graduate_retention": "share 0-1 of this quarter's graduates (NaN outside graduation quarters)",
    "outflow_*": PERSONS_Q,
    "return_inflow": PERSONS_Q,
    "cohort_size_*": PERSONS,
    "cohort_in_city_*": PERSONS,
    "trainees": PERSONS,
    "training_*": PERSONS_Q,
    "spending_*": YUAN_Q,  # per lever and spending_total
    "tax_revenue": YUAN_Q,
    "firm_cash": YUAN,  # stocks at the end of the quarter
    "firm_debt": YUAN,
    "fiscal_balance": "yuan (2021 prices), cumulative",
    "cost_per_retained_graduate": "yuan (2021 prices) per graduate retained, cumulative",
    "firms": FIRMS,
    "employment": PERSONS,
    "revenue": YUAN_YR,
    "value_added": YUAN_YR,
    "local_sourcing_share": SHARE,
    "mean_energy_index": INDEX,
    # the money ledger: flows this quarter (sim.state.records module docstring)
    "firm_*": YUAN_Q,
    "wage_bill": YUAN_Q, "rd_spending": YUAN_Q, "rd_subsidies": YUAN_Q, "interest_paid": YUAN_Q,
    "interest_discount": YUAN_Q, "new_borrowing": YUAN_Q, "debt_repayment": YUAN_Q, "payouts": YUAN_Q,
    "investment": YUAN_Q, "entrant_capital": YUAN_Q, "entrant_debt": YUAN_Q, "exit_cash": YUAN_Q,
    "exit_debt": YUAN_Q, "government_income": YUAN_Q,
}

CLUSTERS = {
    "energy_index": INDEX,
    "idx_*": INDEX,  # the index's components
    "energy_tier": "tier 0-4 (0 emerging, 1 county, 2 provincial, 3 national, 4 world-class)",
    "index_tier": "tier 0-3 (0 below provincial, 1 provincial, 2 national, 3 world-class)",
    "county_criteria_met": FLAG,
    "county_status": FLAG,
    "revenue": YUAN_YR,
    "value_added": YUAN_YR,
    "employment": PERSONS,
    "technology": "index 0-1 (mean over firms)",
    "patents": "patents this quarter",
    "patent_stock": "patents",
    "rd_intensity": "R&D spending / revenue",
    "chain_completeness": "share 0-1 of chain demand met locally",
    "midchain_share": "share 0-1 of firms",
    "homogeneity": "index 0-1 (niche crowding)",
    "leaders": FIRMS,
    "little_giants": FIRMS,
    "firms": FIRMS,
    "link_share": "share 0-1 of firms",
    "supply_links": COUNT,
    "iur_projects": COUNT,
    "data_members": FIRMS,
    "shared_matches": "SMEs served this quarter",
    "sme_revenue_share": SHARE,
    "local_sourcing": SHARE,
    "knowledge_flow": "technology (0-1 scale) gained from universities per firm per year",
    "shared_use": "share 0-1 of SMEs' capacity",
    "maturity_l*": "share 0-1 of firms",
    "entries": "firms this quarter",
    "exits": "firms this quarter",
}

DISTRICTS = {
    "firms": FIRMS,
    "jobs": PERSONS,
    "digital_coverage": SHARE,
    "talent": PERSONS,
    "tax_revenue": YUAN_Q,
    "government_spending": YUAN_Q,
    "government_balance": "yuan (2021 prices), cumulative",
}

SUMMARY = {
    "energy_index_final_*": INDEX,
    "energy_tier_final_*": "tier 0-4",
    "reached_national_*": FLAG,
    "tiers_climbed_*": "tiers (sum over clusters, can be negative)",
    "index_tiers_climbed": "tiers (sum over the six clusters, can be negative)",
    "county_clusters_*": "clusters",
    "n_national_clusters": "clusters",
    "any_national": FLAG,
    "graduate_retention": "share 0-1 of all graduates",
    "graduates_to_*_share": "share 0-1 of all graduates",
    "retention_*y": "share 0-1 of the cohorts old enough (NaN if none)",
    "outflow_*_total": "persons, cumulative",
    "return_inflow_total": "persons, cumulative",
    "spending_*total": "yuan (2021 prices), cumulative",  # spending_total, spending_talent_total
    "tax_total": "yuan (2021 prices), cumulative",
    "net_fiscal_balance_total": "yuan (2021 prices), cumulative",
    "cost_per_retained_graduate": "yuan (2021 prices) per graduate retained",
    "talent_city_final": PERSONS,
    "mean_maturity_final": "maturity level 1-5 (mean over firms)",
    "share_l1_l2_final": "share 0-1 of firms",
    "*_final_mean": "index 0-1 (mean over clusters)",
    "mean_energy_index_final": "index 0-1 (mean over clusters)",
    "revenue_final": YUAN_YR,
    "value_added_final": YUAN_YR,
    "value_added_real_final": YUAN_YR,
    "local_sourcing_share_final": SHARE,
    "employment_final": PERSONS,
    "firms_final": FIRMS,
    "little_giants_final": FIRMS,
    "leaders_final": FIRMS,
}

TABLES = {"summary": SUMMARY, "city": CITY, "clusters": CLUSTERS, "districts": DISTRICTS}


def unit(table: str, column: str) -> str | None:
    """The unit of ``column`` in ``table`` (``summary``, ``city``, ``clusters``, ``districts``), None if
    the model does not record such a column (a stand-in model's outcome, an identifier)."""
    if column in KEYS:
        return KEYS[column]
    units = TABLES[table]
    if column in units:
        return units[column]
    return next((u for pattern, u in units.items() if "*" in pattern and fnmatchcase(column, pattern)), None)
