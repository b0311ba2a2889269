"""`sitelens web` in a real headless Chromium: sign-in, the Overview, keys and mouse, roles, sign-out, foreign pages,
downloads."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import CHROMIUM, start_chromium
from tests.web.dashboard import (
    USERS,
    Dashboard,
    capture_screens,
    click_cell,
    press,
    screen_text,
    sign_in,
    start_dashboard,
    wait_for,
    wait_for_text,
)

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
    pytest.mark.timeout(90),
]

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    dash = start_dashboard(tmp_path_factory.mktemp("web"), web_extra="max_sessions = 1")
    try:
        yield dash
    finally:
        dash.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser = start_chromium(tmp_path_factory.mktemp("chromium-profile"), window="1200,800")
    downloads = tmp_path_factory.mktemp("downloads")
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.downloads = downloads
    capture_screens(browser)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def signed_out(driver: Any, dashboard: Dashboard) -> Iterator[Any]:
    """Each test starts without a session and leaves no tab open."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    yield driver
    driver.get("about:blank")
    for handle in driver.window_handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(driver.window_handles[0])
    wait_for(lambda: dashboard.health()["tabs"] == 0, "the tab's app to end")


def post_event(dash: Dashboard) -> int:
    body = json.dumps({"site": "example.com", "type": "pageview", "url": "https://example.com/"}).encode()
    request = urllib.request.Request(f"{dash.collector_url}/api/event", data=body,
                                     headers={"User-Agent": UA, "Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return int(resp.status)


def test_wrong_password_is_refused_and_counted(signed_out: Any, dashboard: Dashboard) -> None:
    driver = signed_out
    before = dashboard.health()["failed_logins"]
    sign_in(driver, dashboard.url, "ann", "not-her-password")
    error = wait_for(lambda: driver.find_elements(By.ID, "error"), "the error on the sign-in form")[0]
    assert error.text == "Wrong name or password."
    assert driver.current_url.endswith("/login")
    assert not driver.get_cookie("sitelens_session")
    assert dashboard.health()["failed_logins"] == before + 1


def test_viewer_sees_the_overview_is_refused_overrides_and_clicks(signed_out: Any, dashboard: Dashboard) -> None:
    driver = signed_out
    sign_in(driver, dashboard.url, "ann", USERS["ann"][1])
    wait_for(lambda: driver.find_elements(By.ID, "who"), "the dashboard page")
    assert driver.find_element(By.ID, "who").text == "ann (viewer)"
    screen = wait_for_text(driver, "Top pages")
    wait_for_text(driver, "/pricing")  # the dataset's pages, counted
    assert "Visitors" in screen
    cookie = driver.get_cookie("sitelens_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert dashboard.health()["users"] == ["ann"]
    check = subprocess.run([sys.executable, "-m", "sitelens_tui", "--config", str(dashboard.config), "check"],
                           capture_output=True, text=True, timeout=30)
    assert "web: 2 user(s), 1 admin(s); running on 127.0.0.1:" in check.stdout
    assert "with 1 of 1 tabs open (ann)" in check.stdout
    # The one tab allowed is open: another one is turned away, page and websocket.
    busy = http_get(dashboard.url, "/", {"Cookie": f"sitelens_session={cookie['value']}"})
    assert busy[0] == 503 and "Dashboard busy" in busy[2]
    busy_ws = http_get(dashboard.url, "/ws", {"Cookie": f"sitelens_session={cookie['value']}",
                                               "Origin": dashboard.url, "Connection": "Upgrade",
                                               "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert busy_ws[0] == 503
    seen = len(screen_text(driver))
    press(driver, "t")
    wait_for_text(driver, "throttle overrides need the admin role", after=seen)
    assert "Throttle override" not in screen_text(driver)[seen:]  # no dialog opened
    # The mouse works too: a click on the "Bots" tab label (row 1, from column 17) opens that view.
    seen = len(screen_text(driver))
    click_cell(driver, 18, 1)
    wait_for_text(driver, "Top bots", after=seen)


def test_admin_throttle_override_reaches_the_collector(signed_out: Any, dashboard: Dashboard) -> None:
    driver = signed_out
    assert post_event(dashboard) == 202
    sign_in(driver, dashboard.url, "bob", USERS["bob"][1])
    wait_for_text(driver, "Top pages")
    seen = len(screen_text(driver))
    press(driver, "t")
    wait_for_text(driver, "Throttle override", after=seen)
    # Target first (it has the focus), then Kind: IP address, then Enter in the target field applies it.
    press(driver, "127.0.0.1", Keys.SHIFT + Keys.TAB, Keys.ENTER, Keys.ARROW_DOWN, Keys.ENTER, Keys.TAB, Keys.ENTER)
    wait_for_text(driver, "ip 127.0.0.1 → blocked", after=seen)
    # The collector reloads overrides every second: from then on this address's events are dropped (204).
    wait_for(lambda: post_event(dashboard) == 204, "the collector to drop events from the blocked address")


def test_export_in_the_browser_downloads_the_file(signed_out: Any, dashboard: Dashboard) -> None:
    driver = signed_out
    sign_in(driver, dashboard.url, "ann", USERS["ann"][1])  # exports are open to viewers
    wait_for_text(driver, "Top pages")
    seen = len(screen_text(driver))
    press(driver, "e")
    wait_for_text(driver, "Export Overview", after=seen)
    press(driver, Keys.TAB, Keys.TAB, Keys.ENTER)  # format, range, then Enter in the path field
    files = wait_for(lambda: [p for p in Path(driver.downloads).glob("sitelens-overview-*.csv")],
                     "the export to arrive in the browser's downloads")
    lines = wait_for(lambda: files[0].read_text().splitlines(), "the download to finish")
    assert lines[0] == "ts,pageviews,visitors,bots"
    # The dataset's 14 pageviews of the last 24 h, plus those the throttle test got through to the collector.
    assert sum(int(line.split(",")[1]) for line in lines[1:]) >= 14
    assert not list(Path.cwd().glob("sitelens-overview-*.csv"))  # nothing left where the server runs


def test_sign_out_ends_the_session_and_the_websocket(signed_out: Any, dashboard: Dashboard) -> None:
    driver = signed_out
    sign_in(driver, dashboard.url, "ann", USERS["ann"][1])
    wait_for_text(driver, "Top pages")
    assert dashboard.health()["tabs"] == 1
    token = driver.get_cookie("sitelens_session")["value"]
    driver.find_element(By.ID, "sign-out").click()
    wait_for(lambda: driver.current_url.endswith("/login"), "the sign-in form after signing out")
    wait_for(lambda: dashboard.health()["tabs"] == 0, "the dashboard tab to close")
    assert not driver.get_cookie("sitelens_session")
    # The old cookie opens nothing any more.
    cookie = {"Cookie": f"sitelens_session={token}"}
    assert http_get(dashboard.url, "/", cookie)[:2] == (302, "login")
    assert http_get(dashboard.url, "/static/js/textual.js", cookie)[:2] == (401, None)
    assert http_get(dashboard.url, "/ws", cookie)[:2] == (401, None)


def http_get(url: str, path: str, headers: dict[str, str]) -> tuple[int, str | None, str]:
    """Status, Location and body of a GET (redirects not followed)."""
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=5)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location"), resp.read().decode(errors="replace")
    finally:
        conn.close()


FOREIGN_PAGE = """<!doctype html><title>elsewhere</title><script>
const ws = new WebSocket("WS_URL");
ws.onopen = () => { document.title = "opened"; };
ws.onclose = () => { if (document.title !== "opened") document.title = "closed"; };
</script>"""


def test_websocket_from_a_foreign_page_is_closed(signed_out: Any, dashboard: Dashboard) -> None:
    driver = signed_out
    sign_in(driver, dashboard.url, "ann", USERS["ann"][1])
    wait_for_text(driver, "Top pages")
    driver.get("about:blank")
    wait_for(lambda: dashboard.health()["tabs"] == 0, "the tab to close")
    page = FOREIGN_PAGE.replace("WS_URL", dashboard.url.replace("http", "ws") + "/ws").encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    # Another port of the same host: another origin, yet the same site, so the SameSite cookie goes along.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
        assert wait_for(lambda: driver.title in ("opened", "closed") and driver.title, "the websocket") == "closed"
        assert dashboard.health()["tabs"] == 0
    finally:
        server.shutdown()
        server.server_close()
