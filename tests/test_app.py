"""The workshop app without a browser: component tests with ``solara.render`` and unit tests of the
pieces (strings, lever units, charts, A/B outcomes, export, command line).

Browser tests (a real Chromium driving the served page) are in tests/test_app_browser.py.
"""

from __future__ import annotations

import io
import math
import re
import time
import zipfile

import ipyvuetify as v
import ipywidgets
import numpy as np
import pandas as pd
import PIL.Image
import pytest
import solara

import sim
from app import charts, compare, export, i18n, map_view
from app.__main__ import DEFAULT_HOST, DEFAULT_PORT, OFFLINE_ENV, command, parse_args
from app.controls import lever_views
from app.page import CHART_TABS, Page
from app.state import Session, lever_defaults

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def uncited(text: str) -> str:
    """Drop Chinese terms cited in brackets in English text, e.g. "Energy level (能级)"."""
    return re.sub(r"\([\u4e00-\u9fff]+\)", "", text)
QUARTERS = 6  # short runs for A/B tests


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
    return [w for w in walk(root) if token in classes_of(w)]


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


def lever_value(box, name: str) -> str:
    return text_of(one(one(box, f"lever-{name}"), "lever-value"))


def lever_slider(box, name: str):
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


def test_every_lever_has_a_translated_unit_a_group_and_a_slider_that_round_trips():
    cfg = sim.default_config()
    views = {lv.name: lv for lv in lever_views()}
    assert list(views) == cfg.names("levers")
    assert {lv.group for lv in views.values()} == set(sim.config.LEVER_GROUPS)
    for name, lv in views.items():
        p = cfg.schema[name]
        assert p.unit in i18n.UNITS, f"lever {name}: unit {p.unit!r} has no entry in app.i18n.UNITS"
        assert CJK.search(i18n.unit_label(name, "zh"))
        assert lv.model_value(lv.shown(p.default)) == pytest.approx(p.default, rel=1e-9, abs=1e-12)
        assert lv.model_value(lv.shown(p.low)) == pytest.approx(p.low)
        assert lv.model_value(lv.shown(p.high)) == pytest.approx(p.high)
        assert lv.model_value(1e30) == p.high and lv.model_value(-1e30) == p.low  # clipped to the range
        # a default sits on the slider grid, so the slider shows it exactly
        steps = (lv.shown(p.default) - p.low * lv.scale) / lv.step
        assert abs(steps - round(steps)) < 1e-6, name


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
def test_every_chart_and_the_map_render_to_png(snap, lang):
    for name in CHART_TABS:
        func, table = charts.CHARTS[name]
        data = charts.to_png(func(getattr(snap, table), lang, snap.quarters))
        assert png_size(data) == (round(charts.SIZE[0] * charts.DPI), round(charts.SIZE[1] * charts.DPI))
    data = export.chart_bytes(snap, "map", lang)
    assert png_size(data) == (round(map_view.MAP_SIZE[0] * charts.DPI), round(map_view.MAP_SIZE[1] * charts.DPI))


def test_chart_shows_the_data_layer_over_the_cached_frame(snap):
    """The data layer changes the picture (the lines), and the frame is drawn once and reused."""
    func, _table = charts.CHARTS["energy"]
    first = charts.to_png(func(snap.clusters, "en", snap.quarters))
    n_frames = len(charts._FRAMES)
    again = charts.to_png(func(snap.clusters, "en", snap.quarters))
    assert len(charts._FRAMES) == n_frames and again == first
    frame = charts._FRAMES[next(reversed(charts._FRAMES))].pixels  # the frame just used
    full = np.asarray(PIL.Image.open(io.BytesIO(first)))
    assert full.shape == frame.shape
    assert (full[..., :3] != frame[..., :3]).any(axis=-1).sum() > 100  # the cluster lines


def test_cjk_font_is_found_for_chinese_labels():
    """Chinese labels really render: the font file matplotlib picks for them has every glyph, and
    drawing them warns about no missing glyph (a family name that merely resolves is not enough)."""
    import warnings

    from matplotlib import font_manager, ft2font
    from matplotlib.figure import Figure

    from app import fonts

    hint = "no CJK font (Chinese labels show as boxes): run `make fonts` (Noto Sans SC into .venv)"
    assert fonts.CJK_FONT is not None, hint
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


def test_outcomes_and_an_identical_pair_differ_by_nothing():
    levers = lever_defaults()
    res_a, res_b = compare.run_pair(levers, levers, seed=5, quarters=QUARTERS)
    oa = compare.outcomes(res_a.city, res_a.clusters)
    ob = compare.outcomes(res_b.city, res_b.clusters)
    assert set(oa) >= {o.key for o in compare.OUTCOMES}
    for key in oa:
        assert (math.isnan(oa[key]) and math.isnan(ob[key])) or oa[key] == ob[key], key
    html = compare.outcome_table_html(res_a, res_b, "zh")
    assert html.count("<tr class='outcome-") == len(compare.OUTCOMES)
    assert "差值 B − A" in html


def test_setting_levers_resolve_presets_and_current():
    current = {**lever_defaults(), "rd_subsidy_rate": 0.25}
    assert compare.setting_levers("current", current) == current
    factors = compare.setting_levers("factors", current)
    assert factors["talent_settlement_subsidy"] == sim.load_presets()["factors"].levers["talent_settlement_subsidy"]
    assert factors["rd_subsidy_rate"] == sim.default_config().schema["rd_subsidy_rate"].default


def test_export_csv_is_the_result_table(snap):
    settings = pd.read_csv(io.StringIO(export.table_csv(snap, "settings")))
    assert set(sim.default_config().names("levers")) | {"seed", "quarters", "quarter_now"} == set(settings["name"])
    for name in ("city", "clusters", "districts", "firms"):
        back = pd.read_csv(io.StringIO(export.table_csv(snap, name)))
        assert list(back.columns) == list(getattr(snap, name).columns)
        assert len(back) == len(getattr(snap, name))
    assert export.stem(snap).startswith("qinhuangdao_seed3_")
    raw = export.csv_bytes(snap, "settings")
    assert raw.startswith(b"\xef\xbb\xbf") and "研发费用补贴比例" in raw.decode("utf-8-sig")


# ------------------------------------------------------------------------------ the page (solara.render)
def test_page_shows_every_lever_grouped_presets_and_charts(page):
    for name in sim.default_config().names("levers"):
        lever_slider(page, name)
    for g in sim.config.LEVER_GROUPS:
        assert len(with_class(page, f"group-{g}")) == 1
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
        english |= {u[0] for u in i18n.UNITS.values()} | {g[0] for g in sim.config.LEVER_GROUPS.values()}
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


def test_compare_panel_runs_a_and_b_from_the_same_seed():
    levers = lever_defaults()
    box, rc = solara.render(compare.ComparePanel(levers, 7, "en"), handle_error=False)
    try:
        selects = [w for w in walk(box) if isinstance(w, v.Select)]
        assert len(selects) == 2
        names = selects[1].items
        selects[1].v_model = next(n for n in names if n.startswith("5 "))  # B = gather & share factors
        quarters = [w for w in walk(box) if isinstance(w, v.Slider)][0]
        quarters.v_model = 4
        click(box, "btn-compare")
        # the result renders from the task's thread: wait until every part is there
        wait_until(lambda: all(with_class(box, c) for c in ("compare-caption", "compare-table", "compare-chart")),
                   timeout=120)
        caption = text_of(one(box, "compare-caption"))
        assert "seed 7" in caption and "4 quarters" in caption and "B = 5 Gather" in caption
        table = one(box, "compare-table")
        assert "Setting A" in text_of(table) and "Setting B" in text_of(table)
        assert isinstance(one(box, "compare-chart"), ipywidgets.Image)
    finally:
        rc.close()


def test_export_panel_offers_every_table_and_chart(snap):
    box, rc = solara.render(export.ExportPanel(snap, "en"), handle_error=False)
    try:
        joined = text_of(box)
        for name in export.TABLES:
            assert f"{name}.csv" in joined
        assert "All charts (ZIP)" in joined
    finally:
        rc.close()
    z = export.charts_zip(snap, "zh")
    names = zipfile.ZipFile(io.BytesIO(z)).namelist()
    assert len(names) == len(export.CHART_NAMES) and all(n.endswith("_zh.png") for n in names)


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
