"""The statistics page in a real browser: ECharts (served by the app, no CDN) draws every chart
into a <canvas>, the data tables sit under them, and no request leaves the server.

Its own server (local ledger) with the demo's data (a department, a catalog, 3 issued certificates,
one usage application) runs with CERTLEDGER_TEST_CAPTCHA_ANSWER=1 so that the test can sign in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, Watch, served, sign_in

SCREENSHOTS = Path(__file__).with_name("screenshots")  # git-ignored (see its .gitignore)
ECHARTS = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "echarts.min.js"


@pytest.fixture(scope="module")
def stats_server(tmp_path_factory):
    if not ECHARTS.is_file():
        pytest.fail("web/static/vendor/echarts.min.js is missing: scripts/lib/setup.sh ensure_web_assets makes it")
    yield from served(tmp_path_factory.mktemp("stats") / "data", local=True, after_init=[["demo", "--count", "3"]])


def test_stats_page_draws_its_charts_with_nothing_from_outside(stats_server, page):
    watch = Watch(stats_server)
    watch.attach(page)
    sign_in(page, stats_server, "admin", ADMIN_PASSWORD)

    page.click(".sidenav a[href='/stats']")
    page.wait_for_selector("#stats-totals")
    page.locator("[data-chart] canvas").nth(3).wait_for()  # no eval: the page's CSP forbids it
    for key in ("by_department", "top_catalogs", "usage", "used_share"):
        box = page.locator(f"[data-chart='{key}'] canvas").first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, key
    assert page.inner_text("#total-issued .stat-value") == "3"
    assert page.locator("#table-by-department tbody tr").count() >= 1
    assert page.is_visible("#table-used-share") and not page.is_visible("#charts-missing")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "stats.png"), full_page=True)

    page.click("text=English")
    page.wait_for_selector("text=Certificates by department")
    page.locator("[data-chart] canvas").nth(3).wait_for()  # no eval: the page's CSP forbids it
    assert watch.outside == [] and watch.problems == [] and watch.client_errors == []
