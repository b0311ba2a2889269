"""Engagement: per page, views, median engaged time and the share of views that scrolled to 25/50/75/100 %."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label

from db.queries.overview import ENGAGEMENT_EXACT_MAX_S, SCROLL_MILESTONES, PageEngagement
from db.store import Store
from sitelens_tui.sanitize import num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import TableData, View
from sitelens_tui.widgets.view_table import TableRow, ViewTable

LIMIT = 50
LONG_NOTE = (
    f"Scroll shares cover ranges up to {ENGAGEMENT_EXACT_MAX_S // 3600} hours: mean max scroll here. "
    "Medians of longer ranges are within 2.2 %."
)


def seconds(value: float | None) -> Text:
    """Engaged time as "1m 05s" / "42s"; a dash when the range has no per-view figures."""
    if value is None:
        return Text("–", justify="right")
    whole = int(round(value))
    return Text(f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s", justify="right")


def share(value: float | None) -> Text:
    return Text("–" if value is None else f"{value:.0f}%", justify="right")


def engagement_row(r: PageEngagement) -> TableRow:
    """Median and shares when the range has them, else the median and the mean max scroll."""
    cells: tuple[Text, ...]
    if r.reach is None:
        cells = (seconds(r.median_engaged_s), Text(f"avg {r.avg_scroll:.0f}%", justify="right"), *(share(None),) * 3)
    else:
        cells = (seconds(r.median_engaged_s), *(share(v) for v in r.reach))
    return TableRow(r.path, (safe(r.path or "(none)", 40), num(r.views), *cells), r.path)


class EngagementView(View):
    """How far pages are read; Enter (or `f`) on a page filters every view by it."""

    TITLE = "Engagement"
    REFRESH_S = 10.0

    def compose(self) -> ComposeResult:
        yield Label("Engagement per page", classes="section-title")
        yield Label(Text(LONG_NOTE, style="dim"), id="engagement-note")
        yield ViewTable(
            [("page", "Page"), ("views", "Views"), ("median", "Median"),
             *((f"s{m}", f"{m}%") for m in SCROLL_MILESTONES)],
            dimension="path", id="engagement-table", cap=LIMIT,
        )

    def fetch(self, store: Store, scope: Scope) -> list[PageEngagement]:
        return store.engagement(scope.span, scope.filters(), LIMIT)

    def show(self, data: list[PageEngagement]) -> None:
        # Shown only when the range is too long for scroll shares and exact medians.
        self.query_one("#engagement-note", Label).display = any(r.reach is None for r in data)
        self.query_one("#engagement-table", ViewTable).show([engagement_row(r) for r in data])

    def export(self, store: Store, scope: Scope) -> TableData:
        rows = store.engagement(scope.span, scope.filters(), 10_000)
        return TableData(
            ("path", "views", "median_engaged_s", *(f"reach_{m}" for m in SCROLL_MILESTONES), "avg_scroll",
             "avg_engaged_s"),
            [(r.path, r.views, r.median_engaged_s, *(r.reach or (None,) * 4), r.avg_scroll, r.avg_engaged_s)
             for r in rows],
        )
