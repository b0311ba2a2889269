"""One session in detail: its event timeline, bot-score signals with values, and its fingerprint's history."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from db.queries.live import FingerprintSession, SessionDetail, TimelineEvent
from db.store import Store
from sitelens_tui.sanitize import clean, num, safe
from sitelens_tui.widgets.view_table import TableRow, ViewTable

if TYPE_CHECKING:
    from sitelens_tui.app import SiteLensApp


@dataclass(slots=True, frozen=True)
class SessionData:
    detail: SessionDetail | None
    timeline: list[TimelineEvent]
    history: list[FingerprintSession]


def clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def software(name: str, version: str) -> str:
    """"Chrome 124.0.0", or the name alone when the version is unknown."""
    return f"{name} {version}" if version else name


def summary(d: SessionDetail) -> Text:
    """Header lines: where the session comes from and what it looks like."""
    s = d.session
    bot = Text(f"bot score {s.bot_score}", style="bold red" if s.bot_score >= 50 else "bold green")
    return Text.assemble(
        ("Session ", "dim"), str(s.id), ("  site ", "dim"), clean(s.site, 60), ("  ", ""), bot,
        ("  throttle ", "dim"), clean(s.throttle_level, 20), "\n",
        ("UA ", "dim"), clean(d.ua, 160), "\n",
        ("from ", "dim"), clean(s.country or "?", 10), " ", clean(d.city, 40), ("  ", ""),
        clean(f"{software(s.browser, d.browser_version)} / {d.os_version or s.os} / {s.device}", 80),
        ("  referrer ", "dim"), clean(d.referrer or "direct", 80),
        "\n", ("fingerprint ", "dim"), clean(s.fingerprint, 80), ("  started ", "dim"), clock(s.started),
        ("  last seen ", "dim"), clock(s.last_seen),
        *((("  ip ", "dim"), clean(s.ip, 45)) if s.ip else ()),
        *((("\nreasons ", "dim"), clean(", ".join(d.bot_reasons), 200)) if d.bot_reasons else ()),
    )


class SessionScreen(Screen[None]):
    """Pushed by Enter on a live session; Escape goes back; `t` throttles this session's fingerprint."""

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="session-back"),
        Binding("t", "throttle", "Throttle", id="session-throttle"),
    ]

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id
        self.data: SessionData | None = None

    @property
    def sl_app(self) -> SiteLensApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(id="session-body"):
            yield Static(Text("loading…", style="dim"), id="session-summary")
            with Horizontal(id="session-tables"):
                with Vertical():
                    yield Label("Timeline", classes="section-title")
                    yield ViewTable(
                        [("time", "Time"), ("type", "Type"), ("what", "Page / event"), ("detail", "Detail")],
                        id="session-timeline", cap=500,
                    )
                with Vertical():
                    yield Label("Bot-score signals", classes="section-title")
                    yield ViewTable([("signal", "Signal"), ("weight", "Weight"), ("value", "Value")],
                                    id="session-signals")
                    yield Label("Fingerprint history", classes="section-title")
                    yield ViewTable(
                        [("started", "Started"), ("site", "Site"), ("pages", "Pages"), ("score", "Score"),
                         ("level", "Level")],
                        id="session-history",
                    )
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="session", exit_on_error=False, description="load session")
    def load(self) -> None:
        def fetch(store: Store) -> SessionData:
            detail = store.session_detail(self.session_id)
            timeline = store.session_timeline(self.session_id)
            fp = detail.session.fingerprint if detail else ""
            return SessionData(detail, timeline, store.fingerprint_history(fp))

        data = self.sl_app.db.read(fetch)
        self.app.call_from_thread(self.show, data)

    def show(self, data: SessionData) -> None:
        self.data = data
        if data.detail is None:
            self.query_one("#session-summary", Static).update(Text(f"session {self.session_id} not found"))
            return
        self.query_one("#session-summary", Static).update(summary(data.detail))
        self.query_one("#session-timeline", ViewTable).show([
            TableRow(str(i), (
                safe(time.strftime("%H:%M:%S", time.gmtime(e.ts))), safe(e.type), safe(e.path or e.name, 80),
                safe(e.props or (f"{e.engaged_ms / 1000:.0f}s, {e.scroll}%" if e.type == "engagement" else ""), 60),
            ))
            for i, e in enumerate(data.timeline)
        ])
        self.query_one("#session-signals", ViewTable).show([
            TableRow(str(i), (safe(s.name, 40), num(s.weight), safe(s.value, 40)))
            for i, s in enumerate(data.detail.signals)
        ])
        self.query_one("#session-history", ViewTable).show([
            TableRow(str(h.id), (safe(clock(h.started)), safe(h.site, 30), num(h.pageviews), num(h.bot_score),
                                 safe(h.throttle_level)))
            for h in data.history
        ])

    def action_close(self) -> None:
        self.dismiss(None)

    def action_throttle(self) -> None:
        from sitelens_tui.dialogs.throttle_dialog import ThrottleDialog

        if self.data is None or self.data.detail is None:
            return
        fp = self.data.detail.session.fingerprint
        self.app.push_screen(ThrottleDialog(("fingerprint", fp)), self.sl_app._throttle_chosen)
