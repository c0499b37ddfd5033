"""Time in the workshop page (issue 25, part 5): lever windows, the quarter and tab in the address,
Pause returning to the quarter the room saw. Fast unit tests (a few seconds); the browser side is in
tests/test_app_browser.py."""

from __future__ import annotations

import pandas as pd
import pytest

from app import charts, timing, urlstate
from app.i18n import t
from app.state import Session, lever_defaults

RD = "rd_subsidy_rate"


# ---------------------------------------------------------------------------------------- windows
def test_a_window_is_the_models_schedule_from_the_first_to_the_last_quarter_of_its_years():
    assert timing.year_range() == (2025, 2035)  # baseline: 40 quarters from 2025Q1 (last 2035Q1)
    assert timing.schedule(0.2, (2027, 2030)) == {"value": 0.2, "start": "2027Q1", "end": "2030Q4"}
    assert timing.schedule(0.2, (None, 2030)) == {"value": 0.2, "end": "2030Q4"}
    assert timing.schedule(0.2, (None, None)) == 0.2 and timing.schedule(0.2, None) == 0.2
    # the run's first / last year mean "from the start" / "to the end": always inside the run
    assert timing.check_window(RD, "2025", "2035") == (None, None)
    assert timing.check_window(RD, 2027, "2030") == (2027, 2030)
    assert timing.window_text((2027, None), "en") == "2027–2035" and timing.window_text(None, "zh") == "全程"


@pytest.mark.parametrize("start,end,message", [
    ("2030", "2027", "rd_subsidy_rate.end=2027 is before rd_subsidy_rate.start=2030; give an end from 2030 to 2035"),
    ("2024", None, "rd_subsidy_rate.start=2024 is outside the run; give a year from 2025 to 2035"),
    (None, "2036", "rd_subsidy_rate.end=2036 is outside the run; give a year from 2025 to 2035"),
    ("20x7", None, "rd_subsidy_rate.start='20x7' is not a year; give a whole year from 2025 to 2035"),
    ("2027.5", None, "rd_subsidy_rate.start='2027.5' is not a year"),
    (True, None, "rd_subsidy_rate.start='True' is not a year"),
    ("２０２７", None, "is not a year"),  # full-width digits are not a year of the address
])
def test_a_bad_window_is_refused_in_one_line_naming_the_key_the_value_and_what_is_allowed(start, end, message):
    with pytest.raises(ValueError) as err:
        timing.check_window(RD, start, end)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_only_levers_take_a_window():
    with pytest.raises(ValueError, match="persons_per_agent: not a lever"):
        timing.check_window("persons_per_agent", 2027, None)


def test_the_session_runs_a_lever_only_inside_its_window_and_the_charts_shade_it():
    levers = {**lever_defaults(), RD: 0.25}
    s = Session(1, levers, windows={RD: (2026, None)})
    for _ in range(6):
        s.step()
    snap = s.snapshot()
    assert snap.windows == ((RD, 4, 40),)  # 2026Q1 is quarter 4 of the run from 2025Q1
    whole = Session(1, levers)
    quo = Session(1)
    for _ in range(6):
        whole.step()
        quo.step()
    spend = snap.city[f"spending_{RD}"]
    # before the window the lever costs what the status quo costs; inside it what the whole-run lever costs
    assert list(spend.iloc[1:4]) == list(quo.snapshot().city[f"spending_{RD}"].iloc[1:4])
    assert spend.iloc[4] > quo.snapshot().city[f"spending_{RD}"].iloc[4]
    for name in charts.CHARTS:  # every live chart draws the window (a shaded band) and names it
        fig = charts.chart_figure(snap, name, "en")
        assert t("legend_window", "en") in charts.figure_texts(fig), name
        assert any(getattr(p, "get_gid", lambda: None)() == "lever-window" for ax in fig.axes for p in ax.patches), name


def test_a_window_changed_mid_run_applies_from_the_next_quarter_and_is_marked():
    s = Session(1, {**lever_defaults(), RD: 0.25})
    s.step()
    s.step()
    s.set_levers(s.levers, {RD: (None, 2025)})  # the lever stops at the end of 2025
    assert s.config.schedules[RD].end == "2025Q4" and s.changes == [2]
    s.set_levers(s.levers, {})  # window removed: the whole run again
    assert RD not in s.config.schedules and s.changes == [2]


# ---------------------------------------------------------------------------------------- Pause
def test_rewinding_recomputes_the_run_exactly_as_it_stood_at_that_quarter():
    """Pause returns to the quarter the room saw: a run stepped past it and rewound equals the run as it
    stood there, lever changes made up to that quarter included, later ones dropped."""
    s = Session(3, {**lever_defaults(), "city_coordination": 0.6})
    for _ in range(3):
        s.step()
    s.set_levers({**s.levers, RD: 0.2})
    for _ in range(2):
        s.step()
    seen = s.snapshot()
    s.set_levers({**s.levers, RD: 0.05})  # at the quarter the room saw: kept (it applies from the next one)
    s.step()
    s.set_levers({**s.levers, RD: 0.3})  # after it: dropped by the rewind
    s.step()
    assert s.rewind(5) is True
    again = s.snapshot()
    assert again.quarter == 5 and again.changes == (3, 5) and s.levers[RD] == 0.05
    pd.testing.assert_frame_equal(again.city, seen.city)
    pd.testing.assert_frame_equal(again.clusters, seen.clusters)
    assert s.rewind(5) is False and s.rewind(9) is False  # nothing to undo: not before the current quarter


# ---------------------------------------------------------------------------------------- address
def test_quarter_tab_chart_and_windows_round_trip_through_the_address():
    levers = {**lever_defaults(), RD: 0.2}
    q = urlstate.make(7, None, levers, windows={RD: (2027, None)}, quarter=12, tab="budget", chart="talent")
    assert q == "seed=7&rd_subsidy_rate=0.2&rd_subsidy_rate.start=2027&q=12&tab=budget&chart=talent"
    back = urlstate.parse(q)
    assert (back.seed, back.levers, back.windows, back.quarter, back.tab, back.chart, back.problems) == \
        (7, levers, {RD: (2027, None)}, 12, "budget", "talent", [])
    # the first tab, the first chart and quarter 0 are the page's defaults: not written
    assert urlstate.make(7, None, levers, quarter=0, tab="city", chart="energy") == "seed=7&rd_subsidy_rate=0.2"
    assert urlstate.parse("seed=7").quarter == 0 and urlstate.parse("seed=7").tab is None


def test_lever_changes_during_the_run_round_trip_as_the_values_they_replaced():
    start = {**lever_defaults(), RD: 0.2}
    moves = [(3, {**start, RD: 0.1}), (6, {**start, RD: 0.3, "city_coordination": 0.8})]
    was = urlstate.was_items(start, moves)
    assert was == ["3:rd_subsidy_rate=0.2", "6:city_coordination=0.1", "6:rd_subsidy_rate=0.1"]
    q = urlstate.make(1, None, moves[-1][1], quarter=8, was=was)
    assert "was=3:rd_subsidy_rate=0.2" in q
    back = urlstate.parse(q)
    assert back.problems == [] and urlstate.history(back) == (start, moves)


def test_a_session_replayed_from_the_address_equals_the_run_it_was_written_from():
    s = Session(2)
    s.step()
    s.set_levers({**s.levers, "city_coordination": 0.9})
    s.step()
    s.step()
    q = urlstate.make(2, None, s.levers, quarter=s.quarter,
                      was=urlstate.was_items(s.start_levers, [(m[0], m[1]) for m in s.moves]))
    state = urlstate.parse(q)
    start, moves = urlstate.history(state)
    again = Session(state.seed, start)
    for at, levers in moves:
        again.advance_to(at)
        again.set_levers(levers)
    again.advance_to(state.quarter)
    pd.testing.assert_frame_equal(again.snapshot().city, s.snapshot().city)


@pytest.mark.parametrize("item", [
    "q=41", "q=-1", "q=1.5", "q=abc", "tab=nope", "chart=map", "rd_subsidy_rate.start=2024",
    "rd_subsidy_rate.end=1e3", "was=99:rd_subsidy_rate=0.1", "was=3:nonsense=1", "was=3:rd_subsidy_rate=9",
    "persons_per_agent.start=2027",
])
def test_bad_time_values_in_the_address_are_ignored_and_named(item):
    state = urlstate.parse("seed=1&" + item)
    assert state.problems == [item] and state.quarter == 0 and state.windows == {} and state.was == []
    assert state.tab is None and state.chart is None
    assert item.split("=")[0] in urlstate.problem_text(state.problems, "en")


def test_a_window_whose_end_is_before_its_start_is_ignored_and_named_with_the_years_allowed():
    state = urlstate.parse("rd_subsidy_rate.start=2030&rd_subsidy_rate.end=2027")
    assert state.windows == {} and state.problems == ["rd_subsidy_rate.end=2027"]
    text = urlstate.problem_text(state.problems, "en")
    assert "rd_subsidy_rate.end=2027" in text and "2025" in text and "2035" in text


# ---------------------------------------------------------------------------------------- room size
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_live_charts_keep_room_text_with_every_marker_and_draw_at_the_dpi_asked(lang):
    """Every live chart, with the status quo, a change marker and a window, has no text under ROOM_FONT
    (16 px from a scale of 0.96), and the page's pictures are drawn at the dpi the page asks for."""
    from app import map_view, page

    s = Session(1, {**lever_defaults(), RD: 0.25}, windows={RD: (2026, 2028)})
    s.step()
    s.set_levers({**s.levers, "city_coordination": 0.5})
    s.step()
    snap = s.snapshot()
    for name in charts.CHARTS:
        assert charts.min_font_points(charts.chart_figure(snap, name, lang)) >= charts.ROOM_FONT, name
    assert charts.ROOM_FONT * charts.DPI / 72 * 0.96 >= page.ROOM_PX
    for scale, dpr in ((1.7, 1.0), (0.94, 1.5)):
        dpi = page.screen_dpi(charts.DPI, scale, dpr)
        png = page.chart_png(snap, "energy", lang, dpi)
        assert page.png_width(png) == int(charts.SIZE[0] * dpi) and abs(dpi - charts.DPI * scale * dpr) < page.DPI_STEP
        mdpi = page.screen_dpi(page.MAP_DPI, scale, dpr)
        assert page.png_width(page.map_png(snap, lang, mdpi)) == int(map_view.SCREEN_SIZE[0] * mdpi)



def test_a_window_chosen_in_the_lever_panel_reaches_the_run_and_the_address_and_a_bad_one_is_refused():
    import solara

    from app.a11y import NativeSelect
    from app.page import Page, UrlQuery

    try:
        from tests.test_app import one, text_of, walk
    except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
        from test_app import one, text_of, walk

    box, rc = solara.render(Page(), handle_error=False)
    try:
        lever = one(box, "lever-city_coordination")
        start, end = [w for w in walk(lever) if isinstance(w, NativeSelect)]
        assert start.items[0] == "2025" and end.items[-1] == "2035"
        end.index = end.items.index("2027")
        query = next(w for w in walk(box) if isinstance(w, UrlQuery)).query
        assert "city_coordination.end=2027" in query, query
        assert "A/B and the quick answer use this value for the whole run" in text_of(one(box, "lever-city_coordination"))
        start, end = [w for w in walk(one(box, "lever-city_coordination")) if isinstance(w, NativeSelect)]
        start.index = start.items.index("2030")  # after the end: refused, the window kept
        error = text_of(one(box, "window-error"))
        assert "2027" in error and "2030" in error and "City-wide coordination" in error, error
        assert "city_coordination.end=2027" in next(w for w in walk(box) if isinstance(w, UrlQuery)).query
    finally:
        rc.close()
