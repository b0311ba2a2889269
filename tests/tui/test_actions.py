"""The app's keys: export (e), throttle override (t), help (?), pause (p), site (s), filter dialog (/), palette."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from pathlib import Path

import aiohttp
from textual.widgets import Button

from collector.config import Config
from db.sqlite.queries.throttle import active_overrides
from sitelens_tui.app import build_app
from sitelens_tui.dialogs.export_dialog import ExportDialog
from sitelens_tui.dialogs.filter_dialog import FilterDialog
from sitelens_tui.dialogs.help_screen import HelpScreen
from sitelens_tui.dialogs.picker import Picker
from sitelens_tui.dialogs.throttle_dialog import ThrottleDialog
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import open_view, settle

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def test_export_writes_the_current_view(attach_app, dataset, tmp_path: Path) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "server")
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        target = tmp_path / "server.csv"
        dialog.query_one("#export-path").value = str(target)
        await pilot.click("#export-ok")
        await settle(pilot)
        for _ in range(50):
            if dialog.written:
                break
            await pilot.pause(0.02)
        assert dialog.written == str(target), str(dialog.query_one("#export-result").content)
        assert str(target) in str(dialog.query_one("#export-result").content)
        rows = list(csv.reader(target.open()))
        assert rows[0] == ["method", "endpoint", "requests", "p50_ms", "p95_ms", "p99_ms", "error_rate"]
        assert sum(int(r[2]) for r in rows[1:]) == sum(1 for e in dataset.events if e.type == "api_request")


async def test_export_ndjson_for_another_range(attach_app, dataset, tmp_path: Path) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "events")
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#export-format").value = "ndjson"
        dialog.query_one("#export-range").value = "7d"
        await pilot.pause()
        path = dialog.query_one("#export-path").value
        assert path.endswith(".ndjson")
        dialog.query_one("#export-path").value = str(tmp_path / "events.ndjson")
        await pilot.click("#export-ok")
        for _ in range(100):
            if dialog.written:
                break
            await pilot.pause(0.02)
        lines = [json.loads(x) for x in (tmp_path / "events.ndjson").read_text().splitlines()]
        assert lines == [{"name": "signup", "count": 2, "visitors": 2}]


async def test_throttle_override_reaches_the_embedded_collector(tmp_path: Path) -> None:
    cfg = Config.for_tests(tmp_path / "t.db")
    cfg.server.port = 0
    app = build_app(cfg, embedded=True, initial_range="live")
    async with app.run_test(size=(80, 24)) as pilot, aiohttp.ClientSession() as http:
        assert app.collector is not None
        url = f"{app.collector.url}/api/event"
        event = {"site": "example.com", "url": "https://example.com/"}
        resp = await http.post(url, json=event, headers={"User-Agent": UA})
        assert resp.status == 202
        await open_view(pilot, "live")
        table = app.query_one("#live-sessions", ViewTable)
        for _ in range(40):
            if table.rows_shown:
                break
            await asyncio.sleep(0.05)
            app.view("live").reload()
            await settle(pilot, "live")
        fingerprint = app.view("live").selected_session().fingerprint
        await pilot.press("t")
        dialog = app.screen
        assert isinstance(dialog, ThrottleDialog)
        assert dialog.query_one("#throttle-target").value == fingerprint
        dialog.query_one("#throttle-reason").value = "scraping [red]now[/red]"
        await pilot.click("#throttle-ok")
        await settle(pilot)
        with sqlite3.connect(cfg.db_path) as conn:
            overrides = active_overrides(conn)
        assert [(o.kind, o.target, o.level) for o in overrides] == [("fingerprint", fingerprint, "blocked")]
        # The collector reloads overrides every second: within 2 s the same client is refused.
        for _ in range(40):
            resp = await http.post(url, json=event, headers={"User-Agent": UA})
            if resp.status == 204:
                break
            await asyncio.sleep(0.05)
        assert resp.status == 204
        other = await http.post(url, json=event, headers={"User-Agent": UA + " other"})
        assert other.status == 202


async def test_help_lists_every_key(attach_app) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-keys").content.__class__)
        rendered = " ".join(b.description for b in app.screen.bindings)
        for word in ("Export", "Throttle", "Filter", "Range", "Site", "Pause", "Quit"):
            assert word in rendered
        assert text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_every_key_is_in_the_command_palette(attach_app) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Export", "Throttle", "Filter", "Range", "Site", "Pause", "Help"):
            assert title in titles


async def test_pause_stops_periodic_refresh(attach_app) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "live")
        await pilot.press("p")
        assert app.paused and "PAUSED" in str(app.query_one("#status-bar").content)
        loads = app.view("live").loads
        await asyncio.sleep(1.3)  # one live refresh period
        await pilot.pause()
        assert app.view("live").loads == loads
        await pilot.press("p")
        await asyncio.sleep(1.3)
        await settle(pilot, "live")
        assert app.view("live").loads > loads


async def test_site_selector_filters_views(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "live")
        await pilot.press("s")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, Picker)
        assert [label for label, _ in picker.options] == ["all sites", "example.com", "shop.example"]
        await pilot.press("down", "down", "enter")
        await settle(pilot, "live")
        assert app.site == "shop.example"
        shown = {r.cells[1].plain for r in app.query_one("#live-sessions", ViewTable).rows_shown}
        assert shown == {"shop.example"}


async def test_filter_dialog_adds_a_filter(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "live")
        await pilot.press("slash")
        assert isinstance(app.screen, FilterDialog)
        app.screen.query_one("#filter-dimension").value = "browser"
        await pilot.press(*"Safari", "enter")
        await settle(pilot, "live")
        assert app.dims == (("browser", "Safari"),)
        rows = app.query_one("#live-sessions", ViewTable).rows_shown
        assert rows and {r.cells[3].plain for r in rows} == {"Safari"}
        await pilot.press("backspace")
        await settle(pilot, "live")
        assert app.dims == ()


async def export_result(pilot, dialog: ExportDialog, target: Path) -> str:
    """Press Export for `target` and wait until the dialog says how it went."""
    dialog.query_one("#export-path").value = str(target)
    dialog.query_one("#export-result").update("")
    dialog.query_one("#export-ok", Button).press()
    for _ in range(100):
        text = str(dialog.query_one("#export-result").content)
        if text and text != "exporting…":
            return text
        await pilot.pause(0.02)
    return str(dialog.query_one("#export-result").content)


async def test_export_dialog_refuses_the_database_and_asks_before_overwriting(attach_app, dataset,
                                                                              tmp_path: Path) -> None:
    app = attach_app()
    db = app.cfg.db_path
    kept = db.read_bytes()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "server")
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        for target in (db, Path(f"{db}-wal")):
            for _ in range(2):  # pressing Export again does not make a database overwritable
                assert "refusing to" in await export_result(pilot, dialog, target), target
        assert db.read_bytes() == kept

        old = tmp_path / "old.csv"
        old.write_text("last week\n")
        assert "press Export again to overwrite" in await export_result(pilot, dialog, old)
        assert old.read_text() == "last week\n"
        assert "wrote" in await export_result(pilot, dialog, old)
        assert old.read_text().startswith("method,endpoint")
