"""Hostile strings sent through the real collector are shown literally in every view: markup stays text,
escape sequences, C0/C1 controls and bidi overrides neither style, link, crash nor reach the terminal."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
from rich.text import Text

from collector.config import Config, SiteConfig
from sitelens_tui.app import build_app
from sitelens_tui.dialogs.session_screen import SessionScreen
from sitelens_tui.sanitize import clean, safe
from sitelens_tui.views import ALL_VIEWS
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import open_view, settle

MARKUP = "[red]x[/red][link=https://evil.example]click[/link][bold"
ESCAPES = "\x1b[31mRED\x1b]8;;https://evil.example\x07L\x1b]8;;\x07\x1b[2J\x07\x08\x9b2J\x85"
BIDI = "\u202eabc\u2066def\u200f"
HOSTILE = MARKUP + ESCAPES + BIDI
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
FORBIDDEN = ("\x1b", "\x07", "\x08", "\x9b", "\x85", "\u202e", "\u2066", "\u200f")
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) [red]Gecko[/red] [link]x[/link] Firefox/128.0"


def test_clean_neutralises_everything() -> None:
    out = clean(HOSTILE, 1000)
    assert not any(ch in out for ch in FORBIDDEN)
    assert out.startswith(MARKUP) and "␛[31mRED" in out and "<U+202E>" in out
    assert safe(MARKUP).plain == MARKUP and not safe(MARKUP).spans
    assert clean("x" * 10_000, 50) == "x" * 49 + "…"
    assert clean("\ud800") == "\ufffd"


BROWSER = {"User-Agent": UA, "Accept": "*/*", "Accept-Language": "en-US,en;q=0.9"}


async def send_hostile_traffic(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        tracker = [
            {"site": "example.com", "url": f"https://example.com/{HOSTILE}", "title": HOSTILE,
             "referrer": f"https://ref.example/{HOSTILE}"},
            {"site": "example.com", "type": "event", "url": "https://example.com/", "name": HOSTILE,
             "props": {HOSTILE: HOSTILE}},
        ]
        resp = await http.post(f"{base}/api/event", json=tracker, headers=BROWSER)
        assert resp.status == 202, await resp.text()
        server = [
            {"type": "api_request", "endpoint": f"/api/{HOSTILE}", "method": "GET", "status": 500,
             "latency_ms": 12, "ua": UA, "ip": "203.0.113.9"},
            {"type": "auth", "action": "login_failed", "user_id": HOSTILE, "ip": "203.0.113.9", "ua": UA},
            {"type": "external_call", "service": HOSTILE, "cost_usd": 0.5, "latency_ms": 3},
        ]
        resp = await http.post(f"{base}/api/ingest", json=server, headers={"Authorization": "Bearer tok-1"})
        assert resp.status in (200, 202), await resp.text()


def assert_literal(svg: str, where: str) -> None:
    for ch in FORBIDDEN:
        assert ch not in svg, f"{where}: {ch!r} reached the screen"


def assert_cells_plain(app: object, where: str) -> None:
    for table in app.screen.query(ViewTable):  # type: ignore[attr-defined]
        for row in table.rows_shown:
            for cell in row.cells:
                assert isinstance(cell, Text)
                assert not any(ch in cell.plain for ch in FORBIDDEN), where
                assert not any("link" in str(span.style) for span in cell.spans), where


async def test_hostile_strings_in_every_view(tmp_path: Path) -> None:
    cfg = Config.for_tests(tmp_path / "hostile.db")
    cfg.server.port = 0
    cfg.sites = [SiteConfig("example.com", ingest_token="tok-1")]
    app = build_app(cfg, embedded=True, initial_range="24h")
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.collector is not None
        await send_hostile_traffic(app.collector.url)
        for _ in range(100):
            with sqlite3.connect(cfg.db_path) as conn:
                if conn.execute("SELECT count(*) FROM events").fetchone()[0] >= 5:
                    break
            await asyncio.sleep(0.05)
        shown_markup = []
        for view in ALL_VIEWS:
            await open_view(pilot, view.key())
            app.view(view.key()).reload()
            await settle(pilot, view.key())
            svg = app.export_screenshot()
            assert_literal(svg, view.TITLE)
            assert_cells_plain(app, view.TITLE)
            if "[red]x[/red]" in svg.replace("&#160;", " "):
                shown_markup.append(view.key())
        # Top pages, the live tail, endpoints and event names show the markup as text.
        assert {"overview", "live", "server", "events"} <= set(shown_markup), shown_markup
        # The session screen: timeline, UA, signals.
        await open_view(pilot, "live")
        live = app.view("live")
        target = next(s for s in live.sessions.values() if "[red]x" in s.current_page)
        table = app.query_one("#live-sessions", ViewTable)
        table.move_cursor(row=[r.key for r in table.rows_shown].index(str(target.id)))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SessionScreen)
        svg = app.export_screenshot()
        assert_literal(svg, "session")
        assert_cells_plain(app, "session")
        assert "[red]Gecko[/red]" in svg.replace("&#160;", " ")
        # A filter on a hostile value shows in the filter bar literally too.
        await pilot.press("escape")
        app.add_filter("path", f"/{HOSTILE}")
        await settle(pilot)
        assert_literal(app.export_screenshot(), "filter bar")
