"""The workshop page in a real browser: Debian Chromium driven by Playwright against ``python -m app``.

One server (the app's own entry point, on a free loopback port) and one browser serve the whole
module; every test opens fresh pages, i.e. fresh browser sessions with their own model. Every wait
is bounded. Screenshots go to ``test-artifacts/app_*.png`` (gitignored).

Needs the Solara front-end cache (``make assets``) and ``/usr/bin/chromium`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

try:
    from tests.browser_util import ARTIFACTS, HOST, RequestRecorder, free_port, launch_browser
    from tests.test_app_server import start_app
except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
    from browser_util import ARTIFACTS, HOST, RequestRecorder, free_port, launch_browser
    from test_app_server import start_app

TIMEOUT_MS = 30_000
STEP_TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1600, "height": 1000}
# what the Solara server logs when it had to go to the CDN (solara/server/cdn_helper.py)
CDN_TROUBLE = re.compile(r"could not load|error.*cdn|cdn.*error|traceback", re.I)
# console noise that is not an error of the page (ipyvue's fallback notice is a warning, not an error)
IGNORED_CONSOLE = re.compile(r"Failed to evaluate Vue script", re.I)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def server():
    with start_app(free_port()) as (url, log):
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


def open_page(browser_or_context, url: str) -> Watched:
    """Open the app in a new page and wait until map, chart and controls are shown."""
    if hasattr(browser_or_context, "new_context"):
        context = browser_or_context.new_context(viewport=VIEWPORT, accept_downloads=True)
        page = context.new_page()
    else:
        page = browser_or_context.new_page()
    w = Watched(page)
    page.goto(url, timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Step").wait_for(state="visible", timeout=TIMEOUT_MS)
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
    # rendered completely: every lever, every preset, the key figures, map and chart images with pixels
    assert page.locator(".lever [role=slider]").count() == 16
    assert page.locator("[class*=preset-]").count() == 7
    assert page.locator("[class*=kpi-kpi_]").count() == 6
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
    assert lever_value(page, "talent_settlement_subsidy").startswith("20,000")
    page.get_by_role("button", name="5 Gather & share factors").click()
    page.locator(".lever-talent_settlement_subsidy .lever-value", has_text="60,000").wait_for()
    page.locator(".lever-resource_sharing_platform .lever-value", has_text="0.80").wait_for()
    thumb = page.locator(".lever-talent_settlement_subsidy [role=slider][aria-valuenow='60000']")
    thumb.wait_for(state="attached")  # the slider itself moved, not only the text
    page.get_by_role("button", name="All five remedies").click()
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
    page.locator(".group-5", has_text="集聚共享要素").wait_for()
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


def test_ab_compare_shows_both_runs(server, browser):
    w = open_page(browser, server[0])
    page = w.page
    page.get_by_role("tab", name="A/B compare").click()
    page.locator(".choice-b .v-select").click()
    page.get_by_role("option", name="5 Gather & share factors").click()
    page.get_by_role("button", name="Run A and B").click()
    caption = page.locator(".compare-caption")
    caption.wait_for(timeout=90_000)
    text = caption.inner_text()
    assert "A = Status quo" in text and "B = 5 Gather & share factors" in text and "seed 1" in text
    table = page.locator(".compare-table")
    table.locator("th", has_text="Setting B").wait_for()
    assert "Setting A" in table.inner_text()
    assert table.locator("tbody tr").count() >= 8
    page.locator("img.compare-chart").wait_for(state="visible")
    shot(page, "compare")
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
    assert download.suggested_filename.endswith("_city.csv") and "seed1" in download.suggested_filename
    path = download.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))  # BOM for Excel
    assert [int(r["quarter"]) for r in rows] == [0, 1, 2]
    assert {"period", "graduate_retention", "outflow_beijing", "spending_total"} <= set(rows[0])
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_role("button", name=re.compile(r"Map · PNG")).click()
    assert Path(info.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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
