"""The Engagement and Requests tabs, users in the Server view and OS versions on the session screen, on the
fixed dataset plus rows written here (so the other views' snapshots keep their numbers)."""

from __future__ import annotations

import pytest

from collector.config import Config
from db.records import EventRecord
from db.sqlite.connection import connect
from sitelens_tui.app import build_app
from sitelens_tui.dialogs.session_screen import SessionScreen
from sitelens_tui.widgets.view_table import ViewTable
from tests.factories import server_event, visit, write, write_visits
from tests.tui.conftest import open_view, settle
from tests.tui.dataset import FROZEN_NOW

NOW = FROZEN_NOW
SITE = "example.com"


@pytest.fixture
def usage_app(dataset):
    """The attach-mode app on the dataset plus engagement reports, imported log hits and users."""
    conn = connect(dataset.path)
    write_visits(
        conn,
        [
            # /guide: two views; one engaged 90 s (two reports: 60 + 30 s) down to 80 %, one 20 s to 30 %.
            visit(NOW - 3000, [(0, "/guide")], visitor="g1", session_id=9001,
                  engagement=[(70, "/guide", 50, 60_000), (200, "/guide", 80, 30_000)]),
            visit(NOW - 2000, [(0, "/guide")], visitor="g2", session_id=9002,
                  engagement=[(30, "/guide", 30, 20_000)]),
        ],
    )
    logged = [("/", 200, 5_000)] * 3 + [("/video.mp4", 200, 3 * 1024 * 1024), ("/wp-admin", 404, 200),
                                         ("/wp-admin", 404, 200), ("/old-page", 404, 300), ("/crash", 502, 10)]
    write(
        conn,
        [EventRecord(ts=NOW - 900 + i, site="shop.example", type="request", path=path, status=status, bytes=size,
                     method="GET", session_id=9100 + i, is_bot=int(path == "/wp-admin"))
         for i, (path, status, size) in enumerate(logged)]
        + [server_event(NOW - 600 + i, "api_request", method="GET", path="/api/me", status=200, user_id=user)
           for i, user in enumerate(["ann", "ann", "ann", "ben"])]
        + [server_event(NOW - 500, "external_call", name="openai", cost_usd=0.5, user_id="ben"),
           server_event(NOW - 86400 - 100, "api_request", method="GET", path="/api/me", status=200, user_id="cy")],
    )
    conn.close()

    def factory(**kwargs: object):
        return build_app(Config.for_tests(dataset.path), embedded=False, now=lambda: NOW, **kwargs)  # type: ignore[arg-type]

    return factory


def cells(table: ViewTable) -> dict[str, list[str]]:
    return {r.key: [c.plain for c in r.cells] for r in table.rows_shown}


async def test_engagement_tab_shows_median_time_and_scroll_shares(usage_app) -> None:
    app = usage_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "engagement")
        rows = cells(app.query_one("#engagement-table", ViewTable))
        # Views 2, median of 90 s and 20 s = 55 s; 2 of 2 reached 25 %, 1 of 2 reached 50 % and 75 %, none 100 %.
        assert rows["/guide"] == ["/guide", "2", "55s", "100%", "50%", "50%", "0%"]
        assert not app.query_one("#engagement-note").display
        await pilot.press("f")
        await settle(pilot)
        assert app.dims and app.dims[-1][0] == "path"


async def test_engagement_tab_on_a_long_range_shows_medians_and_mean_scroll(usage_app) -> None:
    app = usage_app(initial_range="30d")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "engagement")
        rows = cells(app.query_one("#engagement-table", ViewTable))
        # Views of 90 and 20 s: a median of 55 s (not the 37 s average per report), mean max scroll 53 %.
        assert rows["/guide"][:4] == ["/guide", "2", "55s", "avg 53%"]
        assert app.query_one("#engagement-note").display


async def test_requests_tab_has_status_codes_404s_and_bandwidth(usage_app) -> None:
    app = usage_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "requests")
        codes = cells(app.query_one("#requests-codes", ViewTable))
        assert {k: v[1] for k, v in codes.items()} == {"200": "4", "404": "3", "502": "1"}
        assert "2xx 4" in str(app.query_one("#requests-classes").content)
        assert "4xx 3" in str(app.query_one("#requests-classes").content)
        missing = app.query_one("#requests-404", ViewTable).rows_shown
        assert [(r.key, r.cells[1].plain) for r in missing] == [("/wp-admin", "2"), ("/old-page", "1")]
        sent = app.query_one("#requests-bandwidth", ViewTable).rows_shown
        assert [(r.key, r.cells[2].plain) for r in sent][:2] == [("/video.mp4", "3.0 MiB"), ("/", "14.6 KiB")]
        # Enter on a status code filters every view by it.
        table = app.query_one("#requests-codes", ViewTable)
        table.focus()
        table.move_cursor(row=[r.key for r in table.rows_shown].index("404"))
        await pilot.press("enter")
        await settle(pilot, "requests")
        assert ("status", "404") in app.dims
        assert list(cells(app.query_one("#requests-codes", ViewTable))) == ["404"]
        assert [r.key for r in app.query_one("#requests-bandwidth", ViewTable).rows_shown] == [
            "/wp-admin", "/old-page"]


async def test_server_view_lists_users_and_daily_active_users(usage_app) -> None:
    app = usage_app(initial_range="7d")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "server")
        users = cells(app.query_one("#server-users", ViewTable))
        assert users["ann"] == ["ann", "3", "0", "0", "0.0000"]
        assert users["ben"] == ["ben", "1", "0", "1", "0.5000"]
        assert users["cy"][1] == "1"
        dau = [r.cells for r in app.query_one("#server-dau", ViewTable).rows_shown]
        assert [(c[0].plain, c[1].plain) for c in dau] == [("2026-01-15", "2"), ("2026-01-14", "1")]


async def test_session_screen_names_browser_and_os_versions(usage_app, dataset) -> None:
    conn = connect(dataset.path)
    conn.execute("UPDATE sessions SET browser_version = '124.0', os_version = os || ' 10'")
    conn.close()
    app = usage_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_view(pilot, "live")
        table = app.query_one("#live-sessions", ViewTable)
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SessionScreen) and screen.data is not None and screen.data.detail is not None
        s = screen.data.detail.session
        assert f"{s.browser} 124.0 / {s.os} 10 / " in str(screen.query_one("#session-summary").content)
