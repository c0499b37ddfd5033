"""Quarterly outcomes, gathered as columns (cheap) and turned into tidy tables at the end.

City row (one per quarter, quarter 0 = start state): talent by location and skill (persons), the
quarter's graduates and their decision at graduation (``graduates_retained`` stayed,
``graduates_to_beijing``, ``graduates_to_tianjin``, ``graduates_elsewhere``; persons, 0 outside
graduation quarters), outflows to Beijing / Tianjin / elsewhere and returns (persons, everyone),
cohort follow-up: ``cohort_size_{1,3,5}y`` = graduates of the cohort that graduated 4 / 12 / 20
quarters ago and ``cohort_in_city_{1,3,5}y`` = those of them living in the city now (persons; 0 when
no cohort graduated then), in-house training: ``trainees`` (persons in training at the end of the
quarter), ``training_enrolled``, ``training_completed`` (became digital), ``training_failed``
(persons this quarter), government spending per lever and in total (yuan this quarter), local tax
(yuan), the cumulative cost per retained graduate (talent-lever spending / graduates retained,
yuan), firms, employment (persons), revenue and value added (yuan per year, annualised).
Cluster rows: the energy index, its components and tier, whether the MIIT county-cluster criteria are
met this quarter (``county_criteria_met``) and the county status as last reviewed (``county_status``),
and the aggregates of ``sim.behaviour.energy`` — among them the measured links: ``link_share`` (share of firms
with an active link), ``supply_links`` (local supplier links), ``iur_projects`` (active 产学研
projects), ``data_members`` (members of the data-sharing centre), ``shared_matches`` (SMEs served by
the resource-sharing platform this quarter), ``sme_revenue_share`` (share of output by non-leaders).
District rows: firms, jobs (persons), mean digital coverage (0-1), talent living there (persons).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.inputs.config import Config
from sim.state.constants import CareerStage, Degree, Field, Loc

TALENT_LEVERS = ("talent_settlement_subsidy", "industry_education_consortium", "in_house_cultivation")


class Recorder:
    """Accumulates the model's quarterly outcomes as lists per column: the city table, and ``tables``
    of "clusters" and "districts" (default: both)."""

    def __init__(self, m, tables=("clusters", "districts")):
        self.tables = frozenset(tables)
        self.city: dict[str, list] = defaultdict(list)
        self.clusters: dict[str, list] = defaultdict(list)
        self.districts: dict[str, list] = defaultdict(list)
        self.levers = m.config.names("levers")
        self.cluster_keys = m.cluster_keys
        self.district_names = m.layout.district_names
        self.energy_components = m.city["energy"]["components"]
        self._talent_spend = 0.0
        self._retained = 0.0
        # the map's land cells by district (fixed for a run): digital coverage is averaged over them
        self._land = np.flatnonzero(m.cell_district >= 0)
        self._land_district = m.cell_district[self._land].astype(np.intp)
        self._land_cells = np.maximum(np.bincount(self._land_district, minlength=len(self.district_names)), 1)

    def collect(self, m) -> None:
        t, f = m.talent, m.firms
        q, period, year = m.quarter, m.period, m.start_year + (m.start_q - 1 + m.quarter) / 4.0
        row = self.city
        row["quarter"].append(q)
        row["period"].append(period)
        row["year"].append(year)
        persons = t.persons  # talent counts are persons: each agent weighs its persons
        by_loc = np.bincount(t.loc, weights=persons, minlength=len(Loc))
        for loc in Loc:
            row[f"talent_{loc.name.lower()}"].append(float(by_loc[loc]))
        here = np.flatnonzero(t.loc == Loc.CITY)  # the city's rows: everything below counts only these
        persons_here = persons[here]
        self._here, self._persons_here = here, persons_here
        row["talent_city_digital"].append(float(persons_here[t.field[here] == Field.DIGITAL].sum()))
        cohort_here = t.cohort[here]
        # persons by (degree, career stage) in one count; stages as sim.state.constants.career_stage
        # (nobody in the city is retired; new graduates: within a year of their cohort's graduation)
        age = t.age[here]
        stage = (age >= 30).view(np.int8) + (age >= 45).view(np.int8) + np.int8(CareerStage.EARLY)
        stage[(cohort_here >= 0) & (cohort_here > q - 4)] = CareerStage.NEW_GRADUATE
        by = np.bincount(t.degree[here].astype(np.intp) * 4 + stage, weights=persons_here,
                         minlength=4 * len(Degree)).reshape(len(Degree), 4)
        by_degree, by_stage = by.sum(axis=1), by.sum(axis=0)
        for deg in Degree:
            row[f"talent_city_{deg.name.lower()}"].append(float(by_degree[deg]))
        for code in (CareerStage.NEW_GRADUATE, CareerStage.EARLY, CareerStage.MID, CareerStage.SENIOR):
            row[f"talent_city_{code.name.lower()}"].append(float(by_stage[code]))
        fl = m.flows_q
        grads = fl.get("graduates", 0.0)
        kept = fl.get("graduates_retained", 0.0)
        row["graduates"].append(float(grads))
        row["graduates_retained"].append(float(kept))
        row["graduate_retention"].append(kept / grads if grads > 0 else np.nan)
        for name in ("graduates_to_beijing", "graduates_to_tianjin", "graduates_elsewhere",
                     "outflow_beijing", "outflow_tianjin", "outflow_elsewhere", "return_inflow"):
            row[name].append(float(fl.get(name, 0.0)))
        for years in (1, 3, 5):
            c = q - 4 * years
            # a cohort's persons are its graduates of quarter c wherever they are now (persons are conserved)
            row[f"cohort_size_{years}y"].append(float(row["graduates"][c]) if c >= 0 else 0.0)
            row[f"cohort_in_city_{years}y"].append(float(persons_here[cohort_here == c].sum()) if c >= 0 else 0.0)
        row["trainees"].append(float(persons_here[t.training_left[here] > 0].sum()))  # trainees work in the city
        for name in ("training_enrolled", "training_completed", "training_failed"):
            row[name].append(float(fl.get(name, 0.0)))
        total = 0.0
        for lever in self.levers:
            v = float(m.spending_q.get(lever, 0.0))
            row[f"spending_{lever}"].append(v)
            total += v
        row["spending_total"].append(total)
        row["tax_revenue"].append(float(fl.get("tax_revenue", 0.0)))
        self._talent_spend += sum(m.spending_q.get(k, 0.0) for k in TALENT_LEVERS)
        self._retained += kept
        row["cost_per_retained_graduate"].append(self._talent_spend / self._retained if self._retained else np.nan)
        a = f.alive
        row["firms"].append(int(a.sum()))
        row["employment"].append(float(f.employees[a].sum()))
        row["revenue"].append(float(4 * f.sales[a].sum()))
        row["value_added"].append(float(4 * f.value_added[a].sum()))
        row["mean_energy_index"].append(float(np.mean(m.energy_index)))
        if "clusters" in self.tables:
            self._collect_clusters(m, q, period, year)
        if "districts" in self.tables:
            self._collect_districts(m, q, period, year)

    def _collect_clusters(self, m, q, period, year) -> None:
        st, comp = m.stats, m.energy_components
        entries = np.bincount(m.firms.cluster[m.events_q.get("entries", np.zeros(0, np.int64))],
                              minlength=m.n_clusters)
        exits = np.bincount(m.firms.cluster[m.events_q.get("exits", np.zeros(0, np.int64))], minlength=m.n_clusters)
        c, n = self.clusters, len(self.cluster_keys)
        for name, values in (("quarter", [q] * n), ("period", [period] * n), ("year", [year] * n),
                             ("cluster", self.cluster_keys),
                             ("energy_index", np.asarray(m.energy_index, float).tolist()),
                             ("energy_tier", np.asarray(m.energy_tier).astype(int).tolist()),
                             ("county_criteria_met", np.asarray(m.county_criteria_met, bool).tolist()),
                             ("county_status", np.asarray(m.county_status, bool).tolist())):
            c[name].extend(values)
        for j, name in enumerate(self.energy_components):
            c[f"idx_{name}"].extend(np.asarray(comp[:, j], float).tolist())
        for name in ("revenue", "value_added", "employment", "technology", "patents", "patent_stock", "rd_intensity",
                     "chain_completeness", "midchain_share", "homogeneity", "leaders", "little_giants", "firms",
                     "link_share", "supply_links", "iur_projects", "data_members", "shared_matches",
                     "sme_revenue_share"):
            c[name].extend(np.asarray(st[name], float).tolist())
        for lvl in range(5):
            c[f"maturity_l{lvl + 1}"].extend(np.asarray(st["maturity_shares"][:, lvl], float).tolist())
        c["entries"].extend(entries.astype(int).tolist())
        c["exits"].extend(exits.astype(int).tolist())

    def _collect_districts(self, m, q, period, year) -> None:
        f, t = m.firms, m.talent
        a = f.alive
        nd = len(self.district_names)
        firms = np.bincount(f.district[a], minlength=nd)
        jobs = np.bincount(f.district[a], weights=f.employees[a], minlength=nd)
        cov = m.layer_values("digital_coverage")
        cov_d = np.bincount(self._land_district, weights=cov[self._land], minlength=nd) / self._land_cells
        cells, persons = t.cell[self._here], self._persons_here  # the city's rows (collect)
        placed = cells >= 0
        if not placed.all():
            cells, persons = cells[placed], persons[placed]
        talent = np.bincount(m.cell_district[cells], weights=persons, minlength=nd)
        d, n = self.districts, nd
        spend, tax = m.district_spending_q, m.tax_by_district
        for name, values in (("quarter", [q] * n), ("period", [period] * n), ("year", [year] * n),
                             ("district", self.district_names), ("firms", firms.astype(int).tolist()),
                             ("jobs", jobs.astype(float).tolist()), ("digital_coverage", cov_d.astype(float).tolist()),
                             ("talent", talent.astype(float).tolist()),
                             ("tax_revenue", np.asarray(tax, float).tolist() if q else [0.0] * n),
                             ("government_spending", np.asarray(spend, float).tolist() if q else [0.0] * n),
                             ("government_balance", [float(g.balance) for g in m.district_governments])):
            d[name].extend(values)


def _last(name):
    def report(m):
        return m.recorder.city[name][-1]

    report.__name__ = name
    return report


def _cumulative(name):
    def report(m):
        return float(sum(m.recorder.city[name]))

    report.__name__ = f"{name}_total"
    return report


def _six(m) -> np.ndarray:
    return np.array([k != "other" for k in m.cluster_keys])


def tiers_climbed(m) -> int:
    """Tiers the six clusters together climbed since the start (can be negative)."""
    six = _six(m)
    return int((m.energy_tier[six] - m.initial_tier[six]).sum())


def n_national_clusters(m) -> int:
    """How many of the six clusters have reached the national tier (3) at some quarter so far."""
    return int((m.max_tier[_six(m)] >= 3).sum())


def any_national(m) -> bool:
    return n_national_clusters(m) > 0


def latest_cohort_retention(m) -> float:
    """Share of the latest graduate cohort still living in the city now (NaN before the first graduation)."""
    t = m.talent
    if not (t.cohort >= 0).any():
        return float("nan")
    cohort = t.cohort == t.cohort.max()
    return float(t.persons[cohort & (t.loc == Loc.CITY)].sum() / t.persons[cohort].sum())


# Mesa batch_run reporters: this quarter's values, and what a policy question needs at any step
# (cumulative outflows, tiers climbed, national clusters, the latest cohort's retention).
MODEL_REPORTERS = {name: _last(name) for name in (
    "talent_city", "graduate_retention", "outflow_beijing", "outflow_tianjin", "firms", "revenue",
    "mean_energy_index", "spending_total",
)} | {f"{n}_total": _cumulative(n) for n in ("outflow_beijing", "outflow_tianjin", "outflow_elsewhere")} | {
    "tiers_climbed_clusters": tiers_climbed, "n_national_clusters": n_national_clusters,
    "any_national": any_national, "latest_cohort_retention": latest_cohort_retention,
}


NATIONAL_TIER = 3


@dataclass
class ScenarioResult:
    """Tidy outcome tables of one run.

    city:      one row per quarter (0 = start state)
    clusters:  one row per quarter x cluster
    districts: one row per quarter x district
    """

    city: pd.DataFrame
    clusters: pd.DataFrame
    districts: pd.DataFrame
    config: Config = field(repr=False)
    seed: Any = None

    @classmethod
    def from_recorder(cls, recorder, config: Config, seed=None) -> ScenarioResult:
        return cls(
            city=pd.DataFrame(recorder.city),
            clusters=pd.DataFrame(recorder.clusters),
            districts=pd.DataFrame(recorder.districts),
            config=config,
            seed=seed,
        )

    def summary(self) -> dict[str, float]:
        """Scalar end-of-run outcomes (one row of a sweep's summary table)."""
        city, cl = self.city, self.clusters
        last_q = int(city["quarter"].max())
        end = cl[cl["quarter"] == last_q].set_index("cluster")
        start = cl[cl["quarter"] == 0].set_index("cluster")
        out: dict[str, float] = {}
        top_tier = cl.groupby("cluster", sort=False)["energy_tier"].max()
        for key, index, tier in zip(end.index, end["energy_index"].to_numpy(), end["energy_tier"].to_numpy()):
            out[f"energy_index_final_{key}"] = float(index)
            out[f"energy_tier_final_{key}"] = int(tier)
            out[f"reached_national_{key}"] = bool(top_tier[key] >= NATIONAL_TIER)
        out["tiers_climbed_total"] = int((end["energy_tier"] - start["energy_tier"]).sum())
        six = [k for k in end.index if k != "other"]  # the paper's six clusters
        out["tiers_climbed_clusters"] = int((end.loc[six, "energy_tier"] - start.loc[six, "energy_tier"]).sum())
        out["n_national_clusters"] = int(sum(out[f"reached_national_{k}"] for k in six))
        out["any_national"] = out["n_national_clusters"] > 0
        out.update(graduate_outcomes(city))
        for name in ("outflow_beijing", "outflow_tianjin", "outflow_elsewhere", "return_inflow"):
            out[f"{name}_total"] = float(city[name].sum())
        out["spending_total"] = float(city["spending_total"].sum())
        talent_cols = ["spending_talent_settlement_subsidy", "spending_industry_education_consortium",
                       "spending_in_house_cultivation"]
        out["spending_talent_total"] = float(city[talent_cols].to_numpy().sum())
        out["cost_per_retained_graduate"] = float(city["cost_per_retained_graduate"].iloc[-1])
        out["talent_city_final"] = float(city["talent_city"].iloc[-1])
        mat = end[[f"maturity_l{i}" for i in range(1, 6)]].to_numpy()
        w = end["firms"].to_numpy()
        shares = (mat * w[:, None]).sum(axis=0) / max(w.sum(), 1)
        out["mean_maturity_final"] = float((shares * np.arange(1, 6)).sum())
        out["share_l1_l2_final"] = float(shares[:2].sum())
        out["chain_completeness_final_mean"] = float(end["chain_completeness"].mean())
        out["homogeneity_final_mean"] = float(end["homogeneity"].mean())
        out["mean_energy_index_final"] = float(end["energy_index"].mean())
        out["revenue_final"] = float(city["revenue"].iloc[-1])
        out["value_added_final"] = float(city["value_added"].iloc[-1])
        out["firms_final"] = float(city["firms"].iloc[-1])
        out["little_giants_final"] = float(end["little_giants"].sum())
        out["leaders_final"] = float(end["leaders"].sum())
        return out


def graduate_outcomes(city) -> dict[str, float]:
    """Graduates' shares over a run from its city table (a DataFrame, or the recorder's column lists):
    staying at graduation, leaving for Beijing / Tianjin at graduation, and ``retention_{1,3,5}y``
    pooled over the cohorts observed 1 / 3 / 5 years after graduating within the run (NaN when none)."""

    def total(name: str) -> float:
        return float(np.sum(np.asarray(city[name], float)))

    grads = total("graduates")
    out = {"graduate_retention": total("graduates_retained") / grads if grads else np.nan}
    for name in ("beijing", "tianjin"):
        out[f"graduates_to_{name}_share"] = total(f"graduates_to_{name}") / grads if grads else np.nan
    for years in (1, 3, 5):
        size = total(f"cohort_size_{years}y")
        out[f"retention_{years}y"] = total(f"cohort_in_city_{years}y") / size if size else np.nan
    return out
