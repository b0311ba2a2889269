"""Live view: active sessions and the request tail match the database; Enter opens a session."""

from __future__ import annotations

from sitelens_tui.dialogs.session_screen import SessionScreen
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import open_view, settle


async def test_live_sessions_match_database(attach_app, dataset) -> None:
    app = attach_app(initial_range="live")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "live")
        table = app.query_one("#live-sessions", ViewTable)
        expected = sorted(dataset.live_sessions(), key=lambda s: -s.last_seen)
        assert [r.key for r in table.rows_shown] == [str(s.id) for s in expected]
        tail = app.query_one("#live-tail", ViewTable)
        assert len(tail.rows_shown) == min(100, len(dataset.events))
        newest = max(dataset.events, key=lambda e: e.ts)
        assert tail.rows_shown[-1].cells[3].plain == (newest.path or newest.name)


async def test_enter_opens_session_timeline_and_signals(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "live")
        table = app.query_one("#live-sessions", ViewTable)
        scraper = next(s for s in dataset.sessions if s.fingerprint == "fp-scraper")
        table.focus()
        table.move_cursor(row=[r.key for r in table.rows_shown].index(str(scraper.id)))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        assert screen.data is not None and screen.data.detail is not None
        assert len(screen.query_one("#session-timeline", ViewTable).rows_shown) == scraper.events
        signals = screen.query_one("#session-signals", ViewTable).rows_shown
        assert [r.cells[0].plain for r in signals][0] == "high_request_count"
        assert signals[0].cells[2].plain == "84"
        await pilot.press("escape")
        assert not isinstance(app.screen, SessionScreen)
