"""Overview: KPI tiles with change vs the previous period, traffic chart, top lists and the peak-hours heatmap."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from db.queries.overview import Overview, Row, bucket_seconds
from db.store import Store
from sitelens_tui.sanitize import num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import TableData, View
from sitelens_tui.widgets.chart import Chart, Series
from sitelens_tui.widgets.heatmap import Heatmap
from sitelens_tui.widgets.kpi_tile import KpiTile, change_text
from sitelens_tui.widgets.view_table import TableRow, ViewTable

TOP_LISTS = (("path", "Top pages", "Page"), ("ref_source", "Sources", "Source"), ("country", "Countries", "Country"),
             ("device", "Devices", "Device"))
TOP_LIMIT = 10


def duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s"


def tick_label(ts: float, span_s: float) -> str:
    """x labels: time of day for short spans, dates for long ones (UTC, like the storage)."""
    return time.strftime("%H:%M" if span_s <= 2 * 86400 else "%m-%d", time.gmtime(ts))


def top_row(row: Row) -> TableRow:
    return TableRow(row.value, (safe(row.value or "(none)", 60), num(row.visitors), num(row.pageviews)), row.value)


class OverviewView(View):
    """Numbers for the range, compared with the period before it."""

    TITLE = "Overview"
    REFRESH_S = 10.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="kpis"):
            yield KpiTile("Visitors", id="kpi-visitors")
            yield KpiTile("Pageviews", id="kpi-pageviews")
            yield KpiTile("Sessions", id="kpi-sessions")
            yield KpiTile("Bounce", id="kpi-bounce")
            yield KpiTile("Duration", id="kpi-duration")
            yield KpiTile("Bot views", id="kpi-bots")
        yield Chart(id="overview-chart")
        for pair in (TOP_LISTS[:2], TOP_LISTS[2:]):
            with Horizontal(classes="lists"):
                for dimension, title, column in pair:
                    with Vertical():
                        yield Label(title, classes="section-title")
                        yield ViewTable([("value", column), ("visitors", "Visitors"),
                                         ("views", "Views")], dimension=dimension, id=f"top-{dimension}",
                                        cap=TOP_LIMIT)
        yield Label("Peak hours (UTC)", classes="section-title")
        yield Heatmap(id="overview-heatmap")

    def fetch(self, store: Store, scope: Scope) -> Overview:
        return store.overview(scope.span, scope.filters(), [d for d, _, _ in TOP_LISTS], TOP_LIMIT)

    def show(self, data: Overview) -> None:
        c, p = data.current, data.previous
        self.query_one("#kpi-visitors", KpiTile).show(f"{c.visitors:,}", change_text(c.visitors, p.visitors))
        self.query_one("#kpi-pageviews", KpiTile).show(f"{c.pageviews:,}", change_text(c.pageviews, p.pageviews))
        self.query_one("#kpi-sessions", KpiTile).show(f"{c.sessions:,}", change_text(c.sessions, p.sessions))
        self.query_one("#kpi-bounce", KpiTile).show(
            f"{c.bounce_rate:.0f}%", change_text(c.bounce_rate, p.bounce_rate, higher_is_better=False))
        self.query_one("#kpi-duration", KpiTile).show(
            duration(c.avg_duration_s), change_text(c.avg_duration_s, p.avg_duration_s))
        self.query_one("#kpi-bots", KpiTile).show(f"{c.bots:,}", change_text(c.bots, p.bots, higher_is_better=False))
        span_s = (self.loaded_scope.span.seconds if self.loaded_scope else 86400)
        # The bucket the range's end cuts (the current hour or minute) is still filling: drawn on its own.
        open_end = bool(data.series) and self.loaded_scope is not None and (
            data.series[-1].ts + bucket_seconds(self.loaded_scope.span) > self.loaded_scope.span.end)
        self.query_one(Chart).plot(
            [tick_label(pt.ts, span_s) for pt in data.series],
            [Series("visitors", [pt.visitors for pt in data.series], "cyan", open_end),
             Series("pageviews", [pt.pageviews for pt in data.series], "green", open_end),
             Series("bots", [pt.bots for pt in data.series], "red", open_end)],
        )
        for dimension, _, _ in TOP_LISTS:
            self.query_one(f"#top-{dimension}", ViewTable).show([top_row(r) for r in data.tops[dimension]])
        self.query_one(Heatmap).show(data.heatmap)

    def export(self, store: Store, scope: Scope) -> TableData:
        """The traffic series of the range (the top lists are one filter away in other exports)."""
        series = store.timeseries(scope.span, scope.filters())
        return TableData(("ts", "pageviews", "visitors", "bots"),
                         [(p.ts, p.pageviews, p.visitors, p.bots) for p in series])
