"""Events: custom events by count, and a property breakdown of the highlighted one."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label

from db.queries.events import EventCount, PropValue
from db.store import Store
from sitelens_tui.sanitize import num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import Selection, TableData, View
from sitelens_tui.widgets.view_table import TableRow, ViewTable


@dataclass(slots=True, frozen=True)
class EventsData:
    events: list[EventCount]
    event: str | None
    breakdown: list[tuple[str, PropValue]]


class EventsView(View):
    """Enter on an event filters every view by it; the breakdown follows the highlighted row."""

    TITLE = "Events"
    REFRESH_S = 10.0

    def __init__(self) -> None:
        super().__init__()
        self.selected_event: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="lists"):
            with Vertical():
                yield Label("Custom events", classes="section-title")
                yield ViewTable([("name", "Event"), ("count", "Count"), ("visitors", "Visitors")], dimension="name",
                                id="events-table", cap=50)
            with Vertical():
                yield Label("Properties", id="events-props-title", classes="section-title")
                yield ViewTable([("prop", "Property"), ("value", "Value"), ("count", "Count")], id="events-props",
                                cap=100)

    def fetch(self, store: Store, scope: Scope) -> EventsData:
        span, filters = scope.span, scope.filters()
        events = store.custom_events(span, filters, limit=50)
        names = [e.name for e in events]
        event = self.selected_event if self.selected_event in names else (names[0] if names else None)
        breakdown: list[tuple[str, PropValue]] = []
        if event is not None:
            for key, values in store.property_breakdowns(span, filters, event, limit=20):
                breakdown.extend((key, v) for v in values)
        return EventsData(events, event, breakdown)

    def show(self, data: EventsData) -> None:
        self.query_one("#events-table", ViewTable).show(
            [TableRow(e.name, (safe(e.name, 40), num(e.count), num(e.visitors)), e.name) for e in data.events])
        title = "Properties" if data.event is None else f"Properties of {data.event}"
        self.query_one("#events-props-title", Label).update(safe(title, 60))
        self.query_one("#events-props", ViewTable).show(
            [TableRow(f"{k}\x00{v.value}", (safe(k, 30), safe(v.value, 40), num(v.count))) for k, v in data.breakdown])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "events-table" and event.row_key.value is not None:
            if event.row_key.value != self.selected_event and self.loaded_scope is not None:
                self.selected_event = event.row_key.value
                self.reload()

    def selection(self) -> Selection:
        row = self.query_one("#events-table", ViewTable).selected
        return Selection(filter=("name", row.value)) if row is not None else Selection()

    def export(self, store: Store, scope: Scope) -> TableData:
        events = store.custom_events(scope.span, scope.filters(), limit=10_000)
        return TableData(("name", "count", "visitors"), [(e.name, e.count, e.visitors) for e in events])
