"""Mesa agents. Each is a thin view on one row of the model's state arrays.

The model's submodels (``sim.behaviour.market``, ``sim.behaviour.labour``, ...) update whole columns at once with numpy;
these classes give researchers, the app and Mesa's tools an agent to point at: ``firm.revenue``,
``talent.location``, ``agentset.select(...)``, ``agents_by_type[Firm]``. They hold no state of their own
apart from their row index, so the arrays are the single source of truth.
"""

from __future__ import annotations

import mesa
from mesa.discrete_space import CellAgent, FixedAgent

from sim.state.constants import CareerStage, Loc, SizeClass, career_stage


def _column(table: str, name: str, doc: str):
    def getter(self):
        return getattr(getattr(self.model, table), name)[self.row]

    return property(getter, doc=doc)


class Firm(CellAgent):
    """A manufacturing firm (企业) in one cluster, one chain segment and one product niche.

    Each quarter (vectorised in ``sim.behaviour``: ``market``, ``innovation``, ``digital``, ``finance``,
    ``entry``): competes for its cluster-segment's orders (sharing demand with same-niche rivals cuts
    its margin), invests in R&D, may take a digital upgrade (cost vs expected gain, grant, coverage,
    digital staff, peers), posts vacancies for graduates, borrows, and exits when insolvent.
    """

    cluster = _column("firms", "cluster", "cluster index (see model.cluster_keys)")
    segment = _column("firms", "segment", "value-chain segment index (city.toml [segments])")
    niche = _column("firms", "niche", "product niche within the cluster")
    employees = _column("firms", "employees", "persons employed")
    sales = _column("firms", "sales", "revenue this quarter, yuan")
    tech = _column("firms", "tech", "technology level, index 0-1")
    rd_stock = _column("firms", "rd_stock", "R&D capital stock, yuan")
    patent_stock = _column("firms", "patent_stock", "granted patents held")
    digital_maturity = _column("firms", "maturity", "digital maturity level 1-5 (GB/T 39116)")
    cash = _column("firms", "cash", "cash, yuan")
    debt = _column("firms", "debt", "debt, yuan")

    def __init__(self, model, row: int, cell):
        super().__init__(model)
        self.row = int(row)
        self.cell = cell

    @property
    def revenue(self) -> float:
        """Annualised revenue, yuan per year."""
        return 4.0 * self.sales

    @property
    def size_class(self) -> SizeClass:
        return SizeClass(int(self.model.firms.size_class[self.row]))


class Talent(mesa.Agent):
    """A group of skilled people (``persons``, at most ``persons_per_agent``) with the same field, degree,
    employer and situation, who decide where to live together.

    The super-individual method (Scheffer et al. 1995): one agent stands for several persons so a city
    of hundreds of thousands runs in a second. Each quarter (``sim.behaviour.labour``): ages, searches for a job,
    weighs staying in Qinhuangdao against Beijing, Tianjin or elsewhere by a random-utility rule over
    wage, career prospects, housing cost, subsidies, ties and distance, and may return later.
    """

    field = _column("talent", "field", "0 engineering, 1 digital/ICT, 2 other")
    degree = _column("talent", "degree", "0 vocational, 1 bachelor, 2 postgraduate")
    age = _column("talent", "age", "years")
    wage = _column("talent", "wage", "yuan per year")
    employer = _column("talent", "employer", "firm row, -1 none, -2 outside manufacturing")

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = int(row)

    @property
    def location(self) -> Loc:
        return Loc(int(self.model.talent.loc[self.row]))

    @property
    def persons(self) -> int:
        """Persons this agent stands for: ``persons_per_agent`` for a new graduate cohort's agents, fewer
        for agents split off by hiring, layoffs or training (``sim.behaviour.labour``)."""
        return int(self.model.talent.persons[self.row])

    @property
    def career_stage(self) -> CareerStage:
        """New graduate (first year), early (< 30), mid (30-44), senior (45+) or retired."""
        t = self.model.talent
        since = (self.model.quarter - t.cohort[self.row]) / 4.0 if t.cohort[self.row] >= 0 else float("nan")
        return CareerStage(int(career_stage(t.age[self.row], since, t.loc[self.row] == Loc.RETIRED)))

    @property
    def cell(self):
        """The grid cell where the group lives, or None when outside the city."""
        c = int(self.model.talent.cell[self.row])
        return self.model.cell_at(c) if c >= 0 and self.location == Loc.CITY else None


class University(FixedAgent):
    """A university (高校): yearly graduate cohorts by field and degree, research aligned to local industry
    to a degree that 产学研 platforms raise, spillovers to nearby firms that decay with distance."""

    def __init__(self, model, key: str, spec: dict, cell):
        super().__init__(model)
        self.key = key
        self.name_en = spec["label_en"]
        self.name_zh = spec["label_zh"]
        self.graduates_per_year = spec["graduates"]
        self.base_alignment = spec["alignment"]
        self.alignment = spec["alignment"]
        if cell is not None:  # else placed when the model's grid is built
            self.cell = cell


class Government(FixedAgent):
    """The city government (市政府) or a district government (区县政府).

    Holds the tax it collects (local share of firms' value added), its base budget and what it spends
    through each lever. At low city coordination, district governments fund their own firms in
    proportion to their own tax base; at high coordination the city allocates by need and cluster
    priority (see ``ClusterModel._book_government``).
    """

    def __init__(self, model, name_en: str, name_zh: str, district: int | None, cell):
        super().__init__(model)
        self.name_en = name_en
        self.name_zh = name_zh
        self.district = district  # None for the city government
        self.tax_revenue = 0.0  # yuan, cumulative local tax of its firms
        self.income = 0.0  # yuan, cumulative: tax + its share of the base budget
        self.spending: dict[str, float] = {}  # yuan per lever, cumulative
        if cell is not None:  # else placed when the model's grid is built
            self.cell = cell

    @property
    def balance(self) -> float:
        """Cumulative income minus spending, yuan."""
        return self.income - sum(self.spending.values())
