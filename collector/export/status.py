"""Live state of the scheduled export: per-destination progress and ledger summary (/healthz, TUI)."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from db.export.runs import ExportHealth


@dataclass(slots=True)
class DestinationProgress:
    """What one destination is doing now and how its last delivery went."""

    name: str
    state: str = "idle"
    """idle | sending | ok | failing"""
    run_id: str = ""
    sent: int = 0
    total: int = 0
    last_ok: float | None = None
    last_error: str = ""
    attempts: int = 0


@dataclass(slots=True)
class ExportState:
    """The scheduled export's destinations and live progress, kept on the collector app."""

    destinations: list[Any] = field(default_factory=list)
    schedule_hours: float = 0.0
    progress: dict[str, DestinationProgress] = field(default_factory=dict)
    health: ExportHealth | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while a tick runs, so the service and a manual retry in the same process never overlap."""

    def for_destination(self, name: str) -> DestinationProgress:
        progress = self.progress.get(name)
        if progress is None:
            progress = self.progress[name] = DestinationProgress(name)
        return progress

    def summary(self) -> dict[str, object]:
        """The /healthz `export` field: pending runs, failing destinations, progress."""
        health = self.health
        return {
            "enabled": self.schedule_hours > 0,
            "ok": health.ok if health else True,
            "pending_runs": health.pending_runs if health else 0,
            "last_done": health.last_done if health else None,
            "failing": [
                {"destination": d, "error": e, "attempts": a, "next_try_in_s": max(0, round(t - time.time()))}
                for d, e, a, t in (health.failing if health else [])
            ],
            "destinations": [asdict(p) for p in self.progress.values()],
        }


def status_line(health: ExportHealth, now: float | None = None) -> str:
    """One short line for a status bar: 'export ok', '2 export runs pending', 'export to X failing'."""
    now = time.time() if now is None else now
    if health.failing:
        dest, error, attempts, next_try = health.failing[0]
        wait = max(0, round(next_try - now))
        more = f" (+{len(health.failing) - 1} more)" if len(health.failing) > 1 else ""
        return f"export to {dest} failing{more}: {error[:60]} — attempt {attempts}, retry in {wait}s"
    if health.pending_runs:
        return f"{health.pending_runs} export run{'s' if health.pending_runs != 1 else ''} pending"
    if health.last_done is None:
        return "export: no runs yet"
    return "export ok, last " + time.strftime("%Y-%m-%d %H:%M", time.localtime(health.last_done))

