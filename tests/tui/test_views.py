"""Bots, Server, Events and Funnels views show what the database holds; each key of the views works."""

from __future__ import annotations

from collections import Counter

from sitelens_tui.dialogs.funnel_form import FunnelForm, parse_step
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import open_view, settle


async def test_bots_view(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "bots")
        names = {r.value: int(r.cells[1].plain) for r in app.query_one("#bots-names", ViewTable).rows_shown}
        assert names == {"behavioural": 1, "Googlebot": 1}
        fps = app.query_one("#bots-fingerprints", ViewTable).rows_shown
        assert fps[0].value in ("fp-googlebot", "fp-scraper")
        scraper = next(r for r in fps if r.value == "fp-scraper")
        assert scraper.cells[2].plain == "90" and scraper.cells[3].plain == "blocked"
        assert "high_request_count +30" in scraper.cells[6].plain
        drops = {r.cells[0].plain: int(r.cells[2].plain) for r in app.query_one("#bots-drops", ViewTable).rows_shown}
        assert drops == {"blocked": 37, "warning": 5}


async def test_server_view(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "server")
        endpoints = app.query_one("#server-endpoints", ViewTable).rows_shown
        api = [e for e in dataset.events if e.type == "api_request"]
        expected = Counter(f"{e.method} {e.path}" for e in api)
        assert {r.key: int(r.cells[1].plain) for r in endpoints} == dict(expected)
        logins = {r.value: int(r.cells[1].plain) for r in app.query_one("#server-logins", ViewTable).rows_shown}
        assert logins == {"203.0.113.7": 4, "198.51.100.9": 2}
        costs = {r.value: r.cells[2].plain for r in app.query_one("#server-costs", ViewTable).rows_shown}
        assert costs == {"openai": "0.2000", "stripe": "0.3000", "maps": "0.0050"}


async def test_events_view_and_property_breakdown(attach_app, dataset) -> None:
    app = attach_app(initial_range="7d")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "events")
        events = app.query_one("#events-table", ViewTable).rows_shown
        assert [(r.value, r.cells[1].plain) for r in events] == [("signup", "2")]
        props = {(r.cells[0].plain, r.cells[1].plain): r.cells[2].plain
                 for r in app.query_one("#events-props", ViewTable).rows_shown}
        assert props == {("plan", "pro"): "1", ("plan", "free"): "1"}


async def test_funnel_created_from_the_form_is_stored_and_reported(attach_app, dataset) -> None:
    app = attach_app(initial_range="7d")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "funnels")
        await pilot.press("n")
        assert isinstance(app.screen, FunnelForm)
        app.screen.query_one("#funnel-name").value = "signup"
        app.screen.query_one("#funnel-steps").text = "/\n/pricing\nevent signup"
        await pilot.press("ctrl+s")
        await settle(pilot, "funnels")
        view = app.view("funnels")
        assert view.saved == ["signup"]
        bars = str(app.query_one("#funnel-steps-bars").content)
        # Three visitors in the last 7 days opened /, two went on to /pricing, both signed up.
        lines = [line for line in bars.splitlines() if line.strip()]
        assert len(lines) == 3 and "page /pricing" in lines[1] and "event signup" in lines[2]
        assert [int(line.split()[-1]) if "→" not in line else int(line.split("→")[0].split()[-1]) for line in lines]


def test_step_syntax() -> None:
    assert parse_step("/blog/*") == {"path": "/blog/*"}
    assert parse_step("event signup plan=pro") == {"event": "signup", "props": {"plan": "pro"}}


async def test_anomalies_view_lists_open_first_with_chart(attach_app, dataset) -> None:
    app = attach_app(initial_range="7d")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "anomalies")
        rows = app.query_one("#anomalies-table", ViewTable).rows_shown
        assert [(r.cells[0].plain, r.cells[2].plain) for r in rows] == [("● open", "error_rate"), ("past", "pageviews")]
        assert "error_rate on example.com" in str(app.query_one("#anomaly-chart-title").content)
        assert "threshold" in str(app.query_one("#anomaly-chart").content)
