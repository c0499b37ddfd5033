"""The workshop page in a real browser: Debian Chromium driven by Playwright against ``python -m app``.

One server (the app's own entry point, on a free loopback port) and one browser serve the whole
module; every test opens fresh pages, i.e. fresh browser sessions with their own model. Every wait
is bounded. Screenshots go to ``test-artifacts/app_*.png`` (gitignored).

Needs the Solara front-end cache (``make assets``) and ``/usr/bin/chromium`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import time
from pathlib import Path

import pytest

try:
    from tests.browser_util import ARTIFACTS, HOST, RequestRecorder, free_port, launch_browser
    from tests.test_app_server import start_app
except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
    from browser_util import ARTIFACTS, HOST, RequestRecorder, free_port, launch_browser
    from test_app_server import start_app

TIMEOUT_MS = 60_000  # generous: a shared 2-core machine under load renders slowly
STEP_TIMEOUT_MS = 60_000  # generous: a shared 2-core machine under load renders slowly  # a shared 2-core machine can be slow
VIEWPORT = {"width": 1600, "height": 1000}
# what the Solara server logs when it had to go to the CDN (solara/server/cdn_helper.py)
CDN_TROUBLE = re.compile(r"could not load|error.*cdn|cdn.*error|traceback", re.I)
# console noise that is not an error of the page (ipyvue's fallback notice is a warning, not an error)
IGNORED_CONSOLE = re.compile(r"Failed to evaluate Vue script", re.I)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def server():
    with start_app(free_port(), startup_timeout=150) as (url, log):  # slow on a busy shared machine
        yield url, log


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


class Watched:
    """A page with its request recorder and console errors."""

    def __init__(self, page):
        self.page = page
        self.requests = RequestRecorder(page)
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.set_default_timeout(TIMEOUT_MS)

    def _console(self, msg) -> None:
        if msg.type == "error" and not IGNORED_CONSOLE.search(msg.text):
            self.errors.append(f"console.error: {msg.text}")


def open_page(browser_or_context, url: str, step_name: str = "Step") -> Watched:
    """Open the app in a new page and wait until map, chart and controls are shown."""
    if hasattr(browser_or_context, "new_context"):
        context = browser_or_context.new_context(viewport=VIEWPORT, accept_downloads=True)
        page = context.new_page()
    else:
        page = browser_or_context.new_page()
    w = Watched(page)
    page.goto(url, timeout=TIMEOUT_MS)
    page.get_by_role("button", name=step_name).wait_for(state="visible", timeout=TIMEOUT_MS)
    page.locator("img.map-image").wait_for(state="visible", timeout=TIMEOUT_MS)
    page.locator("img.chart-energy").wait_for(state="visible", timeout=TIMEOUT_MS)
    return w


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"app_{name}.png"), full_page=True)


def quarter_is(page, q: int, lang: str = "en") -> None:
    text = f"Quarter {q} of" if lang == "en" else f"第 {q}/"
    page.locator(".quarter-now", has_text=text).wait_for(timeout=STEP_TIMEOUT_MS)


def quarter_at_least(page, q: int) -> None:
    """While playing, a redraw may be skipped, so wait for "at least q" instead of exactly q."""
    page.wait_for_function(
        "q => { const m = /(\\d+)/.exec(document.querySelector('.quarter-now')?.innerText || '');"
        " return m && Number(m[1]) >= q; }", arg=q, timeout=STEP_TIMEOUT_MS)


def step(page, q_after: int) -> None:
    page.get_by_role("button", name="Step").click()
    quarter_is(page, q_after)


def kpi(page, key: str) -> str:
    return page.locator(f".kpi-{key} .kpi-value").inner_text()


def lever_value(page, name: str) -> str:
    return page.locator(f".lever-{name} .lever-value").inner_text()


def close(w: Watched) -> None:
    w.page.context.close()


# ------------------------------------------------------------------------------------------ tests
def test_page_loads_offline_complete_and_without_errors(server, browser):
    url, log = server
    w = open_page(browser, url)
    page = w.page
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    shot(page, "loaded")
    # rendered completely: the first remedy group's levers (only the chosen group's are on the page)
    # and a tab for every group, every preset, the key figures, map and chart images with pixels
    from app.controls import lever_views

    groups = sorted({v.group for v in lever_views()})
    assert page.locator(".lever [role=slider]").count() == sum(v.group == groups[0] for v in lever_views())
    assert page.locator("[class*=group-tab-]").count() == len(groups)
    assert page.locator("[class*=preset-]").count() == 7
    from app.page import KPI_HEADLINE, KPIS

    assert page.locator("[class*=kpi-kpi_]").count() == len(KPIS)
    assert page.locator(".kpi-row-headline [class*=kpi-kpi_]").count() == len(KPI_HEADLINE)  # headline row first
    for img in ("img.map-image", "img.chart-energy"):
        assert page.locator(img).evaluate("el => el.complete && el.naturalWidth > 100"), img
    problems = w.requests.problems(allowed_hosts={HOST})
    assert not problems, "requests left loopback or failed:\n" + "\n".join(problems)
    assert any("/_solara/cdn/" in r["url"] for r in w.requests.records), w.requests.summary()
    assert not w.errors, f"console errors: {w.errors}"
    trouble = [ln for ln in log.read_text(errors="replace").splitlines() if CDN_TROUBLE.search(ln)]
    assert not trouble, "server log:\n" + "\n".join(trouble)
    close(w)


def test_step_play_and_reset_advance_the_quarter(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    quarter_is(page, 0)
    step(page, 1)
    step(page, 2)
    assert "2025Q3" in page.locator(".quarter-now").inner_text()
    page.get_by_role("button", name="Play").click()
    quarter_at_least(page, 4)
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for(timeout=STEP_TIMEOUT_MS)
    stopped = page.locator(".quarter-now").inner_text()
    time.sleep(1.5)  # paused: the quarter must not move any more
    assert page.locator(".quarter-now").inner_text() == stopped
    shot(page, "stepped")
    page.get_by_role("button", name="Reset").click()
    quarter_is(page, 0)
    assert not w.errors, w.errors
    close(w)


def wait_image(locator, predicate, what: str) -> bytes:
    """Poll the element's rendered pixels until ``predicate(png)`` holds (images paint a bit later)."""
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while True:
        png = locator.screenshot()
        if predicate(png):
            return png
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_moving_a_lever_and_stepping_changes_the_outcome_chart(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    page.get_by_role("tab", name="Spending").click()
    chart = page.locator("img.chart-spending")
    chart.wait_for(state="visible")
    time.sleep(0.3)
    start_png = chart.screenshot()  # quarter 0: no spending yet
    step(page, 1)
    status_quo_png = wait_image(chart, lambda png: png != start_png, "chart did not update after Step")
    status_quo_kpi = kpi(page, "kpi_spend")
    page.get_by_role("button", name="Reset").click()
    quarter_is(page, 0)
    wait_image(chart, lambda png: png == start_png, "chart did not return to quarter 0 after Reset")
    slider = page.locator(".lever-city_coordination [role=slider]")
    slider.focus()
    slider.press("End")  # the lever's maximum
    page.locator(".lever-city_coordination .lever-value", has_text="1.00").wait_for(timeout=STEP_TIMEOUT_MS)
    step(page, 1)
    moved_png = wait_image(chart, lambda png: png != start_png, "chart did not update after Step")
    assert moved_png != status_quo_png, "the spending chart did not change after moving the lever"
    page.wait_for_function(f"() => document.querySelector('.kpi-kpi_spend .kpi-value').innerText !== "
                           f"{status_quo_kpi!r}", timeout=STEP_TIMEOUT_MS)
    shot(page, "lever_moved")
    assert not w.errors, w.errors
    close(w)


def test_preset_sets_the_levers(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    page.locator(".group-tab-5").click()  # levers sit in one tab per remedy group
    assert lever_value(page, "talent_settlement_subsidy").startswith("20,000")
    page.locator(".group-1.lever-group").wait_for(state="hidden")  # only the chosen group is shown
    assert page.locator(".group-5.lever-group").is_visible()
    page.locator(".preset-factors").click()
    page.locator(".lever-talent_settlement_subsidy .lever-value", has_text="60,000").wait_for()
    page.locator(".lever-resource_sharing_platform .lever-value", has_text="0.80").wait_for()
    thumb = page.locator(".lever-talent_settlement_subsidy [role=slider][aria-valuenow='60000']")
    thumb.wait_for(state="attached")  # the slider itself moved, not only the text
    page.locator(".preset-all_five").click()
    page.locator(".group-tab-1").click()
    page.locator(".lever-city_coordination .lever-value", has_text="0.90").wait_for()
    shot(page, "preset")
    close(w)


def test_language_switch_turns_labels_to_chinese(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    page.get_by_role("button", name="中文").click()
    page.get_by_role("button", name="单步").wait_for()
    # the page updates in several websocket messages: wait for each part before reading the text
    page.locator(".page-title", has_text="秦皇岛先进制造业集群").wait_for()
    page.get_by_role("tab", name="方案对比 A/B").wait_for()
    page.locator(".lever-city_coordination", has_text="全市统筹协调力度").wait_for()
    page.locator(".kpi-kpi_energy", has_text="平均能级指数").wait_for()
    page.locator(".group-tab-5", has_text="集聚共享要素").wait_for()
    assert page.get_by_role("button", name="Step").count() == 0
    body = page.locator(".workshop").inner_text()
    for text in ("政策组合", "全市统筹协调力度", "平均能级指数", "如何阅读本页", "随机种子", "1 统筹协调"):
        assert text in body, text
    for english in ("Policy presets", "Random seed", "Mean energy index", "City-wide coordination", "Reset"):
        assert english not in body, english
    page.wait_for_timeout(500)
    shot(page, "chinese")
    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Step").wait_for()
    assert not w.errors, w.errors
    close(w)


# Records whether the progress line was ever shown, and ever shown together with a result (it must not),
# and whether a progress bar was ever shown without an accessible name (it must not).
ARM_BOTH_JS = """() => { window.__progress = false; window.__bothShown = false;
  window.__unnamedBar = false;
  const check = () => { const run = document.querySelector('.compare-running');
    if (run) window.__progress = true;
    for (const bar of document.querySelectorAll('[role=progressbar]'))  // a shown bar must have a name
      if (bar.offsetParent && getComputedStyle(bar).visibility !== 'hidden' && !bar.getAttribute('aria-label'))
        window.__unnamedBar = true;
    if (run && document.querySelector('.compare-caption')) window.__bothShown = true; };
  new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true }); }"""


def test_ab_compare_shows_both_runs(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    page.get_by_role("tab", name="A/B compare").click()
    page.locator(".choice-b select").select_option(label="5 Gather & share factors")
    small_ab(page)
    page.evaluate(ARM_BOTH_JS)
    page.get_by_role("button", name="Run A and B").click()
    caption = page.locator(".compare-caption")
    caption.wait_for(timeout=120_000)
    assert page.evaluate("window.__progress") is True  # the progress line was shown while running ...
    assert page.evaluate("window.__bothShown") is False  # ... and gone once the result was
    assert page.evaluate("window.__unnamedBar") is False  # its bar was named for screen readers
    assert page.locator(".compare-running").count() == 0
    text = caption.inner_text()
    assert "A = Status quo" in text and "B = 5 Gather & share factors" in text and "seeds 1–4" in text
    table = page.locator(".compare-table")
    table.locator("th", has_text="B (mean)").wait_for()
    assert "A (mean)" in table.inner_text() and "Range of B − A" in table.inner_text()
    assert table.locator("tbody tr").count() >= 10
    assert "all 4 paired runs agree" in page.locator(".compare-rule").inner_text()
    page.locator("img.compare-chart").wait_for(state="visible")
    shot(page, "compare")
    assert not w.errors, w.errors
    close(w)


def small_ab(page) -> None:
    """Set the A/B tab (open) to a quick comparison: M = 4 replicates of 4 quarters."""
    page.locator(".compare-replicates select").select_option(label="4")
    quarters = page.locator(".compare-quarters [role=slider]")
    quarters.focus()
    quarters.press("Home")
    page.locator(".compare-quarters", has_text="4").wait_for()


def run_small_ab(page, run_name: str, done_selector: str) -> None:
    """Press Run (A/B tab open, M and quarters already set) and wait for ``done_selector``."""
    page.get_by_role("button", name=run_name).click()
    page.locator(done_selector).wait_for(timeout=120_000)


@pytest.mark.timeout(360)  # three small comparisons queued behind the status-quo prefetches
def test_ab_compare_switches_what_the_replicates_vary_in_both_languages(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    page.get_by_role("tab", name="A/B compare").click()
    # default: the committed posterior is current (chosen once the server has checked it, in the background)
    page.wait_for_function("() => document.querySelector('.vary-posterior input')?.checked", timeout=TIMEOUT_MS)
    assert page.locator(".vary-checking").count() == 0
    small_ab(page)
    run_small_ab(page, "Run A and B", ".compare-rule.vary-posterior")
    assert "seeds 1–4 with posterior draws 0–3" in page.locator(".compare-caption").inner_text()
    assert "chance and the uncertainty of the fitted" in page.locator(".compare-rule").inner_text()
    page.locator(".vary-seeds label").click()
    page.wait_for_url(re.compile(r"ab_vary=seeds"))
    run_small_ab(page, "Run A and B", ".compare-rule.vary-seeds")
    caption = page.locator(".compare-caption").inner_text()
    assert "seeds 1–4" in caption and "posterior" not in caption
    assert "chance only" in page.locator(".compare-rule").inner_text()
    page.get_by_role("button", name="中文").click()
    page.locator(".compare-rule", has_text="范围仅包含随机性").wait_for()
    page.locator(".compare-vary", has_text="仅随机性（随机种子）").wait_for()
    page.locator(".vary-posterior label").click()
    page.wait_for_url(lambda u: "ab_vary" not in u)  # back to the default: not written
    run_small_ab(page, "运行 A 与 B", ".compare-rule.vary-posterior")
    assert "后验抽样 0–3" in page.locator(".compare-caption").inner_text()
    assert "拟合行为系数的不确定性" in page.locator(".compare-rule").inner_text()
    shot(page, "compare_vary_zh")
    assert not w.errors, w.errors
    close(w)


def test_export_downloads_a_csv(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    step(page, 1)
    step(page, 2)
    page.get_by_role("tab", name="Export").click()
    button = page.get_by_role("button", name=re.compile(r"city\.csv"))
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        button.click()
    download = info.value
    assert download.suggested_filename.endswith("_city_en.csv") and "seed1" in download.suggested_filename
    path = download.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))  # BOM for Excel
    assert [int(r["Quarter"]) for r in rows] == [0, 1, 2]
    assert {"Period", "Graduate retention (%)", "Leaving for Beijing this quarter (persons)",
            "Government spending, all levers (million yuan)"} <= set(rows[0])
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_role("button", name=re.compile(r"Energy level · PNG")).click()
    png = Path(info.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") >= 1600  # IHDR width
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_role("button", name=re.compile(r"PDF")).click()
    assert Path(info.value.path()).read_bytes()[:4] == b"%PDF"
    shot(page, "export")
    close(w)


def test_two_tabs_do_not_share_a_run(server, browser):
    context = browser.new_context(viewport=VIEWPORT)  # one browser, one cookie jar, two tabs
    try:
        t1 = open_page(context, server[0]).page
        t2 = open_page(context, server[0]).page
        step(t1, 1)
        step(t1, 2)
        step(t1, 3)
        quarter_is(t2, 0)
        step(t2, 1)
        t2.get_by_role("button", name="中文").click()
        t2.get_by_role("button", name="单步").wait_for()
        time.sleep(0.5)
        quarter_is(t1, 3)  # untouched by the other tab's step
        assert t1.get_by_role("button", name="Step").is_visible()  # and by its language
        assert "Quarter 3 of 40" in t1.locator(".quarter-now").inner_text()
    finally:
        context.close()


# ------------------------------------------------------------------------------------ layout
LAYOUTS = [  # (width, height, device scale): a projector, a narrow laptop window, 1280x720 at 150 % zoom
    (1280, 720, 1.0),
    (800, 900, 1.0),
    (853, 480, 1.5),
]


def inside(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    vp = page.viewport_size
    assert box is not None, f"{selector} not shown"
    ok = box["x"] >= -0.5 and box["y"] >= -0.5 and box["x"] + box["width"] <= vp["width"] + 0.5 \
        and box["y"] + box["height"] <= vp["height"] + 0.5
    assert ok, f"{selector} {box} is not inside the {vp['width']}x{vp['height']} viewport"
    return box


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width,height,scale", LAYOUTS)
def test_controls_map_and_a_chart_are_in_view_without_scrolling(server, browser, width, height, scale, lang):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server[0] + ("?lang=zh" if lang == "zh" else ""), timeout=TIMEOUT_MS)
        step_name = "单步" if lang == "zh" else "Step"
        page.get_by_role("button", name=step_name).wait_for(state="visible")
        page.locator("img.map-image").wait_for(state="visible")
        page.locator("img.chart-energy").wait_for(state="visible")
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        settled_pictures(page)  # drawn at the size the window gives them
        for sel in (".quarter-now", ".btn-step", ".btn-play", ".btn-reset", ".seed-input", "img.map-image",
                    "img.chart-energy"):
            inside(page, sel)
        if width >= 1100:  # the levers sit beside the map
            inside(page, ".lever-tabs")
        else:  # a drawer: opened from the run bar, laid over the chart, the map stays in view
            page.locator(".btn-drawer").click()
            slider = page.locator(".lever-drawer .lever-city_coordination .lever-slider")
            slider.wait_for(state="visible")
            slider.scroll_into_view_if_needed()  # the drawer scrolls by itself; the page does not
            inside(page, ".lever-drawer .lever-city_coordination .lever-slider")
            inside(page, "img.map-image")
            map_box = page.locator("img.map-image").bounding_box()
            drawer = page.locator(".lever-drawer").bounding_box()
            assert drawer["x"] >= map_box["x"] + map_box["width"] - 1, "the drawer covers the map"
            page.locator(".btn-drawer-close").click()
        if height > 800:  # the key figures: in view, the headline row above the energy row
            inside(page, ".kpis")
            heads = page.locator(".kpi-row-headline .v-card").evaluate_all(
                "cs => cs.map(c => c.getBoundingClientRect().bottom)")
            energy = page.locator(".kpi-row-energy .v-card").evaluate_all(
                "cs => cs.map(c => c.getBoundingClientRect().top)")
            assert len(heads) == 7 and len(energy) == 3 and max(heads) <= min(energy), (heads, energy)
        elif height > 600:  # 1280x720: the headline figures only (the energy row gives the chart room to be read)
            inside(page, ".kpi-row-headline")
            assert page.locator(".kpi-row-headline .v-card").count() == 7
            assert not page.locator(".kpi-row-energy").is_visible()
        assert page.get_by_text("This website runs on").count() == 0  # no Solara badge over the charts
        assert page.locator("img.map-image").bounding_box()["height"] >= 0.4 * height, "the map is a thumbnail"
        if width == 1280:  # the map's legend: HTML, under the map, in view (the page fits the map to it)
            page.wait_for_function("() => { const b = document.querySelector('.map-legend').getBoundingClientRect();"
                                   " return b.bottom <= window.innerHeight + 0.5; }", timeout=5000)
            inside(page, ".map-legend")
        shot(page, f"layout_{width}x{height}_{lang}")
    finally:
        context.close()


def test_seed_field_refuses_bad_input_and_keeps_the_seed(server, browser):
    w = open_page(browser, server[0] + "?lang=zh", step_name="单步")
    page = w.page
    field = page.locator(".seed-input input")
    field.fill("-1")
    field.press("Enter")
    error = page.locator(".seed-error")
    error.wait_for()
    assert "不是有效的随机种子" in error.inner_text() and "仍使用随机种子 1" in error.inner_text()
    page.get_by_role("button", name="重置").click()
    # Reset puts the seed back into the field and clears the message; wait for both, or the
    # field's restored "1" can land between fill's select-all and its typing ("17" in CI).
    page.wait_for_function("() => document.querySelector('.seed-input input').value === '1'")
    page.locator(".seed-error").wait_for(state="detached")
    assert page.locator(".app-error").count() == 0
    field.fill("7")
    field.press("Enter")
    page.wait_for_url(re.compile(r"seed=7"))
    page.locator(".seed-error").wait_for(state="detached")  # the message goes once a valid seed is taken
    assert page.locator(".seed-error").count() == 0
    close(w)


def test_the_scenario_is_in_the_address_and_survives_a_reload(server, browser):
    w = open_page(browser, server[0] + "?seed=7&rd_subsidy_rate=0.2")
    page = w.page
    assert page.locator(".seed-input input").input_value() == "7"
    page.locator(".group-tab-2").click()
    assert lever_value(page, "rd_subsidy_rate").startswith("20 %")
    page.locator(".preset-digital").click()
    page.wait_for_url(re.compile(r"seed=7&preset=digital$"))
    page.reload()
    page.locator("img.map-image").wait_for(state="visible")
    page.locator(".group-tab-4").click()
    page.locator(".lever-digital_grant_budget .lever-value", has_text="150 million").wait_for()
    assert page.locator(".seed-input input").input_value() == "7"
    assert page.locator(".preset-digital.v-btn--outlined").count() == 0  # shown as the active preset
    close(w)


def test_invalid_address_values_are_named_on_the_page_and_go_after_a_change(server, browser):
    w = open_page(browser, server[0] + "?lang=zh&seed=-1&rd_subsidy_rate=9", step_name="单步")
    page = w.page
    note = page.locator(".url-problems")
    note.wait_for()
    text = note.inner_text()
    assert "seed=-1" in text and "0 到 4,294,967,295 之间的整数" in text
    assert "rd_subsidy_rate=9" in text and "（允许：0 到 0.3）" in text
    assert page.locator(".seed-input input").input_value() == "1"  # the default seed, not -1
    page.get_by_role("button", name="单步").click()
    quarter_is(page, 1, lang="zh")
    note.wait_for(state="detached")
    close(w)


def test_a_flood_of_address_values_keeps_the_notice_short_and_the_map_its_size(server, browser):
    # 300 unknown parameters once made the notice 1,218 px tall and the map 0x0; ceiling=1e308 showed a
    # 300-digit number (issue 20)
    flood = "&".join(f"p{i}=v{i}" for i in range(300))
    w = open_page(browser, server[0] + f"?{flood}&ceiling=1e308&seed={'9' * 400}")
    page = w.page
    note = page.locator(".url-problems")
    note.wait_for()
    text = note.inner_text()
    assert "ceiling=1e308" in text and "1,000,000 to 1,000,000,000,000" in text and "and 299 more" in text
    assert note.bounding_box()["height"] <= 120, note.bounding_box()  # two or three lines, not 1,218 px
    box = page.locator("img.map-image").bounding_box()
    assert box["width"] >= 300 and box["height"] >= 250, box  # the map keeps its size (it was 0x0)
    assert not re.search(r"\d{30}", page.locator("body").inner_text())
    page.get_by_role("tab", name="Budget").click()
    field = page.locator(".budget-ceiling-input input")
    field.wait_for()
    assert field.input_value() == "500"  # the default ceiling, in million yuan per year
    shot(page, "url_flood")
    assert not w.errors, w.errors
    close(w)


def test_ghost_line_budget_and_why_tabs(server, browser):
    w = open_page(browser, server[0] + "?preset=digital")
    page = w.page
    step(page, 1)
    step(page, 2)
    page.locator(".ghost-note").wait_for()  # the status quo runs alongside
    page.get_by_role("tab", name="Budget").click()
    page.locator(".budget-table .budget-total").wait_for()
    page.locator("img.budget-chart").wait_for(state="visible")
    assert "Per retained graduate" in page.locator(".budget-costs").inner_text()
    page.get_by_role("tab", name="Why a cluster climbed").click()
    page.locator(".why-criteria .crit-tier").wait_for()
    page.locator("img.why-chart").wait_for(state="visible")
    assert page.locator(".why-components tbody tr").count() == 7
    shot(page, "why")
    assert not w.errors, w.errors
    close(w)


@pytest.mark.timeout(360)  # 44 runs of 40 quarters on the 2 workers, behind the page's own prefetch
def test_where_the_effect_comes_from_shows_the_channels_and_fits_the_window(server, browser):
    """Why tab at 1280x720: the button is in view; pressed for the coordination preset (one lever, eight
    channels) it shows a determinate progress line, then the table of the eight channels with the
    sentence and the rule, as wide as the window at most, in English and (at once, cached) in Chinese."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        w = Watched(page)
        page.goto(server[0] + "?preset=coordinate", timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Step").wait_for(state="visible")
        page.get_by_role("tab", name="Why a cluster climbed").click()
        button = page.get_by_role("button", name="Where does the effect come from?")
        button.wait_for(state="visible")
        # the tab's content slides in from the right (Vuetify's transition): measure once it has arrived
        page.wait_for_function("() => { const b = document.querySelector('.btn-why-effect').getBoundingClientRect();"
                               " return b.right <= window.innerWidth && b.left >= 0; }", timeout=TIMEOUT_MS)
        inside(page, ".btn-why-effect")
        assert "8 channels: 44 runs" in page.locator(".why-effect-plan").inner_text()
        page.evaluate("""() => { window.__effectProgress = false;
            new MutationObserver(() => { if (document.querySelector('.why-effect-running'))
                window.__effectProgress = true; }).observe(document.body, {childList: true, subtree: true}); }""")
        started = time.monotonic()
        button.click()
        table = page.locator(".why-effect-table table")
        table.wait_for(timeout=300_000)
        took = time.monotonic() - started
        assert page.evaluate("window.__effectProgress") is True  # the progress line was shown while running
        assert page.locator(".why-effect-running").count() == 0
        assert table.locator("tr.row-channel").count() == 8
        assert table.locator("tr.lever-row").count() == 1
        for row in ("row-full", "row-sum", "row-none", "row-interaction"):
            assert table.locator(f"tr.{row}").count() == 1, row
        assert "Matchmaking" in table.inner_text() and "Full effect" in table.inner_text()
        from app.explain import HEADLINES

        assert table.locator("td.cell").count() == 12 * len(HEADLINES)  # 12 rows, a column per headline outcome
        caption = page.locator(".why-effect-caption").inner_text()
        assert "8 channels" in caption and "4 paired runs, seeds 1–4" in caption and "40 quarters" in caption
        assert page.locator(".why-effect-sum").inner_text().strip()
        inside(page, ".btn-why-effect")
        box = table.bounding_box()  # the table fits the window's width (no sideways scrolling)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280 + 0.5, box
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        shot(page, "why_effect")
        print(f"\nwhy effect: click -> table {took:.1f} s")
        page.get_by_role("button", name="中文").click()
        page.locator(".why-effect-table", has_text="总效果").wait_for()
        assert "作用渠道" in page.locator(".why-effect-table").inner_text()
        assert "效果从何而来" in page.locator(".btn-why-effect").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        shot(page, "why_effect_zh")
        assert not w.errors, w.errors
    finally:
        context.close()


# ------------------------------------------------------------------------------------- accessibility
AXE_JS = Path(sys.prefix) / "share" / "axe-core" / "axe.min.js"  # tools/fetch_axe.py (make assets)
# each main tab, and an element that shows once its content is drawn (the why tab: its sentence at quarter 0)
A11Y_TABS = {"city": "img.map-image", "compare": ".btn-compare", "why": "img.why-chart, .why-words-start",
             "budget": "img.budget-chart", "export": ".v-window-item--active .v-card"}
AXE_RUN = """async () => { const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v =>
    `${v.id} (${v.impact}, ${v.nodes.length}x): ${v.help}: ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')); }"""


def axe_violations(page) -> list[str]:
    """Serious and critical axe-core violations of what the page shows now, one line each."""
    page.add_script_tag(path=str(AXE_JS))
    # pictures get their alt text from their wrapper a frame after they are drawn (app.a11y.Picture)
    page.wait_for_function("() => [...document.querySelectorAll('[data-alt] img')].every(i => i.alt)")
    return page.evaluate(AXE_RUN)


def test_no_serious_or_critical_accessibility_violations_on_any_tab_in_either_language(server, browser):
    """axe-core (from npm, offline) on every main tab in English and Chinese at 1280x720: no serious or
    critical violation; <html lang> follows the language; the viewport allows zooming; a control
    focused from the keyboard shows a ring of at least 2 px."""
    if not AXE_JS.exists():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{AXE_JS} missing: run `make assets`")
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        found: dict[str, list[str]] = {}
        for lang, step_name in (("en", "Step"), ("zh", "单步")):
            page = context.new_page()
            w = Watched(page)
            page.goto(server[0] + ("?lang=zh" if lang == "zh" else ""), timeout=TIMEOUT_MS)
            page.get_by_role("button", name=step_name).wait_for(state="visible")
            page.locator("img.map-image").wait_for(state="visible")
            assert page.evaluate("document.documentElement.lang") == {"en": "en", "zh": "zh-CN"}[lang]
            viewport = page.evaluate("document.querySelector('meta[name=viewport]').content")
            assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport, viewport
            assert page.locator("h1").count() == 1
            for tab, ready in A11Y_TABS.items():
                page.locator(f".v-tab.tab-{tab}").click()
                page.locator(ready).first.wait_for(state="visible")
                found[f"{lang}/{tab}"] = axe_violations(page)
            if lang == "en":  # keyboard focus: Tab from Reset's neighbour onto Reset
                page.locator(".v-tab.tab-city").click()
                page.locator(".btn-play").focus()
                page.keyboard.press("Tab")
                ring = page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                                     " return [document.activeElement.className, s.outlineStyle, s.outlineWidth]; }")
                assert "btn-reset" in ring[0] and ring[1] != "none" and float(ring[2].rstrip("px")) >= 2, ring
            assert not w.errors, w.errors
            page.close()
        bad = {k: v for k, v in found.items() if v}
        print("\naxe-core serious/critical per tab: " + ", ".join(f"{k} {len(v)}" for k, v in found.items()))
        assert not bad, "axe-core found:\n" + "\n".join(f"{k}: {x}" for k, v in bad.items() for x in v)
    finally:
        context.close()


def test_a_lever_move_redraws_the_answer_against_the_status_quo_without_play(server, browser):
    """Issue 25: a preset, then a lever moved by one keyboard step (a release): each time the headline
    "vs status quo" figure is recomputed for the new setting from one paired run (said so, no count),
    then refined with more runs (counts shown); the lever shows its yearly cost; the trajectories tab
    draws it; the run itself stays at quarter 0 (no Play)."""
    w = open_page(browser, server[0])
    page = w.page
    try:
        box = page.locator(".answer-box")
        page.locator(".preset-digital").click()
        page.wait_for_function("() => { const b = document.querySelector('.answer-box');"
                               " return b && !b.classList.contains('answer-pending'); }", timeout=STEP_TIMEOUT_MS)
        first = {"setting": box.get_attribute("data-setting"),
                 "value": page.locator(".answer-box .answer-kpi_value_added .answer-value").inner_text()}
        if box.get_attribute("data-m") == "1":
            note = page.locator(".answer-note").inner_text()
            assert "One paired run" in note and "no count" in note, note
            assert page.locator(".answer-box .answer-extra").count() == 0
        page.locator(".group-tab-1").click()
        cost = page.locator(".lever-city_coordination .lever-cost")
        cost_before = cost.inner_text()
        slider = page.locator(".lever-city_coordination [role=slider]")
        slider.focus()
        slider.press("End")
        page.wait_for_function(f"() => {{ const b = document.querySelector('.answer-box'); return b &&"
                               f" b.dataset.setting !== '{first['setting']}' && !b.classList.contains('answer-pending'); }}",
                               timeout=STEP_TIMEOUT_MS)
        value = page.locator(".answer-box .answer-kpi_value_added .answer-value").inner_text()
        assert re.fullmatch(r"[+-]?[\d,.]+", value), value
        assert value != first["value"], "the headline figure did not change with the lever"
        assert cost.inner_text() != cost_before and re.search(r"Cost ≈ [\d,]+ million yuan/yr", cost.inner_text())
        page.locator(".answer-box[data-m='4'], .answer-box[data-m='8']").first.wait_for(timeout=STEP_TIMEOUT_MS)
        extra = page.locator(".answer-box .answer-kpi_value_added .answer-extra").inner_text()
        assert re.search(r"range .* · \d/\d better", extra), extra
        page.locator(".btn-answer-chart").click()
        page.locator("img.chart-answer").wait_for(state="visible")
        assert page.locator(".quarter-now").inner_text().startswith("Quarter 0 of")
        page.screenshot(path=str(ARTIFACTS / "app_answer.png"))
        assert not w.errors, w.errors
    finally:
        page.context.close()
# ------------------------------------------------------------------------------ room-readable (issue 25)
ROOM_SIZES = [(1280, 720), (1920, 1080)]
# visible text of the map tab under ``min`` CSS px: [size, class, text]; visually hidden labels (the
# sliders' accessible names) are not on the screen
SMALL_TEXT_JS = """(min) => { const out = [];
  const walker = document.createTreeWalker(document.querySelector('.workshop'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) { const n = walker.currentNode; if (!n.textContent.trim()) continue;
    const el = n.parentElement; if (!el.offsetParent || el.closest('.sr-label .v-label, .sr-only, .v-window-item:not(.v-window-item--active)')) continue;
    const r = el.getBoundingClientRect(); if (r.width === 0 || r.height === 0) continue;
    const s = getComputedStyle(el); if (s.visibility === 'hidden') continue;
    const px = parseFloat(s.fontSize); if (px < min) out.push([px, String(el.className).slice(0, 40), n.textContent.trim().slice(0, 40)]); }
  return out; }"""
PICTURES_JS = """() => { const fit = document.querySelector('.workshop').dataset;
  return [...document.querySelectorAll('img.map-image, img.chart-image')].filter(i => i.offsetParent)
  .map(i => { const map = i.className.includes('map-image');
    return {cls: map ? 'map' : 'chart', natural: i.naturalWidth, width: i.getBoundingClientRect().width,
            height: i.getBoundingClientRect().height, dpr: window.devicePixelRatio,
            fit: parseFloat(map ? fit.fitMap : fit.fitChart) * (map ? 416 : 520)}; }); }"""


def settled_pictures(page, timeout_s: float = 30.0) -> dict:
    """The map's and the chart's drawn and shown sizes once the page has fitted them to the window: every
    picture's pixels equal its CSS width x device pixel ratio (within a pixel) and its width is the one
    the page's measure asked for (within the dpi rounding, app.page.DPI_STEP), twice 0.6 s apart."""
    from app.page import DPI_STEP

    deadline, last = time.monotonic() + timeout_s, None
    while True:
        pics = {p["cls"]: p for p in page.evaluate(PICTURES_JS)}
        fitted = len(pics) == 2 and all(abs(p["natural"] - p["width"] * p["dpr"]) <= 1.01
                                        and 0 <= p["fit"] - p["width"] <= 5.2 * DPI_STEP + 1 for p in pics.values())
        if fitted and pics == last:
            return pics
        assert time.monotonic() < deadline, f"pictures not drawn at their shown size: {pics}"
        last = pics if fitted else None
        time.sleep(0.6)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width,height", ROOM_SIZES)
def test_the_map_tab_reads_from_the_back_of_the_room(server, browser, width, height, lang):
    """At 1280x720 and 1920x1080, in both languages: no visible text under 16 px (labels, lever help,
    key-figure labels, the map's key), the map and the chart drawn pixel for pixel at the size shown (no
    stretched bitmap), their text >= 16 px as shown, the map the largest element, all in view."""
    from app import charts, map_view
    from app.page import ROOM_PX

    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        w = Watched(page)
        page.goto(server[0] + ("?lang=zh" if lang == "zh" else ""), timeout=TIMEOUT_MS)
        page.get_by_role("button", name="单步" if lang == "zh" else "Step").wait_for(state="visible")
        page.locator("img.chart-energy").wait_for(state="visible")
        pics = settled_pictures(page)
        small = page.evaluate(SMALL_TEXT_JS, ROOM_PX)
        assert not small, f"text under {ROOM_PX} px: {small[:10]}"
        chart, map_ = pics["chart"], pics["map"]
        chart_px = charts.ROOM_FONT / 72 * chart["width"] / charts.SIZE[0]  # points -> CSS px as shown
        map_px = min(map_view.PLACE_PT, map_view.TITLE_PT, map_view.FLOW_PT) / 72 * map_["width"] / map_view.SCREEN_SIZE[0]
        assert chart_px >= ROOM_PX and map_px >= ROOM_PX, (chart_px, map_px, pics)
        assert map_["width"] * map_["height"] > chart["width"] * chart["height"], pics  # the map is the largest
        kpis = page.locator(".kpis").bounding_box()
        assert map_["width"] * map_["height"] > kpis["width"] * kpis["height"], (pics, kpis)
        for sel in (".quarter-now", ".btn-play", "img.map-image", "img.chart-energy", ".map-legend", ".lever-tabs"):
            inside(page, sel)
        print(f"\n{width}x{height} {lang}: map {map_['width']:.0f}x{map_['height']:.0f} px, chart "
              f"{chart['width']:.0f}x{chart['height']:.0f} px; chart text {chart_px:.1f} px, map text {map_px:.1f} px")
        shot(page, f"room_{width}x{height}_{lang}")
        page.locator(".v-tab.tab-budget").click()  # the budget tab's chart: never stretched either
        budget = page.locator("img.budget-chart")
        budget.wait_for(state="visible")
        page.wait_for_function("() => document.querySelector('img.budget-chart').naturalWidth > 0")
        natural, shown = budget.evaluate("i => [i.naturalWidth / window.devicePixelRatio, i.getBoundingClientRect().width]")
        assert shown <= natural + 1, (shown, natural)
        assert not w.errors, w.errors
    finally:
        context.close()


def test_a_notice_or_the_status_quo_line_leaves_map_and_chart_their_size(server, browser):
    """A notice (an ignored address value) floats over the page's foot; the status-quo note has its line
    kept: the map and the chart keep their size when either comes or goes."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server[0] + "?nonsense=1", timeout=TIMEOUT_MS)
        page.locator(".url-problems").wait_for()
        before = settled_pictures(page)
        assert page.locator(".ghost-note").count() == 0
        page.get_by_role("button", name="Step").click()
        quarter_is(page, 1)
        page.locator(".url-problems").wait_for(state="detached")
        page.locator(".preset-digital").click()  # levers moved mid-run: the status quo is drawn beside
        page.locator(".ghost-note").wait_for()
        after = settled_pictures(page)
        for kind in ("map", "chart"):
            assert abs(after[kind]["width"] - before[kind]["width"]) <= 1, (kind, before, after)
            assert abs(after[kind]["height"] - before[kind]["height"]) <= 1, (kind, before, after)
    finally:
        context.close()


def test_play_keeps_its_speed_says_its_real_rate_and_pause_stops_at_the_quarter_shown(server, browser):
    """Play at the fastest setting (10 quarters per second): the quarters the page shows advance at the
    rate the speed label states (measured and printed); Pause stops at the quarter the browser showed
    when it was pressed: no quarter after it, in the picture or in the address."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        w = Watched(page)
        page.goto(server[0], timeout=TIMEOUT_MS)
        page.locator("img.chart-energy").wait_for(state="visible")
        settled_pictures(page)  # the pictures' frames drawn once at their size, as in a workshop under way
        step(page, 1)
        speed = page.locator(".speed-box [role=slider]")
        speed.focus()
        speed.press("End")
        page.locator(".speed-label", has_text=": 10").wait_for()
        page.get_by_role("button", name="Play").click()
        page.locator(".speed-label", has_text="running at").wait_for()  # after half a second of Play
        number = lambda: int(re.search(r"(\d+)", page.locator(".quarter-now").inner_text()).group(1))  # noqa: E731
        t0, q0 = time.monotonic(), number()
        time.sleep(1.5)  # the run has 40 quarters: at 10 per second, ~25 of them gone by the end of this
        t1, q1 = time.monotonic(), number()
        seen = (q1 - q0) / (t1 - t0)
        label = page.locator(".speed-label").inner_text()
        said = float(re.search(r"running at ([\d.]+)/s", label).group(1))
        print(f"\nPlay at speed 10: {seen:.1f} quarters/s seen in the page, {said:.1f}/s stated ({label!r})")
        assert abs(said - seen) <= max(2.0, 0.3 * seen), (said, seen)  # the page says what it does
        if said < 9:
            assert "each quarter takes" in label, label  # and why, when it is slower than asked
        shown = page.evaluate("""() => { const q = Number(/(\\d+)/.exec(document.querySelector('.quarter-now').innerText)[1]);
            document.querySelector('.btn-play').click(); return q; }""")
        page.get_by_role("button", name="Play").wait_for()
        time.sleep(1.5)  # a quarter computed after the press would have been drawn by now
        assert number() == shown, (number(), shown)
        page.wait_for_url(re.compile(rf"[?&]q={shown}(&|$)"))
        assert not w.errors, w.errors
    finally:
        context.close()


def test_reload_and_a_shared_link_reopen_the_quarter_tab_chart_and_lever_changes(server, browser):
    """Two quarters, a lever moved, a third quarter, the talent chart, the budget tab: a reload opens the
    budget tab at quarter 3 with the same figures (the run recomputed with the change where it was made),
    says so, and the map tab shows the talent chart; a second browser given the link sees the same."""
    w = open_page(browser, server[0])
    page = w.page
    step(page, 1)
    step(page, 2)
    slider = page.locator(".lever-city_coordination [role=slider]")
    slider.focus()
    slider.press("End")
    page.locator(".lever-city_coordination .lever-value", has_text="1.00").wait_for()
    step(page, 3)
    page.get_by_role("tab", name="Talent").click()
    page.locator("img.chart-talent").wait_for(state="visible")
    spend = kpi(page, "kpi_spend")
    page.get_by_role("tab", name="Budget").click()
    page.locator(".budget-table .budget-total").wait_for()
    total = page.locator(".budget-table .budget-total").inner_text()
    page.wait_for_url(re.compile(r"was=2:city_coordination=0\.1.*q=3&tab=budget&chart=talent"))
    link = page.url
    page.reload()
    page.locator(".budget-table .budget-total").wait_for()
    quarter_is(page, 3)
    assert page.locator(".v-tab--active.tab-budget").count() == 1
    page.locator(".restored-note", has_text="Reopened at quarter 3").wait_for()
    assert page.locator(".budget-table .budget-total").inner_text() == total
    page.get_by_role("tab", name="Map & charts").click()
    page.locator("img.chart-talent").wait_for(state="visible")
    assert kpi(page, "kpi_spend") == spend
    context = browser.new_context(viewport=VIEWPORT)  # another laptop given the link (at the map tab)
    try:
        other = Watched(context.new_page())
        other.page.goto(link.replace("tab=budget&", ""), timeout=TIMEOUT_MS)
        other.page.locator("img.chart-talent").wait_for(state="visible")
        quarter_is(other.page, 3)
        other.page.locator(".kpi-kpi_spend .kpi-value", has_text=re.compile(rf"^{spend}$")).wait_for()
        assert not w.errors and not other.errors, (w.errors, other.errors)
    finally:
        context.close()
    close(w)
