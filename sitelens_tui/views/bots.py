"""Bots: top bot names, fingerprints with scores and reasons, throttle levels and drops per level."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from db.queries.bots import BotRow, DropRow, FingerprintRow
from db.store import Store
from sitelens_tui.sanitize import num, safe
from sitelens_tui.scope import Scope
from sitelens_tui.views.base import Selection, TableData, View
from sitelens_tui.views.live import LEVEL_STYLES, score_text
from sitelens_tui.widgets.view_table import TableRow, ViewTable


@dataclass(slots=True, frozen=True)
class BotsData:
    bots: list[BotRow]
    fingerprints: list[FingerprintRow]
    drops: list[DropRow]


def fingerprint_row(f: FingerprintRow) -> TableRow:
    return TableRow(
        f.fingerprint,
        (
            safe(f.fingerprint, 16), safe(f.bot_name or "–", 20), score_text(f.max_score),
            safe(f.level, style=LEVEL_STYLES.get(f.level, "")), num(f.requests),
            safe(time.strftime("%m-%d %H:%M", time.gmtime(f.last_seen))), safe(", ".join(f.signals) or "–", 80),
        ),
        f.fingerprint,
    )


class BotsView(View):
    """`t` on a fingerprint throttles it; Enter filters every view by the bot name or fingerprint."""

    TITLE = "Bots"
    REFRESH_S = 5.0

    def compose(self) -> ComposeResult:
        with Horizontal(classes="lists"):
            with Vertical():
                yield Label("Top bots", classes="section-title")
                yield ViewTable([("name", "Bot"), ("sessions", "Sessions"), ("requests", "Requests")],
                                dimension="bot_name", id="bots-names", cap=20)
            with Vertical():
                yield Label("Throttle drops", classes="section-title")
                yield ViewTable([("level", "Level"), ("reason", "Reason"), ("count", "Dropped")], id="bots-drops",
                                cap=20)
        yield Label("Fingerprints (worst first)", classes="section-title")
        yield ViewTable(
            [("fp", "Fingerprint"), ("bot", "Bot"), ("score", "Score"), ("level", "Level"), ("requests", "Reqs"),
             ("seen", "Last seen"), ("reasons", "Reasons")],
            dimension="fingerprint", id="bots-fingerprints", cap=50,
        )

    def fetch(self, store: Store, scope: Scope) -> BotsData:
        span = scope.span
        return BotsData(store.top_bots(span, scope.filters("bots")), store.top_fingerprints(span),
                        store.drops_by_level(span))

    def show(self, data: BotsData) -> None:
        self.query_one("#bots-names", ViewTable).show(
            [TableRow(b.name, (safe(b.name, 30), num(b.sessions), num(b.requests)), b.name) for b in data.bots])
        self.query_one("#bots-drops", ViewTable).show(
            [TableRow(f"{d.level}/{d.reason}", (safe(d.level, style=LEVEL_STYLES.get(d.level, "")), safe(d.reason),
                                                num(d.count))) for d in data.drops])
        self.query_one("#bots-fingerprints", ViewTable).show([fingerprint_row(f) for f in data.fingerprints])
        if not data.drops:
            self.query_one("#bots-drops", ViewTable).show([TableRow("none", (Text("none", style="dim"),))])

    def selection(self) -> Selection:
        """The focused bot name filters; otherwise the highlighted fingerprint filters and can be throttled."""
        fps = self.query_one("#bots-fingerprints", ViewTable)
        picked = super().selection()
        if self.app.focused is not fps and picked.filter is not None:
            return picked
        row = fps.selected
        if row is None:
            return Selection()
        return Selection(filter=("fingerprint", row.value), throttle=("fingerprint", row.value))

    def export(self, store: Store, scope: Scope) -> TableData:
        rows = store.top_fingerprints(scope.span, limit=100_000)
        return TableData(
            ("fingerprint", "ua", "bot_name", "max_score", "level", "sessions", "requests", "last_seen", "reasons"),
            [(f.fingerprint, f.ua, f.bot_name, f.max_score, f.level, f.sessions, f.requests, f.last_seen,
              "; ".join(f.signals)) for f in rows],
        )
