"""The workshop app without a browser: component tests with ``solara.render`` and unit tests of the
pieces (strings, lever units, charts, A/B outcomes, export, command line).

Browser tests (a real Chromium driving the served page) are in tests/test_app_browser.py.
"""

from __future__ import annotations

import io
import math
import re
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import ipyvuetify as v
import ipywidgets
import numpy as np
import pandas as pd
import PIL.Image
import pytest
import solara

import sim
from app import budget, charts, columns, compare, explain, export, i18n, map_view, runs, urlstate, why
from app.__main__ import DEFAULT_HOST, DEFAULT_PORT, OFFLINE_ENV, command, parse_args
from app.a11y import NativeSelect
from app.controls import lever_views
from app.page import CHART_TABS, Page
from app.state import SEED_MAX, Session, check_seed, lever_defaults, make_config

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def uncited(text: str) -> str:
    """Drop Chinese terms cited in brackets in English text, e.g. "Energy level (能级)"."""
    return re.sub(r"\([\u4e00-\u9fff]+\)", "", text)
QUARTERS = 6  # short runs for A/B tests


@pytest.fixture(autouse=True)
def in_process_runs(monkeypatch):
    """A/B runs in this process (no worker pool) unless a test asks for the pool."""
    monkeypatch.setenv(runs.WORKERS_ENV, "0")
    runs.clear_cache()
    explain.clear_cache()


# ------------------------------------------------------------------------------ widget helpers
def walk(widget):
    """Every widget below ``widget`` (children, and widgets inside slots)."""
    yield widget
    kids = list(getattr(widget, "children", None) or [])
    for slot in getattr(widget, "v_slots", None) or []:
        kids.append(slot.get("children"))
    for kid in kids:
        if isinstance(kid, ipywidgets.Widget):
            yield from walk(kid)
        elif isinstance(kid, (list, tuple)):
            for k in kid:
                if isinstance(k, ipywidgets.Widget):
                    yield from walk(k)


def classes_of(widget) -> set[str]:
    attrs = getattr(widget, "attributes", None)
    html_class = attrs.get("class", "") if isinstance(attrs, dict) else ""  # solara.HTML
    return (set((getattr(widget, "class_", None) or "").split()) | set(getattr(widget, "_dom_classes", ()) or ())
            | set(html_class.split()))


def with_class(root, token: str) -> list:
    """Widgets carrying ``token``, each once (a widget can be reachable through two parents' slots)."""
    return list({id(w): w for w in walk(root) if token in classes_of(w)}.values())


def one(root, token: str):
    found = with_class(root, token)
    assert len(found) == 1, f"{len(found)} widgets with class {token!r}"
    return found[0]


def texts(root) -> list[str]:
    """Every visible string: text children, labels, HTML content."""
    out = []
    for w in walk(root):
        for kid in getattr(w, "children", None) or []:
            if isinstance(kid, str):
                out.append(kid)
        for attr in ("label", "placeholder", "hint", "summary"):
            val = getattr(w, attr, None)
            if isinstance(val, str) and val:
                out.append(val)
        inner = getattr(w, "unsafe_innerHTML", None)  # solara.HTML
        if isinstance(inner, str):
            inner = re.sub(r"<style>.*?</style>", " ", inner, flags=re.S)
            out.extend(x.strip() for x in re.split(r"<[^>]+>", inner) if x.strip())
    return out


def text_of(widget) -> str:
    return " ".join(texts(widget))


def click(root, token: str) -> None:
    one(root, token).click()


def wait_until(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def page():
    box, rc = solara.render(Page(), handle_error=False)
    yield box
    rc.close()


def set_language(box, lang: str) -> None:
    toggle = [w for w in walk(box) if isinstance(w, v.BtnToggle)]
    assert len(toggle) == 1
    toggle[0].v_model = list(i18n.LANG_NAMES).index(lang)


def quarter_text(box) -> str:
    return text_of(one(box, "quarter-now"))


def kpi(box, key: str) -> str:
    return text_of(one(one(box, f"kpi-{key}"), "kpi-value"))


def show_group_of(box, name: str) -> None:
    """Open the remedy-group tab of lever ``name`` (only the chosen group's levers are on the page)."""
    group = next(view.group for view in lever_views() if view.name == name)
    if not with_class(box, f"group-{group}"):
        click(box, f"group-tab-{group}")
    assert with_class(box, f"group-{group}")


def lever_value(box, name: str) -> str:
    show_group_of(box, name)
    return text_of(one(one(box, f"lever-{name}"), "lever-value"))


def lever_slider(box, name: str):
    show_group_of(box, name)
    sliders = [w for w in walk(one(box, f"lever-{name}")) if isinstance(w, v.Slider)]
    assert len(sliders) == 1
    return sliders[0]


# ------------------------------------------------------------------------------ strings and units
def test_every_ui_string_has_both_languages_with_the_same_placeholders():
    for key, (en, zh) in i18n.STRINGS.items():
        assert en.strip() and zh.strip(), key
        assert re.findall(r"\{(\w+)", en) == re.findall(r"\{(\w+)", zh) or sorted(
            re.findall(r"\{(\w+)", en)) == sorted(re.findall(r"\{(\w+)", zh)), key
        assert CJK.search(zh), f"{key}: Chinese text has no Chinese characters: {zh!r}"
        assert not CJK.search(uncited(en)), f"{key}: English text has Chinese characters: {en!r}"
    assert len(i18n.how_items("en")) == len(i18n.how_items("zh")) >= 5


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_lever_has_a_translated_unit_a_group_and_a_slider_that_round_trips(lang):
    cfg = sim.default_config()
    views = {lv.name: lv for lv in lever_views()}
    assert list(views) == cfg.names("levers")
    assert {lv.group for lv in views.values()} == set(sim.inputs.config.LEVER_GROUPS)
    presets = sim.load_presets()
    for name, lv in views.items():
        p = cfg.schema[name]
        assert p.unit in i18n.UNITS, f"lever {name}: unit {p.unit!r} has no entry in app.i18n.UNITS"
        assert CJK.search(i18n.unit_label(name, "zh"))
        assert lv.model_value(lv.shown(p.default, lang), lang) == pytest.approx(p.default, rel=1e-9, abs=1e-12)
        assert lv.model_value(lv.shown(p.low, lang), lang) == pytest.approx(p.low)
        assert lv.model_value(lv.shown(p.high, lang), lang) == pytest.approx(p.high)
        assert lv.model_value(1e30, lang) == p.high and lv.model_value(-1e30, lang) == p.low  # clipped
        # defaults and preset values sit on the slider grid, so the slider shows them exactly
        values = [p.default] + [pr.levers[name] for pr in presets.values() if name in pr.levers]
        for value in values:
            steps = (lv.shown(value, lang) - p.low * lv.scale(lang)) / lv.step(lang)
            assert abs(steps - round(steps)) < 1e-6, (name, value)


def test_money_is_in_wan_and_yi_yuan_for_officials_never_millions():
    for _en, zh in i18n.UNITS.values():
        assert "百万" not in zh[0]
    assert i18n.unit_label("digital_grant_budget", "zh") == "万元/年"
    budget_lever = next(v for v in lever_views() if v.name == "digital_grant_budget")
    assert budget_lever.text(20_000_000, "zh") == "2,000 万元/年"
    assert budget_lever.text(20_000_000, "en") == "20 million yuan/yr"
    assert i18n.money_unit("total", "zh") == ("亿元", 1e8)
    for key, (en, zh) in i18n.STRINGS.items():
        assert "百万" not in zh, key


def test_every_lever_has_a_one_line_definition_in_both_languages():
    for name in sim.default_config().names("levers"):
        en, zh = i18n.LEVER_HELP[name]
        assert 20 < len(en) < 240 and "\n" not in en, name
        assert CJK.search(zh) and len(zh) < 120, name
    assert "0.9" in i18n.lever_help("city_coordination", "en") and "0.9" in i18n.lever_help("city_coordination", "zh")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_typed_lever_values_are_checked_against_the_range(lang):
    lv = next(v for v in lever_views() if v.name == "rd_subsidy_rate")  # 0 .. 30 %
    assert lv.parse("20", lang) == pytest.approx(0.2)
    assert lv.parse(" 7.0 % ", lang) == pytest.approx(0.07)
    with pytest.raises(ValueError, match="30"):
        lv.parse("45", lang)
    with pytest.raises(ValueError):
        lv.parse("abc", lang)
    money = next(v for v in lever_views() if v.name == "anchor_attraction_budget")
    assert money.parse("40,000", "zh") == pytest.approx(4e8) and money.parse("400", "en") == pytest.approx(4e8)


def test_names_come_from_the_config_in_both_languages():
    city = sim.default_config().city
    for key, c in city["clusters"].items():
        assert i18n.cluster_label(key, "en") == c["label_en"]
        assert i18n.cluster_label(key, "zh") == c["label_zh"]
    assert i18n.district_label("BeidaiheNewArea", "en") == "Beidaihe New Area"
    assert i18n.district_label("ETDZ", "en") == "ETDZ"
    assert i18n.tier_label(3, "zh") == city["energy"]["tier_labels_zh"][3]
    assert i18n.group_label(4, "zh").startswith("4 ")


# ------------------------------------------------------------------------------ charts and map
@pytest.fixture(scope="module")
def snap():
    session = Session(seed=3)
    for _ in range(5):
        session.step()
    return session.snapshot()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return PIL.Image.open(io.BytesIO(data)).size


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_chart_and_the_map_render_to_png_with_readable_text(snap, lang):
    for name in CHART_TABS:
        fig = charts.chart_figure(snap, name, lang)
        data = charts.to_png(fig)
        assert png_size(data) == (round(charts.SIZE[0] * charts.DPI), round(charts.SIZE[1] * charts.DPI))
        # every text of the chart (frame and data layer) at >= 11 pt = 15 px at the screen DPI
        assert charts.min_font_points(fig) >= charts.FONT, name
    assert charts.MIN_FONT_PX >= 14
    from app.page import MAP_DPI, map_png

    data = map_png(snap, lang)
    assert png_size(data) == (round(map_view.SCREEN_SIZE[0] * MAP_DPI), round(map_view.SCREEN_SIZE[1] * MAP_DPI))


def test_exported_pngs_are_print_resolution(snap):
    for name in ("energy", "map"):
        img = PIL.Image.open(io.BytesIO(export.chart_bytes(snap, name, "zh")))
        assert img.size[0] >= 1600 or round(img.info["dpi"][0]) >= 200, (name, img.size)
    assert PIL.Image.open(io.BytesIO(export.chart_bytes(snap, "energy", "en"))).size[0] >= 1600


def test_chart_shows_the_data_layer_over_the_cached_frame(snap):
    """The data layer changes the picture (the lines), and the frame is drawn once and reused."""
    func, _table = charts.CHARTS["energy"]
    first = charts.to_png(func(snap.clusters, "en", snap.quarters))
    n_frames = len(charts._FRAMES)
    again = charts.to_png(func(snap.clusters, "en", snap.quarters))
    assert len(charts._FRAMES) == n_frames and again == first
    frame = charts._FRAMES[next(reversed(charts._FRAMES))].pixels  # the frame just used
    full = np.asarray(PIL.Image.open(io.BytesIO(first)))
    assert full.shape[:2] == frame.shape[:2] and full.shape[2] == 3  # opaque: sent as RGB
    assert (full[..., :3] != frame[..., :3]).any(axis=-1).sum() > 100  # the cluster lines


def test_reused_live_figures_draw_exactly_what_fresh_ones_draw():
    """The live view reuses its data-layer figures (charts.reused_figures): what one quarter drew must
    be gone when the next is drawn, so every picture equals the one a fresh figure gives."""
    from app import page as app_page

    s = Session(seed=4)
    pictures = []
    for _ in range(3):
        s.step()
        snap = s.snapshot()
        pictures.append((snap, app_page.map_png(snap, "en"), app_page.chart_png(snap, "energy", "en")))
    assert pictures[0][1] != pictures[2][1] and pictures[0][2] != pictures[2][2]
    for snap, map_bytes, chart_bytes in pictures[1:]:
        with charts.render_dpi(app_page.MAP_DPI):
            fresh_map = charts.to_png(map_view.map_figure(snap.layout, snap.firms, snap.universities,
                                                          snap.governments, snap.city, "en", screen=True))
        fresh_chart = charts.to_png(charts.chart_figure(snap, "energy", "en"))
        assert pixels(map_bytes).tolist() == pixels(fresh_map).tolist()
        assert pixels(chart_bytes).tolist() == pixels(fresh_chart).tolist()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"))


def change_markers(fig) -> list[float]:
    """x of every dotted vertical line (lever-change marker) in a chart's data layer."""
    from matplotlib.lines import Line2D

    return [float(ln.get_xdata()[0]) for ln in fig.findobj(Line2D)
            if ln.get_linestyle() == ":" and len(set(map(float, ln.get_xdata()))) == 1]


@pytest.mark.parametrize("name", CHART_TABS)
def test_every_live_chart_marks_the_quarters_where_levers_changed(snap, name):
    """A lever changed after quarter 2: a dotted vertical line at 2.5 on every live chart (the
    digital-maturity chart draws it on its time strip), and none without a change."""
    func, table = charts.CHARTS[name]
    marked = func(getattr(snap, table), "en", snap.quarters, changes=(2,))
    assert 2.5 in change_markers(marked), name
    assert change_markers(func(getattr(snap, table), "en", snap.quarters)) == [], name
    assert charts.min_font_points(marked) >= charts.FONT
    charts.to_png(marked)


def test_app_registers_the_cjk_font_file_itself():
    """The app's font comes from a file registered with fontManager.addfont (sim.outputs.fonts), so a stale
    font cache cannot hide it: the file is in the manager's list and the family resolves to it."""
    from matplotlib import font_manager

    from app import fonts

    assert fonts.CJK_FONT is not None
    font = sim.outputs.fonts.find_cjk_font()
    assert font is not None and font.family == fonts.CJK_FONT
    assert any(Path(f.fname) == font.path for f in font_manager.fontManager.ttflist)
    found = font_manager.findfont(font_manager.FontProperties(family=font.family), fallback_to_default=False)
    assert Path(found) == font.path


def test_cjk_font_is_found_for_chinese_labels():
    """Chinese labels really render: the font file matplotlib picks for them has every glyph, and
    drawing them warns about no missing glyph (a family name that merely resolves is not enough)."""
    import warnings

    from matplotlib import font_manager, ft2font
    from matplotlib.figure import Figure

    from app import fonts

    hint = "no CJK font (Chinese labels show as boxes): run `make fonts` (Noto Sans SC into .venv)"
    assert fonts.CJK_FONT is not None, hint
    fonts.setup_fonts()  # the app's own font order (other modules in this test process may set theirs)
    text = "能级 亿元 秦皇岛"
    fig = Figure(figsize=(3, 1))
    label = fig.suptitle(text)
    path = font_manager.findfont(label.get_fontproperties(), fallback_to_default=False)
    face = ft2font.FT2Font(path, face_index=getattr(path, "face_index", 0))
    missing = [ch for ch in text if not ch.isspace() and face.get_char_index(ord(ch)) == 0]
    assert not missing, f"{path} ({face.family_name}) has no glyph for {missing}; {hint}"
    fig.text(0.5, 0.2, text, style="italic")  # e.g. the map's sea label; CJK fonts have no italic
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    glyph_warnings = [str(w.message) for w in caught if "Glyph" in str(w.message)]
    assert not glyph_warnings, glyph_warnings


def test_map_jitter_is_stable_per_firm():
    ids = np.array([3, 17, 17, 4000])
    jx, jy = map_view._jitter(ids)
    assert jx[1] == jx[2] and jy[1] == jy[2]
    assert np.all(np.abs(jx) <= 0.4) and np.all(np.abs(jy) <= 0.4)


def test_nice_ceiling():
    assert [charts.nice_ceiling(x) for x in (0.7, 1.0, 1.3, 2.2, 4.9, 11_000)] == [1, 1, 2, 2.5, 5, 20_000]
    assert charts.nice_ceiling(0) == 1.0 and charts.nice_ceiling(float("nan")) == 1.0


# ------------------------------------------------------------------------------ session, outcomes, export
def test_session_steps_resets_and_applies_levers_at_quarter_zero():
    s = Session(seed=1)
    assert s.quarter == 0 and s.snapshot().quarter == 0
    assert s.step() and s.quarter == 1
    v0 = s.version
    s.reset(2, {**lever_defaults(), "city_coordination": 0.5})
    assert s.quarter == 0 and s.version > v0 and s.config["city_coordination"] == 0.5


def test_session_passes_levers_to_a_running_model_only_if_it_takes_them(monkeypatch):
    calls = []

    class LiveModel(sim.ClusterModel):  # a model offering set_levers (the app's optional hook)
        def set_levers(self, levers):
            calls.append(dict(levers))

    new = {**lever_defaults(), "rd_subsidy_rate": 0.3}
    s = Session(seed=1)
    s.step()
    if not hasattr(s.model, "set_levers"):
        assert s.set_levers(new) is False and s.levers == lever_defaults()  # applies on reset only
    monkeypatch.setattr(sim, "ClusterModel", LiveModel)
    live = Session(seed=1)
    live.step()
    assert live.live_levers and live.set_levers(new) is True
    assert calls[-1] == new and live.levers == new and live.snapshot().levers == new


def test_session_preset_at_quarter_zero_equals_the_ab_run():
    """A preset picked before the first step rebuilds the model: the live run is the A/B run."""
    preset = sim.load_presets()["digital"].levers
    levers = {**lever_defaults(), **preset}
    s = Session(seed=2)
    s.reset(2, levers, preset="digital")
    for _ in range(3):
        s.step()
    ref = runs.run_one(levers, runs.Replicate(2), 40)
    live = s.snapshot().city
    pd.testing.assert_frame_equal(live.reset_index(drop=True), ref.city.iloc[:4].reset_index(drop=True))


def test_the_ghost_is_the_status_quo_with_the_same_seed_and_lever_changes_are_marked():
    s = Session(seed=4)
    s.step()
    assert s.snapshot().ghost_city is None  # nothing differs yet: the live run is the status quo
    s.set_levers({**lever_defaults(), "city_coordination": 0.9})
    s.step()
    s.step()
    snap = s.snapshot()
    assert snap.changes == (1,)
    assert list(snap.ghost_city["quarter"]) == [0, 1, 2, 3]
    sq = Session(seed=4)
    for _ in range(3):
        sq.step()
    pd.testing.assert_frame_equal(snap.ghost_city, sq.snapshot().city)
    assert not snap.city["spending_total"].equals(snap.ghost_city["spending_total"])


@pytest.mark.parametrize("bad", [-1, "-1", "abc", "", " ", "1.5", 2**32, "99999999999999999999", None, True])
def test_seed_check_refuses_invalid_input_naming_the_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        check_seed(bad)


def test_seed_check_accepts_whole_numbers_in_range():
    assert check_seed("7") == 7 and check_seed(" 12 ") == 12 and check_seed(0) == 0
    assert check_seed(SEED_MAX) == SEED_MAX and check_seed(np.int64(5)) == 5 and check_seed(3.0) == 3


# ------------------------------------------------------------------------------ A/B with replicates
def test_replicates_pair_seeds_and_take_parameter_draws():
    reps = runs.seed_replicates(5, 3)
    assert [r.seed for r in reps] == [5, 6, 7] and all(r.overrides == () for r in reps)
    draws = runs.draw_replicates([{"rd_elasticity": 0.4}, {"rd_elasticity": 1.4}], first_seed=1)
    assert draws[1] == runs.Replicate(2, (("rd_elasticity", 1.4),))
    a = runs.run_one(lever_defaults(), runs.Replicate(1, draws[0].overrides), 3)
    b = runs.run_one(lever_defaults(), runs.Replicate(1, draws[1].overrides), 3)
    assert not a.clusters.equals(b.clusters)  # the draw reaches the model


def test_posterior_replicates_carry_the_draws_and_pair_a_and_b():
    """With posterior draws, replicate r has seed first + r and the values of draw r of
    draws(M, seed=first); A and B run the same replicate r; the CSV of every run carries them."""
    status = runs.posterior_status()  # the committed posterior: present, valid, current
    assert status.usable and status.default_vary == "posterior", status.detail
    reps = runs.ab_replicates("posterior", 5, 3)
    assert reps == runs.ab_replicates("posterior", 5, 3)  # same seed and M, same draws
    draws = status.posterior.draws(3, seed=5)
    for r, rep in enumerate(reps):
        assert (rep.seed, rep.draw, rep.particle) == (5 + r, r, int(draws["particle"][r]))
        assert dict(rep.overrides) == pytest.approx({k: float(draws[k][r]) for k in status.posterior.parameters})
    assert runs.ab_replicates("seeds", 5, 3) == runs.seed_replicates(5, 3)
    with pytest.raises(ValueError, match="vary"):
        runs.ab_replicates("guess", 5, 3)
    cmp = compare.run_comparison("status_quo", "digital", lever_defaults(), first_seed=5, m=2, quarters=3,
                                 vary="posterior")
    assert cmp.vary == "posterior" and list(cmp.replicates) == runs.ab_replicates("posterior", 5, 2)
    assert [r.replicate for r in cmp.runs_a] == [r.replicate for r in cmp.runs_b] == list(cmp.replicates)
    assert "posterior draws 0–1" in compare.caption(cmp, "en") and "后验抽样 0–1" in compare.caption(cmp, "zh")
    assert "uncertainty of the fitted behavioural coefficients" in compare.rule_text(2, cmp.vary, "en")
    per_run = compare.replicate_table(cmp.runs_a, cmp.runs_b, "en")
    assert list(per_run["Replicates vary"]) == ["posterior"] * 4 and list(per_run["Posterior draw"]) == [0, 1, 0, 1]
    first = cmp.replicates[0]
    col = compare.parameter_label("beta_wage", "en")
    assert col == "Talent: weight on wage (beta_wage)"
    assert list(per_run[col]) == [dict(r.overrides)["beta_wage"] for r in cmp.replicates] * 2
    assert list(per_run["Posterior particle"])[:2] == [first.particle, cmp.replicates[1].particle]
    plain = compare.run_comparison("status_quo", "status_quo", lever_defaults(), first_seed=5, m=2, quarters=3)
    assert plain.vary == "seeds" and "chance only" in compare.rule_text(2, plain.vary, "en")
    table = compare.replicate_table(plain.runs_a, plain.runs_b, "zh")
    assert set(table["运行间变化"]) == {"seeds"} and "后验抽样序号" not in table.columns


def _posterior_copy(tmp_path, meta_change=None) -> Path:
    """The committed posterior copied to ``tmp_path`` (its JSON changed by ``meta_change``)."""
    import json
    import shutil

    from sim.outputs.posterior import POSTERIOR_FILE as src

    dst = tmp_path / "posterior.parquet"
    shutil.copy(src, dst)
    meta = json.loads(src.with_suffix(".json").read_text(encoding="utf-8"))
    if meta_change:
        meta_change(meta)
    dst.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    return dst


def test_replicates_fall_back_to_seeds_when_the_posterior_is_missing_invalid_or_stale(tmp_path, monkeypatch):
    from app.page import start_vary

    current = runs.posterior_status()
    assert start_vary(None, current) == "posterior" and start_vary("seeds", current) == "seeds"
    monkeypatch.setattr(runs, "POSTERIOR_PATH", tmp_path / "none.parquet")
    missing = runs.posterior_status()
    assert (missing.problem, missing.usable, missing.default_vary) == ("missing", False, "seeds")
    assert start_vary("posterior", missing) == "seeds"  # the address cannot ask for what is not there
    with pytest.raises(ValueError, match="not available"):
        runs.ab_replicates("posterior", 1, 4)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    monkeypatch.setattr(runs, "POSTERIOR_PATH", tmp_path / "bad.parquet")
    assert runs.posterior_status().problem == "invalid"
    stale_path = _posterior_copy(tmp_path, lambda meta: meta.pop("fingerprint"))
    monkeypatch.setattr(runs, "POSTERIOR_PATH", stale_path)
    stale = runs.posterior_status()
    assert (stale.problem, stale.default_vary) == ("stale", "seeds") and "fingerprint" in stale.detail
    for status, lang, reason in ((missing, "en", "no fitted posterior"), (stale, "zh", "其他版本的模型")):
        box, rc = solara.render(compare.ComparePanel(lever_defaults(), 7, lang, status=status), handle_error=False)
        try:
            group = [w for w in walk(box) if isinstance(w, v.RadioGroup)]
            assert len(group) == 1 and group[0].v_model == "seeds"
            assert one(box, "vary-posterior").disabled and not one(box, "vary-seeds").disabled
            assert reason in text_of(one(box, "vary-reason"))
        finally:
            rc.close()


def test_the_ab_choice_waits_for_the_posterior_status_then_takes_the_default_unless_chosen():
    from app.page import settled_vary, start_vary, url_vary

    usable = runs.PosteriorStatus(object())
    missing = runs.PosteriorStatus(None, "missing", "no file")
    assert start_vary(None, None) is None  # not known yet: undecided
    assert start_vary("seeds", None) == "seeds" and start_vary("posterior", None) == "posterior"  # the address
    assert settled_vary(None, usable) == "posterior" and settled_vary(None, missing) == "seeds"
    assert settled_vary("seeds", usable) == "seeds"  # chosen (address or user): kept
    assert settled_vary("posterior", usable) == "posterior" and settled_vary("posterior", missing) == "seeds"
    assert url_vary(None, None) is None and url_vary("seeds", None) == "seeds"  # default undecided: not written
    assert url_vary("posterior", usable) is None and url_vary("seeds", usable) == "seeds"
    assert url_vary("seeds", missing) is None
    assert compare.run_vary(None, usable) == "posterior" and compare.run_vary("posterior", missing) == "seeds"
    assert compare.run_vary("seeds", usable) == "seeds"


@pytest.fixture
def slow_posterior_check(monkeypatch):
    """The posterior not checked yet in this process, and its check (``runs._check_posterior``, two model
    runs) held until the test sets ``release``; ``calls`` names the threads that ran it."""
    real = runs.posterior_status()  # also waits for any check another test left under way
    monkeypatch.setattr(runs, "_STATUS", {})
    calls: list[str] = []
    release = threading.Event()

    def check(path):
        calls.append(threading.current_thread().name)
        assert release.wait(60), "the test never released the posterior check"
        return real

    monkeypatch.setattr(runs, "_check_posterior", check)
    prefetched: list[list] = []
    monkeypatch.setattr(runs, "prefetch", lambda levers, reps, quarters: prefetched.append(list(reps)))
    yield calls, release, prefetched
    release.set()


def radio(box):
    group = [w for w in walk(box) if isinstance(w, v.RadioGroup)]
    assert len(group) == 1
    return group[0]


def test_first_page_render_does_not_wait_for_the_posterior_check(slow_posterior_check):
    """The first render only looks the status up (runs.posterior_status_if_known): the check runs in a
    background thread; meanwhile the posterior option is disabled with "checking…" beside it, nothing
    is chosen and nothing written to the address; when the status arrives the choice becomes its
    default, and only then is the status quo prefetched, with those replicates."""
    from app.page import UrlQuery

    calls, release, prefetched = slow_posterior_check
    t0 = time.monotonic()
    box, rc = solara.render(Page(), handle_error=False)
    try:
        assert time.monotonic() - t0 < 30  # the check (held for 60 s) did not run inside the render
        assert threading.current_thread().name not in calls
        wait_until(lambda: calls)  # the check started at once, in the background ...
        assert calls[0] in ("posterior-check", "pool-warm-up")
        assert radio(box).v_model is None and one(box, "vary-posterior").disabled
        assert "Checking the fitted posterior" in text_of(one(box, "vary-checking"))
        query = [w for w in walk(box) if isinstance(w, UrlQuery)][0]
        assert "ab_vary" not in query.query and not prefetched  # ... and the prefetch waits for it
        release.set()
        wait_until(lambda: radio(box).v_model == "posterior")  # the default: the posterior is current
        wait_until(lambda: prefetched)
        assert [r.draw for r in prefetched[-1]] == list(range(compare.DEFAULT_REPLICATES))
        assert not one(box, "vary-posterior").disabled and not with_class(box, "vary-checking")
        assert "ab_vary" not in query.query
        assert calls == [calls[0]]  # checked once
    finally:
        rc.close()


def test_a_choice_made_while_the_posterior_is_checked_is_kept(slow_posterior_check):
    from app.page import UrlQuery

    calls, release, prefetched = slow_posterior_check
    box, rc = solara.render(Page(), handle_error=False)
    try:
        radio(box).v_model = "seeds"  # chosen before the status is known
        query = [w for w in walk(box) if isinstance(w, UrlQuery)][0]
        wait_until(lambda: "ab_vary=seeds" in query.query)  # an explicit choice is written meanwhile
        release.set()
        wait_until(lambda: not with_class(box, "vary-checking"))
        wait_until(lambda: prefetched)
        assert radio(box).v_model == "seeds" and all(r.draw is None for r in prefetched[-1])
        assert "ab_vary=seeds" in query.query  # not the default (posterior draws): still written
    finally:
        rc.close()


def test_identical_settings_differ_by_nothing_in_every_replicate():
    cmp = compare.run_comparison("status_quo", "current", lever_defaults(), first_seed=5, m=3, quarters=QUARTERS)
    assert [r.seed for r in cmp.replicates] == [5, 6, 7]
    assert [r.replicate for r in cmp.runs_a] == [r.replicate for r in cmp.runs_b] == list(cmp.replicates)
    for st in cmp.stats:
        assert st.m <= 3  # runs without a value (e.g. no level climbed) are left out
        assert np.all(np.nan_to_num(st.d) == 0), st.outcome.key
        assert st.verdict in ("unclear", "neutral")  # no difference is never coloured
    html = compare.outcome_table_html(cmp.stats, "zh")
    assert html.count("<tr class='outcome-") == len(compare.OUTCOMES)
    assert "差值 B − A" in html and "3 次中 0 次" in html


def test_replicates_differ_by_seed_and_the_pairs_share_it():
    cmp = compare.run_comparison("status_quo", "factors", lever_defaults(), first_seed=1, m=3, quarters=QUARTERS)
    spend = [r.city["spending_total"].sum() for r in cmp.runs_a]
    assert len(set(spend)) == 3  # three seeds, three different runs
    for ra, rb in zip(cmp.runs_a, cmp.runs_b):  # the cohort's graduates come from the replicate's seed
        assert ra.city["graduates"].equals(rb.city["graduates"])


def _stat(a, b, better=+1):
    o = compare.Outcome("kpi_energy", "ab_energy", better, 3, "unit_index")
    return compare.PairedStat(o, np.array(a, float), np.array(b, float))


def test_colour_only_when_every_paired_run_agrees():
    assert _stat([1, 2, 3], [2, 3, 4]).verdict == "better"
    assert _stat([1, 2, 3], [0, 1, 2]).verdict == "worse"
    assert _stat([1, 2, 3], [2, 3, 2.5]).verdict == "unclear"
    assert _stat([1, 2, 3], [1, 3, 4]).verdict == "unclear"  # a tie is not agreement
    assert _stat([1, 2, 3], [0, 1, 2], better=-1).verdict == "better"  # lower is better
    assert _stat([1, 2], [5, 6], better=0).verdict == "neutral"
    st = _stat([1, 2, 3, 4], [1.5, 2.0, 4.0, 3.0])
    assert (st.mean_d, st.min_d, st.max_d, st.n_better(), st.m) == (0.125, -1.0, 1.0, 2, 4)
    assert compare.chance_all_agree(8) == pytest.approx(2 / 256)
    html = compare.outcome_table_html([st], "en")
    assert "verdict-unclear" in html and "2 of 4" in html and "-1.000 … +1.000" in html


def test_no_colour_for_differences_that_display_as_zero():
    """All eight paired runs agree on the sign, but the differences show as 0.00 or −0.01 at the
    table's two decimals: grey, and no run is counted for either side unless it shows."""
    tiny = _stat([0.5] * 8, [0.5 - 0.004] * 7 + [0.5 - 0.006], better=+1)
    assert tiny.outcome.digits == 3 and tiny.verdict == "worse"  # at three decimals they do show
    o = compare.Outcome("kpi_retention", "ab_retention", +1, 2, "unit_pct")
    st = compare.PairedStat(o, np.full(8, 50.0), np.array([50 - 0.004] * 7 + [50 - 0.006]))
    assert (st.n_worse(), st.n_better(), st.verdict) == (1, 0, "unclear")
    assert "verdict-unclear" in compare.outcome_table_html([st], "zh")
    clear = compare.PairedStat(o, np.full(8, 50.0), np.full(8, 50 - 0.02))
    assert clear.verdict == "worse"
    money = compare.OUTCOME_BY_KEY["kpi_spend_total"]  # never coloured, whatever its size
    assert compare.PairedStat(money, np.zeros(3), np.full(3, 1e9)).verdict == "neutral"
    va = compare.OUTCOME_BY_KEY["kpi_value_added"]  # 1e6 yuan: 0.01 亿元 but 0.00 billion yuan: not in every language
    assert compare.PairedStat(va, np.zeros(4), np.full(4, 1e6)).verdict == "unclear"
    assert compare.PairedStat(va, np.zeros(4), np.full(4, 2e7)).verdict == "better"


def test_small_differences_show_their_digits_and_help_text_is_honest():
    assert compare.fmt(0.02, 2, sign=True) == "+0.02"
    assert compare.fmt(0.0004, 3, sign=True) == "0.000"
    for lang in ("en", "zh"):
        text = " ".join(i18n.how_items(lang))
        assert "not from chance" not in text and "而非随机性" not in text
        assert ("M times" in text) if lang == "en" else ("M 次" in text)


def test_comparison_table_and_replicate_table_are_in_the_language():
    cmp = compare.run_comparison("status_quo", "digital", lever_defaults(), first_seed=1, m=2, quarters=QUARTERS)
    table = compare.comparison_table(cmp.stats, "zh")
    assert list(table.columns)[:3] == ["指标", "单位", "A（均值）"]
    assert "亿元" in set(table["单位"]) and len(table) == len(compare.OUTCOMES)
    per_run = compare.replicate_table(cmp.runs_a, cmp.runs_b, "en")
    assert list(per_run["Setting"]) == ["A", "A", "B", "B"] and list(per_run["Random seed"]) == [1, 2, 1, 2]
    comps = compare.component_table(cmp.runs_a, cmp.runs_b, "zh")
    assert "规模" in comps.columns and len(comps) == 7


# ------------------------------------------------------------------------------ headline outcomes first
HEADLINE_WORDS = {  # words of sim.state.records.HEADLINE_OUTCOMES each live label must carry, per language
    "en": ("value added", "local sourcing", "manufacturing employment", "net fiscal balance", None, "beijing",
           "tianjin"),
    "zh": ("工业增加值", "本地配套率", "制造业就业", "财政净收支", None, "北京", "天津"),
}
RETENTION_WORDS = {"en": ("after 3 years", "latest cohort"), "zh": ("毕业3年后仍留秦", "最近一届")}


def test_headline_outcomes_lead_the_key_figures_the_ab_table_and_the_effect_view_in_the_models_order():
    from app.page import KPI_ENERGY, KPI_HEADLINE, KPIS
    from sim.state.records import HEADLINE_NAMES

    heads = [o for o in compare.OUTCOMES if o.group == "headline"]
    assert [o.summary for o in heads] == list(HEADLINE_NAMES)  # the model's one list, in its order
    assert compare.OUTCOMES[:len(heads)] == tuple(heads)  # ... leading the A/B table
    groups = [o.group for o in compare.OUTCOMES]
    assert groups == sorted(groups, key=compare.GROUPS.index) and groups[len(heads)] == "tiers"  # then the tiers
    assert [k for k, _ in KPI_HEADLINE] == [o.key for o in heads] and KPIS == KPI_HEADLINE + KPI_ENERGY
    assert [k for k, _ in KPI_ENERGY][:2] == ["kpi_energy", "kpi_tiers"]
    keys = [h.key for h in explain.HEADLINES]
    assert keys[:5] == ["value_added_real_final", "local_sourcing_share_final", "employment_final",
                        "net_fiscal_balance_total", "retention_3y"]
    assert keys[5] == "tiers_climbed_clusters" and [h.group for h in explain.HEADLINES][:6] == ["headline"] * 5 + ["tiers"]


def test_headline_figures_equal_the_models_summary_at_the_end_of_a_run():
    levers = {**lever_defaults(), **sim.load_presets()["coordinate"].levers}
    r = runs.run_one(levers, runs.Replicate(2), 16)  # 16 quarters: cohorts three years on exist
    got, want = compare.outcomes(r.city, r.clusters), r.summary  # ScenarioResult.summary() of the run
    for o in compare.OUTCOMES:
        if o.summary:
            scale = 100.0 if o.unit == "unit_pct" else 1.0
            assert got[o.key] == pytest.approx(scale * want[o.summary], rel=1e-12), o.key
            assert math.isfinite(got[o.key]), o.key
    assert got["kpi_fiscal"] == pytest.approx(r.city["tax_revenue"].sum() - r.city["spending_total"].sum(), rel=1e-12)


def _kpi_cards(box) -> dict[str, list[tuple[str, str, bool]]]:
    """Per key-figure row (headline, energy): (key, label, value, fallback) of each card, in page order."""
    out = {}
    for row in ("headline", "energy"):
        cards = []
        for w in walk(one(box, f"kpi-row-{row}")):
            keys = [c for c in classes_of(w) if c.startswith("kpi-kpi_")]
            if keys:
                cards.append((keys[0].removeprefix("kpi-"), text_of(one(w, "kpi-label")), text_of(one(w, "kpi-value")),
                              "kpi-fallback" in classes_of(w)))
        out[row] = list({c[0]: c for c in cards}.values())  # a card can be reachable twice (slots)
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_key_figures_show_the_headline_outcomes_first_and_agree_with_the_city_table(lang):
    """The live key figures: the headline row (in HEADLINE_OUTCOMES' order and words) above the energy
    row; every value recomputed here from the run's city and clusters tables (flows summed so far,
    stocks this quarter). Retention after 3 years pools the cohorts three years on; until there is
    one, the card shows the latest cohort's retention at graduation and says so."""
    from app.page import KPI_ENERGY, KPI_HEADLINE, Kpis

    session = Session(seed=2)
    seen = set()
    for q in range(1, 16):
        session.step()
        if q not in (1, 3, 15):  # before any graduation, after the first one, after the first 3-year cohort
            continue
        snap = session.snapshot()
        box, rc = solara.render(Kpis(snap, lang), handle_error=False)
        try:
            rows = _kpi_cards(box)
        finally:
            rc.close()
        assert [c[0] for c in rows["headline"]] == [k for k, _ in KPI_HEADLINE]
        assert [c[0] for c in rows["energy"]] == [k for k, _ in KPI_ENERGY]
        city, cl = snap.city, snap.clusters
        now = cl[cl["quarter"] == cl["quarter"].max()]
        va_unit, va_div = i18n.money_unit("value_added", lang)
        total_unit, total_div = i18n.money_unit("total", lang)
        q_unit, q_div = i18n.money_unit("quarter", lang)
        size, stay = city["cohort_size_3y"].sum(), city["cohort_in_city_3y"].sum()
        cohorts = city["graduate_retention"].dropna()
        if size > 0:
            retention, fallback = f"{100 * stay / size:,.1f} %", False
        elif len(cohorts):
            retention, fallback = f"{100 * cohorts.iloc[-1]:,.1f} %", True
        else:
            retention, fallback = i18n.t("no_cohort", lang), True
        expected = {
            "kpi_value_added": f"{city['value_added'].iloc[-1] / va_div:,.2f}",
            "kpi_sourcing": f"{100 * city['local_sourcing_share'].iloc[-1]:,.1f} %",
            "kpi_employment": f"{city['employment'].iloc[-1]:,.0f}",
            "kpi_fiscal": f"{(city['tax_revenue'].sum() - city['spending_total'].sum()) / total_div:,.2f}",
            "kpi_retention_3y": retention,
            "kpi_out_bj": f"{city['outflow_beijing'].sum():,.0f}",
            "kpi_out_tj": f"{city['outflow_tianjin'].sum():,.0f}",
            "kpi_energy": f"{now['energy_index'].mean():,.3f}",
            "kpi_tiers": f"{int((now['energy_tier'] >= 2).sum())} / {cl['cluster'].nunique()}",
            "kpi_spend": f"{city['spending_total'].iloc[-1] / q_div:,.0f}",
        }
        cards = rows["headline"] + rows["energy"]
        assert {k: value for k, _label, value, _fb in cards} == expected, q
        labels = {k: label for k, label, _v, _fb in cards}
        for (key, _), word in zip(KPI_HEADLINE, HEADLINE_WORDS[lang]):
            if word:
                assert word in labels[key].lower(), (key, labels[key])
        three, latest = RETENTION_WORDS[lang]
        assert (latest if fallback else three) in labels["kpi_retention_3y"].lower(), labels["kpi_retention_3y"]
        assert dict((k, fb) for k, _l, _v, fb in cards)["kpi_retention_3y"] == fallback
        assert va_unit in labels["kpi_value_added"] and total_unit in labels["kpi_fiscal"]
        for label in labels.values():
            assert bool(CJK.search(uncited(label))) == (lang == "zh"), label
        seen.add((fallback, size > 0, len(cohorts) > 0))
    assert seen == {(True, False, False), (True, False, True), (False, True, True)}  # all three cases were met


def test_ab_table_and_its_exports_lead_with_the_headline_outcomes_and_read_the_fiscal_difference(snap):
    cmp = compare.run_comparison("status_quo", "coordinate", lever_defaults(), first_seed=1, m=2, quarters=QUARTERS)
    heads = [o for o in compare.OUTCOMES if o.group == "headline"]
    fiscal = next(st for st in cmp.stats if st.outcome.key == "kpi_fiscal")
    for a, b, d in zip(cmp.runs_a, cmp.runs_b, fiscal.d):  # B − A = extra tax minus extra spending
        extra_tax = b.city["tax_revenue"].sum() - a.city["tax_revenue"].sum()
        extra_spending = b.city["spending_total"].sum() - a.city["spending_total"].sum()
        assert d == pytest.approx(extra_tax - extra_spending, rel=1e-9) and extra_spending > 0
    for lang in ("en", "zh"):
        table = compare.comparison_table(cmp.stats, lang)
        labels = list(table[i18n.t("outcome", lang)])
        assert labels[:len(heads)] == [i18n.t(o.label, lang) for o in heads]
        group = list(table[i18n.t("col_group", lang)])
        assert group[:len(heads)] == [i18n.t("group_headline", lang)] * len(heads)
        assert group[len(heads)] == i18n.t("group_tiers", lang)
        reading = dict(zip(labels, table[i18n.t("col_reading", lang)]))
        assert reading[i18n.t("ab_fiscal", lang)] == i18n.t("ab_fiscal_reading", lang)
        assert ("extra tax minus extra spending" if lang == "en" else "新增税收减新增支出") in i18n.t("ab_fiscal_reading", lang)
        csv = pd.read_csv(io.BytesIO(export.frame_csv_bytes(table)), encoding="utf-8-sig")
        assert list(csv[i18n.t("outcome", lang)])[:len(heads)] == labels[:len(heads)]
        html = compare.outcome_table_html(cmp.stats, lang)
        order = re.findall(r"<tr class='outcome-(\w+) ", html)
        assert order == [o.key for o in compare.OUTCOMES]
        starts = re.findall(r"<tr class='outcome-(\w+) [^']*group-start'", html)
        assert starts == [next(o.key for o in compare.OUTCOMES if o.group == g) for g in compare.GROUPS[1:]]
        assert html.count("class='reading'") == 1 and i18n.t("ab_fiscal_reading", lang) in html
        assert ("extra local tax minus" if lang == "en" else "新增的地方税收减去") in compare.rule_text(2, "seeds", lang)
        per_run = compare.replicate_table(cmp.runs_a, cmp.runs_b, lang)
        firsts = [c for c in per_run.columns if "[" in c][:len(heads)]
        assert [c.split(" [")[0] for c in firsts] == [i18n.t(o.label, lang) for o in heads]
        # the PDF's table: the same rows in the same order, without the group and reading columns
        got = pdf_layout(export.summary_figure(snap, lang, cmp))
        texts = [txt for _, _, txt in got["cells"]]
        assert i18n.t("col_group", lang) not in texts and i18n.t("ab_fiscal_reading", lang) not in texts
        assert labels == [i18n.t(o.label, lang) for o in compare.OUTCOMES]
        assert sorted(txt for txt in texts if txt in labels) == sorted(labels)  # every row, once (ab_table keeps
        # comparison_table's order)
        page, tab = got["page"], got["table"]
        assert 0.04 * page.width <= tab.x0 and tab.x1 <= 0.96 * page.width, (lang, tab)

def test_ab_components_are_coloured_only_where_every_paired_run_agrees():
    cmp = compare.run_comparison("status_quo", "digital", lever_defaults(), first_seed=1, m=3, quarters=QUARTERS)
    agree = compare.component_agreement(cmp.runs_a, cmp.runs_b, "en")
    ends = [(compare._component_ends([b])[0] - compare._component_ends([a])[0]).round(3)
            for a, b in zip(cmp.runs_a, cmp.runs_b)]
    for (i, j), sign in np.ndenumerate(agree.to_numpy()):
        d = np.array([e.iat[i, j] for e in ends])
        assert sign == (1 if (d > 0).all() else -1 if (d < 0).all() else 0), (i, j, d)
    same = compare.run_comparison("status_quo", "status_quo", lever_defaults(), first_seed=1, m=2, quarters=QUARTERS)
    assert (compare.component_agreement(same.runs_a, same.runs_b, "zh").to_numpy() == 0).all()
    html = why.ab_components_html(same, "zh")
    assert "agree+1" not in html and "agree-1" not in html and "符号全部一致" in html


def test_process_pool_gives_the_same_runs_as_this_process(monkeypatch):
    """Workers (spawn) compute exactly what the page would compute itself; results are cached."""
    monkeypatch.setenv(runs.WORKERS_ENV, "1")
    runs.shutdown()
    try:
        reps = runs.seed_replicates(3, 2)
        done = []
        ra, rb = runs.run_pairs(lever_defaults(), {**lever_defaults(), "rd_subsidy_rate": 0.2}, reps, 3,
                                on_done=lambda d, n: done.append((d, n)))
        assert done[-1] == (4, 4)
        local = runs.run_one({**lever_defaults(), "rd_subsidy_rate": 0.2}, reps[1], 3)
        pd.testing.assert_frame_equal(rb[1].city, local.city)
        again = runs.run_pairs(lever_defaults(), lever_defaults(), reps, 3)  # A cached, B == A cached
        assert again[0][0] is ra[0] and again[1][1] is ra[1]
    finally:
        runs.shutdown()


def test_setting_levers_resolve_presets_and_current():
    current = {**lever_defaults(), "rd_subsidy_rate": 0.25}
    assert compare.setting_levers("current", current) == current
    factors = compare.setting_levers("factors", current)
    assert factors["talent_settlement_subsidy"] == sim.load_presets()["factors"].levers["talent_settlement_subsidy"]
    assert factors["rd_subsidy_rate"] == sim.default_config().schema["rd_subsidy_rate"].default


# ------------------------------------------------------------------------------ budget, why, URL
def test_budget_years_add_up_and_the_ceiling_marks_overspending(snap):
    table = budget.yearly_by_lever(snap.city)
    assert table.to_numpy().sum() == pytest.approx(snap.city["spending_total"].sum(), rel=1e-9)
    assert set(table.index) == set(sim.default_config().names("levers"))
    low = budget.budget_table_html(snap, ceiling=1.0, lang="zh")
    high = budget.budget_table_html(snap, ceiling=1e12, lang="zh")
    assert "class='over'" in low and "class='over'" not in high and "万元/年" in low
    costs = budget.cost_figures(snap)
    assert costs["per_retained_all"] == pytest.approx(costs["spend_total"] / costs["retained"])


def test_energy_components_explain_the_index(snap):
    w = np.array(why.index_weights())
    cl = snap.clusters
    parts = cl[[f"idx_{c}" for c in sim.behaviour.energy.COMPONENTS]].to_numpy() @ w
    assert np.allclose(parts, cl["energy_index"].to_numpy())
    html = why.criteria_html(cl, "automotive", "zh")
    assert "省级" in html and html.count("<tr class='crit_") == 4
    fig = charts.components_figure(cl, "automotive", "en", w)
    charts.to_png(fig)  # draws it: tick labels exist
    assert charts.min_font_points(fig) >= charts.FONT


def test_url_round_trip_and_bad_values_are_ignored():
    levers = {**lever_defaults(), "rd_subsidy_rate": 0.2}
    q = urlstate.make(7, None, levers, lang="zh", ceiling=3e8)
    assert q == "seed=7&rd_subsidy_rate=0.2&lang=zh&ceiling=300000000"
    back = urlstate.parse("?" + q)
    assert (back.seed, back.levers, back.lang, back.ceiling, back.problems) == (7, levers, "zh", 3e8, [])
    preset = urlstate.parse("seed=3&preset=digital")
    assert preset.preset == "digital" and preset.levers["digital_grant_budget"] == 150_000_000.0
    assert urlstate.make(3, "digital", preset.levers) == "seed=3&preset=digital"
    bad = urlstate.parse("seed=-1&rd_subsidy_rate=9&nonsense=1&preset=nope&lang=fr")
    assert bad.seed is None and bad.levers == lever_defaults() and bad.preset is None and bad.lang is None
    assert len(bad.problems) == 5


def test_ignored_address_values_are_explained_in_both_languages():
    bad = urlstate.parse("seed=-1&rd_subsidy_rate=9&nonsense=1&lang=fr")
    en, zh = urlstate.problem_text(bad.problems, "en"), urlstate.problem_text(bad.problems, "zh")
    assert "Random seed (seed=-1) (allowed: a whole number from 0 to 4,294,967,295)" in en
    lo, hi = (sim.default_config().schema["rd_subsidy_rate"].low, sim.default_config().schema["rd_subsidy_rate"].high)
    assert f"rd_subsidy_rate=9) (allowed: {lo:g} to {hi:g})" in en and i18n.lever_label("rd_subsidy_rate", "en") in en
    assert "lang=fr (allowed: one of en, zh)" in en
    assert "随机种子（seed=-1）（允许：0 到 4,294,967,295 之间的整数）" in zh
    # settings the page has come first; the unknown name is the fourth, counted, not named
    assert en.endswith("; and 1 more") and zh.endswith("；另有 1 项") and "nonsense" not in en + zh
    unknown = urlstate.parse("nonsense=1").problems
    assert "nonsense=1 (allowed: no such setting)" in urlstate.problem_text(unknown, "en")
    assert "nonsense=1（允许：没有这一设置）" in urlstate.problem_text(unknown, "zh")


def test_url_carries_what_the_ab_replicates_vary_and_refuses_other_values():
    q = urlstate.make(7, None, lever_defaults(), ab_vary="seeds")
    assert q == "seed=7&ab_vary=seeds"
    assert urlstate.parse(q).ab_vary == "seeds" and urlstate.parse("ab_vary=posterior").ab_vary == "posterior"
    for bad in ("bogus", "", "Seeds", "posterior,seeds"):
        state = urlstate.parse(f"seed=3&ab_vary={bad}")
        assert state.ab_vary is None and state.seed == 3 and state.problems == [f"ab_vary={bad}"]
    assert "ab_vary" not in urlstate.make(7, None, lever_defaults())


# the address is data (issue 20): whatever it holds, the notice stays short and nothing is evaluated
ALLOWED_CEILING = ("yuan per year, from 1,000,000 to 1,000,000,000,000",
                   "1,000,000 到 1,000,000,000,000 之间的数，单位：元/年")
FAR_OUT = ["1e308", "1e309", "inf", "-inf", "nan", "NaN", "1e-320", "0", "-5", "9" * 300, "1" + "0" * 400,
           "x" * 10_000, "1_000_000_000", "３００００００００", "0x10", "3e8 ", "1e99999"]


def no_long_number(text: str) -> bool:
    return re.search(r"\d{30}", text) is None


@pytest.mark.parametrize("raw", FAR_OUT, ids=lambda r: r if len(r) < 20 else f"{r[:8]}...{len(r)}")
@pytest.mark.parametrize(("name", "allowed_en", "allowed_zh"), [
    pytest.param("ceiling", *ALLOWED_CEILING, id="ceiling"),
    pytest.param("rd_subsidy_rate", "(allowed: 0 to 0.3)", "（允许：0 到 0.3）", id="lever")])
def test_numbers_far_outside_their_range_are_refused_with_a_short_notice(name, allowed_en, allowed_zh, raw):
    state = urlstate.parse(urlencode([("seed", "3"), (name, raw)]))
    if name == "rd_subsidy_rate" and raw in ("1e-320", "0"):  # inside [0, 0.3]: taken (the slider shows 0 %)
        assert state.problems == [] and state.levers[name] == float(raw)
        return
    assert state.seed == 3 and state.ceiling is None and state.levers == lever_defaults()
    assert len(state.problems) == 1 and state.problems[0].startswith(f"{name}=")
    for lang, allowed in (("en", allowed_en), ("zh", allowed_zh)):
        text = urlstate.problem_text(state.problems, lang)
        assert allowed in text and f"{name}=" in text and len(text) < 200 and no_long_number(text), text


def test_ceilings_inside_the_range_are_taken_and_the_budget_field_refuses_the_rest(snap):
    for raw, want in (("1000000", 1e6), ("3e8", 3e8), ("1e12", 1e12), ("2.5E9", 2.5e9)):
        state = urlstate.parse(f"ceiling={raw}")
        assert (state.ceiling, state.problems) == (want, [])
    took = []
    box, rc = solara.render(budget.BudgetPanel(snap, budget.DEFAULT_CEILING, took.append, "en"), handle_error=False)
    try:
        field = [w for w in walk(one(box, "budget-ceiling-input")) if isinstance(w, v.TextField)][0]
        for bad in ("1e308", "inf", "0", "0.5", "2000000", "-3"):  # million yuan per year: 1 to 1,000,000
            type_into(field, bad)
            field = [w for w in walk(one(box, "budget-ceiling-input")) if isinstance(w, v.TextField)][0]
            assert "Enter a number from 1 to 1,000,000 (million yuan/yr)" in str(field.messages), bad
        assert took == []
        type_into(field, "300")
        assert took == [3e8]
    finally:
        rc.close()


def test_three_hundred_unknown_parameters_give_a_notice_of_one_short_line():
    state = urlstate.parse("&".join(f"p{i}=v{i}" for i in range(300)) + "&ceiling=1e308&seed=5")
    assert state.seed == 5 and len(state.problems) == 301
    en, zh = urlstate.problem_text(state.problems, "en"), urlstate.problem_text(state.problems, "zh")
    # the setting the page has is named first, then two unknown names, then the count of the rest
    assert en.count("(allowed:") == 3 and "ceiling=1e308" in en and "p0=v0" in en and "p1=v1" in en
    assert en.endswith("; and 298 more") and zh.endswith("；另有 298 项") and zh.count("（允许：") == 3
    assert len(en) < 300 and len(zh) < 200 and "\n" not in en + zh
    long = urlstate.parse(urlencode([("n" * 5000, "v" * 5000), ("seed", "9" * 5000)]))
    text = urlstate.problem_text(long.problems, "en")
    assert len(text) < 250 and no_long_number(text) and "nnnn…" in text and "9999…" in text


HOSTILE = [
    "__import__('os').system('touch {canary}')",
    "x.__class__.__init__.__globals__['sys'].modules['os'].system('touch {canary}')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('{canary}', 'w').write('x')",
    "exec(\"open('{canary}','w')\")",
    "lambda: __import__('os').system('touch {canary}')",
    "0.1; import os; os.system('touch {canary}')",
    '{{"__reduce__": ["os.system", ["touch {canary}"]]}}',
    "cos\nsystem\n(S'touch {canary}'\ntR.",  # a pickle's text
    "gASVIAAAAAAAAACMAm9zlIwGc3lzdGVtlJOUjAV0b3VjaJSFlFKULg==",  # base64 of a pickle
    "${{7*7}}{{{{7*7}}}}<script>alert(1)</script>",
    "0.2" + " " * 10_000 + "x",
    "\u202e\u0000\r\n🙂" * 50,
    "Ω≈ç√∫" * 400,
    "../../../../etc/passwd",
]


class _Boom(Exception):
    pass


def _refuse(*args, **kwargs):
    raise _Boom("the address must never be evaluated or unpickled")


@pytest.mark.parametrize("template", HOSTILE, ids=lambda h: re.sub(r"\W+", "_", h)[:24])
def test_no_address_value_or_name_is_ever_evaluated(template, tmp_path, monkeypatch):
    import builtins
    import pickle

    canary = tmp_path / "CANARY"
    hostile = template.format(canary=canary)
    monkeypatch.chdir(tmp_path)
    for fn in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, fn, _refuse)
    monkeypatch.setattr(pickle, "loads", _refuse)
    names = ["seed", "preset", "lang", "ab_vary", "ceiling", "rd_subsidy_rate", "training_quarters", "nonsense"]
    for query in [urlencode([(n, hostile)]) for n in names] + [urlencode([(hostile, "1")]), hostile]:
        state = urlstate.parse(query)  # never raises: each bad pair is one ignored item
        assert state.problems and state.levers == lever_defaults() and state.ceiling is None, query[:80]
        for lang in ("en", "zh"):
            text = urlstate.problem_text(state.problems, lang)
            assert len(text) < 300 and "\n" not in text and "\u202e" not in text, text
    assert not canary.exists() and list(tmp_path.iterdir()) == []


def test_a_hostile_address_opens_the_page_with_a_short_notice_and_the_default_ceiling(tmp_path, monkeypatch):
    from solara.routing import Router, router_context

    canary = tmp_path / "CANARY"
    monkeypatch.chdir(tmp_path)
    code = f"__import__('os').system('touch {canary}')"
    query = "&".join([f"p{i}=1" for i in range(300)]
                     + [urlencode([("ceiling", "1e308"), ("rd_subsidy_rate", code), ("seed", "9" * 400), ("lang", "zh")])])

    @solara.component
    def AtAddress():
        router_context.provide(Router("/?" + query, []))
        Page()

    box, rc = solara.render(AtAddress(), handle_error=False)
    try:
        note = text_of(one(box, "url-problems"))
        assert "ceiling=1e308" in note and ALLOWED_CEILING[1] in note and note.endswith("；另有 300 项")
        assert len(note) < 300, note
        assert no_long_number(" ".join(texts(box))), "a long number reached the page"
        assert seed_field(box).v_model == "1"  # the default seed
        [w for w in walk(one(box, "main-tabs")) if isinstance(w, v.Tabs)][0].v_model = 3  # the budget tab
        assert no_long_number(" ".join(texts(box))), "a long number reached the budget tab"
        field = [w for w in walk(one(box, "budget-ceiling-input")) if isinstance(w, v.TextField)][0]
        assert field.v_model == f"{budget.DEFAULT_CEILING / 1e4:,.0f}"  # the default ceiling, in 万元
    finally:
        rc.close()
    assert not canary.exists()


# ------------------------------------------------------------------------------ exports
def test_every_result_column_has_a_label_and_unit():
    s = Session(seed=1)
    s.step()
    snap = s.snapshot()
    for name in ("city", "clusters", "districts", "firms"):
        for col in getattr(snap, name).columns:
            assert columns.column_spec(col) is not None, f"{name}.{col} has no entry in app/columns.py"


def test_export_csv_headers_are_in_the_language_with_units_and_rounded(snap):
    zh = pd.read_csv(io.StringIO(export.table_csv(snap, "city", "zh")))
    assert "毕业生留秦率（％）" in zh.columns or "毕业生留秦率（%）" in zh.columns
    assert "财政支出合计（万元）" in zh.columns and len(zh) == len(snap.city)
    spend = zh["财政支出合计（万元）"].to_numpy()
    assert np.allclose(spend, (snap.city["spending_total"] / 1e4).round(1))
    en = pd.read_csv(io.StringIO(export.table_csv(snap, "clusters", "en")))
    assert "Energy index (0–1)" in en.columns and "Cluster" in en.columns
    assert set(en["Cluster"]) == {i18n.cluster_label(k, "en") for k in snap.clusters["cluster"].unique()}
    assert all(len(str(v).split(".")[-1]) <= 3 for v in en["Energy index (0–1)"])


def test_export_settings_have_preset_and_an_integer_seed():
    s = Session(seed=3, levers={**lever_defaults(), **sim.load_presets()["factors"].levers}, preset="factors")
    s.step()
    snap = s.snapshot()
    raw = export.csv_bytes(snap, "settings", "zh")
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    settings = pd.read_csv(io.StringIO(text), dtype=str)
    values = dict(zip(settings["key"], settings["取值"]))
    assert values["seed"] == "3" and values["preset"] == "factors" and values["quarters"] == "40"
    assert "研发费用补贴比例" in text and "5 集聚共享要素" in text
    assert set(sim.default_config().names("levers")) <= set(settings["key"])


def test_export_settings_state_what_the_ab_replicates_vary(snap):
    for vary, lang, shown in (("posterior", "en", "posterior draws"), ("seeds", "zh", "仅随机性")):
        table = export.settings_table(snap, lang, vary)
        rows = table.set_index("key")
        value_col, unit_col = i18n.t("setting_value", lang), i18n.t("setting_unit", lang)
        assert rows.loc["ab_vary", value_col] == vary and shown in rows.loc["ab_vary", unit_col]
        assert ("ab_posterior" in rows.index) == (vary == "posterior")
    assert "posterior.parquet" in export.settings_table(snap, "en", "posterior").set_index("key").loc[
        "ab_posterior", "Value"]
    assert "ab_vary" not in set(export.settings_table(snap, "en")["key"])  # no choice given: not stated


def pdf_layout(fig) -> dict:
    """Where the PDF backend puts the summary's text and A/B table (points), measured while it draws."""
    seen: dict = {}

    def on_draw(event):
        r = event.renderer
        tab = next(tb for ax in fig.axes for tb in ax.tables)
        seen["page"] = fig.bbox.frozen()
        seen["table"] = tab.get_window_extent(r)
        seen["cells"] = [(cell.get_window_extent(r), cell.get_text().get_window_extent(r), cell.get_text().get_text())
                         for cell in tab.get_celld().values()]
        seen["texts"] = [(tx.get_window_extent(r), tx.get_text()) for tx in fig.texts]

    fig.canvas.mpl_connect("draw_event", on_draw)
    fig.savefig(io.BytesIO(), format="pdf")
    return seen


def test_pdf_summary_is_one_page_in_the_language(snap):
    cmp = compare.run_comparison("status_quo", "digital", lever_defaults(), first_seed=1, m=2, quarters=4)
    for lang in ("zh", "en"):
        pdf = export.summary_pdf(snap, lang, cmp)
        assert pdf.startswith(b"%PDF")
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1


def test_pdf_summary_table_and_text_fit_the_page(snap):
    """The A/B table (every column, "B better in" included) and every line of text lie inside the A4
    page, each cell's text inside its cell, in both languages, as the PDF backend lays them out; a
    comparison of 16 posterior draws (a long particle line) too."""
    cmp = compare.run_comparison("status_quo", "all_five", lever_defaults(), first_seed=1, m=2, quarters=4,
                                 vary="posterior")
    many = runs.ab_replicates("posterior", 1, 16)
    long_line = compare.Comparison(cmp.choice_a, cmp.choice_b, cmp.levers_a, cmp.levers_b, tuple(many), 4,
                                   cmp.runs_a, cmp.runs_b, "posterior")  # only the caption lines differ
    for lang, comparison in (("en", cmp), ("zh", cmp), ("en", long_line)):
        fig = export.summary_figure(snap, lang, comparison)
        got = pdf_layout(fig)
        page, table = got["page"], got["table"]
        assert page.width == pytest.approx(8.27 * 72)  # A4, in points
        assert 0.04 * page.width <= table.x0 and table.x1 <= 0.96 * page.width, (lang, table)
        headers = [txt for _, _, txt in got["cells"]]
        assert any(i18n.t("col_b_better", lang) in h.replace("\n", " ") for h in headers)
        for cell, text, txt in got["cells"]:
            assert cell.x0 <= text.x0 and text.x1 <= cell.x1, (lang, txt)
        for box, txt in got["texts"]:
            assert 0 <= box.x0 and box.x1 <= 0.96 * page.width, (lang, txt)
            assert 0 <= box.y0 and box.y1 <= page.height, (lang, txt)
        assert "–" in headers and "nan" not in headers  # missing values as a dash


# ------------------------------------------------------------------------------ the page (solara.render)
def test_page_shows_every_lever_grouped_presets_and_charts(page):
    for name in sim.default_config().names("levers"):
        lever_slider(page, name)
    for g in sim.inputs.config.LEVER_GROUPS:
        click(page, f"group-tab-{g}")
        assert len(with_class(page, f"group-{g}")) == 1
        assert len(with_class(page, "lever-group")) == 1  # the other groups' levers are not rendered
    for key in sim.load_presets():
        assert len(with_class(page, f"preset-{key}")) == 1
    assert isinstance(one(page, "map-image"), ipywidgets.Image)
    assert isinstance(one(page, "chart-energy"), ipywidgets.Image)
    assert "Quarter 0 of 40 · 2025Q1" in quarter_text(page)


def test_step_and_reset_move_the_quarter(page):
    click(page, "btn-step")
    click(page, "btn-step")
    assert "Quarter 2 of 40 · 2025Q3" in quarter_text(page)
    click(page, "btn-reset")
    assert "Quarter 0 of 40" in quarter_text(page)


def test_preset_sets_the_levers_and_status_quo_restores_them(page):
    click(page, "preset-factors")
    assert lever_value(page, "talent_settlement_subsidy").startswith("60,000")
    assert lever_slider(page, "talent_settlement_subsidy").v_model == 60_000
    assert lever_value(page, "preferential_credit").startswith("2.0")
    click(page, "preset-status_quo")
    assert lever_value(page, "talent_settlement_subsidy").startswith("20,000")


def test_moving_a_lever_changes_the_outcome_after_a_step():
    box_a, rc_a = solara.render(Page(), handle_error=False)
    box_b, rc_b = solara.render(Page(), handle_error=False)
    try:
        lever_slider(box_b, "city_coordination").v_model = 0.9  # slider units = index 0-1
        assert lever_value(box_b, "city_coordination").startswith("0.90")
        for box in (box_a, box_b):
            click(box, "btn-step")
        assert kpi(box_a, "kpi_spend") != kpi(box_b, "kpi_spend")
        assert one(box_a, "chart-energy").value != b""
    finally:
        rc_a.close()
        rc_b.close()


def test_language_switch_changes_every_label():
    box, rc = solara.render(Page(), handle_error=False)
    try:
        english = {en for en, zh in i18n.STRINGS.values() if len(en) > 3}
        cfg = sim.default_config()
        english |= {cfg.schema[n].label_en for n in cfg.names("levers")}
        english |= {u[0][0] for u in i18n.UNITS.values()} | {g[0] for g in sim.inputs.config.LEVER_GROUPS.values()}
        english |= {en for en, _zh in i18n.LEVER_HELP.values()}
        english |= {p.label_en for p in sim.load_presets().values()}
        allowed_en = {*i18n.LANG_NAMES.values(), *i18n.LANGUAGE_LABEL.values()}  # bilingual on purpose
        lever_en = {cfg.schema[n].label_en for n in cfg.names("levers")}

        strings_en = texts(box)
        assert "Step" in " ".join(strings_en)
        for s in strings_en:  # English page: no Chinese except the switch and cited Chinese terms
            if s not in allowed_en and not any(lbl in s for lbl in lever_en):
                assert not CJK.search(uncited(s)), f"Chinese in the English page: {s!r}"

        set_language(box, "zh")
        strings_zh = [s for s in texts(box) if s not in allowed_en]
        joined = "\n".join(strings_zh)
        assert "单步" in joined and "政策组合" in joined and "全市统筹协调力度" in joined
        leftovers = sorted({e for e in english for s in strings_zh if e == s.strip() or (len(e) > 8 and e in s)})
        assert not leftovers, f"English left on the Chinese page: {leftovers}"
    finally:
        rc.close()


def type_into(field, text: str) -> None:
    """Type ``text`` into a text field and press Enter (the field commits on Enter / leaving it)."""
    field.v_model = text
    field.fire_event("keyup.enter", None)


def seed_field(box):
    fields = [w for w in walk(one(box, "seed-box")) if isinstance(w, v.TextField)]
    assert len(fields) == 1
    return fields[0]


@pytest.mark.parametrize("bad", ["-1", "abc", "99999999999", ""])
def test_seed_field_refuses_invalid_input_in_the_language_and_keeps_the_seed(bad):
    box, rc = solara.render(Page(), handle_error=False)
    try:
        set_language(box, "zh")
        type_into(seed_field(box), "5")
        assert not with_class(box, "seed-error")
        type_into(seed_field(box), bad)
        msg = text_of(one(box, "seed-error"))
        assert ("不是有效的随机种子" if bad else "随机种子为空") in msg and "4,294,967,295" in msg
        assert "仍使用随机种子 5" in msg
        click(box, "btn-reset")  # Reset still works, with the last valid seed, and clears the refusal
        assert not with_class(box, "app-error") and not with_class(box, "seed-error")
        assert seed_field(box).v_model == "5"
        assert "第 0/40 季度" in quarter_text(box)
    finally:
        rc.close()


def test_preset_at_quarter_zero_rebuilds_the_model(page):
    click(page, "preset-digital")
    click(page, "btn-step")
    shown = kpi(page, "kpi_energy")
    ref = runs.run_one({**lever_defaults(), **sim.load_presets()["digital"].levers}, runs.Replicate(1), 40)
    assert shown == f"{ref.clusters[ref.clusters['quarter'] == 1]['energy_index'].mean():,.3f}"


def test_typed_lever_value_moves_the_lever_and_bad_input_is_explained(page):
    show_group_of(page, "rd_subsidy_rate")
    field = [w for w in walk(one(page, "lever-rd_subsidy_rate")) if isinstance(w, v.TextField)][0]
    type_into(field, "20")
    assert lever_value(page, "rd_subsidy_rate").startswith("20 %")
    assert lever_slider(page, "rd_subsidy_rate").v_model == 20
    field = [w for w in walk(one(page, "lever-rd_subsidy_rate")) if isinstance(w, v.TextField)][0]
    type_into(field, "45")
    assert "from 0 to 30" in text_of(one(page, "lever-error"))
    assert lever_value(page, "rd_subsidy_rate").startswith("20 %")  # unchanged
    show_group_of(page, "city_coordination")
    lever = one(page, "lever-city_coordination")
    assert text_of(one(lever, "lever-min")) == "0.00" and text_of(one(lever, "lever-max")) == "1.00"
    assert "0.9" in text_of(one(lever, "lever-help"))
    assert "matchmaking" in text_of(one(lever, "lever-channels"))  # the declared channels, under the help


def test_every_lever_names_its_declared_channels_in_both_languages():
    from sim.policy.instruments import instruments

    for name, inst in instruments().items():
        en, zh = i18n.lever_channels(name, "en"), i18n.lever_channels(name, "zh")
        assert en.startswith("Acts through: ") and zh.startswith("作用渠道：") and CJK.search(zh), name
        assert len(en.split("; ")) == len(zh.split("；")) == len(inst.channels), name
        for c in inst.channels:  # each channel's short name as its declaration gives it
            assert c.en.split(":", 1)[0] in en and c.zh.split("：", 1)[0] in zh, (name, c.name)


def test_two_pages_have_separate_models():
    box1, rc1 = solara.render(Page(), handle_error=False)
    box2, rc2 = solara.render(Page(), handle_error=False)
    try:
        for _ in range(3):
            click(box1, "btn-step")
        assert "Quarter 3 of" in quarter_text(box1)
        assert "Quarter 0 of" in quarter_text(box2)
        click(box2, "btn-step")
        assert "Quarter 3 of" in quarter_text(box1) and "Quarter 1 of" in quarter_text(box2)
    finally:
        rc1.close()
        rc2.close()


def test_page_prefetches_the_status_quo_with_the_replicates_of_its_comparison(monkeypatch):
    """The background prefetch uses exactly the replicates (and levers, horizon) the default comparison
    will run, for either choice of what replicates vary, so the comparison finds them cached."""
    from app.page import UrlQuery

    calls = []
    monkeypatch.setattr(runs, "prefetch", lambda levers, reps, quarters: calls.append((levers, list(reps), quarters)))
    box, rc = solara.render(Page(), handle_error=False)
    try:
        wait_until(lambda: len(calls) >= 1)
        status_quo = compare.setting_levers("status_quo", lever_defaults())

        def same_keys(call, vary):
            expected = runs.ab_replicates(vary, 1, compare.DEFAULT_REPLICATES)
            return ([runs._key(call[0], r, call[2]) for r in call[1]]
                    == [runs._key(status_quo, r, compare.DEFAULT_QUARTERS) for r in expected])

        assert same_keys(calls[-1], "posterior") and calls[-1][1][0].draw == 0
        query = [w for w in walk(box) if isinstance(w, UrlQuery)][0]
        assert "ab_vary" not in query.query  # the default is not written
        group = [w for w in walk(box) if isinstance(w, v.RadioGroup)]
        assert len(group) == 1 and group[0].v_model == "posterior"
        group[0].v_model = "seeds"
        wait_until(lambda: len(calls) >= 2)
        assert same_keys(calls[-1], "seeds") and all(r.draw is None for r in calls[-1][1])
        assert "ab_vary=seeds" in query.query
    finally:
        rc.close()


def test_server_start_warms_the_pool_and_prefetches_the_default_comparison(monkeypatch):
    """Started with the server (before any page): the workers warm up and the status quo of the
    default comparison (default seed, default replicates) is started, as a first page would."""
    from app.page import warm_server
    from app.state import DEFAULT_SEED

    calls, warmed = [], []
    monkeypatch.setattr(runs, "warm_up", lambda: warmed.append(True) or [])
    monkeypatch.setattr(runs, "prefetch", lambda levers, reps, quarters: calls.append((levers, list(reps), quarters)))
    warm_server().join(timeout=60)
    assert warmed and len(calls) == 1
    levers, reps, quarters = calls[0]
    vary = runs.posterior_status().default_vary
    expected = runs.ab_replicates(vary, DEFAULT_SEED, compare.DEFAULT_REPLICATES)
    assert [runs._key(levers, r, quarters) for r in reps] == [
        runs._key(compare.setting_levers("status_quo", lever_defaults()), r, compare.DEFAULT_QUARTERS) for r in expected]


def test_compare_panel_runs_a_and_b_from_the_same_seed():
    levers = lever_defaults()
    box, rc = solara.render(compare.ComparePanel(levers, 7, "en"), handle_error=False)
    try:
        selects = [w for w in walk(box) if isinstance(w, NativeSelect)]
        assert len(selects) == 3  # A, B, number of paired runs
        names = selects[1].items
        selects[1].index = next(i for i, n in enumerate(names) if n.startswith("5 "))  # B = gather & share factors
        assert selects[2].items[selects[2].index] == "8"  # default: 8 paired runs
        selects[2].index = selects[2].items.index("4")
        quarters = [w for w in walk(box) if isinstance(w, v.Slider)][0]
        quarters.v_model = 4
        click(box, "btn-compare")
        # the result renders from the task's thread: wait until every part is there
        wait_until(lambda: all(with_class(box, c) for c in ("compare-caption", "compare-table", "compare-chart")),
                   timeout=120)
        caption = text_of(one(box, "compare-caption"))
        assert "4 paired runs, seeds 7–10" in caption and "4 quarters" in caption and "B = 5 Gather" in caption
        assert "posterior draws 0–3" in caption  # the default: the committed posterior is current
        table = text_of(one(box, "compare-table"))
        assert "A (mean)" in table and "Range of B − A" in table and " of 4" in table
        assert "all 4 paired runs agree" in text_of(one(box, "compare-rule"))
        assert "chance and the uncertainty of the fitted" in text_of(one(box, "compare-rule"))
        assert isinstance(one(box, "compare-chart"), ipywidgets.Image)
    finally:
        rc.close()


def test_compare_progress_line_is_gone_when_the_result_is_shown(monkeypatch):
    """The result is stored (and drawn) just before the task ends: from that render on, the progress
    line is gone, not "8 of 8 runs done" beside the table."""
    done = compare.run_comparison("status_quo", "digital", lever_defaults(), first_seed=7, m=2, quarters=4)

    def fake(*args, on_done=None, **kw):
        on_done(2, 4)
        on_done(4, 4)
        return done

    monkeypatch.setattr(compare, "run_comparison", fake)
    seen = []

    class Recorded(solara.Reactive):
        def set(self, value):
            super().set(value)  # re-renders the panel (in the task's thread), the task still pending
            seen.append((bool(with_class(box, "compare-caption")), bool(with_class(box, "compare-running"))))

    result = Recorded(None)
    box, rc = solara.render(compare.ComparePanel(lever_defaults(), 7, "en", result=result), handle_error=False)
    try:
        click(box, "btn-compare")
        wait_until(lambda: with_class(box, "compare-caption") and not one(box, "btn-compare").disabled)
        assert not with_class(box, "compare-running")
        assert seen == [(True, False)], seen  # the result shown, the progress line already gone
    finally:
        rc.close()


def test_compare_progress_line_is_updated_at_most_twice_a_second_and_at_the_end(monkeypatch):
    """Each progress update re-renders the page on the server, CPU the runs need: 16 runs finishing
    within a moment give the first line and the last, not 16 renders."""
    done = compare.run_comparison("status_quo", "digital", lever_defaults(), first_seed=7, m=2, quarters=4)
    lines = []

    def fake(*args, on_done=None, **kw):
        for d in range(17):
            on_done(d, 16)
            lines.append(text_of(one(box, "compare-running")) if with_class(box, "compare-running") else None)
        time.sleep(compare.PROGRESS_EVERY_S + 0.05)
        on_done(16, 16)
        return done

    monkeypatch.setattr(compare, "run_comparison", fake)
    box, rc = solara.render(compare.ComparePanel(lever_defaults(), 7, "en"), handle_error=False)
    try:
        click(box, "btn-compare")
        wait_until(lambda: with_class(box, "compare-caption") and not one(box, "btn-compare").disabled)
        shown = [line for line in lines if line is not None]
        assert "0 of 16" in shown[0] and all(line == shown[0] for line in shown[:-1]), shown  # throttled
        assert "16 of 16" in shown[-1]  # the end is always shown
    finally:
        rc.close()


def test_export_panel_offers_every_table_and_chart(snap):
    box, rc = solara.render(export.ExportPanel(snap, "en"), handle_error=False)
    try:
        joined = text_of(box)
        for name in export.TABLES:
            assert f"{name}.csv" in joined
        assert "All charts (ZIP)" in joined and "One-page summary (PDF)" in joined
        assert "Run an A/B comparison first" in joined
    finally:
        rc.close()
    z = export.charts_zip(snap, "zh")
    names = zipfile.ZipFile(io.BytesIO(z)).namelist()
    assert len(names) == len(export.CHART_NAMES) and all(n.endswith("_zh.png") for n in names)


# ------------------------------------------------------------------------------ where the effect comes from
EX_QUARTERS = 8  # short runs: enough for levels, value added and spending to move


def coordinate_levers() -> dict:
    return {**lever_defaults(), **sim.load_presets()["coordinate"].levers}


@pytest.fixture
def coordinate_explained():
    """The one-lever package "coordinate" (eight channels) explained over 3 paired seeds."""
    return explain.explain_levers(coordinate_levers(), runs.seed_replicates(3, 3), EX_QUARTERS)


def test_one_lever_package_channels_plus_interaction_are_the_full_effect_exactly(coordinate_explained):
    ex = coordinate_explained
    names = [c.name for c in sim.default_config().schema["city_coordination"].channels]
    assert [c.name for c in ex.plan.channels] == names
    assert [(v.kind, v.channel) for v in ex.plan.variants] == [("reference", None), ("package", None),
                                                               *[("without", c) for c in names], ("none", None)]
    assert ex.runs == len(ex.plan.variants) * 3
    kinds = [v.kind for v in ex.plan.variants]
    for h in explain.HEADLINES:
        vals = ex.values[h.key]
        dec = ex.decompositions[h.key]
        ref, pkg, none = vals[0], vals[1], vals[kinds.index("none")]
        np.testing.assert_array_equal(dec.effect, pkg - ref)
        for i, c in enumerate(names):  # a channel's contribution: the full effect less the effect without it
            np.testing.assert_array_equal(dec.contribution[c], (pkg - ref) - (vals[2 + i] - ref))
        if h.key == "retention_3y":  # no cohort is three years on within 8 quarters: no value, never a difference
            assert np.isnan(vals).all() and not any(c[h.key].measurable for c in ex.cells.values())
            continue
        assert not np.isnan(vals).any()
        if h.key == "spending_total":
            assert (none > ref).all()  # the coordination office runs (and costs) whatever its channels do
        elif h.key == "net_fiscal_balance_total":  # all off: the status quo's tax, less the office's extra cost
            spend = ex.values["spending_total"]
            np.testing.assert_allclose(none - ref, -(spend[kinds.index("none")] - spend[0]), rtol=1e-9)
            assert (none < ref).all()
        else:
            np.testing.assert_array_equal(none, ref)  # all channels off: the status quo, exactly
        total = dec.sum_contributions + dec.interaction + dec.none  # the parts, in every paired world
        np.testing.assert_allclose(total, dec.effect, rtol=1e-12, atol=1e-9)
        cells = ex.cells  # and so their means, as the table shows them
        assert cells["full"][h.key].mean == pytest.approx(np.mean(dec.effect), rel=1e-12, abs=1e-12)
        assert cells["sum"][h.key].mean + cells["interaction"][h.key].mean + cells["none"][h.key].mean == \
            pytest.approx(cells["full"][h.key].mean, rel=1e-9, abs=1e-6)
    # the same runs as the shared computation's configs (sim.policy.attribution.variant_config, as explain)
    from sim.policy.attribution import variant_config

    v = ex.plan.variants[2]  # without the first channel
    cfg = variant_config(sim.load_config().with_overrides({}, quarters=EX_QUARTERS), v)
    assert cfg.channels_off == {names[0]}
    direct = sim.run_scenario(cfg, seed=ex.replicates[1].seed).summary()
    assert [direct[h.key] for h in explain.HEADLINES if h.key != "retention_3y"] == \
        [ex.values[h.key][2][1] for h in explain.HEADLINES if h.key != "retention_3y"]


def _synthetic(values_by_variant: dict, lever: str = "iur_platform_strength", value: float = 0.8):
    """An Explanation of ``lever`` at ``value`` with given outcome values: {outcome: (variants, replicates)}."""
    plan = explain.plan_for({**lever_defaults(), lever: value})
    reps = tuple(runs.seed_replicates(1, 4))
    return explain.Explanation(plan, reps, 40, values_by_variant, 1.0, len(plan.variants) * 4)


def test_greying_and_the_sentence_follow_the_intervals():
    from scipy import stats

    rng = np.random.default_rng(5)
    base = rng.normal(0, 1, 4)
    noise = lambda sd: rng.normal(0, sd, 4)  # noqa: E731
    # variants (rows): status quo, package, without channel 1, without channel 2, all off; 4 paired worlds
    levels = np.array([base, base + 3 + noise(.1), base + 1 + noise(.1), base + 2 + noise(3), base])
    va = np.array([base * 1e9, base * 1e9 + noise(1e9), base * 1e9, base * 1e9, base * 1e9])  # full effect noisy
    ret = np.full((5, 4), 0.2)  # nothing moves: every cell exactly 0
    spend = 1e9 + np.array([[0] * 4, [5e8] * 4, 3e8 + noise(1e6), 2e8 + noise(1e6), [1e8] * 4])  # interaction -1e8
    quiet = {h.key: np.zeros((5, 4)) for h in explain.HEADLINES}  # the other outcomes: no effect at all
    ex = _synthetic({**quiet, "tiers_climbed_clusters": levels, "value_added_real_final": va, "retention_3y": ret,
                     "spending_total": spend})
    html = explain.table_html(ex, "en")
    cells = re.findall(r"<td class='cell (measurable|noise) out-(\w+)'[^>]*>(.*?)</td>", html)
    rows = ["full", *[c.name for c in ex.plan.channels], "sum", "none", "interaction"]
    assert len(cells) == len(rows) * len(explain.HEADLINES)
    dec = ex.decompositions
    by_key = {h.key: h for h in explain.HEADLINES}
    seen = set()
    for i, (cls, out, _text) in enumerate(cells):
        row = rows[i // len(explain.HEADLINES)]
        d = {"full": dec[out].effect, "sum": dec[out].sum_contributions, "none": dec[out].none,
             "interaction": dec[out].interaction}.get(row, dec[out].contribution.get(row))
        half = stats.t.ppf(0.975, len(d) - 1) * np.std(d, ddof=1) / np.sqrt(len(d))  # scipy's t, not the app's
        lo, hi = np.mean(d) - half, np.mean(d) + half
        clear = (lo > 0 or hi < 0) and round(explain.display(np.mean(d), by_key[out], "en"), 2) != 0
        assert (cls == "measurable") == bool(clear), (row, out, lo, hi)
        seen.add(cls)
    assert seen == {"measurable", "noise"}  # both cases occur
    chans = [c.name for c in ex.plan.channels]
    t = ex.cells
    assert t[chans[0]]["tiers_climbed_clusters"].measurable and not t[chans[1]]["tiers_climbed_clusters"].measurable
    assert not any(t[r]["retention_3y"].measurable for r in rows)  # exactly 0 everywhere: grey, never a difference
    assert "#9a9a9a" in html and "measurable" in html
    # the sentence names only the outcome whose interaction interval excludes 0
    words = explain.interaction_sentence(ex, "en")
    inter = {h.key: t["interaction"][h.key] for h in explain.HEADLINES}
    named = [h for h in explain.HEADLINES if explain.cell_shows_difference(inter[h.key], h)]
    assert named, inter
    for h in explain.HEADLINES:
        assert (i18n.t(h.label, "en") in words) == (h in named), (h.key, words)
    assert "do not add up" in words and "For the other outcomes" in words
    assert "的各部分之和不等于总效果" in explain.interaction_sentence(ex, "zh")
    same = _synthetic({h.key: np.array([base] * 5) for h in explain.HEADLINES})
    assert "within the noise" in explain.interaction_sentence(same, "en")
    assert "measurable" not in re.findall(r"class='cell (\w+)", explain.table_html(same, "zh"))


def test_effect_results_are_cached_per_levers_replicates_and_horizon(monkeypatch):
    calls = []
    real = runs.run_many

    def counted(jobs, quarters, on_done=None):
        calls.append((len(jobs), quarters))
        return real(jobs, quarters, on_done)

    monkeypatch.setattr(runs, "run_many", counted)
    lev = {**lever_defaults(), "rd_subsidy_rate": 0.2}  # one lever, one channel: 4 variants
    reps = runs.seed_replicates(1, 2)
    first = explain.explain_levers(lev, reps, 4)
    assert calls == [(8, 4)]
    t0 = time.monotonic()
    assert explain.explain_levers(dict(lev), list(reps), 4) is first  # a second look: from the cache
    assert time.monotonic() - t0 < 0.1 and len(calls) == 1
    assert explain.cached(lev, reps, 4) is first and explain.cached(lev, reps, 8) is None
    explain.explain_levers(lev, runs.seed_replicates(2, 2), 4)  # other seeds: run
    explain.explain_levers(lev, reps, 5)  # another horizon: run
    explain.explain_levers({**lev, "rd_subsidy_rate": 0.25}, reps, 4)  # other levers: run
    assert len(calls) == 4
    with pytest.raises(ValueError):
        explain.explain_levers(lever_defaults(), reps, 4)  # the status quo: nothing to explain


def test_effect_view_at_the_status_quo_says_so_and_runs_nothing(monkeypatch):
    monkeypatch.setattr(runs, "run_many", lambda *a, **k: pytest.fail("ran at the status quo"))
    for lang, words in (("en", "there is no effect to explain"), ("zh", "没有需要解释的效果")):
        box, rc = solara.render(explain.EffectSources(lever_defaults(), 7, lang, vary="seeds"), handle_error=False)
        try:
            assert one(box, "btn-why-effect").disabled
            assert words in text_of(one(box, "why-effect-sq"))
            assert i18n.t("why_effect_button", lang) in text_of(one(box, "btn-why-effect"))
            assert not with_class(box, "why-effect-table")
        finally:
            rc.close()


def test_effect_view_runs_shows_the_table_and_a_second_look_is_instant(monkeypatch):
    monkeypatch.setattr(explain, "QUARTERS", EX_QUARTERS)
    lev = coordinate_levers()
    progress = []
    real = runs.run_many
    monkeypatch.setattr(runs, "run_many", lambda jobs, q, on_done=None: real(
        jobs, q, lambda d, n: (progress.append((d, n)), on_done and on_done(d, n))))
    box, rc = solara.render(explain.EffectSources(lev, 7, "en", vary="seeds", status=runs.posterior_status()),
                            handle_error=False)
    try:
        plan_line = text_of(one(box, "why-effect-plan"))
        assert "8 channels: 44 runs (11 variants × 4 paired runs), about" in plan_line
        assert not with_class(box, "why-effect-table")  # runs only when asked
        click(box, "btn-why-effect")
        wait_until(lambda: with_class(box, "why-effect-table") and not one(box, "btn-why-effect").disabled, 180)
        assert progress[-1] == (44, 44) and progress[0][1] == 44  # determinate: k of the 44 runs
        assert not with_class(box, "why-effect-running")
        assert "all run already" in text_of(one(box, "why-effect-plan"))  # no time estimate for cached runs
        caption = text_of(one(box, "why-effect-caption"))
        assert "8 channels" in caption and "4 paired runs, seeds 7–10" in caption and f"{EX_QUARTERS} quarters" in caption
        table = text_of(one(box, "why-effect-table"))
        for c in sim.default_config().schema["city_coordination"].channels:
            short = i18n.channel_short(c, "en")
            assert short[:1].upper() + short[1:] in table
        assert "Full effect" in table and "Interaction" in table
        assert i18n.lever_label("city_coordination", "en") in table  # the lever heads its channels
        assert text_of(one(box, "why-effect-sum")) and "95 % interval" in text_of(one(box, "why-effect-rule"))
    finally:
        rc.close()
    n_calls = len(progress)
    t0 = time.monotonic()  # the same levers and replicates again, in Chinese: shown at once, nothing run
    box, rc = solara.render(explain.EffectSources(lev, 7, "zh", vary="seeds", status=runs.posterior_status()),
                            handle_error=False)
    try:
        assert with_class(box, "why-effect-table") and time.monotonic() - t0 < 10
        assert len(progress) == n_calls
        table = text_of(one(box, "why-effect-table"))
        assert "作用渠道" in table and "总效果" in table and "交互作用" in table
        assert i18n.channel_short(sim.default_config().schema["city_coordination"].channels[0], "zh") in table
        assert "配对运行" in text_of(one(box, "why-effect-caption")) and CJK.search(text_of(one(box, "why-effect-sum")))
    finally:
        rc.close()


def test_the_why_tab_has_the_effect_view(page):
    btn = one(page, "btn-why-effect")  # kept on the page, like the A/B panel (its task outlives a tab switch)
    assert "Where does the effect come from?" in text_of(btn)
    assert btn.disabled and "status quo" in text_of(one(page, "why-effect-sq"))  # the page opens at the status quo
    click(page, "preset-coordinate")
    assert not one(page, "btn-why-effect").disabled
    assert "8 channels" in text_of(one(page, "why-effect-plan"))
    set_language(page, "zh")
    assert "效果从何而来？" in text_of(one(page, "btn-why-effect"))
    assert "8 个作用渠道" in text_of(one(page, "why-effect-plan"))


# ------------------------------------------------------------------------------ command line
def test_cli_binds_loopback_by_default_and_stays_offline(monkeypatch):
    monkeypatch.delenv("APP_HOST", raising=False)
    monkeypatch.delenv("APP_PORT", raising=False)
    args = parse_args([])
    assert (args.host, args.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 8765)
    cmd = command(args)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "8765"
    assert "--production" in cmd and "--no-check-version" in cmd and "app.page" in cmd
    assert OFFLINE_ENV["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    wide = command(parse_args(["--host", "0.0.0.0", "--port", "9000"]))
    assert wide[wide.index("--host") + 1] == "0.0.0.0" and wide[wide.index("--port") + 1] == "9000"


def test_accessible_widgets_name_what_they_show():
    """app.a11y: a picture carries its text alternative, the select reports a newly chosen item (not the
    one shown), the progress bar has a name and a clamped value."""
    from app import a11y

    picked = []

    @solara.component
    def Box():
        with solara.Column() as col:
            a11y.Picture(b"\x89PNG", "Chart: energy · 2025Q1", classes=["pic"])
            a11y.Select("Setting B", ["Status quo", "5 Gather"], "Status quo", picked.append, classes=["sel"])
            a11y.Progress(140.0, "Progress of the runs", classes=["bar"])
        return col

    box, rc = solara.render(Box(), handle_error=False)
    try:
        pic = one(box, "picture")
        assert pic.attributes == {"data-alt": "Chart: energy · 2025Q1"}
        assert isinstance(one(box, "pic"), ipywidgets.Image)
        select = next(w for w in walk(box) if isinstance(w, NativeSelect))
        assert (select.label, select.items, select.index) == ("Setting B", ["Status quo", "5 Gather"], 0)
        select.index = 1
        select.index = 0  # the value the page shows already: nothing to report
        assert picked == ["5 Gather"]
        bar = one(box, "bar")
        assert bar.attributes == {"aria-label": "Progress of the runs"} and bar.value == 100.0
    finally:
        rc.close()


# ------------------------------------------------------------------------------ report-grade exports
@pytest.fixture(scope="module")
def all_five_snap():
    """Two quarters of the all-five preset: 15 levers differ from the status quo."""
    levers = {**lever_defaults(), **sim.load_presets()["all_five"].levers}
    session = Session(seed=3, levers=levers, preset="all_five")
    for _ in range(2):
        session.step()
    return session.snapshot()


def page_texts(fig) -> str:
    return "\n".join(x.get_text() for x in fig.texts)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pdf_lists_every_changed_lever_under_one_title(all_five_snap, lang):
    snap = all_five_snap
    changed = export.changed_levers(snap.levers, lang)
    assert len(changed) == 15
    figs = export.summary_figures(snap, lang)
    assert len(figs) == 1  # every lever fits page 1: no appendix
    text = page_texts(figs[0])
    for line in changed:
        assert line in text, line
    assert not any(i18n.t("pdf_more", lang, n=n) in text for n in range(1, 16))
    heading = i18n.t("pdf_heading", lang)
    assert text.count(heading) == 1 and text.count(i18n.t("title", lang)) == 0  # one title, not two joined
    pdf = export.summary_pdf(snap, lang)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1


def test_pdf_puts_levers_that_do_not_fit_in_an_appendix(all_five_snap, monkeypatch):
    monkeypatch.setattr(export, "SETTINGS_LINES_MAX", 8)  # room for a few lines only
    snap = all_five_snap
    changed = export.changed_levers(snap.levers, "en")
    figs = export.summary_figures(snap, "en")
    assert len(figs) == 2
    first, appendix = page_texts(figs[0]), page_texts(figs[1])
    shown = [c for c in changed if c in first]
    assert 0 < len(shown) < len(changed)
    assert i18n.t("pdf_more", "en", n=len(changed) - len(shown)) in first  # "+N more" counts the rest
    assert all(c in appendix for c in changed)  # the appendix lists every one
    assert len(re.findall(rb"/Type\s*/Page[^s]", export.summary_pdf(snap, "en"))) == 2


def test_ab_files_name_a_and_b():
    current = {**lever_defaults(), "city_coordination": 0.9}
    cmp = compare.run_comparison("current", "digital", current, first_seed=1, m=2, quarters=4)
    for lang in ("en", "zh"):
        a_name = export.setting_description("current", current, lang)
        assert a_name.startswith(compare.setting_names(lang)["current"])
        assert i18n.lever_label("city_coordination", lang) in a_name  # hand-set levers: which ones
        b_name = compare.setting_names(lang)["digital"]
        table = pd.read_csv(io.BytesIO(export.frame_csv_bytes(export.ab_table_frame(cmp, lang))),
                            encoding="utf-8-sig")
        assert list(table.columns[:2]) == [i18n.t("setting_a", lang), i18n.t("setting_b", lang)]
        assert set(table.iloc[:, 0]) == {a_name} and set(table.iloc[:, 1]) == {b_name}
        per_run = pd.read_csv(io.BytesIO(export.frame_csv_bytes(export.ab_runs_frame(cmp, lang))),
                              encoding="utf-8-sig")
        named = dict(zip(per_run[i18n.t("col_setting", lang)], per_run[i18n.t("col_setting_name", lang)]))
        assert named == {"A": a_name, "B": b_name} and len(per_run) == 4


def significant(text: str) -> int:
    digits = re.sub(r"[^0-9]", "", text).lstrip("0")
    return len(digits.rstrip("0")) if "." not in text else len(digits)


def test_money_is_shown_to_three_significant_figures():
    assert compare.fmt(41979.31, compare.significant_digits(41979.31, 2), sign=True) == "+42,000"
    assert compare.fmt(25.78, compare.significant_digits(26.36, 2)) == "25.8"
    assert compare.fmt(0.0123, compare.significant_digits(0.0123, 2)) == "0.01"  # never more than the outcome's
    assert budget._money(41979.31, "per_unit", "en", 2) == "42,000 yuan"
    cmp = compare.run_comparison("status_quo", "all_five", lever_defaults(), first_seed=1, m=2, quarters=4)
    money = [st for st in cmp.stats if st.outcome.unit.startswith("money:")]
    for lang in ("en", "zh"):
        table = compare.comparison_table(cmp.stats, lang).set_index(i18n.t("outcome", lang))
        html = compare.outcome_table_html(cmp.stats, lang)
        for st in money:
            row = table.loc[i18n.t(st.outcome.label, lang)]
            for col in ("col_mean_a", "col_mean_b"):
                value = row[i18n.t(col, lang)]
                if not math.isnan(value):
                    assert significant(f"{value:.6g}") <= compare.MONEY_SIGNIFICANT, (st.outcome.key, value)
            cells = re.search(rf"<tr class='outcome-{st.outcome.key} .*?</tr>", html).group(0)
            for number in re.findall(r"<td>([-+]?[\d,]+(?:\.\d+)?)</td>", cells):
                assert significant(number) <= compare.MONEY_SIGNIFICANT, (st.outcome.key, number)


def test_exported_pngs_carry_a_scenario_and_source_line(all_five_snap):
    snap = all_five_snap
    line = export.source_line(snap, "en")
    for part in ("All five remedies", "seed 3", snap.city["period"].iloc[0], snap.city["period"].iloc[-1],
                 sim.__version__, "not a forecast"):
        assert part in line, part
    for name in ("spending", "map"):  # a layered chart and the map (each drawn twice at print resolution)
        with charts.render_dpi(charts.EXPORT_DPI):
            bare = PIL.Image.open(io.BytesIO(charts.to_png(export.chart_figure(snap, name, "zh"))))
        full = PIL.Image.open(io.BytesIO(export.chart_bytes(snap, name, "zh")))
        assert full.width == bare.width and full.height > bare.height, name
        strip = np.asarray(full.convert("L"))[bare.height:]
        assert (strip < 128).any(), f"{name}: no text under the chart"  # the line is drawn
        np.testing.assert_array_equal(np.asarray(full.convert("RGB"))[:bare.height], np.asarray(bare.convert("RGB")))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_spending_legend_names_the_groups_and_axes_group_thousands(all_five_snap, lang):
    assert charts.grouped(12000.0) == "12,000" and charts.grouped(0.5) == "0.5" and charts.grouped(-0.0) == "0"
    texts = [x.replace("\n", " ") for x in charts.figure_texts(charts.chart_figure(all_five_snap, "spending", lang))]
    for g in sim.inputs.config.LEVER_GROUPS:
        assert i18n.group_label(g, lang) in texts, g
    assert i18n.t("group_short", lang, n=1) not in texts  # not "Group 1"
    numbers = [x for x in texts if re.fullmatch(r"[\d,]+", x)]
    big = [x for x in numbers if int(x.replace(",", "")) >= 1000 and not re.fullmatch(r"20\d\d", x)]  # not years
    assert big and all(re.fullmatch(r"\d{1,3}(,\d{3})+", x) for x in big), numbers  # 万元 axis: 1,000 and up


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_exported_map_university_names_cover_no_district_name_nor_each_other(snap, lang):
    from matplotlib.text import Text

    fig = export.chart_figure(snap, "map", lang)
    with charts.render_dpi(charts.EXPORT_DPI):
        charts.to_png(fig)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    names = [x.get_window_extent(renderer) for x in fig.findobj(Text) if x.get_gid() == "university-name"]
    assert len(names) == len(snap.universities)
    districts = map_view.name_boxes(ax, snap.layout, lang, map_view.EXPORT_PLACE_PT, renderer)
    assert len(districts) >= len(snap.layout.district_names)
    inside = ax.get_window_extent(renderer)
    for i, box in enumerate(names):
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
        assert not any(box.overlaps(d) for d in districts), (lang, i)
        assert not any(box.overlaps(other) for other in names[i + 1:]), (lang, i)
