"""Server/API: endpoint latency percentiles and error rates, failed logins by source, external API cost."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from db.queries.server import CostRow, EndpointRow, LoginRow
from db.store import Store
from sitelens_tui.sanitize import num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import Selection, TableData, View
from sitelens_tui.widgets.view_table import TableRow, ViewTable


@dataclass(slots=True, frozen=True)
class ServerData:
    endpoints: list[EndpointRow]
    logins: list[LoginRow]
    costs: list[CostRow]


def error_rate(pct: float) -> Text:
    """Percent of 5xx answers, red above 5 %."""
    return Text(f"{pct:.1f}%", style="bold red" if pct > 5 else "", justify="right")


def ms(value: float) -> Text:
    return num(value, ",.0f")


class ServerView(View):
    """What the API side of the sites does, from server-side events."""

    TITLE = "Server"
    REFRESH_S = 10.0

    def compose(self) -> ComposeResult:
        yield Label("Endpoints", classes="section-title")
        yield ViewTable(
            [("endpoint", "Endpoint"), ("requests", "Reqs"), ("p50", "p50 ms"), ("p95", "p95 ms"), ("p99", "p99 ms"),
             ("errors", "Errors")],
            dimension="path", id="server-endpoints", cap=20,
        )
        with Horizontal(classes="lists"):
            with Vertical():
                yield Label("Failed logins by source", classes="section-title")
                yield ViewTable([("source", "Source"), ("failures", "Failures")], id="server-logins", cap=20)
            with Vertical():
                yield Label("External API cost", classes="section-title")
                yield ViewTable([("service", "Service"), ("calls", "Calls"), ("cost", "Cost $"), ("p95", "p95 ms")],
                                id="server-costs", cap=20)

    def fetch(self, store: Store, scope: Scope) -> ServerData:
        span, filters = scope.span, scope.filters()
        return ServerData(store.endpoints(span, filters), store.failed_logins(span, filters),
                          store.external_costs(span, filters))

    def show(self, data: ServerData) -> None:
        self.query_one("#server-endpoints", ViewTable).show([
            TableRow(f"{e.method} {e.endpoint}", (safe(f"{e.method} {e.endpoint}", 60), num(e.requests), ms(e.p50),
                                                  ms(e.p95), ms(e.p99), error_rate(e.error_rate)), e.endpoint)
            for e in data.endpoints
        ])
        self.query_one("#server-logins", ViewTable).show(
            [TableRow(r.source, (safe(r.source or "unknown", 45), num(r.failures)), r.source) for r in data.logins])
        self.query_one("#server-costs", ViewTable).show([
            TableRow(c.service, (safe(c.service, 30), num(c.calls), num(c.cost_usd, ",.4f"), ms(c.p95)), c.service)
            for c in data.costs
        ])

    def selection(self) -> Selection:
        """An endpoint filters by its path; a failed-login source that is an IP can be throttled."""
        logins = self.query_one("#server-logins", ViewTable)
        if self.app.focused is logins and logins.selected is not None:
            source = logins.selected.value
            try:
                ipaddress.ip_address(source)
            except ValueError:
                return Selection()
            return Selection(throttle=("ip", source))
        row = self.query_one("#server-endpoints", ViewTable).selected
        return Selection(filter=("path", row.value)) if row is not None else Selection()

    def export(self, store: Store, scope: Scope) -> TableData:
        rows = store.endpoints(scope.span, scope.filters(), limit=10_000)
        return TableData(("method", "endpoint", "requests", "p50_ms", "p95_ms", "p99_ms", "error_rate"),
                         [(e.method, e.endpoint, e.requests, e.p50, e.p95, e.p99, e.error_rate) for e in rows])
