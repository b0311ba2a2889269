"""The tracker in a real headless Chromium: what it sends, what it never sends, what the collector stores."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from selenium.webdriver.common.by import By

import collector
from collector.app import create_app
from collector.config import Config, SiteConfig
from tests.browser import CHROMIUM, DEADLINE_S, start_chromium

TRACKER = Path(collector.__file__).parent / "tracker" / "sl.js"

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
    pytest.mark.timeout(60),
]

T = TypeVar("T")


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking selenium call in a thread so the servers in this loop keep answering."""
    return await asyncio.to_thread(fn, *args)


async def wait_until(check: Callable[[], T | Awaitable[T]], what: str, timeout: float = DEADLINE_S) -> T:
    """Poll `check` (plain or async) until it returns something truthy; fail naming `what` after `timeout`."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the module (starting one costs a second or two), always quit."""
    browser = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.quit()


# ----------------------------------------------------------------------------------------------------------
# The pages a site owner would serve, from their own origin (127.0.0.1:PORT) while SiteLens lives elsewhere.


def spa_page(script_tag: str, outbound_url: str, title: str = "Shop") -> str:
    """A tall single-page app: history.pushState navigation, an outbound link at the bottom."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>{script_tag}</head>
<body style="margin:0;font:16px sans-serif">
<nav><a id="home" href="/">Home</a> <a id="pricing" href="/pricing">Pricing</a></nav>
<main id="view" style="height:4000px">home</main>
<footer><a id="outbound" href="{outbound_url}">Partner site</a></footer>
<script>
  document.querySelector("nav").addEventListener("click", function (e) {{
    var a = e.target.closest("a");
    if (!a) return;
    e.preventDefault();
    history.pushState({{}}, "", a.getAttribute("href"));
    document.getElementById("view").textContent = location.pathname;
  }});
</script>
</body></html>"""


WIRE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Wire</title>
<script>
  window.sitelens = window.sitelens || function () { (sitelens.q = sitelens.q || []).push(arguments); };
  sitelens("event", "Early", {n: 1, skipped: null});
</script>
<script defer src="SCRIPT_SRC" data-site="wire.test" data-allow-local></script>
<!-- the same tag pasted twice by mistake -->
<script defer src="SCRIPT_SRC" data-site="wire.test" data-allow-local></script>
</head>
<body style="margin:0">
<button id="cta" data-sl-event="Signup CTA" data-sl-prop-plan="pro" data-sl-prop-place="hero">
  <b id="cta-inner">Try</b>
</button>
<a id="download" href="/files/report.pdf" onclick="return false">Report (PDF)</a>
<form id="signup" method="post" action="/thanks">
  <input name="email" value="secret@example.com"><input type="password" name="pw" value="hunter2-secret">
  <button id="send">Send</button>
</form>
<div style="height:3000px"></div>
</body></html>"""


@dataclass
class PageServer:
    """The site owner's server; also records what reaches its own /api/event and /custom endpoints."""

    port: int = 0
    received: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    script_fetches: int = 0
    spa_script: str = ""

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def bodies(self, endpoint: str = "/api/event") -> list[dict[str, Any]]:
        return [body for path, _, body in self.received if path == endpoint]


def page_app(server: PageServer) -> web.Application:
    """The site owner's server: the SPA, the wire-test page, privacy pages and a recording endpoint."""

    async def spa(request: web.Request) -> web.Response:
        html = spa_page(server.spa_script, f"{server.origin('localhost')}/partner")
        return web.Response(text=html, content_type="text/html")

    async def wire(request: web.Request) -> web.Response:
        html = WIRE_PAGE.replace("SCRIPT_SRC", f"{server.origin('localhost')}/sl.js")
        return web.Response(text=html, content_type="text/html")

    async def privacy(request: web.Request) -> web.Response:
        # /private/local: no data-allow-local, so a page on 127.0.0.1 must stay silent.
        case, tracker = request.match_info["case"], server.origin("localhost")
        allow = "" if case == "local" else " data-allow-local"
        api = f' data-api="{tracker}/custom"' if case == "control" else ""
        tag = f'<script defer src="{tracker}/sl.js" data-site="wire.test"{allow}{api}></script>'
        return web.Response(text=spa_page(tag, "/", title="Private"), content_type="text/html")

    async def plain(request: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>Elsewhere</title><p>elsewhere</p>", content_type="text/html"
        )

    async def launch(request: web.Request) -> web.Response:
        # Speculation rules make Chromium prerender the control page before the visitor clicks.
        rules = '{"prerender": [{"source": "list", "urls": ["/private/control"]}]}'
        html = f"""<!doctype html><title>Launch</title><script type="speculationrules">{rules}</script>
<a id="go" href="/private/control">Go</a>"""
        return web.Response(text=html, content_type="text/html")

    async def script(request: web.Request) -> web.FileResponse:
        server.script_fetches += 1
        return web.FileResponse(TRACKER, headers={"Content-Type": "application/javascript"})

    async def record(request: web.Request) -> web.Response:
        text = await request.text()
        server.raw.append(text)
        server.received.append((request.path, request.headers.get("Content-Type", ""), json.loads(text)))
        return web.Response(status=202)

    app = web.Application()
    app.router.add_get("/sl.js", script)
    app.router.add_post("/api/event", record)
    app.router.add_post("/custom", record)
    app.router.add_get("/wire/", wire)
    app.router.add_get("/private/{case}", privacy)
    app.router.add_route("*", "/thanks", plain)
    app.router.add_get("/partner", plain)
    app.router.add_get("/launch", launch)
    app.router.add_get("/", spa)
    app.router.add_get("/pricing", spa)
    return app


@pytest.fixture
async def pages(aiohttp_server: Callable[..., Awaitable[Any]]) -> PageServer:
    """The site owner's server on 127.0.0.1 at a free port, stopped after the test."""
    server = PageServer()
    test_server = await aiohttp_server(page_app(server), host="127.0.0.1")
    server.port = test_server.port
    return server


# ----------------------------------------------------------------------------------------------------------
# What the tracker puts on the wire.


def _events(bodies: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The custom events called `name` among recorded payloads."""
    return [b for b in bodies if b.get("type") == "event" and b.get("name") == name]


async def test_tracker_payloads_on_the_wire(driver: Any, pages: PageServer) -> None:
    base = f"{pages.origin()}/wire/"
    await call(driver.get, base)
    await wait_until(lambda: any(b["type"] == "pageview" for b in pages.bodies()), "the first pageview")

    # Same path again (replaceState) is not a new page; a hash change is.
    await call(
        driver.execute_script,
        """
        sitelens("event", "Late", {n: 2});
        history.replaceState({}, "", location.pathname);
        location.hash = "faq";
    """,
    )
    await wait_until(
        lambda: len([b for b in pages.bodies() if b["type"] == "pageview"]) >= 2, "the #faq pageview"
    )
    await call(lambda: driver.find_element(By.ID, "cta-inner").click())
    await call(lambda: driver.find_element(By.ID, "download").click())
    await call(lambda: driver.find_element(By.ID, "send").click())

    def all_arrived() -> bool:
        bodies = pages.bodies()
        names = {b.get("name") for b in bodies if b["type"] == "event"}
        engagements = [b for b in bodies if b["type"] == "engagement"]
        return (
            names >= {"Early", "Late", "Signup CTA", "File Download", "Form Submit"} and len(engagements) >= 2
        )

    await wait_until(all_arrived, "the custom events and 2 engagements")

    bodies = pages.bodies()
    for path, content_type, body in pages.received:
        assert path == "/api/event"  # default endpoint: origin of the script src + /api/event
        assert content_type.startswith("text/plain")  # a "simple" CORS request: no preflight
        assert body["site"] == "wire.test"
        assert re.fullmatch(r"\d+x\d+", body["screen"])
        assert body["webdriver"] is True  # selenium-driven Chromium admits it
        assert body["url"].startswith(base)
    pageviews = [b for b in bodies if b["type"] == "pageview"]
    assert [b["url"] for b in pageviews] == [base, base + "#faq"]
    assert pageviews[0]["title"] == "Wire" and "referrer" in pageviews[0] and "referrer" not in pageviews[1]
    engagements = [b for b in bodies if b["type"] == "engagement"]
    assert sorted(b["url"] for b in engagements) == [base, base + "#faq"]
    assert all(isinstance(b["engaged_ms"], int) and b["engaged_ms"] > 0 for b in engagements)
    assert all(isinstance(b["scroll"], int) and 0 < b["scroll"] <= 100 for b in engagements)

    assert [b["props"] for b in _events(bodies, "Early")] == [{"n": "1"}]  # queued before load, replayed
    assert [b["props"] for b in _events(bodies, "Late")] == [{"n": "2"}]
    assert [b["props"] for b in _events(bodies, "Signup CTA")] == [{"plan": "pro", "place": "hero"}]
    assert [b["props"] for b in _events(bodies, "File Download")] == [
        {"url": f"{pages.origin()}/files/report.pdf"}
    ]
    assert [b["props"] for b in _events(bodies, "Form Submit")] == [{"form": "signup"}]
    assert not _events(bodies, "Outbound Link")
    assert not any("secret" in raw or "hunter2" in raw for raw in pages.raw)  # never form field values


async def test_do_not_track_gpc_and_local_pages_send_nothing(driver: Any, pages: PageServer) -> None:
    overrides = {
        "dnt": "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});",
        "gpc": "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});",
    }
    for case in ("dnt", "gpc", "local"):
        script_id = None
        if case in overrides:
            added = await call(
                driver.execute_cdp_cmd, "Page.addScriptToEvaluateOnNewDocument", {"source": overrides[case]}
            )
            script_id = added["identifier"]
        try:
            await call(driver.get, f"{pages.origin()}/private/{case}")
            await call(
                driver.execute_script,
                'sitelens("event", "Should not be sent", {}); history.pushState({}, "", "/pricing");',
            )
        finally:
            if script_id is not None:
                await call(
                    driver.execute_cdp_cmd,
                    "Page.removeScriptToEvaluateOnNewDocument",
                    {"identifier": script_id},
                )
    # A control page (with a data-api endpoint) proves the browser would have sent something.
    await call(driver.get, f"{pages.origin()}/private/control")
    await wait_until(lambda: pages.bodies("/custom"), "the control pageview at the data-api endpoint")
    await call(driver.get, "about:blank")
    await asyncio.sleep(0.3)
    assert pages.bodies("/api/event") == []
    assert {b["type"] for b in pages.bodies("/custom")} <= {"pageview", "engagement"}
    assert all(b["url"] == f"{pages.origin()}/private/control" for b in pages.bodies("/custom"))


# ----------------------------------------------------------------------------------------------------------
# The real collector: script served by it, events posted cross-origin to it, rows in its SQLite database.


def _rows(db_path: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """Rows from the collector's database on a fresh connection ([] while the schema is not there yet)."""
    if not db_path.exists():
        return []
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1.0)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


async def test_collector_stores_a_browser_visit(driver: Any, pages: PageServer, tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    cfg = Config.for_tests(db_path=db_path, sites=[SiteConfig(name="shop.test", origins=[pages.origin()])])
    runner = web.AppRunner(create_app(cfg))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        src = f"http://127.0.0.1:{port}/sl.js"
        pages.spa_script = f'<script defer src="{src}" data-site="shop.test" data-allow-local></script>'
        partner = f"{pages.origin('localhost')}/partner"

        await call(driver.get, f"{pages.origin()}/")
        await call(lambda: driver.find_element(By.ID, "pricing").click())
        await call(driver.execute_script, "window.scrollTo(0, document.documentElement.scrollHeight)")
        await asyncio.sleep(0.2)  # a moment spent reading the bottom of the page
        await call(lambda: driver.find_element(By.ID, "outbound").click())
        await wait_until(
            lambda: call(lambda: driver.current_url == partner), "the browser to reach the partner"
        )
        await call(driver.get, "about:blank")

        def stored() -> bool:
            rows = _rows(
                db_path,
                "SELECT type, path, name, props, engaged_ms, scroll FROM events WHERE site = ?",
                "shop.test",
            )
            pageviews = [r["path"] for r in rows if r["type"] == "pageview"]
            engaged = [r for r in rows if r["type"] == "engagement" and r["path"] == "/pricing"]
            outbound = [r for r in rows if r["type"] == "event" and r["name"] == "Outbound Link"]
            return pageviews == ["/", "/pricing"] and bool(engaged) and bool(outbound)

        await wait_until(stored, "two pageviews, an engagement and an outbound click in the database")
        rows = _rows(db_path, "SELECT * FROM events WHERE site = ? ORDER BY id", "shop.test")
    finally:
        await runner.cleanup()

    engagement = [r for r in rows if r["type"] == "engagement" and r["path"] == "/pricing"]
    assert len(engagement) == 1
    assert engagement[0]["scroll"] >= 75
    assert engagement[0]["engaged_ms"] > 0
    # The home page's engagement (sent before the SPA pageview) keeps its own, shallow scroll depth.
    assert all(r["scroll"] < 75 for r in rows if r["type"] == "engagement" and r["path"] == "/")
    outbound = [r for r in rows if r["name"] == "Outbound Link"]
    assert [json.loads(r["props"]) for r in outbound] == [{"url": partner}]
    assert all(r["title"] == "Shop" for r in rows if r["type"] == "pageview")
    assert all(re.fullmatch(r"\d+x\d+", r["screen"]) for r in rows)
    # Selenium's Chromium says navigator.webdriver: the tracker reports it and the collector flags the visit.
    assert all(r["is_bot"] == 1 for r in rows)


async def test_page_restored_from_back_forward_cache_is_a_new_pageview(
    driver: Any, pages: PageServer
) -> None:
    control = f"{pages.origin()}/private/control"
    await call(driver.get, control)
    await wait_until(lambda: pages.bodies("/custom"), "the first pageview")
    await call(driver.get, f"{pages.origin()}/partner")
    await wait_until(
        lambda: [b for b in pages.bodies("/custom") if b["type"] == "engagement"], "the engagement"
    )
    # Chromium restores the page from its back/forward cache: no reload, the tracker does not run again.
    await call(driver.back)
    await wait_until(
        lambda: len([b for b in pages.bodies("/custom") if b["type"] == "pageview"]) >= 2, "2 views"
    )
    await call(driver.get, "about:blank")

    first, second = [b for b in pages.bodies("/custom") if b["type"] == "pageview"]
    assert first["url"] == second["url"] == control
    assert "referrer" in first and "referrer" not in second  # the restored view is not a new entry


async def test_prerendered_page_waits_until_it_is_shown(driver: Any, pages: PageServer) -> None:
    await call(driver.get, f"{pages.origin()}/launch")
    await wait_until(lambda: pages.script_fetches, "the prerendered page to load the tracker")
    await asyncio.sleep(0.5)  # time enough for a wrongly eager tracker to send its pageview
    assert pages.received == []
    await call(lambda: driver.find_element(By.ID, "go").click())
    await wait_until(lambda: pages.bodies("/custom"), "the pageview once the prerendered page is shown")
    activation = await call(
        driver.execute_script, "return performance.getEntriesByType('navigation')[0].activationStart"
    )
    await call(driver.get, "about:blank")
    assert activation > 0  # the page really was prerendered
    pageviews = [b for b in pages.bodies("/custom") if b["type"] == "pageview"]
    assert [b["url"] for b in pageviews] == [f"{pages.origin()}/private/control"]


async def test_fetch_keepalive_when_send_beacon_refuses(driver: Any, pages: PageServer) -> None:
    refuse = "Navigator.prototype.sendBeacon = function () { return false; };"
    added = await call(driver.execute_cdp_cmd, "Page.addScriptToEvaluateOnNewDocument", {"source": refuse})
    try:
        await call(driver.get, f"{pages.origin()}/private/control")
        await wait_until(lambda: pages.bodies("/custom"), "the pageview sent with fetch")
        await call(driver.get, f"{pages.origin()}/partner")
        await wait_until(
            lambda: len(pages.bodies("/custom")) >= 2, "the engagement sent with fetch on leaving"
        )
    finally:
        await call(
            driver.execute_cdp_cmd,
            "Page.removeScriptToEvaluateOnNewDocument",
            {"identifier": added["identifier"]},
        )
    assert [b["type"] for b in pages.bodies("/custom")] == ["pageview", "engagement"]
    assert all(content_type.startswith("text/plain") for _, content_type, _ in pages.received)
