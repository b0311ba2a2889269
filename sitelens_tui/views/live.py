"""Live: sessions active in the last 30 minutes, updated every second, and a tail of requests as they arrive."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label

from db.queries.live import ActiveSession, TailEvent
from db.store import Store
from sitelens_tui.messages import SessionRequested
from sitelens_tui.sanitize import num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import Selection, TableData, View
from sitelens_tui.widgets.view_table import TableRow, ViewTable

SESSION_CAP = 200
TAIL_CAP = 100
LEVEL_STYLES = {"normal": "", "warning": "yellow", "severe": "bold yellow", "blocked": "bold red"}


@dataclass(slots=True, frozen=True)
class LiveData:
    now: float
    sessions: list[ActiveSession]
    tail: list[TailEvent]


def age(seconds: float) -> str:
    """Zero-padded mm:ss, so the column sorts as text too."""
    seconds = max(0, int(seconds))
    return f"{min(99, seconds // 60):02d}:{seconds % 60:02d}"


def score_text(score: int) -> Text:
    return Text(str(score), style="bold red" if score >= 50 else ("yellow" if score >= 30 else "green"),
                justify="right")


def session_row(s: ActiveSession, now: float) -> TableRow:
    return TableRow(
        str(s.id),
        (
            safe(age(now - s.last_seen)), safe(s.site, 20), safe(s.country or "–", 4), safe(s.browser, 14),
            num(s.pageviews), score_text(s.bot_score),
            safe(s.throttle_level, style=LEVEL_STYLES.get(s.throttle_level, "")), safe(s.current_page, 60),
        ),
    )


def tail_row(e: TailEvent) -> TableRow:
    what = e.path if e.type in ("pageview", "engagement", "request", "api_request") else (e.name or e.path)
    return TableRow(
        str(e.id),
        (
            safe(time.strftime("%H:%M:%S", time.gmtime(e.ts))), safe(e.site, 24), safe(e.type, 12),
            safe(what, 60), safe(e.country or "–", 4), safe("bot" if e.is_bot else "", style="red"),
        ),
    )


class LiveView(View):
    """Refreshes every second: the session table in place, the tail by appending only new events."""

    TITLE = "Live"
    REFRESH_S = 1.0
    BINDINGS = [Binding("enter", "open_session", "Open session", show=False, id="open-session")]

    def __init__(self) -> None:
        super().__init__()
        self.last_id = 0
        self.sessions: dict[int, ActiveSession] = {}

    def compose(self) -> ComposeResult:
        yield Label("Active sessions (last 30 min)", id="live-sessions-title", classes="section-title")
        yield ViewTable(
            # The current page goes last: long paths may run off a narrow terminal, the scores must not.
            [("seen", "Idle"), ("site", "Site"), ("country", "Cty"), ("browser", "Browser"), ("pages", "Pages"),
             ("score", "Bot"), ("level", "Throttle"), ("page", "Current page")],
            id="live-sessions", cap=SESSION_CAP,
        )
        yield Label("Latest requests", classes="section-title")
        yield ViewTable(
            [("time", "Time"), ("site", "Site"), ("type", "Type"), ("what", "Page / event"), ("country", "Cty"),
             ("bot", "")],
            id="live-tail", cap=TAIL_CAP,
        )

    def scope_changed(self) -> None:
        self.last_id = 0
        self.query_one("#live-tail", ViewTable).reset()

    def fetch(self, store: Store, scope: Scope) -> LiveData:
        with store.consistent_reads():  # sessions and tail from the same moment: no event without its session
            return LiveData(
                now=scope.now,
                sessions=store.active_sessions(scope.now, site=scope.site, dims=scope.dims, limit=SESSION_CAP),
                tail=store.latest_events(self.last_id, site=scope.site, dims=scope.dims, limit=TAIL_CAP),
            )

    def show(self, data: LiveData) -> None:
        self.sessions = {s.id: s for s in data.sessions}
        self.query_one("#live-sessions", ViewTable).show([session_row(s, data.now) for s in data.sessions])
        more = "+" if len(data.sessions) >= SESSION_CAP else ""
        self.query_one("#live-sessions-title", Label).update(
            Text(f"Active sessions (last 30 min): {len(data.sessions)}{more}"))
        if data.tail:
            self.query_one("#live-tail", ViewTable).append([tail_row(e) for e in data.tail])
            self.last_id = max(self.last_id, data.tail[-1].id)

    @property
    def sessions_table(self) -> ViewTable:
        return self.query_one("#live-sessions", ViewTable)

    def selected_session(self) -> ActiveSession | None:
        row = self.sessions_table.selected
        return None if row is None else self.sessions.get(int(row.key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "live-sessions" and event.row_key.value is not None:
            event.stop()
            self.post_message(SessionRequested(int(event.row_key.value)))

    def action_open_session(self) -> None:
        row = self.sessions_table.selected
        if row is not None:
            self.post_message(SessionRequested(int(row.key)))

    def selection(self) -> Selection:
        s = self.selected_session()
        if s is None:
            return Selection()
        target = ("ip", s.ip) if s.ip and not s.fingerprint else ("fingerprint", s.fingerprint)
        return Selection(filter=("country", s.country) if s.country else None, throttle=target, session_id=s.id)

    def export(self, store: Store, scope: Scope) -> TableData:
        rows = store.active_sessions(scope.now, site=scope.site, dims=scope.dims, limit=10_000)
        return TableData(
            ("id", "site", "country", "browser", "os", "device", "pageviews", "current_page", "bot_score",
             "throttle_level", "fingerprint", "started", "last_seen"),
            [(s.id, s.site, s.country, s.browser, s.os, s.device, s.pageviews, s.current_page, s.bot_score,
              s.throttle_level, s.fingerprint, s.started, s.last_seen) for s in rows],
        )
