"""The firm panel ``ScenarioResult.firms`` (issue 22 item 6): firm x model year, opt-in.

It must agree with the city and cluster tables in the quarters it observes, keep every firm alive at
some point in a year (exits with their last alive state), be deterministic, change nothing else, and
be an empty frame with the same columns when not recorded.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sim
from sim.model import ClusterModel
from sim.state.records import FIRM_PANEL, PANEL_FRAME

QUARTERS = 10  # not a whole number of years: observed at 0, 4, 8 and the last quarter, 10
SEED = 3


def _config():
    """All five packages, so that every kind of link (supply, 产学研, data, sharing) occurs."""
    return sim.load_config().with_overrides(sim.load_presets()["all_five"].levers, quarters=QUARTERS)


@pytest.fixture(scope="module")
def runs():
    cfg = _config()
    return (sim.run_scenario(cfg, seed=SEED, record="all+firms"), sim.run_scenario(cfg, seed=SEED, record="all"))


def _alive(panel: pd.DataFrame) -> pd.DataFrame:
    return panel[panel["alive"]]


def test_panel_observes_the_start_each_model_year_and_the_end(runs):
    panel = runs[0].firms
    assert sorted(panel["quarter"].unique()) == [0, 4, 8, QUARTERS]
    city = runs[0].city.set_index("quarter")
    for q, rows in panel.groupby("quarter"):
        assert (rows["period"] == city.loc[q, "period"]).all() and (rows["year"] == city.loc[q, "year"]).all()
        assert rows["id"].is_unique and rows["id"].is_monotonic_increasing
    assert list(panel.columns) == [*PANEL_FRAME, *FIRM_PANEL]  # the column list lives in one place


def test_alive_rows_add_up_to_the_city_table(runs):
    res = runs[0]
    city = res.city.set_index("quarter")
    sums = _alive(res.firms).groupby("quarter").agg(
        firms=("id", "size"), revenue=("sales", "sum"), value_added=("value_added", "sum"),
        employment=("employees", "sum"))
    for q, row in sums.iterrows():
        assert row["firms"] == city.loc[q, "firms"]
        for name in ("revenue", "value_added", "employment"):
            assert row[name] == pytest.approx(city.loc[q, name], rel=1e-12), (q, name)
    assert (_alive(res.firms)["observed_quarter"] == _alive(res.firms)["quarter"]).all()


def test_alive_rows_add_up_to_the_cluster_table(runs):
    """Statuses and links per cluster: leaders, little giants and each kind of link, as the cluster
    table counts them; and revenue, value added and employment per cluster."""
    res = runs[0]
    alive = _alive(res.firms)
    per = alive.groupby(["quarter", "cluster"]).agg(
        firms=("id", "size"), leaders=("leader", "sum"), little_giants=("little_giant", "sum"),
        supply_links=("supplier", "sum"), iur_projects=("iur_project", "sum"), data_members=("data_member", "sum"),
        shared_matches=("shared_match", "sum"), linked=("any_link", "sum"), revenue=("sales", "sum"),
        value_added=("value_added", "sum"), employment=("employees", "sum"))
    cl = res.clusters.set_index(["quarter", "cluster"]).loc[per.index]
    for name in ("firms", "leaders", "little_giants", "supply_links", "iur_projects", "data_members",
                 "shared_matches"):
        np.testing.assert_array_equal(per[name].to_numpy(float), cl[name].to_numpy(float), err_msg=name)
    np.testing.assert_allclose(per["linked"], cl["link_share"] * cl["firms"], rtol=1e-12)
    for name in ("revenue", "value_added", "employment"):
        np.testing.assert_allclose(per[name], cl[name], rtol=1e-12, err_msg=name)
    last = alive[alive["quarter"] == QUARTERS]
    # every kind of link and both statuses occur, so the checks above compare something
    assert last[["supplier", "iur_project", "data_member", "data_exchange", "shared_match", "leader",
                 "little_giant"]].any().all()
    # a firm counted as buying from local suppliers has them: the counts add up to the supplier links
    assert last["local_suppliers"].sum() == last["supplier"].sum()


def test_every_firm_alive_in_a_year_has_one_row_in_it(runs):
    """Firms alive at the observed quarter, plus those that exited since the previous one (their last
    alive state, the quarter before exit); a firm alive at one observation is in the next one."""
    panel = runs[0].firms
    quarters = sorted(panel["quarter"].unique())
    for before, q in zip(quarters, quarters[1:]):
        rows = panel[panel["quarter"] == q]
        gone = rows[~rows["alive"]]
        assert ((gone["exited"] > before) & (gone["exited"] <= q)).all()
        assert (gone["observed_quarter"] == gone["exited"] - 1).all()
        assert (rows.loc[rows["alive"], "exited"] == -1).all()
        earlier = set(panel.loc[(panel["quarter"] == before) & panel["alive"], "id"])
        assert earlier <= set(rows["id"])
        entrants = rows[~rows["id"].isin(earlier)]
        assert ((entrants["entered"] > before) & (entrants["entered"] <= q)).all()
        both = rows[rows["alive"]].merge(panel[(panel["quarter"] == before) & panel["alive"]], on="id")
        np.testing.assert_allclose(both["age_x"] - both["age_y"], (q - before) / 4.0)  # age in years
    assert (~panel["alive"]).sum() > 0  # exits happened, so the above checked them


def test_an_exited_firm_keeps_its_state_of_the_quarter_before_exit():
    cfg = _config().with_overrides({}, quarters=6)
    m = ClusterModel(config=cfg, rng=SEED, record="all+firms")
    seen = {0: (4.0 * m.firms.sales, m.firms.employees.copy(), m.firms.tech.copy())}
    while m.running:
        m.step()
        seen[m.quarter] = (4.0 * m.firms.sales, m.firms.employees.copy(), m.firms.tech.copy())
    gone = m.result().firms.query("~alive")
    assert len(gone) > 0
    for row in gone.itertuples():
        sales, employees, tech = seen[row.observed_quarter]
        assert (row.sales, row.employees, row.technology) == (sales[row.id], employees[row.id], tech[row.id])
        assert row.sales > 0  # a firm's state at exit, not the zeroed row of a dead firm


def test_other_tables_are_identical_with_and_without_the_panel(runs):
    with_panel, without = runs
    for name in ("city", "clusters", "districts"):
        pd.testing.assert_frame_equal(getattr(with_panel, name), getattr(without, name))
    assert pd.Series(with_panel.summary()).equals(pd.Series(without.summary()))


def test_panel_is_deterministic_per_seed(runs):
    again = sim.run_scenario(_config(), seed=SEED, record="all+firms")
    pd.testing.assert_frame_equal(again.firms, runs[0].firms)
    other = sim.run_scenario(_config(), seed=SEED + 1, record="all+firms")
    assert not other.firms[["id", "sales"]].equals(runs[0].firms[["id", "sales"]])


@pytest.mark.parametrize("record", ["all", "city+clusters", "city"])
def test_panel_is_empty_with_its_columns_when_not_recorded(runs, record):
    res = sim.run_scenario(None, seed=1, quarters=2, record=record)
    assert res.firms.empty
    pd.testing.assert_series_equal(res.firms.dtypes, runs[0].firms.dtypes)


def test_runs_without_the_panel_do_no_panel_work():
    assert ClusterModel(quarters=1, rng=1).recorder.firm_panel is None
    assert ClusterModel(quarters=1, rng=1, record="all+firms").recorder.firm_panel is not None


def test_a_bad_record_mode_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        sim.run_scenario(None, seed=1, quarters=1, record="firms")
    message = str(err.value)
    assert "\n" not in message and "'firms'" in message
    for mode in ("'all'", "'city+clusters'", "'city'", "'all+firms'"):
        assert mode in message


def test_sim_run_writes_the_panel_with_firms(tmp_path, repo_root):
    out = tmp_path / "with_firms"
    proc = subprocess.run([sys.executable, "-m", "sim", "run", "--seed", "2", "--out", str(out), "--quarters", "5",
                           "--quiet", "--firms"], cwd=repo_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    panel = pd.read_parquet(out / "firms.parquet")
    assert len(pd.read_csv(out / "firms.csv")) == len(panel) > 0
    city = pd.read_parquet(out / "city.parquet").set_index("quarter")
    alive = panel[panel["alive"]]
    assert sorted(alive["quarter"].unique()) == [0, 4, 5]
    assert alive.groupby("quarter")["sales"].sum().to_numpy() == pytest.approx(
        city.loc[[0, 4, 5], "revenue"].to_numpy(), rel=1e-12)
    assert "firms" in proc.stdout
