"""Requests: GoAccess's panels for imported access logs: status codes, the 404 list and bandwidth per path."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from db.queries.requests import PathHits, StatusRow, status_classes
from db.store import Store
from sitelens_tui.sanitize import num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import TableData, View
from sitelens_tui.widgets.view_table import TableRow, ViewTable

LIMIT = 20
CLASS_STYLES = {"2xx": "green", "3xx": "cyan", "4xx": "yellow", "5xx": "bold red"}


@dataclass(slots=True, frozen=True)
class RequestsData:
    codes: list[StatusRow]
    missing: list[PathHits]
    bandwidth: list[PathHits]


def size(n: int) -> Text:
    """Bytes in binary units, right-aligned ("1.4 MiB")."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, i = float(n), 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    return Text(f"{value:,.0f} B" if i == 0 else f"{value:,.1f} {units[i]}", justify="right")


def classes_line(codes: list[StatusRow]) -> Text:
    """"2xx 1,204  3xx 80  4xx 31  5xx 2" in the classes' colours."""
    parts: list[tuple[str, str] | str] = []
    for name, hits in status_classes(codes).items():
        if hits or name != "other":
            parts += [(name, CLASS_STYLES.get(name, "")), f" {hits:,}  "]
    return Text.assemble(*parts)


class RequestsView(View):
    """Every logged hit, bots included (an access log holds both); Enter on a row filters by its code or path."""

    TITLE = "Requests"
    REFRESH_S = 10.0

    def compose(self) -> ComposeResult:
        yield Label("Status codes (imported access logs, bots included)", classes="section-title")
        yield Label("", id="requests-classes")
        with Horizontal(classes="lists"):
            with Vertical():
                yield ViewTable([("code", "Code"), ("hits", "Hits")], dimension="status", id="requests-codes",
                                cap=LIMIT)
            with Vertical():
                yield ViewTable([("path", "Not found (404)"), ("hits", "Hits")], dimension="path",
                                id="requests-404", cap=LIMIT)
        yield Label("Bandwidth per path", classes="section-title")
        yield ViewTable([("path", "Path"), ("hits", "Hits"), ("bytes", "Sent")], dimension="path",
                        id="requests-bandwidth", cap=LIMIT)

    def fetch(self, store: Store, scope: Scope) -> RequestsData:
        span, filters = scope.span, scope.filters(bots="all")
        return RequestsData(store.status_codes(span, filters), store.not_found(span, filters, LIMIT),
                            store.bandwidth(span, filters, LIMIT))

    def show(self, data: RequestsData) -> None:
        self.query_one("#requests-classes", Label).update(classes_line(data.codes))
        self.query_one("#requests-codes", ViewTable).show([
            TableRow(str(r.status), (Text(str(r.status), style=CLASS_STYLES.get(r.status_class, "")), num(r.hits)),
                     str(r.status))
            for r in data.codes
        ])
        self.query_one("#requests-404", ViewTable).show(
            [TableRow(r.path, (safe(r.path, 40), num(r.hits)), r.path) for r in data.missing])
        self.query_one("#requests-bandwidth", ViewTable).show(
            [TableRow(r.path, (safe(r.path, 50), num(r.hits), size(r.bytes)), r.path) for r in data.bandwidth])

    def export(self, store: Store, scope: Scope) -> TableData:
        rows = store.bandwidth(scope.span, scope.filters(bots="all"), 10_000)
        return TableData(("path", "hits", "bytes"), [(r.path, r.hits, r.bytes) for r in rows])
