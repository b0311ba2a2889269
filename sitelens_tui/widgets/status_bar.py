"""The status line: where the collector listens, events per second, queue depth, database size, pause."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from sitelens_tui.sanitize import clean


@dataclass(slots=True, frozen=True)
class Status:
    """What the status bar shows; queue_depth is None when attached to another process's database."""

    source: str
    events_per_s: float
    queue_depth: int | None
    db_bytes: int
    paused: bool = False
    problem: str = ""
    """Why the embedded collector cannot write ('disk full', 'database read-only', ...); empty when it can."""


def human_bytes(n: int) -> str:
    """1536 → '1.5 KB'."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def render_status(s: Status) -> Text:
    queue = "–" if s.queue_depth is None else f"{s.queue_depth:,}"
    text = Text.assemble(
        (clean(s.source, 60), "bold"), "  │  ", f"{s.events_per_s:.1f} ev/s", "  │  ", f"queue {queue}",
        "  │  ", f"db {human_bytes(s.db_bytes)}",
    )
    if s.problem:
        text.append(f"  │  {clean(s.problem, 40).upper()}: events queued", style="bold red")
    if s.paused:
        text.append("  │  PAUSED", style="bold yellow")
    return text


class StatusBar(Static):
    """One line above the footer."""

    def show(self, status: Status) -> None:
        self.update(render_status(status))
