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
yuan), firms, employment (persons), revenue and value added (yuan per year, annualised, real 2021
yuan), ``local_sourcing_share`` (share of the six clusters' parts and processing inputs bought from
local firms, 本地配套率; ``sim.behaviour.links.local_sourcing``).
The money ledger (``LEDGER``; yuan this quarter, real): firms' value added (``firm_value_added``) and where
it goes — ``wage_bill`` (households' income), ``tax_revenue`` (governments), ``interest_paid`` (banks),
R&D (``rd_spending``, of which ``rd_subsidies`` the government pays), ``firm_profit``; what the
government pays banks for SMEs (``interest_discount``); credit (``new_borrowing``, ``debt_repayment``);
what firms release above their cash buffer (``payouts`` to owners, ``investment``); firms' own shares of
programme costs and moves (``firm_digital_spending``, ``firm_switch_spending`` (segment and niche moves), ``firm_training_spending``,
``firm_iur_spending``); entrants' start capital and loans (``entrant_capital``, ``entrant_debt``); what
exiting firms hold when they leave (``exit_cash``, negative when insolvent; ``exit_debt``); the
governments' income (``government_income``: local tax plus the base budget). Stocks at the end of the
quarter: ``firm_cash`` and ``firm_debt`` (alive firms), ``fiscal_balance`` (all governments,
cumulative income minus spending). They add up every quarter (tests/test_money.py):
``Δ firm_cash = firm_profit + new_borrowing - debt_repayment - payouts - investment - firm_*_spending
+ entrant_capital - exit_cash``, ``Δ firm_debt = new_borrowing - debt_repayment + entrant_debt - exit_debt``,
``firm_profit = firm_value_added - wage_bill - (rd_spending - rd_subsidies) - interest_paid - tax_revenue``
and ``Δ fiscal_balance = government_income - spending_total``.
Cluster rows: the energy index, its components and tier, the two ladders the tier combines, kept apart
so neither hides the other: the index tier (``index_tier``: 0 below provincial, 1 provincial, 2
national, 3 world-class; energy tier = index tier + 1 when above 0) and the county ladder (whether the
MIIT county-cluster criteria are met this quarter, ``county_criteria_met``, and the county status as
last reviewed, ``county_status``),
and the aggregates of ``sim.behaviour.energy`` — among them the measured links: ``link_share`` (share of firms
with an active link), ``supply_links`` (local supplier links), ``iur_projects`` (active 产学研
projects), ``data_members`` (members of the data-sharing centre), ``shared_matches`` (SMEs served by
the resource-sharing platform this quarter), ``sme_revenue_share`` (share of output by non-leaders), and
what links do (the collaboration component's inputs): ``local_sourcing`` (share of the cluster's parts
and processing inputs bought locally), ``knowledge_flow`` (technology gained from universities per firm
and year), ``shared_use`` (share of SMEs' capacity borrowed through the resource-sharing platform).
District rows: firms, jobs (persons), mean digital coverage (0-1), talent living there (persons).

Firm panel (opt-in: ``record="all+firms"``; otherwise an empty frame with the same columns): one row
per firm and model year. Model year k is quarters 4k-3 .. 4k; it is observed at its last quarter 4k
(the city table's row of that quarter: with the default start 2025Q1, 2026Q1, 2027Q1, ...), plus
the start state (quarter 0) and the last quarter of a horizon that is not a whole number of years.
A firm has a row in a year if it was alive at some point in it: firms alive at the observed quarter
(``alive`` True, their state in that quarter, so sums over them equal the city and cluster tables of
that quarter), and firms that exited during the year (``alive`` False, ``exited`` = exit quarter,
their state in the last quarter they were alive, ``observed_quarter`` = exited - 1), so size and
links at exit are kept for survival analysis. Columns: :data:`FIRM_PANEL` (one line per column)
after the frame (quarter, period, year, id = the firm's row, stable for the run, alive, entered,
exited, observed_quarter). Collecting it reads the firm table once a quarter (numpy copies, no model
state is touched: the other tables are identical with and without it, tested); runs that do not
record it do no firm-panel work at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim.inputs.config import Config
from sim.state.compiled import kernel
from sim.state.constants import (
    EARLY_CAREER_UNDER,
    MID_CAREER_UNDER,
    NEW_GRADUATE_YEARS,
    CareerStage,
    Degree,
    Field,
    Loc,
    SizeClass,
)

TALENT_LEVERS = ("talent_settlement_subsidy", "industry_education_consortium", "in_house_cultivation")
# the city table's money flows, yuan this quarter (module docstring)
LEDGER = ("firm_value_added", "wage_bill", "rd_spending", "rd_subsidies", "interest_paid", "interest_discount",
          "firm_profit", "new_borrowing", "debt_repayment", "payouts", "investment", "firm_digital_spending",
          "firm_switch_spending", "firm_training_spending", "firm_iur_spending", "entrant_capital", "entrant_debt",
          "exit_cash", "exit_debt", "government_income")


@dataclass(frozen=True)
class PanelColumn:
    """One column of the firm panel: ``read(model)`` gives it for every firm row (alive or not) in the
    current quarter; ``dtype`` is its type in the panel; ``keys`` names the model's key list that turns
    codes into names (``"cluster"``, ``"segment"``, ``"district"``), as the other tables show them."""

    read: Callable[[Any], np.ndarray]
    dtype: str
    unit: str
    keys: str | None = None


def _local_suppliers(m) -> np.ndarray:
    """Per firm row: alive local suppliers with an active link to it (``firms.supplies`` = buyer row)."""
    f, n = m.firms, len(m.firms)
    return np.bincount(f.supplies[m.link_state["supplier"]], minlength=n)[:n]


# The firm panel's state columns, in order (module docstring). A new column is one line here; flows are
# annualised like the city table (4 x the quarter's value).
FIRM_PANEL: dict[str, PanelColumn] = {
    "cluster": PanelColumn(lambda m: m.firms.cluster, "str", "key", keys="cluster"),
    "segment": PanelColumn(lambda m: m.firms.segment, "str", "key", keys="segment"),
    "district": PanelColumn(lambda m: m.firms.district, "str", "key", keys="district"),
    "niche": PanelColumn(lambda m: m.firms.niche, "int16", "index within the cluster (0-based)"),
    "age": PanelColumn(lambda m: m.firms.age / 4.0, "float64", "years (start firms: their age at set-up)"),
    "employees": PanelColumn(lambda m: m.firms.employees, "float64", "persons"),
    "skilled": PanelColumn(lambda m: m.firms.skilled, "float64", "persons (skilled staff employed)"),
    "sales": PanelColumn(lambda m: 4.0 * m.firms.sales, "float64", "yuan/yr (annualised)"),
    "value_added": PanelColumn(lambda m: 4.0 * m.firms.value_added, "float64", "yuan/yr (annualised)"),
    "rd_spend": PanelColumn(lambda m: 4.0 * m.firms.rd_spend, "float64", "yuan/yr (annualised)"),
    "technology": PanelColumn(lambda m: m.firms.tech, "float64", "index 0-1"),
    "maturity": PanelColumn(lambda m: m.firms.maturity, "int8", "digital maturity level 1-5"),
    "supplier": PanelColumn(lambda m: m.link_state["supplier"], "bool", "supplies a live local buyer"),
    "local_suppliers": PanelColumn(_local_suppliers, "int64", "live local suppliers linked to it"),
    "iur_project": PanelColumn(lambda m: m.link_state["iur"], "bool", "in an active 产学研 project"),
    "data_member": PanelColumn(lambda m: m.firms.data_member & m.firms.alive, "bool", "data-centre member"),
    "data_exchange": PanelColumn(lambda m: m.link_state["data"], "bool", "exchanges data through the centre"),
    "shared_match": PanelColumn(lambda m: m.link_state["shared"], "bool",
                                "served by the resource-sharing platform this quarter"),
    "any_link": PanelColumn(lambda m: m.link_state["any"], "bool", "at least one active link of any kind"),
    "leader": PanelColumn(lambda m: m.firms.size_class == SizeClass.LEADER, "bool", "leader (龙头)"),
    "little_giant": PanelColumn(lambda m: m.firms.little_giant, "bool", "national little giant (专精特新小巨人)"),
    "above_scale": PanelColumn(lambda m: m.firms.above_scale, "bool", "above designated size (规上)"),
}
# the panel's frame columns, before FIRM_PANEL's: when and which firm, and its life
PANEL_FRAME = {"quarter": "int64", "period": "str", "year": "float64", "id": "int64", "alive": "bool",
               "entered": "int32", "exited": "int32", "observed_quarter": "int64"}


class FirmPanelRecorder:
    """Keeps the firm panel's yearly snapshots as numpy arrays and builds the frame once at the end.

    Every quarter it reads :data:`FIRM_PANEL` for all firm rows (kept until the next quarter, so that
    a firm that exits has its last alive state); at an observed quarter (a multiple of 4, and the
    horizon's last) it keeps the alive rows and the year's exits.
    """

    def __init__(self, keys: dict[str, list[str]]):
        self.keys = keys
        self.snapshots: list[dict[str, np.ndarray]] = []
        self._last: tuple[int, dict[str, np.ndarray]] | None = None  # (quarter, state of every row)
        self._exits: list[dict[str, np.ndarray]] = []  # rows that exited since the last snapshot

    def collect(self, m, period: str, year: float) -> None:
        f, q = m.firms, m.quarter
        state = {name: np.array(col.read(m)) for name, col in FIRM_PANEL.items()}
        state["alive"] = f.alive.copy()
        state["entered"], state["exited"] = f.entered.copy(), f.exited.copy()
        if self._last is not None:
            last_q, last = self._last
            gone = np.flatnonzero(last["alive"] & ~state["alive"][: last["alive"].size])
            if gone.size:
                rows = {name: v[gone] for name, v in last.items()}
                rows["alive"] = np.zeros(gone.size, bool)
                rows["exited"] = state["exited"][gone]
                rows["id"] = gone.astype(np.int64)
                rows["observed_quarter"] = np.full(gone.size, last_q, np.int64)
                self._exits.append(rows)
        self._last = (q, state)
        if q % 4 and q != m.quarters:
            return
        alive = np.flatnonzero(state["alive"])
        rows = {name: v[alive] for name, v in state.items()}
        rows["id"] = alive.astype(np.int64)
        rows["observed_quarter"] = np.full(alive.size, q, np.int64)
        parts = [rows, *self._exits]
        self._exits = []
        snap = {name: np.concatenate([p[name] for p in parts]) for name in rows}
        order = np.argsort(snap["id"], kind="stable")
        snap = {name: v[order] for name, v in snap.items()}
        k = order.size
        snap["quarter"] = np.full(k, q, np.int64)
        snap["period"] = np.full(k, period, object)
        snap["year"] = np.full(k, year, float)
        self.snapshots.append(snap)

    def frame(self) -> pd.DataFrame:
        """The panel as a DataFrame (empty with the same columns and types when nothing was kept). Mid-run
        (``ClusterModel.result()``) it holds the years observed so far; exits since then join the next."""
        return firm_panel_frame(self.snapshots, self.keys)


def firm_panel_frame(snapshots: list[dict[str, np.ndarray]], keys: dict[str, list[str]] | None = None
                     ) -> pd.DataFrame:
    """Concatenate snapshots into the panel frame; codes become names; no snapshots: the empty panel."""
    out: dict[str, Any] = {}
    for name, dtype in {**PANEL_FRAME, **{k: c.dtype for k, c in FIRM_PANEL.items()}}.items():
        values = np.concatenate([s[name] for s in snapshots]) if snapshots else np.zeros(0)
        col = FIRM_PANEL.get(name)
        if col is not None and col.keys is not None:
            names = np.asarray((keys or {}).get(col.keys, []), dtype=object)
            out[name] = pd.Series(names[values.astype(np.int64)] if snapshots else [], dtype="str")
        elif dtype == "str":
            out[name] = pd.Series(values, dtype="str")
        else:
            out[name] = values.astype(dtype)
    return pd.DataFrame(out)


def empty_firm_panel() -> pd.DataFrame:
    """The firm panel of a run that did not record it: no rows, the panel's columns and types."""
    return firm_panel_frame([])


class Recorder:
    """Accumulates the model's quarterly outcomes as lists per column: the city table, and ``tables``
    of "clusters" and "districts" (default: both) and, when asked for, "firms" (the firm panel)."""

    def __init__(self, m, tables=("clusters", "districts")):
        self.tables = frozenset(tables)
        self.firm_panel = (FirmPanelRecorder({"cluster": list(m.cluster_keys), "segment": list(m.segment_keys),
                                              "district": list(m.layout.district_names)})
                           if "firms" in self.tables else None)
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
        # talent counts are persons (each agent weighs its persons), in one pass over the rows
        by_loc, digital, by, cohorts, trainees, self._district_talent = _talent_census(
            t.loc, t.persons, t.field, t.degree, t.age, t.cohort, t.training_left, t.cell, m.cell_district, q,
            len(Loc), len(Degree), len(self.district_names))
        for loc in Loc:
            row[f"talent_{loc.name.lower()}"].append(float(by_loc[loc]))
        row["talent_city_digital"].append(float(digital))
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
        for j, years in enumerate(COHORT_YEARS):
            c = q - 4 * years
            # a cohort's persons are its graduates of quarter c wherever they are now (persons are conserved)
            row[f"cohort_size_{years}y"].append(float(row["graduates"][c]) if c >= 0 else 0.0)
            row[f"cohort_in_city_{years}y"].append(float(cohorts[j]) if c >= 0 else 0.0)
        row["trainees"].append(float(trainees))  # trainees work in the city
        for name in ("training_enrolled", "training_completed", "training_failed"):
            row[name].append(float(fl.get(name, 0.0)))
        total = 0.0
        for lever in self.levers:
            v = float(m.spending_q.get(lever, 0.0))
            row[f"spending_{lever}"].append(v)
            total += v
        row["spending_total"].append(total)
        row["tax_revenue"].append(float(fl.get("tax_revenue", 0.0)))
        for name in LEDGER:
            row[name].append(float(fl.get(name, 0.0)))
        alive = f.alive
        row["firm_cash"].append(float(f.cash[alive].sum()))
        row["firm_debt"].append(float(f.debt[alive].sum()))
        row["fiscal_balance"].append(float(m.city_government.balance
                                               + sum(g.balance for g in m.district_governments)))
        self._talent_spend += sum(m.spending_q.get(k, 0.0) for k in TALENT_LEVERS)
        self._retained += kept
        row["cost_per_retained_graduate"].append(self._talent_spend / self._retained if self._retained else np.nan)
        a = f.alive
        row["firms"].append(int(a.sum()))
        row["employment"].append(float(f.employees[a].sum()))
        row["revenue"].append(float(4 * f.sales[a].sum()))
        row["value_added"].append(float(4 * f.value_added[a].sum()))
        six = _six(m)
        inputs = m.chain_inputs_c[six]
        row["local_sourcing_share"].append(float((m.local_sourcing[six] * inputs).sum() / max(inputs.sum(), 1e-9)))
        row["mean_energy_index"].append(float(np.mean(m.energy_index)))
        if "clusters" in self.tables:
            self._collect_clusters(m, q, period, year)
        if "districts" in self.tables:
            self._collect_districts(m, q, period, year)
        if self.firm_panel is not None:
            self.firm_panel.collect(m, period, year)

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
                             ("county_status", np.asarray(m.county_status, bool).tolist()),
                             ("index_tier", np.asarray(m.index_tier).astype(int).tolist())):
            c[name].extend(values)
        for j, name in enumerate(self.energy_components):
            c[f"idx_{name}"].extend(np.asarray(comp[:, j], float).tolist())
        for name in ("revenue", "value_added", "employment", "technology", "patents", "patent_stock", "rd_intensity",
                     "chain_completeness", "midchain_share", "homogeneity", "leaders", "little_giants", "firms",
                     "link_share", "supply_links", "iur_projects", "data_members", "shared_matches",
                     "sme_revenue_share", "local_sourcing", "knowledge_flow", "shared_use"):
            c[name].extend(np.asarray(st[name], float).tolist())
        for lvl in range(5):
            c[f"maturity_l{lvl + 1}"].extend(np.asarray(st["maturity_shares"][:, lvl], float).tolist())
        c["entries"].extend(entries.astype(int).tolist())
        c["exits"].extend(exits.astype(int).tolist())

    def _collect_districts(self, m, q, period, year) -> None:
        f = m.firms
        a = f.alive
        nd = len(self.district_names)
        firms = np.bincount(f.district[a], minlength=nd)
        jobs = np.bincount(f.district[a], weights=f.employees[a], minlength=nd)
        cov = m.layer_values("digital_coverage")
        cov_d = np.bincount(self._land_district, weights=cov[self._land], minlength=nd) / self._land_cells
        talent = self._district_talent  # persons in the city by the district of their cell (collect)
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


COHORT_YEARS = (1, 3, 5)  # cohorts followed up this many years after graduation


@kernel
def _talent_census(loc, persons, field, degree, age, cohort, training_left, cell, cell_district, quarter, n_loc,
                   n_degree, n_districts):
    """Persons counted in one pass over the talent rows (all sums of whole persons, so exact in any
    order): by location; of those in the city, the digital ones, those by (degree, career stage)
    (``constants.career_stage``; nobody in the city is retired), those of the cohorts that graduated
    ``COHORT_YEARS`` ago, the trainees, and those placed on the map by the district of their cell."""
    by_loc = np.zeros(n_loc)
    by_degree_stage = np.zeros((n_degree, 4))
    cohorts = np.zeros(len(COHORT_YEARS))
    by_district = np.zeros(n_districts)
    digital = 0.0
    trainees = 0.0
    for i in range(loc.size):
        n = persons[i]
        by_loc[loc[i]] += n
        if loc[i] != CITY:
            continue
        if field[i] == DIGITAL:
            digital += n
        if cohort[i] >= 0 and (quarter - cohort[i]) / 4.0 < NEW_GRADUATE_YEARS:
            stage = NEW_GRADUATE
        elif age[i] < EARLY_CAREER_UNDER:
            stage = EARLY
        elif age[i] < MID_CAREER_UNDER:
            stage = MID
        else:
            stage = SENIOR
        by_degree_stage[degree[i], stage] += n
        for j in range(len(COHORT_YEARS)):
            if cohort[i] == quarter - 4 * COHORT_YEARS[j]:
                cohorts[j] += n
        if training_left[i] > 0:
            trainees += n
        if cell[i] >= 0:
            by_district[cell_district[cell[i]]] += n
    return by_loc, digital, by_degree_stage, cohorts, trainees, by_district


CITY, DIGITAL = int(Loc.CITY), int(Field.DIGITAL)  # (kernels take plain ints)
NEW_GRADUATE, EARLY, MID, SENIOR = (int(CareerStage.NEW_GRADUATE), int(CareerStage.EARLY), int(CareerStage.MID),
                                    int(CareerStage.SENIOR))


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


def index_tiers_climbed(m) -> int:
    """Index tiers (provincial, national, world-class) the six clusters together climbed since the start,
    leaving out the county ladder (can be negative)."""
    six = _six(m)
    return int((m.index_tier[six] - m.initial_index_tier[six]).sum())


def county_clusters(m) -> int:
    """How many of the six clusters hold the county SME-cluster status now."""
    return int(np.asarray(m.county_status)[_six(m)].sum())


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


def retention_3y(m) -> float:
    """Graduates still living in the city 3 years after graduating, pooled over the cohorts that are 3
    years on by this quarter (share 0-1; NaN before the first is). The measure of the summary's
    ``retention_3y`` (:func:`graduate_outcomes` of the city table so far), so a batch_run's last step
    and ``ScenarioResult.summary()`` agree; ``latest_cohort_retention`` is another measure (the newest
    cohort, whatever its age)."""
    return graduate_outcomes(m.recorder.city)["retention_3y"]


# Mesa batch_run reporters: this quarter's values, and what a policy question needs at any step
# (cumulative outflows, tiers climbed, national clusters, retention after 3 years, the latest cohort's).
MODEL_REPORTERS = {name: _last(name) for name in (
    "talent_city", "graduate_retention", "outflow_beijing", "outflow_tianjin", "firms", "revenue",
    "mean_energy_index", "spending_total",
)} | {f"{n}_total": _cumulative(n) for n in ("outflow_beijing", "outflow_tianjin", "outflow_elsewhere")} | {
    "tiers_climbed_clusters": tiers_climbed, "index_tiers_climbed": index_tiers_climbed,
    "county_clusters": county_clusters, "n_national_clusters": n_national_clusters,
    "any_national": any_national, "retention_3y": retention_3y, "latest_cohort_retention": latest_cohort_retention,
}


class QuarterCollector(mesa.DataCollector):
    """Mesa's DataCollector over :data:`MODEL_REPORTERS`, keeping each collection's step as a whole
    number of quarters. Mesa 3.5 notes ``model.time``, a float, so ``mesa.batch_run``'s ``Step``
    column would be 0.0, 1.0, ...; one model step is one quarter, so the step is an integer."""

    def __init__(self) -> None:
        super().__init__(model_reporters=MODEL_REPORTERS)

    def collect(self, model) -> None:
        super().collect(model)
        steps = getattr(self, "_collection_steps", None)  # what batch_run reads for Step (Mesa >= 3.3)
        if steps and float(steps[-1]).is_integer():
            steps[-1] = int(steps[-1])


NATIONAL_TIER = 3


@dataclass(frozen=True)
class Headline:
    """A headline outcome: a ``ScenarioResult.summary`` key a statistics bureau could check, with its
    words and the unit reports show it in (``value / scale`` in ``unit``)."""

    name: str
    en: str
    zh: str
    unit_en: str
    unit_zh: str
    scale: float
    digits: int


# Outcomes a statistics bureau could check lead every report (experiments run / analyze / explain and
# the workshop's key figures); the energy tiers, the paper's vocabulary, come after them.
HEADLINE_OUTCOMES = (
    Headline("value_added_real_final", "real value added at the end (annual rate, 2021 yuan)",
             "期末实际工业增加值（年率，2021年价）", "亿 yuan/yr", "亿元/年", 1e8, 1),
    Headline("local_sourcing_share_final", "local sourcing share of the six clusters' parts and processing inputs",
             "六大集群零部件与加工投入的本地配套率", "%", "%", 0.01, 1),
    Headline("employment_final", "manufacturing employment at the end", "期末制造业就业", "persons", "人", 1.0, 0),
    Headline("net_fiscal_balance_total", "net fiscal balance: local tax minus programme spending (cumulative)",
             "财政净收支：地方税收减政策支出（累计）", "亿 yuan", "亿元", 1e8, 1),
    Headline("retention_3y", "graduates still in the city after 3 years", "毕业3年后仍留秦比例", "%", "%", 0.01, 1),
    Headline("outflow_beijing_total", "talent outflow to Beijing (cumulative)", "累计流向北京人才", "persons", "人", 1.0, 0),
    Headline("outflow_tianjin_total", "talent outflow to Tianjin (cumulative)", "累计流向天津人才", "persons", "人", 1.0, 0),
)
HEADLINE_NAMES = tuple(h.name for h in HEADLINE_OUTCOMES)


@dataclass
class ScenarioResult:
    """Tidy outcome tables of one run.

    city:      one row per quarter (0 = start state)
    clusters:  one row per quarter x cluster
    districts: one row per quarter x district
    firms:     the firm panel, one row per firm x model year (module docstring); recorded only with
               ``record="all+firms"``, otherwise empty with the same columns
    """

    city: pd.DataFrame
    clusters: pd.DataFrame
    districts: pd.DataFrame
    config: Config = field(repr=False)
    seed: Any = None
    firms: pd.DataFrame = field(default_factory=empty_firm_panel, repr=False)

    @classmethod
    def from_recorder(cls, recorder, config: Config, seed=None) -> ScenarioResult:
        return cls(
            city=pd.DataFrame(recorder.city),
            clusters=pd.DataFrame(recorder.clusters),
            districts=pd.DataFrame(recorder.districts),
            config=config,
            seed=seed,
            firms=recorder.firm_panel.frame() if recorder.firm_panel is not None else empty_firm_panel(),
        )

    def summary(self) -> dict[str, float]:
        """Scalar end-of-run outcomes (one row of a sweep's summary table). A run that kept only the city
        table (``record="city"``) has no cluster table: its summary leaves out the cluster outcomes
        (energy index and tiers, maturity, chain completeness, homogeneity, leaders, little giants)."""
        city, cl = self.city, self.clusters
        out: dict[str, float] = {}
        has_clusters = len(cl) > 0
        if has_clusters:
            last_q = int(city["quarter"].max())
            end = cl[cl["quarter"] == last_q].set_index("cluster")
            start = cl[cl["quarter"] == 0].set_index("cluster")
            top_tier = cl.groupby("cluster", sort=False)["energy_tier"].max()
            for key, index, tier in zip(end.index, end["energy_index"].to_numpy(), end["energy_tier"].to_numpy()):
                out[f"energy_index_final_{key}"] = float(index)
                out[f"energy_tier_final_{key}"] = int(tier)
                out[f"reached_national_{key}"] = bool(top_tier[key] >= NATIONAL_TIER)
            out["tiers_climbed_total"] = int((end["energy_tier"] - start["energy_tier"]).sum())
            six = [k for k in end.index if k != "other"]  # the paper's six clusters
            out["tiers_climbed_clusters"] = int((end.loc[six, "energy_tier"] - start.loc[six, "energy_tier"]).sum())
            # the two ladders the tier combines, apart (a fall on one can cancel a rise on the other)
            out["index_tiers_climbed"] = int((end.loc[six, "index_tier"] - start.loc[six, "index_tier"]).sum())
            out["county_clusters_start"] = int(start.loc[six, "county_status"].sum())
            out["county_clusters_final"] = int(end.loc[six, "county_status"].sum())
            out["n_national_clusters"] = int(sum(out[f"reached_national_{k}"] for k in six))
            out["any_national"] = out["n_national_clusters"] > 0
        out.update(graduate_outcomes(city))
        for name in ("outflow_beijing", "outflow_tianjin", "outflow_elsewhere", "return_inflow"):
            out[f"{name}_total"] = float(city[name].sum())
        out["spending_total"] = float(city["spending_total"].sum())
        out["tax_total"] = float(city["tax_revenue"].sum())
        out["net_fiscal_balance_total"] = out["tax_total"] - out["spending_total"]  # real yuan; differences
        # between a package and the status quo are extra tax minus extra spending
        talent_cols = ["spending_talent_settlement_subsidy", "spending_industry_education_consortium",
                       "spending_in_house_cultivation"]
        out["spending_talent_total"] = float(city[talent_cols].to_numpy().sum())
        out["cost_per_retained_graduate"] = float(city["cost_per_retained_graduate"].iloc[-1])
        out["talent_city_final"] = float(city["talent_city"].iloc[-1])
        if has_clusters:
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
        out["value_added_real_final"] = out["value_added_final"]  # the model's money is real (2021 yuan)
        out["local_sourcing_share_final"] = float(city["local_sourcing_share"].iloc[-1])
        out["employment_final"] = float(city["employment"].iloc[-1])
        out["firms_final"] = float(city["firms"].iloc[-1])
        if has_clusters:
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
