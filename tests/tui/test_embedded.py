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
    async with app.run_test(size=(80, 24)) as pilot:
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
            # Both tables: the view reads sessions before the tail, so a flush can land between the two reads.
            if (
                len(app.query_one("#live-tail", ViewTable).rows_shown) == 2
                and app.query_one("#live-sessions", ViewTable).rows_shown
            ):
                break
        tail = app.query_one("#live-tail", ViewTable).rows_shown
        assert [r.cells[3].plain for r in tail] == ["/", "/pricing"]
        sessions = app.query_one("#live-sessions", ViewTable).rows_shown
        assert len(sessions) == 1 and sessions[0].cells[7].plain == "/pricing"
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


async def test_demo_traffic_flows_through_the_embedded_collector(tmp_path: Path) -> None:
    cfg = embedded_config(tmp_path)
    app = build_app(cfg, embedded=True, demo=True, demo_rate=10.0, initial_range="live")
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            with sqlite3.connect(cfg.db_path) as conn:
                if conn.execute("SELECT count(*) FROM events").fetchone()[0] >= 5:
                    break
        else:
            raise AssertionError("no demo traffic arrived")
        await open_view(pilot, "live")
        assert app.query_one("#live-tail", ViewTable).rows_shown
        await pilot.press("q")
    assert app._demo_stop is not None and app._demo_stop.is_set()


def test_tui_command_refuses_a_missing_database(tmp_path: Path, capsys) -> None:
    from sitelens_tui.cli import main

    assert main(["tui", "--db", str(tmp_path / "nope.db")]) == 2
    err = capsys.readouterr().err
    assert "database not found" in err and "nope.db" in err


def test_logs_go_to_a_file_not_the_terminal(tmp_path: Path) -> None:
    import logging

    from sitelens_tui.logfile import log_to_file

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        path = log_to_file(tmp_path / "logs" / "sitelens.log")
        logging.getLogger("aiohttp.server").error("boom [red]")
        assert all(not isinstance(h, logging.StreamHandler) or isinstance(h, logging.FileHandler)
                   for h in root.handlers)
        assert "boom [red]" in path.read_text()
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


async def test_status_bar_says_the_database_is_busy_while_writes_fail(tmp_path: Path) -> None:
    """Another process holds the write lock past the busy timeout: the status bar says so in words, and the
    queued event is written once the lock is released."""
    cfg = embedded_config(tmp_path)
    cfg.db.flush_interval_s = 0.2
    app = build_app(cfg, embedded=True)
    async with app.run_test(size=(160, 24)) as pilot:
        assert app.collector is not None
        holder = sqlite3.connect(cfg.db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            async with aiohttp.ClientSession() as http:
                resp = await http.post(
                    f"{app.collector.url}/api/event",
                    json={"site": "example.com", "url": "https://example.com/held"},
                    headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
                )
                assert resp.status == 202
            for _ in range(200):  # the writer's busy timeout is 5 s
                await pilot.pause(0.05)
                if app.collector.problem:
                    break
            app.update_status()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "DATABASE BUSY: events queued" in str(app.query_one(StatusBar).content)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        for _ in range(200):
            await pilot.pause(0.05)
            if not app.collector.problem and app.collector.queue_depth == 0:
                break
        app.update_status()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "BUSY" not in str(app.query_one(StatusBar).content)
    stored = sqlite3.connect(cfg.db_path).execute("SELECT path FROM events").fetchall()
    assert stored == [("/held",)]
