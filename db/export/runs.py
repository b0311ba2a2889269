"""The scheduled-export ledger as every engine keeps it: planned runs, per-destination deliveries, the cursor.

A run covers the events handed to it once: those after the previous run's cursor position, up to its own. What a
position is belongs to the engine (SQLite: an event id; ClickHouse: the time the server took the event's insert),
so callers only pass runs back to the ledger that made them and never compare positions with event ids.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

from db.export.streams import Row


@dataclass(slots=True, frozen=True)
class RunRow:
    """One planned export run: the events after position `after_id` up to `upto_id`."""

    id: str
    created: float
    after_id: int
    upto_id: int
    format: str
    state: str
    rows: int
    bytes: int
    first_ts: float | None
    last_ts: float | None
    finished: float | None


@dataclass(slots=True, frozen=True)
class DeliveryRow:
    """One destination's progress on one run."""

    run_id: str
    destination: str
    state: str
    attempts: int
    next_try: float
    lease_until: float
    error: str
    updated: float


@dataclass(slots=True, frozen=True)
class ExportHealth:
    """A summary for /healthz and the TUI status bar."""

    pending_runs: int
    failing: list[tuple[str, str, int, float]]
    """(destination, last error, attempts, next try) of deliveries that failed and will be retried."""
    last_done: float | None

    @property
    def ok(self) -> bool:
        return not self.failing


def run_id_for(created: float, upto: int) -> str:
    """A run id that sorts by time and names its last position: 20261122T130000Z-123456."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created)) + f"-{upto}"


def claimable(delivery: DeliveryRow, now: float) -> bool:
    """Whether a delivery is due: pending or failed with its retry time come, or running past its lease."""
    if delivery.state in ("pending", "failed"):
        return delivery.next_try <= now
    return delivery.state == "running" and delivery.lease_until <= now


class ExportLedger(ABC):
    """The runs and deliveries of the scheduled export in one store; used by one tick at a time, then closed."""

    def __enter__(self) -> ExportLedger:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Release what the ledger holds (a connection of its own on SQLite)."""

    @abstractmethod
    def last_run_created(self) -> float | None:
        """When the newest run was planned (None before the first)."""

    @abstractmethod
    def plan_run(self, now: float, fmt: str, destinations: list[str], max_rows: int) -> RunRow | None:
        """Hand the next events (about `max_rows`) to a new run and advance the cursor past them, atomically: two
        processes planning at once never hand the same events to two runs. None when there is nothing new."""

    @abstractmethod
    def get_run(self, run_id: str) -> RunRow | None:
        """get run"""

    @abstractmethod
    def pending_runs(self) -> list[RunRow]:
        """Runs not yet confirmed by every destination, oldest first."""

    @abstractmethod
    def recent_runs(self, limit: int = 50) -> list[RunRow]:
        """The newest runs, newest first."""

    @abstractmethod
    def deliveries(self, run_id: str) -> list[DeliveryRow]:
        """A run's deliveries, by destination name."""

    @abstractmethod
    def claim_delivery(self, run_id: str, destination: str, now: float, lease_s: float) -> bool:
        """Take a due delivery for this process (another process's claim holds until its lease runs out)."""

    @abstractmethod
    def finish_delivery(self, run_id: str, destination: str, now: float) -> None:
        """finish delivery"""

    @abstractmethod
    def fail_delivery(self, run_id: str, destination: str, now: float, error: str, next_try: float) -> None:
        """fail delivery"""

    @abstractmethod
    def drop_delivery(self, run_id: str, destination: str, now: float, reason: str) -> None:
        """Give up on a destination that is no longer configured (the run can then complete without it)."""

    @abstractmethod
    def set_run_size(self, run_id: str, rows: int, size: int) -> None:
        """Record what staging the run produced (rows may be fewer than planned if some were erased since)."""

    @abstractmethod
    def complete_run_if_delivered(self, run_id: str, now: float) -> bool:
        """Mark a run done once every destination has confirmed it; True if it is done now."""

    @abstractmethod
    def make_due(self, run_id: str | None = None) -> int:
        """Retry now: failed and pending deliveries (of one run, or all) become due at once; returns how many."""

    @abstractmethod
    def health(self) -> ExportHealth:
        """How the scheduled export is doing, from the ledger (works from any process on the store)."""

    @abstractmethod
    def run_range(self, run: RunRow) -> tuple[str, dict[str, object]]:
        """What a run covers, for its manifest: a name and the positions after and up to which it runs."""

    @abstractmethod
    def run_range_text(self, run: RunRow) -> str:
        """What a run covers, in a few words for `sitelens export-runs` and the log."""

    @abstractmethod
    def run_bounds(self, run: RunRow) -> tuple[int, float | None, float | None]:
        """(events, first ts, last ts) of a run's events as stored now."""

    @abstractmethod
    def run_sites(self, run: RunRow) -> list[str]:
        """Sites with events in a run, sorted."""

    @abstractmethod
    def run_events(self, run: RunRow, site: str, first_ts: float, last_ts: float) -> Iterator[list[Row]]:
        """One site's events of a run in (ts, id) order, EVENT_EXPORT_COLUMNS, as chunks."""
