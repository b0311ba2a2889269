"""80×24 over SSH: every view shows its data rows, KPI labels stay whole, an empty store says what to do next."""

from __future__ import annotations

import re

import pytest

from sitelens_tui.views import ALL_VIEWS
from sitelens_tui.widgets.chart import Chart, Series, render_chart, y_limits
from sitelens_tui.widgets.step_bars import render_steps
from sitelens_tui.widgets.view_table import ViewTable
from tests.tui.conftest import open_view, screen_lines, settle
from tests.tui.dataset import make_dataset

MAIN_TABLES = {
    "overview": ["#top-path", "#top-ref_source"],
    "live": ["#live-sessions"],
    "bots": ["#bots-names", "#bots-fingerprints"],
    "anomalies": ["#anomalies-table"],
    "funnels": ["#funnels-list"],
    "server": ["#server-endpoints"],
    "events": ["#events-table"],
    "engagement": ["#engagement-table"],
}
"""The tables a user opens each view for; their first rows must be on screen without scrolling. (The Requests
view's tables are checked at 80×24 in test_usage_panels.py, on a dataset with imported log lines.)"""

WANTED_ROWS = 5
KPI_LABELS = ("Visitors", "Pageviews", "Sessions", "Bounce", "Duration", "Bot views")
Y_TICK = re.compile(r"^\s*(-?[\d.]+)\s*┤")


def range_for(view: str) -> str:
    return "7d" if view in ("events", "anomalies", "funnels") else "24h"


def visible_rows(lines: list[str], table: ViewTable) -> int:
    """How many of the table's rows (up to WANTED_ROWS) show on screen, read from the screen's text."""
    shown = 0
    for row in table.rows_shown[:WANTED_ROWS]:
        first, second = row.cells[0].plain.strip(), row.cells[1].plain.strip()
        if any(first in line and second in line.split(first, 1)[1] for line in lines if first in line):
            shown += 1
    return shown


@pytest.mark.parametrize("view", [v.key() for v in ALL_VIEWS if v.key() in MAIN_TABLES])
async def test_every_view_shows_its_rows_at_80x24(attach_app, dataset, view: str) -> None:
    app = attach_app(initial_range=range_for(view))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, view)
        lines = screen_lines(app)
        for selector in MAIN_TABLES[view]:
            table = app.query_one(selector, ViewTable)
            assert table.rows_shown, f"{selector} has no data in the dataset"
            wanted = min(WANTED_ROWS, len(table.rows_shown))
            assert visible_rows(lines, table) == wanted, f"{selector} rows are off screen:\n" + "\n".join(lines)


async def test_kpi_labels_are_whole_at_80x24(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "overview")
        text = "\n".join(screen_lines(app))
        for label in KPI_LABELS:
            assert label in text, f"{label!r} is cut:\n{text}"
        assert "…" not in text


async def test_below_22_lines_the_chart_folds_away_for_the_rows(attach_app, dataset) -> None:
    app = attach_app()
    async with app.run_test(size=(80, 20)) as pilot:
        await open_view(pilot, "overview")
        assert not app.query_one("#overview-chart", Chart).display
        lines = screen_lines(app)
        assert visible_rows(lines, app.query_one("#top-path", ViewTable)) == WANTED_ROWS


@pytest.mark.parametrize("view", ["overview", "live"])
async def test_empty_store_says_what_to_do_next_until_data_arrives(empty_app, view: str) -> None:
    app = empty_app(initial_range=range_for(view))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, view)
        text = " ".join(line.strip() for line in screen_lines(app))
        assert "No data yet" in text
        for step in ("sitelens snippet --site", "sitelens demo", "sitelens check"):
            assert step in text, f"{step!r} missing:\n{text}"
        # Traffic arrives (another process writes it): the next refresh drops the hint.
        make_dataset(app.cfg.db_path)
        app.active_view.reload()
        await settle(pilot, view)
        assert "No data yet" not in " ".join(screen_lines(app))


async def test_empty_store_chart_axis_starts_at_zero(empty_app) -> None:
    app = empty_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "overview")
        chart = str(app.query_one("#overview-chart", Chart).content)
        ticks = [float(m.group(1)) for line in chart.splitlines() if (m := Y_TICK.match(line))]
        assert ticks and min(ticks) == 0 and max(ticks) > 0, chart


def test_y_axis_is_zero_based_unless_a_value_is_negative() -> None:
    assert y_limits([Series("a", [0, 0, 0])]) == (0.0, 1.0)
    assert y_limits([Series("a", [3, 5]), Series("b", [7])]) == (0.0, 7.0)
    assert y_limits([Series("a", [-2, 5])]) is None
    flat = render_chart(60, 8, ["12:00", "13:00"], [Series("visitors", [0, 0])]).plain
    assert "-1" not in flat and "-0.5" not in flat


def test_funnel_steps_fit_80_columns() -> None:
    from db.funnels import Step, StepResult

    results = [StepResult(Step("path", p), n, c, pct, 100 - pct, 754.0)
               for p, n, c, pct in (("/", 1200, 600, 50.0), ("/pricing", 600, 150, 25.0), ("/signup", 150, 0, 0.0))]
    lines = render_steps(results, 76).plain.splitlines()
    assert len(lines) == 3 and all(len(line) <= 76 for line in lines)
    assert "/pricing" in lines[1] and "25.0%" in lines[1]
