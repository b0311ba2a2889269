"""Overview: KPIs and top lists match the database; picking a row filters every view; range changes requery."""

from __future__ import annotations

from collections import Counter

from sitelens_tui.dialogs.picker import Picker
from sitelens_tui.widgets.kpi_tile import KpiTile
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import settle


def human_pageviews(dataset, seconds: float, **match: str) -> list:
    return [
        e for e in dataset.events
        if e.type == "pageview" and not e.is_bot and dataset.now - seconds <= e.ts < dataset.now
        and all(getattr(e, k) == v for k, v in match.items())
    ]


async def test_kpis_and_top_pages_match_database(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, "overview")
        views = human_pageviews(dataset, 86400)
        assert app.query_one("#kpi-pageviews", KpiTile).value_text == f"{len(views):,}"
        pages = Counter(e.path for e in views)
        shown = app.query_one("#top-path", ViewTable).rows_shown
        assert shown[0].value == pages.most_common(1)[0][0]
        assert {r.value: int(r.cells[2].plain) for r in shown} == dict(pages)


async def test_range_change_requeries(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, "overview")
        loads = app.view("overview").loads
        await pilot.press("r")
        assert isinstance(app.screen, Picker)
        await pilot.press("down", "enter")  # the picker opens on the current range: 24h → 7d
        await settle(pilot, "overview")
        overview = app.view("overview")
        assert app.range_name == "7d" and overview.loaded_scope.range_name == "7d" and overview.loads > loads
        assert app.query_one("#kpi-pageviews", KpiTile).value_text == f"{len(human_pageviews(dataset, 7 * 86400)):,}"


async def test_picking_a_row_filters_every_view(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, "overview")
        countries = app.query_one("#top-country", ViewTable)
        keys = [r.value for r in countries.rows_shown]
        countries.focus()
        countries.move_cursor(row=keys.index("DE"))
        await pilot.press("f")
        await settle(pilot, "overview")
        assert app.dims == (("country", "DE"),)
        de_views = human_pageviews(dataset, 86400, country="DE")
        assert app.query_one("#kpi-pageviews", KpiTile).value_text == f"{len(de_views):,}"
        assert [r.value for r in app.query_one("#top-country", ViewTable).rows_shown] == ["DE"]
        # The filter bar shows it, and the Live view applies it too.
        chips = [str(c.label) for c in app.query(".chip")]
        assert chips == ["country=DE ✕"]
        await pilot.press("2")
        await settle(pilot, "live")
        live = app.query_one("#live-sessions", ViewTable).rows_shown
        expected = [s for s in dataset.live_sessions() if s.country == "DE"]
        assert sorted(r.key for r in live) == sorted(str(s.id) for s in expected) and live
        # Removing it from the bar applies everywhere again.
        await pilot.click(".chip")
        await settle(pilot, "live")
        assert app.dims == ()
        assert len(app.query_one("#live-sessions", ViewTable).rows_shown) == len(dataset.live_sessions())


async def test_the_bucket_still_filling_is_not_drawn_as_a_ramp(dataset) -> None:
    from collector.config import Config
    from sitelens_tui.app import build_app
    from sitelens_tui.widgets.chart import Chart, Series, render_chart
    from tests.tui.dataset import FROZEN_NOW

    for now, still_filling in ((FROZEN_NOW, False), (FROZEN_NOW + 1800, True)):  # 12:00, then 12:30
        app = build_app(Config.for_tests(dataset.path), embedded=False, now=lambda now=now: now)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, "overview")
            series = app.query_one(Chart)._series
            # At 12:30 the 24 h range ends inside the 12:00 hour: that bucket is drawn on its own.
            assert series and {s.open_end for s in series} == {still_filling}
    # Drawn: a quiet line then 10 hits so far in the current bucket. Joined, the line would climb through the
    # rows between 0 and 10 across the last bucket's width; drawn apart, nothing is in between.
    text = render_chart(60, 12, ["a", "b", "c", "d"], [Series("pageviews", [0, 0, 0, 10], "green", True)]).plain
    plot_rows = [row for row in text.splitlines()[1:] if "┤" in row or "│" in row]
    inner = [row.split("┤", 1)[-1].split("│", 1)[-1][:-1] for row in plot_rows[1:-1]]  # between top and 0 rows
    assert not any(ch.strip() for row in inner for ch in row)
