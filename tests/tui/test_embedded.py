"""`sitelens run`: the collector runs in the app's loop; events posted over HTTP show up; quitting flushes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp

from collector.config import Config
from sitelens_tui.app import build_app
from sitelens_tui.widgets.status_bar import StatusBar
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import open_view, settle


def embedded_config(tmp_path: Path) -> Config:
    cfg = Config.for_tests(tmp_path / "embedded.db")
    cfg.server.port = 0
    return cfg


async def test_events_posted_to_embedded_collector_appear_live(tmp_path: Path) -> None:
    app = build_app(embedded_config(tmp_path), embedded=True, initial_range="live")
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.collector is not None and app.collector.url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            for path in ("/", "/pricing"):
                resp = await http.post(
                    f"{app.collector.url}/api/event",
                    json={"site": "example.com", "url": f"https://example.com{path}"},
                    headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
                )
                assert resp.status in (200, 202, 204)
        app.action_show_view("live")
        for _ in range(40):
            await pilot.pause(0.05)
            app.view("live").reload()
            await settle(pilot, "live")
            if len(app.query_one("#live-tail", ViewTable).rows_shown) == 2:
                break
        tail = app.query_one("#live-tail", ViewTable).rows_shown
        assert [r.cells[3].plain for r in tail] == ["/", "/pricing"]
        sessions = app.query_one("#live-sessions", ViewTable).rows_shown
        assert len(sessions) == 1 and sessions[0].cells[5].plain == "/pricing"
        status = str(app.query_one(StatusBar).content)
        assert "listening on http://127.0.0.1:" in status


async def test_quit_flushes_what_the_collector_accepted(tmp_path: Path) -> None:
    cfg = embedded_config(tmp_path)
    cfg.db.flush_interval_s = 30.0  # nothing is flushed on its own during the test: only quitting writes it
    app = build_app(cfg, embedded=True)
    async with app.run_test() as pilot:
        assert app.collector is not None
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{app.collector.url}/api/event",
                                   json=[{"site": "example.com", "url": f"https://example.com/p{i}"} for i in range(5)])
            assert resp.status in (200, 202)
        await pilot.press("q")
    with sqlite3.connect(cfg.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 5
