"""SQLite behind the export-ledger contract: the ledger functions (runs.py) on a connection of the ledger's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from db.export.runs import DeliveryRow, ExportHealth, ExportLedger, RunRow
from db.export.streams import Row
from db.sqlite.connection import connect
from db.sqlite.export import runs, streams


class SqliteExportLedger(ExportLedger):
    """The ledger tables of one SQLite file; its own connection, so a run is planned in one write transaction."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path, create=False)

    def close(self) -> None:
        self.conn.close()

    def last_run_created(self) -> float | None:
        return runs.last_run_created(self.conn)

    def plan_run(self, now: float, fmt: str, destinations: list[str], max_rows: int) -> RunRow | None:
        return runs.plan_run(self.conn, now, fmt, destinations, max_rows)

    def get_run(self, run_id: str) -> RunRow | None:
        return runs.get_run(self.conn, run_id)

    def pending_runs(self) -> list[RunRow]:
        return runs.pending_runs(self.conn)

    def recent_runs(self, limit: int = 50) -> list[RunRow]:
        return runs.recent_runs(self.conn, limit)

    def deliveries(self, run_id: str) -> list[DeliveryRow]:
        return runs.deliveries(self.conn, run_id)

    def claim_delivery(self, run_id: str, destination: str, now: float, lease_s: float) -> bool:
        return runs.claim_delivery(self.conn, run_id, destination, now, lease_s)

    def finish_delivery(self, run_id: str, destination: str, now: float) -> None:
        runs.finish_delivery(self.conn, run_id, destination, now)

    def fail_delivery(self, run_id: str, destination: str, now: float, error: str, next_try: float) -> None:
        runs.fail_delivery(self.conn, run_id, destination, now, error, next_try)

    def drop_delivery(self, run_id: str, destination: str, now: float, reason: str) -> None:
        runs.drop_delivery(self.conn, run_id, destination, now, reason)

    def set_run_size(self, run_id: str, rows: int, size: int) -> None:
        runs.set_run_size(self.conn, run_id, rows, size)

    def complete_run_if_delivered(self, run_id: str, now: float) -> bool:
        return runs.complete_run_if_delivered(self.conn, run_id, now)

    def make_due(self, run_id: str | None = None) -> int:
        return runs.make_due(self.conn, run_id)

    def health(self) -> ExportHealth:
        return runs.export_health(self.conn)

    def run_range(self, run: RunRow) -> tuple[str, dict[str, object]]:
        return "event_ids", {"after": run.after_id, "upto": run.upto_id}

    def run_range_text(self, run: RunRow) -> str:
        return f"events {run.after_id + 1}..{run.upto_id}"

    def run_bounds(self, run: RunRow) -> tuple[int, float | None, float | None]:
        return streams.id_range_bounds(self.conn, run.after_id, run.upto_id)

    def run_sites(self, run: RunRow) -> list[str]:
        return streams.id_range_sites(self.conn, run.after_id, run.upto_id)

    def run_events(self, run: RunRow, site: str, first_ts: float, last_ts: float) -> Iterator[list[Row]]:
        return streams.stream_site_events(self.conn, site, run.after_id, run.upto_id, first_ts, last_ts)
