"""The Solara page must work with no CDN: every browser request stays on the loopback server.

Needs the CDN cache filled by ``make assets`` (tools/fetch_solara_assets.py) and Debian Chromium.
Without the cache the page stays blank and this test fails at the "Step" button wait.
"""

import re
from pathlib import Path

import pytest

try:
    from tests.browser_util import (ARTIFACTS, HOST, RequestRecorder, free_port, launch_browser,
                                    start_solara)
except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
    from browser_util import (ARTIFACTS, HOST, RequestRecorder, free_port, launch_browser,
                              start_solara)

PAGE = Path(__file__).parent / "fixtures" / "offline_page.py"
TIMEOUT_MS = 30_000
# what the server logs when it had to go to the CDN (solara/server/cdn_helper.py)
CDN_TROUBLE = re.compile(r"could not load|error.*cdn|cdn.*error|traceback", re.I)


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_page_loads_fully_offline():
    port = free_port()
    with launch_browser() as browser, start_solara(PAGE, port) as server:
        page = browser.new_page(viewport={"width": 1000, "height": 600})
        page.set_default_timeout(TIMEOUT_MS)
        rec = RequestRecorder(page)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(server.url, timeout=TIMEOUT_MS)
        try:
            page.get_by_role("button", name="Step").wait_for(state="visible", timeout=TIMEOUT_MS)
            # solara.Markdown loads katex after mounting: wait until that has run
            page.wait_for_function("() => !!window.renderMathInElement", timeout=TIMEOUT_MS)
            page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        except Exception as e:  # blank page: say why instead of only "timeout"
            trouble = [ln for ln in server.log_text().splitlines() if CDN_TROUBLE.search(ln)]
            pytest.fail(f"page did not render ({type(e).__name__}); CDN cache filled? "
                        "(make assets)\n" + "\n".join(rec.problems() + trouble[:10]))
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "offline_page.png"))

        assert page.get_by_text("hi", exact=True).is_visible()
        problems = rec.problems(allowed_hosts={HOST})
        assert not problems, "requests left loopback or failed:\n" + "\n".join(problems)
        cdn_urls = [r["url"] for r in rec.records if "/_solara/cdn/" in r["url"]]
        for needed in ("solara-vuetify-app@", "requirejs@", "font-awesome@", "katex@", "mermaid@"):
            assert any(needed in u for u in cdn_urls), f"no {needed} request:\n{rec.summary()}"
        assert not errors, f"JavaScript errors: {errors}"
        trouble = [ln for ln in server.log_text().splitlines() if CDN_TROUBLE.search(ln)]
        assert not trouble, "server log:\n" + "\n".join(trouble)
