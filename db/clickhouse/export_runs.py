"""ClickHouse behind the export-ledger contract: runs cut by insert time, changes as new row versions.

A run's positions are the server's insert time of events (`events.inserted`, microseconds since the epoch): the
events a run covers are those inserted after its `after_id` and up to its `upto_id`. Planning only reaches up to
SETTLE_S before the server's clock, so an insert still being written when a run is planned (its time taken, its
rows not yet visible) falls after the cursor, not behind it. Runs and deliveries are ReplacingMergeTree tables:
every change inserts a new version of the row and reads use FINAL (migrations/0010_export_runs.sql).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.export import PAGE_ROWS, _chunks
from db.clickhouse.queries.settings import candidate_version, explicit_version
from db.export.runs import DeliveryRow, ExportHealth, ExportLedger, RunRow, claimable, run_id_for
from db.export.streams import CHUNK_ROWS, EVENT_EXPORT_COLUMNS, Row

SETTLE_S = 60.0
"""Events inserted this recently (by the server's clock) wait for the next run: longer than any insert takes."""

_RUN_COLUMNS = (
    "id, created, after_id, upto_id, format, state, rows, bytes, first_ts, last_ts, finished, destinations"
)
_RUN_INSERT = (
    "id", "created", "after_id", "upto_id", "format", "state", "rows", "bytes", "first_ts", "last_ts", "finished",
    "destinations", "version",
)
_DELIVERY_COLUMNS = "run_id, destination, state, attempts, next_try, lease_until, error, updated"
_DELIVERY_INSERT = (
    "run_id", "destination", "state", "attempts", "next_try", "lease_until", "error", "updated", "owner", "version"
)
_IN_RUN = "inserted > fromUnixTimestamp64Micro(?, 'UTC') AND inserted <= fromUnixTimestamp64Micro(?, 'UTC')"


def _moment(micros: int) -> str:
    """An insert time (microseconds since the epoch) as ISO 8601 UTC."""
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _run(row: tuple[object, ...]) -> RunRow:
    return RunRow(*row[:11])  # type: ignore[arg-type]


class ClickHouseExportLedger(ExportLedger):
    """The ledger tables of one ClickHouse database (shared by every collector writing into it)."""

    def __init__(self, ch: ClickHouse, settle_s: float | None = None) -> None:
        self.ch = ch
        self.settle_s = SETTLE_S if settle_s is None else settle_s
        self.owner = uuid.uuid4().hex
        """Names this process's claims on deliveries."""

    def close(self) -> None:
        """Nothing of its own: the store's client stays open."""

    # -------------------- runs

    def _runs(self, where: str = "", params: tuple[object, ...] = (), tail: str = "") -> list[tuple[object, ...]]:
        return self.ch.rows(f"SELECT {_RUN_COLUMNS} FROM export_runs FINAL {where} {tail}", params)

    def _save_run(self, row: tuple[object, ...], version: int) -> None:
        self.ch.insert("export_runs", [(*row, version)], _RUN_INSERT)

    def _run_row(self, run_id: str) -> tuple[object, ...] | None:
        rows = self._runs("WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def last_run_created(self) -> float | None:
        value = self.ch.value("SELECT max(created) FROM export_runs FINAL HAVING count() > 0")
        return None if value is None else float(value)

    def plan_run(self, now: float, fmt: str, destinations: list[str], max_rows: int) -> RunRow | None:
        row = self.candidate_run(now, fmt, destinations, max_rows)
        return None if row is None else self.claim_run(row)

    def candidate_run(
        self, now: float, fmt: str, destinations: list[str], max_rows: int
    ) -> tuple[object, ...] | None:
        """The next run as this process sees the cursor now (a run row to claim), or None when nothing is new."""
        after = int(self.ch.value("SELECT max(upto_id) FROM export_runs FINAL") or 0)
        bound = int(self.ch.value("SELECT toUnixTimestamp64Micro(now64(6))")) - int(self.settle_s * 1e6)
        if bound <= after:
            return None
        key = "toUnixTimestamp64Micro(inserted)"
        # The insert time of the `max_rows`-th event after the cursor: the run takes every event inserted up to
        # it (one insert's rows share a time, so a run may hold the rest of the last insert beyond `max_rows`).
        upto = self.ch.value(
            f"SELECT {key} AS k FROM events WHERE {_IN_RUN} ORDER BY k LIMIT 1 OFFSET ?",
            (after, bound, max(1, max_rows) - 1),
        )
        if upto is None:
            upto = self.ch.value(f"SELECT max({key}) FROM events WHERE {_IN_RUN} HAVING count() > 0", (after, bound))
            if upto is None:
                return None
        upto = int(upto)
        count, first_ts, last_ts = self.ch.one(
            f"SELECT count(), min(ts), max(ts) FROM events WHERE {_IN_RUN}", (after, upto)
        ) or (0, None, None)
        return (run_id_for(now, upto), now, after, upto, fmt, "pending", int(count), 0, first_ts, last_ts, None,
                list(destinations))

    def claim_run(self, row: tuple[object, ...]) -> RunRow | None:
        """Store a candidate run; None when another collector planned from the same cursor first (the earliest
        candidate wins, and every reader sees only the winner), so no event goes to two runs."""
        self._save_run(row, candidate_version())
        winner = self.ch.value("SELECT id FROM export_runs FINAL WHERE after_id = ?", (row[2],))
        return _run(row) if winner == row[0] else None

    def get_run(self, run_id: str) -> RunRow | None:
        row = self._run_row(run_id)
        return None if row is None else _run(row)

    def pending_runs(self) -> list[RunRow]:
        return [_run(r) for r in self._runs("WHERE state = 'pending'", tail="ORDER BY created, id")]

    def recent_runs(self, limit: int = 50) -> list[RunRow]:
        return [_run(r) for r in self._runs(tail="ORDER BY created DESC, id DESC LIMIT ?", params=(limit,))]

    def _update_run(self, run_id: str, **changes: object) -> None:
        row = self._run_row(run_id)
        if row is None:
            return
        names = [c.strip() for c in _RUN_COLUMNS.split(",")]
        values = dict(zip(names, row, strict=True)) | changes
        self._save_run(tuple(values[n] for n in names), explicit_version())

    def set_run_size(self, run_id: str, rows: int, size: int) -> None:
        self._update_run(run_id, rows=rows, bytes=size)

    def complete_run_if_delivered(self, run_id: str, now: float) -> bool:
        run = self.get_run(run_id)
        if run is None or run.state != "pending":
            return False
        if any(d.state not in ("done", "dropped") for d in self.deliveries(run_id)):
            return False
        self._update_run(run_id, state="done", finished=now)
        return True

    # -------------------- deliveries

    def deliveries(self, run_id: str) -> list[DeliveryRow]:
        row = self._run_row(run_id)
        if row is None:
            return []
        stored = {
            str(r[1]): DeliveryRow(*r)
            for r in self.ch.rows(
                f"SELECT {_DELIVERY_COLUMNS} FROM export_deliveries FINAL WHERE run_id = ?", (run_id,)
            )
        }
        created = float(row[1])  # type: ignore[arg-type]
        names = sorted(set(row[11]) | set(stored))  # type: ignore[call-overload]
        return [stored.get(n) or DeliveryRow(run_id, n, "pending", 0, 0.0, 0.0, "", created) for n in names]

    def _delivery(self, run_id: str, destination: str) -> DeliveryRow | None:
        return next((d for d in self.deliveries(run_id) if d.destination == destination), None)

    def _save_delivery(self, d: DeliveryRow, owner: str = "") -> None:
        row = (d.run_id, d.destination, d.state, d.attempts, d.next_try, d.lease_until, d.error[:500], d.updated)
        self.ch.insert("export_deliveries", [(*row, owner, time.time_ns())], _DELIVERY_INSERT)

    def claim_delivery(self, run_id: str, destination: str, now: float, lease_s: float) -> bool:
        d = self._delivery(run_id, destination)
        if d is None or not claimable(d, now):
            return False
        self._save_delivery(
            DeliveryRow(run_id, destination, "running", d.attempts, d.next_try, now + lease_s, d.error, now), self.owner
        )
        # Two processes claiming at once: the newer claim wins and the other stands back. Should both deliver
        # anyway, nothing is doubled: a run's objects are named by its id, so the second upload overwrites.
        owner = self.ch.value(
            "SELECT owner FROM export_deliveries FINAL WHERE run_id = ? AND destination = ?", (run_id, destination)
        )
        return owner == self.owner

    def _change(self, run_id: str, destination: str, *, attempt: bool = False, **changes: Any) -> None:
        """A new version of a delivery with `changes` (and one more attempt counted, when `attempt`)."""
        d = self._delivery(run_id, destination)
        if d is not None:
            if attempt:
                changes["attempts"] = d.attempts + 1
            self._save_delivery(replace(d, **changes))

    def finish_delivery(self, run_id: str, destination: str, now: float) -> None:
        self._change(run_id, destination, attempt=True, state="done", error="", lease_until=0.0, updated=now)

    def fail_delivery(self, run_id: str, destination: str, now: float, error: str, next_try: float) -> None:
        self._change(
            run_id, destination, attempt=True, state="failed", error=error, next_try=next_try, lease_until=0.0,
            updated=now,
        )

    def drop_delivery(self, run_id: str, destination: str, now: float, reason: str) -> None:
        self._change(run_id, destination, state="dropped", error=reason, updated=now)

    def make_due(self, run_id: str | None = None) -> int:
        runs = [run_id] if run_id else [r.id for r in self.pending_runs()]
        due = 0
        for rid in runs:
            for d in self.deliveries(rid):
                if d.state in ("failed", "pending"):
                    self._change(rid, d.destination, next_try=0.0)
                    due += 1
        return due

    def health(self) -> ExportHealth:
        pending = self.pending_runs()
        failing: dict[str, tuple[str, str, int, float]] = {}
        for run in pending:
            for d in self.deliveries(run.id):
                if d.state != "failed":
                    continue
                seen = failing.get(d.destination)
                if seen is None:
                    failing[d.destination] = (d.destination, d.error, d.attempts, d.next_try)
                else:  # as SQLite groups them: the most attempts, the soonest retry
                    attempts, next_try = max(seen[2], d.attempts), min(seen[3], d.next_try)
                    failing[d.destination] = (d.destination, seen[1], attempts, next_try)
        last = self.ch.value("SELECT max(finished) FROM export_runs FINAL WHERE state = 'done' HAVING count() > 0")
        return ExportHealth(len(pending), [failing[k] for k in sorted(failing)], None if last is None else float(last))

    # -------------------- a run's events

    def run_range(self, run: RunRow) -> tuple[str, dict[str, object]]:
        return "inserted", {"after": _moment(run.after_id), "upto": _moment(run.upto_id)}

    def run_range_text(self, run: RunRow) -> str:
        return f"events inserted {_moment(run.after_id)} .. {_moment(run.upto_id)}"

    def run_bounds(self, run: RunRow) -> tuple[int, float | None, float | None]:
        row = self.ch.one(
            f"SELECT count(), min(ts), max(ts) FROM events WHERE {_IN_RUN}", (run.after_id, run.upto_id)
        )
        if row is None or not row[0]:
            return 0, None, None
        return int(row[0]), float(row[1]), float(row[2])

    def run_sites(self, run: RunRow) -> list[str]:
        rows = self.ch.rows(
            f"SELECT DISTINCT site FROM events WHERE {_IN_RUN} ORDER BY site", (run.after_id, run.upto_id)
        )
        return [str(r[0]) for r in rows]

    def run_events(self, run: RunRow, site: str, first_ts: float, last_ts: float) -> Iterator[list[Row]]:
        cols = ", ".join(EVENT_EXPORT_COLUMNS)
        select = f"(SELECT {cols} FROM events WHERE site = ? AND ts >= ? AND ts <= ? AND {_IN_RUN})"
        params: list[object] = [site, first_ts, last_ts, run.after_id, run.upto_id]
        return _chunks(self.ch, select, params, ("ts", "id"), CHUNK_ROWS, PAGE_ROWS)
