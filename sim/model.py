"""ClusterModel: Qinhuangdao's six manufacturing clusters as a Mesa model, one step = one quarter.

Scheduling (every quarter, in this order). Within a submodel, firms and talent are updated
simultaneously with array operations, except where a queue matters and is stated: grants are handed
out first come first served within each budget pot (random order), anchors land one at a time, and
job matching fills the best-paid slots with the best-qualified seekers first.

1. ``_environment``   wages and demand grow; housing prices follow wages and local jobs; digital
                      infrastructure spreads (property layers); fixed programme costs are booked.
2. ``_trade``         firms compete for orders in their cluster's chain segments (sim.behaviour.market).
3. innovation.step    R&D with subsidy, technology, patents, university & leader spillovers.
4. digital.step       digital-upgrade decisions, grants, completion (sim.behaviour.digital).
5. finance.step       profit, tax, credit, employment adjustment, exit (sim.behaviour.finance).
6. entry.step         new firms, anchor firms and their suppliers, segment moves, niche re-positioning,
                      little-giant designation (sim.behaviour.entry).
7. labour.step        graduation (Q3), layoffs and vacancies, stay-or-leave choice, job matching,
                      in-house training, retirement (sim.behaviour.labour).
8. energy.update      the energy-level index and tiers with hysteresis (sim.behaviour.energy).
9. ``_book_government``  city and district governments book the quarter's tax, base budget and
                      spending (split by coordination, see there); records.

Grid orientation: Mesa cells are ``(x, y)`` with x = raster column and y = north-up row
(``y = height - 1 - raster_row``); flat cell indices used in the state arrays are raster row-major
``raster_row * width + col``. Property layers (``grid.digital_coverage``, ``grid.housing_price``,
``grid.amenity``) are ``(width, height)`` arrays in Mesa's ``[x, y]`` order.

Mesa views made on first look: the submodels work on the state arrays, never on Mesa objects, so
the grid's 4,331 cells and the Firm and Talent agents (views on rows) are made when something first
asks for them (``model.grid``, ``model.agents``, ``agents_by_type``, ``agent_types``,
``talent_agent``, ``firm_agent``, ``cell_at``) rather than at set-up and at every entry: that was a
fifth of a run which nobody looked at. The property layers exist from the start (the submodels
read and write them) and join the grid when it is built; universities and governments (which hold
state) exist from the start and are placed on it then. Results do not depend on whether anything
looked (tested).
"""

from __future__ import annotations

from collections import defaultdict

import mesa
import numpy as np
import pandas as pd
from mesa.discrete_space import OrthogonalMooreGrid, PropertyLayer

from sim.behaviour import digital, energy, entry, finance, innovation, labour, links, market, sharing
from sim.inputs.city import load_layout
from sim.inputs.config import MIN_AGENTS_PER_COHORT, Config, period_after, resolve_config
from sim.policy.instruments import Policy
from sim.state import records
from sim.state.agents import Firm, Government, Talent, University
from sim.state.constants import NO_EMPLOYER, OTHER_SECTOR, SizeClass
from sim.state.initial import build_firms, build_talent, placement_cdf
from sim.state.records import ScenarioResult
from sim.state.tables import AgentTable, cell_sums

# ClusterModel(record=...): the tables kept besides the city table, and whether Mesa's DataCollector runs
# ("firms" is the firm panel, sim.state.records.FIRM_PANEL; opt-in, so no other mode does its work)
RECORDS = {"all": (("clusters", "districts"), True), "city+clusters": (("clusters",), False), "city": ((), False),
           "all+firms": (("clusters", "districts", "firms"), True)}

FIRM_COLUMNS = {
    "alive": bool, "cluster": np.int8, "segment": np.int8, "niche": np.int16, "size_class": np.int8,
    "district": np.int8, "cell": np.int64, "employees": float, "sales": float, "capacity": float,
    "value_added": float, "tech": float, "rd_rate": float, "rd_spend": float, "rd_subsidy": float,
    "rd_stock": float, "patent_stock": float, "patents_q": float, "maturity": np.int8,
    "upgrading": np.int8, "upgrade_cost": float, "cash": float, "debt": float, "profit": float,
    "age": np.int32, "supplies": np.int64, "above_scale": bool, "little_giant": bool,
    "entered": np.int32, "exited": np.int32, "skilled": float, "digital_staff": float,
    "crowd": float, "iur_left": np.int8, "iur_univ": np.int8,
    "data_member": bool, "shared": bool, "lg_since": np.int32, "anchor": bool,
    # issue 22 (chain market): parts bought under local contracts, capacity borrowed on the sharing
    # platform and technology gained from universities this quarter; a niche move under way and its target
    "bought_local": float, "borrowed": float, "knowledge_q": float, "move_left": np.int8, "move_target": np.int16,
    # issue 22 (statuses, R&D participation): records the yearly reviews read (sim.behaviour.rules) and
    # the R&D decision's state (sim.behaviour.innovation)
    "niche_since": np.int32, "niche_seen": np.int64, "sales_ytd": float, "rd_ytd": float, "revenue_y1": float,
    "revenue_y2": float, "revenue_y3": float, "rd_y1": float, "rd_y2": float, "lg_aspirant": bool,
    "rd_active": bool, "rd_taste": float, "rd_draw": float, "rd_drawn": bool,
    # orders an anchor brought (yuan a quarter, growing with its cluster's demand) and the segment they are
    # in; removed from the demand when it exits (sim.behaviour.entry._land_anchor, finance.remove_firms)
    "anchor_orders": float, "anchor_inputs": float, "anchor_segment": np.int8,
}
TALENT_COLUMNS = {
    "persons": np.int64, "loc": np.int8, "employer": np.int64, "field": np.int8, "degree": np.int8, "age": float,
    "cell": np.int64, "wage": float, "ties": float, "tenure": np.int32, "cohort": np.int32,
    "university": np.int8, "stayed_at_graduation": bool, "consortium": bool,
    "home_ties": float, "training_left": np.int8, "training_employer": np.int64,
}


class CityGrid(OrthogonalMooreGrid):
    """Mesa's 8-neighbour grid, connected in one pass (same cells and connections as
    ``OrthogonalMooreGrid``; Mesa's per-connection ``Cell.connect`` took a sixth of a run's set-up)."""

    _OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))

    def _connect_cells_2d(self) -> None:
        if self.torus:  # not used by the model; Mesa's own way
            return super()._connect_cells_2d()
        cells = self._cells
        height, width = self.dimensions
        for (i, j), cell in cells.items():
            connections = cell.connections
            for di, dj in self._OFFSETS:
                ni, nj = i + di, j + dj
                if 0 <= ni < height and 0 <= nj < width:
                    connections[(di, dj)] = cells[ni, nj]


class ModelError(RuntimeError):
    """The model cannot run with these settings (raised inside the model, e.g. too coarse a resolution)."""


class ClusterModel(mesa.Model):
    """Agent-based model of Qinhuangdao's advanced-manufacturing clusters (先进制造集群).

    Args:
        config: a :class:`sim.Config`, a path to a scenario TOML, a mapping in the TOML layout, or
            None for ``configs/baseline.toml`` (the status quo).
        rng: seed or numpy Generator (Mesa 3 convention); one seed gives one identical run.
        quarters: horizon override (quarters; default from the config, 40).
        persons_per_agent: talent resolution override (persons per Talent agent at graduation and at
            set-up, default 10; hiring, layoffs and training split agents into smaller ones, so
            employment and firms' skilled staff are counted in whole persons, see sim.behaviour.labour).
        record: what the recorder keeps each quarter: ``"all"`` (city, cluster and district tables and
            the Mesa DataCollector; the default), ``"city+clusters"`` (what a comparison's outcomes
            and ``ScenarioResult.summary`` read: the workshop's A/B runs) or ``"city"`` (a calibration
            run: its targets read nothing else) or ``"all+firms"`` (everything of ``"all"`` and the firm
            panel ``ScenarioResult.firms``, one row per firm x model year, see sim.state.records). The
            dynamics are the same in every case; another value is a ValueError listing these.
        **params: any lever, uncertainty or fact by name (e.g. ``rd_subsidy_rate=0.2``), so
            ``mesa.batch_run(ClusterModel, {"rd_subsidy_rate": [0, 0.2]})`` works.
    """

    def __init__(self, config: Config | str | None = None, rng=None, quarters: int | None = None,
                 persons_per_agent: int | None = None, record: str = "all", **params):
        if record not in RECORDS:
            raise ValueError(f"ClusterModel record: {record!r} is not one of {', '.join(map(repr, RECORDS))}")
        tables, collect_mesa = RECORDS[record]
        settings = {k: v for k, v in (("quarters", quarters), ("persons_per_agent", persons_per_agent)) if v is not None}
        self.config = resolve_config(config).with_overrides(params, **settings)
        super().__init__(rng=rng)
        # the submodels read uncertainties and facts from ``p``; levers only through the policy's channels
        self.p = {k: v for k, v in self.config.values.items() if self.config.schema[k].kind != "levers"}
        self.policy = Policy(self.config)
        # levers whose declared cost has a running part: (lever, the uncertainty giving it at full strength)
        self._programme_costs = [(q.name, q.cost["parameter"]) for q in self.config.schema.values()
                                 if q.kind == "levers" and "parameter" in q.cost]
        self.city = self.config.city
        self.quarters = self.config.quarters
        self.persons_per_agent = self.config.persons_per_agent
        self.start_year, self.start_q = self.config.start
        self.quarter = 0
        self.policy.advance(0)
        self._check_resolution()
        self._build_space()
        self._build_structure()
        self.firms = AgentTable(FIRM_COLUMNS)
        self.talent = AgentTable(TALENT_COLUMNS)
        build_firms(self)
        build_talent(self)
        self.initial_talent_persons = int(self.talent.persons.sum())
        self.initial_above_scale = self.firms.above_scale.copy()
        self.initial_maturity = self.firms.maturity.copy()
        self.lg_reviewed = self.lg_kept = 0  # little-giant reviews held and passed (sim.behaviour.entry)
        self.graduate_persons_total = 0
        self._create_agents()
        self._staff_known = False  # the first clearing (at set-up) happens before staff are counted
        self.anchor_pot = 0.0  # anchor-attraction budget accumulated, yuan (sim.behaviour.entry)
        self.steering_pot = 0.0  # entrants the coordination office can still steer (sim.behaviour.entry)
        self.tech0_cs = self.firms0_cs = None  # (clusters, segments) technology and firm count at the start
        self.niche_share = None  # (clusters, segments, niches) share of a segment's orders per niche (set-up: _trade)
        self.margin0 = None  # clusters' profit margins in the first quarter: entry's reference (sim.behaviour.entry)
        self.tax_by_district = np.zeros(self.n_districts)  # local tax this quarter, yuan (sim.behaviour.finance)
        self.district_spending_q = np.zeros(self.n_districts)  # districts' share of spending, yuan
        self.job_finding = 0.5  # skilled openings per job seeker, updated by sim.behaviour.labour
        self.spending_q: dict[str, float] = defaultdict(float)
        self.flows_q: dict[str, float] = defaultdict(float)
        self.events_q: dict[str, np.ndarray] = {}
        links.init(self)
        self._init_demand()
        self._trade()
        labour.refresh_staff(self)
        self.prospects = labour.prospects(self)
        self.jobs0_district = self._district_jobs()
        raw = np.array([self.city["districts"][n]["housing"] for n in self.layout.district_names], float)
        mean = (raw * self.jobs0_district).sum() / self.jobs0_district.sum()
        self.housing0_district = raw * self.p["housing_qinhuangdao"] / mean
        self._update_housing()
        innovation.measure_knowledge(self)
        energy.init(self)
        self.recorder = records.Recorder(self, tables)
        self.recorder.collect(self)
        self.datacollector = records.QuarterCollector() if collect_mesa else None  # batch_run: integer Step
        if self.datacollector is not None:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ set-up
    def _check_resolution(self) -> None:
        for u in self.city["universities"].values():
            agents = u["graduates"] / self.persons_per_agent
            if agents < MIN_AGENTS_PER_COHORT:
                raise ModelError(
                    f"persons_per_agent={self.persons_per_agent} leaves {u['label_en']} with {agents:.1f} graduate "
                    f"agents per year; at least {MIN_AGENTS_PER_COHORT} are needed for stay/leave shares to mean "
                    f"anything. Use persons_per_agent <= {int(u['graduates'] // MIN_AGENTS_PER_COHORT)}."
                )

    def _build_space(self) -> None:
        self.layout = load_layout(self.city, self.config.scenario["map"])
        h, w = self.layout.shape
        self._grid: CityGrid | None = None  # built on first look (the ``grid`` property)
        self._layers: dict[str, PropertyLayer] = {}
        self._placed: list = []  # (agent, flat cell) of universities and governments, placed with the grid
        self.cell_km = self.layout.km_coords()
        self.cell_district = self.layout.district.ravel()
        d = self.city["districts"]
        names = self.layout.district_names
        cov = np.zeros(h * w)
        housing = np.zeros(h * w)
        amenity = np.zeros(h * w)
        for i, name in enumerate(names):
            m = self.cell_district == i
            cov[m], housing[m], amenity[m] = d[name]["coverage"], d[name]["housing"], d[name]["amenity"]
        for name, values in (("digital_coverage", cov), ("housing_price", housing), ("amenity", amenity)):
            self._layers[name] = PropertyLayer(name, (w, h), default_value=0.0, dtype=float)
            self.set_layer(name, values)
        self.core_districts = np.array([i for i, n in enumerate(names) if d[n]["core"]])
        self.district_is_core = np.array([bool(d[n]["core"]) for n in names])  # by district index
        self.cell_in_core = np.isin(self.cell_district, self.core_districts)  # by flat cell
        seats = np.array([d[n]["seat"] for n in names])  # lat, lon
        self.seat_cell = np.array([self._nearest_land_cell(lat, lon, i) for i, (lat, lon) in enumerate(seats)])
        self.seat_km = self.cell_km[self.seat_cell]
        self.district_cells = [self.layout.cells_of(i) for i in range(len(names))]  # flat cells per district
        # where firms of each district settle near its seat (sim.state.initial.place_near), computed once
        self.seat_cdf = [placement_cdf(self.cell_km, c, km) for c, km in zip(self.district_cells, self.seat_km)]
        self.core_cells = self.seat_cell[self.core_districts]
        self.distance_km = self._distances()

    def _distances(self) -> np.ndarray:
        """(5, 4) km from each location (city, Beijing, Tianjin, elsewhere, retired) to each choice."""
        p = self.p
        b, t, e = p["distance_beijing_km"], p["distance_tianjin_km"], p["distance_elsewhere_km"]
        bt = 120.0  # Beijing-Tianjin, km (HSR ~30 min)
        d = np.array([[0, b, t, e], [b, 0, bt, e], [t, bt, 0, e], [e, e, e, 0], [0, 0, 0, 0]], float)
        return d

    def _nearest_land_cell(self, lat: float, lon: float, district: int) -> int:
        return self.layout.cell_of(lat, lon, district)

    def raster_to_layer(self, raster: np.ndarray) -> np.ndarray:
        """(rows north-first, cols) raster -> Mesa (x, y) layer array."""
        return raster[::-1, :].T

    def layer_to_raster(self, layer: np.ndarray) -> np.ndarray:
        return layer.T[::-1, :]

    def layer_values(self, name: str) -> np.ndarray:
        """A property layer as a flat array in raster order (index = flat cell index, a view)."""
        return self.layer_to_raster(self._layers[name].data).ravel()

    def set_layer(self, name: str, flat: np.ndarray) -> None:
        """Write a flat raster-order array into a property layer (in place)."""
        self._layers[name].data[:] = self.raster_to_layer(np.asarray(flat).reshape(self.layout.shape))

    @property
    def grid(self) -> CityGrid:
        """Mesa's grid of the city (8-neighbour cells) with the property layers and the agents on it;
        built when first asked for (module docstring)."""
        if self._grid is None:
            h, w = self.layout.shape
            grid = CityGrid((w, h), torus=False, random=self.random)
            for layer in self._layers.values():
                grid.add_property_layer(layer)  # the same arrays the submodels update
            self._grid = grid
            for agent, flat in self._placed:
                agent.cell = self.cell_at(flat)
            self._placed = []
        return self._grid

    def cell_at(self, flat: int):
        """The Mesa cell of a flat raster index."""
        h, w = self.layout.shape
        r, c = divmod(int(flat), w)
        return self.grid._cells[(c, h - 1 - r)]

    def _build_structure(self) -> None:
        c = self.city
        self.cluster_keys = list(c["clusters"])
        self.n_clusters = len(self.cluster_keys)
        seg = c["segments"]
        self.segment_keys = list(seg["keys"])
        self.n_segments = len(self.segment_keys)
        self.va_rate = np.array(seg["value_added_rate"])
        self.skilled_share = np.array(seg["skilled_share"])
        self.tech_required = np.array(seg["tech_required"])
        self.initial_local_supply = np.array(seg["initial_local_supply"])
        self.max_niches = max(v["niches"] for v in c["clusters"].values())
        self.n_niches = np.array([v["niches"] for v in c["clusters"].values()])
        self.demand_growth = np.array([self.p[f"demand_growth_{k}"] for k in self.cluster_keys])
        self.degree_premium = np.array(c["talent"]["degree_wage_premium"])
        self.n_districts = len(c["districts"])
        self.prog = c["programmes"]

    def _init_demand(self) -> None:
        """Demand per (cluster, segment) so that start-state sales are what firms sell (see market):
        contract orders of the set-up supply links plus the initial local share (x ``max_local_share``)
        of the rest."""
        f = self.firms
        shape = (self.n_clusters, self.n_segments)
        sales_cs = cell_sums(shape, f.sales, f.cluster, f.segment)
        supplied, _ = links.contracts(self, f.capacity)
        reserved_cs = cell_sums(shape, np.minimum(supplied, f.sales), f.cluster, f.segment)
        share = self.initial_local_supply[None, :] * self.prog["max_local_share"]
        self.demand = reserved_cs + (sales_cs - reserved_cs) / share

    def _create_agents(self) -> None:
        self.firm_agents: dict[int, Firm] = {}  # Firm agent of each alive row, made on first look (see agents)
        self._firm_views = False  # True once made: entrants then get theirs at entry (sim.behaviour.entry)
        self._talent_views: list[Talent] = []  # Talent agent of each row, made on first look (see agents)
        names = self.layout.district_names
        self.universities = []
        for key, spec in self.city["universities"].items():
            d = names.index(spec["district"])
            self.universities.append(University(self, key, spec, None))
            self._placed.append((self.universities[-1], self.seat_cell[d]))
        self.univ_km = np.array([self.cell_km[self.seat_cell[names.index(u["district"])]]
                                 for u in self.city["universities"].values()])
        d = self.cell_km[:, None, :] - self.univ_km[None, :, :]
        self.cell_univ_km = np.hypot(d[..., 0], d[..., 1])  # (cells, universities) km; firms never move
        self.city_government = Government(self, "Qinhuangdao", "秦皇岛市", None, None)
        self._placed.append((self.city_government, self.seat_cell[0]))
        self.district_governments = [Government(self, n, self.city["districts"][n]["label_zh"], i, None)
                                     for i, n in enumerate(names)]
        self._placed += [(g, self.seat_cell[i]) for i, g in enumerate(self.district_governments)]

    # ------------------------------------------------------------------ agent views
    def _make_talent_views(self) -> None:
        """Give every talent row that has none its :class:`~sim.state.agents.Talent` agent.

        Talent agents are views on rows of ``self.talent`` (they hold no state), and the submodels
        work on the rows. Building ~25,000 Mesa agents at set-up and for each graduate cohort takes
        ~40% of a run that never looks at them, so they are made when first asked for: by
        ``agents``, ``agents_by_type``, ``agent_types`` or :meth:`talent_agent`. From then on every
        row has its agent, as if they had been made with the rows; results do not depend on it.
        """
        views = getattr(self, "_talent_views", None)
        if views is None:  # still in set-up
            return
        made, n = len(views), len(self.talent)
        if made < n:
            views.extend([None] * (n - made))  # first, so that Mesa's own look-ups inside do not recurse
            views[made:] = Talent.create_agents(self, n - made, list(range(made, n)))

    def _make_firm_agents(self) -> None:
        """Give every alive firm row that has none its :class:`~sim.state.agents.Firm` agent, on its cell
        (the grid is built first if need be); from then on entrants get theirs at entry and exits
        remove theirs (``sim.behaviour.finance.remove_firms``), as if they had been made at set-up."""
        if getattr(self, "_firm_views", None) is False:  # None: still in set-up; True: made already
            self._firm_views = True
            f = self.firms
            for row in np.flatnonzero(f.alive):
                self.add_firm_agent(int(row))

    def add_firm_agent(self, row: int) -> None:
        """Make the Firm agent of firm row ``row`` (one by one: ``Firm.create_agents`` would also build an
        AgentSet of weak references that nobody keeps)."""
        self.firm_agents[row] = Firm(self, row, self.cell_at(self.firms.cell[row]))

    def _make_views(self) -> None:
        self._make_firm_agents()
        self._make_talent_views()

    @property
    def agents(self):
        """All agents (Mesa's AgentSet), including one Firm agent per alive firm and one Talent agent
        per talent row (made now if nobody looked before)."""
        self._make_views()
        return super().agents

    @property
    def agents_by_type(self):
        """Mesa's agents by type, including the Firm and Talent agents (see :attr:`agents`)."""
        self._make_views()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self._make_views()
        return super().agent_types

    def firm_agent(self, row: int) -> Firm | None:
        """The Firm agent of firm row ``row`` (None if the firm has exited)."""
        self._make_firm_agents()
        return self.firm_agents.get(int(row))

    def talent_agent(self, row: int) -> Talent:
        """The Talent agent of talent row ``row``."""
        self._make_talent_views()
        return self._talent_views[int(row)]

    # ------------------------------------------------------------------ helpers
    @property
    def years_elapsed(self) -> float:
        return self.quarter / 4.0

    @property
    def period(self) -> str:
        return period_after((self.start_year, self.start_q), self.quarter)

    @property
    def quarter_of_year(self) -> int:
        """1-4 for the current period."""
        return (self.start_q - 1 + self.quarter) % 4 + 1

    def city_wage(self) -> float:
        """Average Qinhuangdao wage this quarter, yuan per year."""
        return self.p["wage_qinhuangdao"] * (1 + self.p["qinhuangdao_wage_growth"]) ** self.years_elapsed

    def productivity(self) -> float:
        """Revenue per employee per quarter at technology 0, L1 (real yuan); grows at ``productivity_growth``."""
        return self.p["labour_productivity"] * (1 + self.p["productivity_growth"]) ** self.years_elapsed

    def destination_wage(self, name: str) -> float:
        key = name.lower()
        g = self.p.get(f"{key}_wage_growth", self.p["qinhuangdao_wage_growth"])
        return self.p[f"wage_{key}"] * (1 + g) ** self.years_elapsed

    def wage_offer(self, employer: np.ndarray, degree: np.ndarray) -> np.ndarray:
        """Annual wage (yuan) for skilled staff: city wage x degree premium x employer's level."""
        base = self.city_wage() * self.degree_premium[degree]
        return base * self.employer_levels()[employer]

    def employer_levels(self) -> np.ndarray:
        """Wage level per employer code (:meth:`wage_offer`): firm rows, then OTHER_SECTOR (-2) and
        NO_EMPLOYER (-1) at the end, so a code indexes it directly."""
        f = self.firms
        level = np.empty(len(f) + 2)
        level[: len(f)] = (0.9 + 0.5 * f.tech) * np.where(f.size_class == SizeClass.LEADER, 1.15, 1.0)
        level[OTHER_SECTOR] = 0.95
        level[NO_EMPLOYER] = 0.9
        return level

    def set_levers(self, levers: dict) -> None:
        """Change lever values from the next quarter on (the workshop app moves sliders mid-run).

        Only levers may change mid-run; values are validated like a config (ConfigError otherwise).
        """
        allowed = self.config.names("levers")
        for name in levers:
            if name not in allowed:
                from sim.inputs.base import ConfigError

                raise ConfigError(f"set_levers: {name!r} is not a lever; allowed: {', '.join(allowed)}")
        self.config = self.config.with_overrides(dict(levers))
        self.policy = Policy(self.config)
        self.policy.advance(self.quarter)

    def spend(self, lever: str, amount: float) -> None:
        """Book government spending (yuan) on a lever this quarter."""
        if lever not in self.config.schema or self.config.schema[lever].kind != "levers":
            raise KeyError(lever)
        self.spending_q[lever] += float(amount)

    def waste(self) -> float:
        """Share of district-level lever spending lost to duplication at the current coordination."""
        return self.p["duplication_waste"] * (1.0 - self.policy.level("coordination.less_waste"))

    # ------------------------------------------------------------------ the quarter
    def step(self) -> None:
        """Advance one quarter."""
        self.quarter += 1
        self.policy.advance(self.quarter)
        self.spending_q = defaultdict(float)
        self.flows_q = defaultdict(float)
        self.events_q = {}
        self._environment()
        links.step(self)
        self._trade()
        innovation.step(self)
        digital.step(self)
        finance.step(self)
        entry.step(self)
        labour.step(self)
        links.refresh(self)  # entrants and exits of this quarter
        energy.update(self)
        self._book_government()
        self.recorder.collect(self)
        if self.datacollector is not None:
            self.datacollector.collect(self)
        if self.quarter >= self.quarters:
            self.running = False

    def _book_government(self) -> None:
        """Governments book the quarter's money (yuan).

        Income: each district government keeps the local tax of its firms plus its share of the base
        budget (``[economy] policy_base_budget``, split like ``firm_share``); the city government gets the
        rest of the base budget. Spending: at city coordination k the city funds a share k of every lever
        and the district governments fund (1 - k) in proportion to their own tax base — "each district
        funds its own firms" (paper §2.1). Balances are cumulative.
        """
        base_q = self.city["economy"]["policy_base_budget"] / 4.0
        k = self.policy.level("coordination.city_funding")
        tax = self.tax_by_district
        share = tax / tax.sum() if tax.sum() > 0 else np.full(self.n_districts, 1.0 / self.n_districts)
        base_share = np.array([self.city["districts"][n]["firm_share"] for n in self.layout.district_names])
        total = sum(self.spending_q.values())
        self.flows_q["government_income"] = tax.sum() + base_q  # the ledger (sim.state.records.LEDGER)
        city = self.city_government
        city.income += 0.5 * base_q
        self.district_spending_q = (1.0 - k) * total * share
        for lever, amount in self.spending_q.items():
            city.spending[lever] = city.spending.get(lever, 0.0) + k * amount
        for i, g in enumerate(self.district_governments):
            g.tax_revenue += tax[i]
            g.income += tax[i] + 0.5 * base_q * base_share[i]
            for lever, amount in self.spending_q.items():
                g.spending[lever] = g.spending.get(lever, 0.0) + (1.0 - k) * amount * share[i]

    def _district_jobs(self) -> np.ndarray:
        f = self.firms
        a = f.alive
        return np.bincount(f.district[a], weights=f.employees[a], minlength=self.n_districts)

    def _update_housing(self) -> None:
        """Housing price layer: each district's start price x city wage growth x (jobs / start jobs) ** 0.3,
        never below ``housing_price_floor`` (yuan/m2).

        The start prices (city.toml) are rescaled so their job-weighted mean is the city's average
        (parameter ``housing_qinhuangdao``); the 0.3 elasticity of prices to local jobs is an assumption.
        A district that loses its jobs does not see prices fall to zero (which would make living there
        infinitely attractive in the talent's utility, ``log(price)``): housing is not sold far below what
        it costs to build, so the floor is the construction cost of a square metre (NBS; parameters.toml).
        """
        pressure = (self._district_jobs() / np.maximum(self.jobs0_district, 1.0)) ** 0.3
        growth = (1 + self.p["qinhuangdao_wage_growth"]) ** self.years_elapsed
        per_district = np.maximum(self.housing0_district * growth * pressure, self.p["housing_price_floor"])
        self.set_layer("housing_price",
                       np.where(self.cell_district >= 0, per_district[np.maximum(self.cell_district, 0)], 0.0))

    def _environment(self) -> None:
        grow = (1.0 + self.demand_growth) ** 0.25
        self.demand *= grow[:, None]
        f = self.firms
        anchors = np.flatnonzero(f.anchor_orders > 0)  # what alive anchors brought grows with the rest
        if anchors.size:
            f.anchor_orders[anchors] *= grow[f.cluster[anchors]]
            f.anchor_inputs[anchors] *= grow[f.cluster[anchors]]
        renewal_q = 1.0 - (1.0 - self.p["niche_demand_renewal"]) ** 0.25
        self.niche_share = market.renew_niche_shares(self.niche_share, self.n_niches, renewal_q)
        self._update_housing()
        digital.spread_infrastructure(self)
        p = self.p
        for lever, cost in self._programme_costs:  # running costs at full strength, yuan/yr (uncertainties)
            self.spend(lever, self.policy.value(lever) * p[cost] / 4.0)

    def _trade(self) -> None:
        """Capacities (with resource-sharing matches after set-up), niche crowding, the local-share
        ceiling, supply contracts and the clearing of every cluster-segment-niche market
        (sim.behaviour.market, sim.behaviour.links, sim.behaviour.sharing); value added and the local
        sourcing share of the clusters' parts and processing inputs."""
        f = self.firms
        alive = f.alive
        need = f.employees * self.skilled_share[f.segment]
        fill = np.where(need > 0, f.skilled / np.maximum(need, 1e-9), 1.0)
        fill = np.where(self._staff_known, fill, 1.0)
        p = self.p
        cap = market.capacity(f.employees, f.tech, f.maturity, fill, self.productivity(),
                              p["digital_gain_per_level"], 1.0, p["skilled_fill_elasticity"])
        f.borrowed[:] = sharing.match(self, cap, fill) if self.quarter > 0 else 0.0  # set-up: 2025, before policy
        cap = cap + f.borrowed
        f.capacity[:] = cap
        crowd, self.homogeneity = market.niche_crowding(f.cluster, f.segment, f.niche, alive, self.n_clusters,
                                                        self.n_segments, self.max_niches)
        f.crowd[:] = crowd
        competitiveness = 1.0 + f.tech
        tech_cs, n_cs = market.segment_tech(f.cluster, f.segment, f.tech, f.capacity, alive, self.n_clusters,
                                            self.n_segments)
        if self.tech0_cs is None:  # the set-up clearing fixes the start reference
            self.tech0_cs, self.firms0_cs = tech_cs, n_cs
        self.local_ceiling = market.local_share_ceiling(
            tech_cs, self.tech0_cs, n_cs, self.firms0_cs, self.initial_local_supply[None, :],
            self.prog["max_local_share"], self.prog["local_share_tech_elasticity"],
            self.prog["local_share_variety_elasticity"])
        supplied, bought = links.contracts(self, cap)
        substitution = p["niche_substitution"]
        if self.niche_share is None:  # set-up: each niche's customers are those its firms serve in 2025
            one = np.zeros((self.n_clusters, self.n_segments, self.max_niches))
            one[:, :, 0] = 1.0
            sales, _, _, _ = market.clear(self.demand, f.cluster, f.segment, np.zeros(len(f), np.int64), cap,
                                       competitiveness, alive, self.local_ceiling, one, supplied, substitution)
            self.niche_share = market.niche_shares_of(sales - supplied, f.cluster, f.segment, f.niche, alive,
                                                      self.n_clusters, self.n_segments, self.max_niches,
                                                      self.n_niches)
        sales, self.local_sales, self.open_local_share, self.niche_orders = market.clear(
            self.demand, f.cluster, f.segment, f.niche, cap, competitiveness, alive, self.local_ceiling,
            self.niche_share, supplied, substitution)
        f.sales[:] = sales
        f.bought_local[:] = bought
        f.value_added[:] = (sales * self.va_rate[f.segment] * (1.0 - p["homogeneity_margin_penalty"] * crowd)
                            + p["local_sourcing_saving"] * bought)
        self.chain = market.chain_completeness(self.local_sales, self.demand)
        self.local_sourcing, self.chain_inputs_c = links.local_sourcing(self)

    # ------------------------------------------------------------------ outputs
    def result(self):
        """Tidy tables of the quarters run so far (a :class:`sim.state.records.ScenarioResult`)."""
        return ScenarioResult.from_recorder(self.recorder, self.config, seed=self._seed)

    def firm_frame(self) -> pd.DataFrame:
        """Alive firms for maps: x, y = raster column/row (row 0 = north), cluster, segment, employees,
        maturity (1-5), size_class (leader / little_giant / sme), district."""
        f = self.firms
        idx = np.flatnonzero(f.alive)
        rows, cols = np.divmod(f.cell[idx], self.layout.shape[1])
        leader = f.size_class[idx] == SizeClass.LEADER
        size = np.where(leader, "leader", np.where(f.little_giant[idx], "little_giant", "sme"))
        return pd.DataFrame({
            "row": idx, "x": cols, "y": rows,
            "cluster": np.array(self.cluster_keys)[f.cluster[idx]],
            "segment": np.array(self.segment_keys)[f.segment[idx]],
            "employees": f.employees[idx], "revenue": 4 * f.sales[idx], "maturity": f.maturity[idx],
            "size_class": size, "district": np.array(self.layout.district_names)[f.district[idx]],
        })

    def _cell_xy(self, flat: int) -> tuple[int, int]:
        r, c = divmod(int(flat), self.layout.shape[1])
        return c, r

    def university_cells(self) -> list[tuple[str, str, int, int]]:
        """(name_en, name_zh, x, y) of each university, raster column/row."""
        names = self.layout.district_names
        return [(u.name_en, u.name_zh, *self._cell_xy(self.seat_cell[names.index(spec["district"])]))
                for u, spec in zip(self.universities, self.city["universities"].values())]

    def government_cells(self) -> list[tuple[str, str, int, int]]:
        """(name_en, name_zh, x, y) of the city and district government seats."""
        govs = [self.city_government, *self.district_governments]
        seats = [self.seat_cell[self.layout.district_names.index("Haigang")], *self.seat_cell]
        return [(g.name_en, g.name_zh, *self._cell_xy(s)) for g, s in zip(govs, seats)]
