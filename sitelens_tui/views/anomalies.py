"""Anomalies: open and past ones, and a chart of the highlighted one's metric against its expected line."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Label

from db.queries.anomalies import Anomaly
from db.queries.common import Span
from db.queries.overview import bucket_seconds
from db.store import Store
from sitelens_tui.sanitize import safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import TableData, View
from sitelens_tui.widgets.chart import Chart, Level, Series
from sitelens_tui.widgets.view_table import TableRow, ViewTable

CONTEXT_S = 6 * 3600
"""How much history the chart shows before an anomaly started."""


@dataclass(slots=True, frozen=True)
class AnomaliesData:
    anomalies: list[Anomaly]
    selected: Anomaly | None
    series: list[tuple[float, float]]


def chart_span(a: Anomaly, now: float) -> Span:
    """The anomaly with some history before it, up to its end (plus a little) or now."""
    end = min(now, (a.ended or now) + 3600)
    return Span(a.started - CONTEXT_S, max(end, a.started + 60))


def when(ts: float | None) -> str:
    return "ongoing" if ts is None else time.strftime("%m-%d %H:%M", time.gmtime(ts))


def anomaly_row(a: Anomaly) -> TableRow:
    level_style = "bold red" if a.level == "critical" else "yellow"
    return TableRow(
        str(a.id),
        (
            Text("● open" if a.ended is None else "past", style="bold" if a.ended is None else "dim"),
            safe(a.level, style=level_style), safe(a.metric, 24), safe(a.site or "all", 24), safe(a.rule or a.kind, 24),
            Text(f"{a.observed:,.3g}", justify="right"), Text(f"{a.expected:,.3g}", justify="right"),
            safe(when(a.started)), safe(when(a.ended)),
        ),
        str(a.id),
    )


class AnomaliesView(View):
    """Open anomalies first; the chart follows the highlighted row."""

    TITLE = "Anomalies"
    REFRESH_S = 10.0

    def __init__(self) -> None:
        super().__init__()
        self.selected_id: int | None = None

    def compose(self) -> ComposeResult:
        yield Label("Anomalies in the range", classes="section-title")
        yield ViewTable(
            [("state", "State"), ("level", "Level"), ("metric", "Metric"), ("site", "Site"), ("rule", "Rule"),
             ("observed", "Observed"), ("expected", "Expected"), ("started", "Started"), ("ended", "Ended")],
            id="anomalies-table", cap=100,
        )
        yield Label("Metric", id="anomaly-chart-title", classes="section-title")
        yield Chart(id="anomaly-chart")

    def fetch(self, store: Store, scope: Scope) -> AnomaliesData:
        found = store.recent_anomalies(scope.span, site=scope.site, open_first=True)
        by_id = {a.id: a for a in found}
        selected = by_id.get(self.selected_id or -1) or (found[0] if found else None)
        series: list[tuple[float, float]] = []
        if selected is not None:
            series = store.metric_series(selected.metric, selected.site, chart_span(selected, scope.now))
        return AnomaliesData(found, selected, series)

    def show(self, data: AnomaliesData) -> None:
        self.query_one("#anomalies-table", ViewTable).show([anomaly_row(a) for a in data.anomalies])
        chart = self.query_one(Chart)
        a = data.selected
        if a is None:
            self.query_one("#anomaly-chart-title", Label).update("No anomaly in this range")
            chart.plot([], [])
            return
        self.query_one("#anomaly-chart-title", Label).update(
            safe(f"{a.metric} on {a.site or 'all sites'} ({a.level}, {a.kind})", 100))
        scope = self.loaded_scope
        span = chart_span(a, scope.now) if scope is not None else None
        # The last bucket cut by the chart's end (still filling when that is now) is drawn on its own.
        open_end = bool(data.series) and span is not None and data.series[-1][0] + bucket_seconds(span) > span.end
        chart.plot(
            [time.strftime("%H:%M", time.gmtime(ts)) for ts, _ in data.series],
            [Series(a.metric, [v for _, v in data.series], "cyan", open_end)],
            [Level("expected" if a.kind == "trend" else "threshold", a.expected)],
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        value = event.row_key.value
        if event.data_table.id == "anomalies-table" and value is not None and int(value) != self.selected_id:
            self.selected_id = int(value)
            if self.loaded_scope is not None:
                self.reload()

    def export(self, store: Store, scope: Scope) -> TableData:
        rows = store.recent_anomalies(scope.span, limit=100_000, site=scope.site, open_first=True)
        return TableData(("id", "kind", "rule", "metric", "site", "level", "observed", "expected", "started", "ended"),
                         [(a.id, a.kind, a.rule, a.metric, a.site, a.level, a.observed, a.expected, a.started, a.ended)
                          for a in rows])
