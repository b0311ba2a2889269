"""Server/API: endpoint latency percentiles and error rates, failed logins by source, external API cost, and
requests, cost and activity per user (the `user_id` sent with server-side events)."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from db.queries.server import CostRow, EndpointRow, LoginRow, UserRow
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
    users: list[UserRow]
    daily_users: list[tuple[int, int]]


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
        with Horizontal(classes="lists"):
            with Vertical():
                yield Label("Users", classes="section-title")
                yield ViewTable([("user", "User"), ("requests", "Reqs"), ("errors", "5xx"), ("calls", "Calls"),
                                 ("cost", "Cost $")], dimension="user_id", id="server-users", cap=20)
            with Vertical():
                yield Label("Daily active users", classes="section-title")
                yield ViewTable([("day", "Day (UTC)"), ("users", "Users")], id="server-dau", cap=100)

    def fetch(self, store: Store, scope: Scope) -> ServerData:
        span, filters = scope.span, scope.filters()
        return ServerData(store.endpoints(span, filters), store.failed_logins(span, filters),
                          store.external_costs(span, filters), store.users(span, filters),
                          store.daily_active_users(span, filters))

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
        self.query_one("#server-users", ViewTable).show([
            TableRow(u.user_id, (safe(u.user_id, 30), num(u.requests), num(u.errors), num(u.calls),
                                 num(u.cost_usd, ",.4f")), u.user_id)
            for u in data.users
        ])
        self.query_one("#server-dau", ViewTable).show([
            TableRow(str(day), (Text(time.strftime("%Y-%m-%d", time.gmtime(day))), num(n))) for day, n in
            reversed(data.daily_users)
        ])

    def selection(self) -> Selection:
        """An endpoint filters by its path, a user by user id; a failed-login source that is an IP can be
        throttled."""
        user = self.query_one("#server-users", ViewTable)
        if self.app.focused is user and user.selected is not None:
            return Selection(filter=("user_id", user.selected.value))
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
