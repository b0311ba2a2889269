"""SQLite: the scheduled-export ledger: planned runs (event id ranges), per-destination deliveries and the cursor."""

from __future__ import annotations

import sqlite3

from db.export.runs import DeliveryRow, ExportHealth, RunRow, run_id_for
from db.sqlite.queries.settings import get_setting, set_setting

CURSOR_KEY = "export_cursor"
"""settings key: the last event id handed to a run (runs cover after_id < id <= upto_id)."""

RUN_COLUMNS = "id, created, after_id, upto_id, format, state, rows, bytes, first_ts, last_ts, finished"
DELIVERY_COLUMNS = "run_id, destination, state, attempts, next_try, lease_until, error, updated"


def export_cursor(conn: sqlite3.Connection) -> int:
    """The last event id already handed to a run (0 before the first run)."""
    value = get_setting(conn, CURSOR_KEY)
    return int(value) if value else 0


def last_run_created(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT max(created) FROM export_runs").fetchone()
    return None if row[0] is None else float(row[0])


def plan_run(conn: sqlite3.Connection, now: float, fmt: str, destinations: list[str], max_rows: int) -> RunRow | None:
    """Hand the next events (at most `max_rows`) to a new run and advance the cursor, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        after = export_cursor(conn)
        row = conn.execute(
            "SELECT id FROM events WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?", (after, max_rows - 1)
        ).fetchone()
        upto = int(row[0]) if row else int(conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])
        if upto <= after:
            conn.execute("ROLLBACK")
            return None
        count, first_ts, last_ts = conn.execute(
            "SELECT count(*), min(ts), max(ts) FROM events WHERE id > ? AND id <= ?", (after, upto)
        ).fetchone()
        run_id = run_id_for(now, upto)
        conn.execute(
            "INSERT INTO export_runs (id, created, after_id, upto_id, format, rows, first_ts, last_ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, now, after, upto, fmt, count, first_ts, last_ts),
        )
        conn.executemany(
            "INSERT INTO export_deliveries (run_id, destination, updated) VALUES (?, ?, ?)",
            [(run_id, name, now) for name in destinations],
        )
        set_setting(conn, CURSOR_KEY, str(upto))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return get_run(conn, run_id)


def get_run(conn: sqlite3.Connection, run_id: str) -> RunRow | None:
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM export_runs WHERE id = ?", (run_id,)).fetchone()
    return None if row is None else RunRow(*row)


def pending_runs(conn: sqlite3.Connection) -> list[RunRow]:
    """Runs not yet confirmed by every destination, oldest first."""
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM export_runs WHERE state = 'pending' ORDER BY created, id"
    ).fetchall()
    return [RunRow(*r) for r in rows]


def recent_runs(conn: sqlite3.Connection, limit: int = 50) -> list[RunRow]:
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM export_runs ORDER BY created DESC, id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [RunRow(*r) for r in rows]


def deliveries(conn: sqlite3.Connection, run_id: str) -> list[DeliveryRow]:
    rows = conn.execute(
        f"SELECT {DELIVERY_COLUMNS} FROM export_deliveries WHERE run_id = ? ORDER BY destination", (run_id,)
    ).fetchall()
    return [DeliveryRow(*r) for r in rows]


def claim_delivery(conn: sqlite3.Connection, run_id: str, destination: str, now: float, lease_s: float) -> bool:
    """Take a due delivery for this process (another process's claim holds until its lease runs out)."""
    cur = conn.execute(
        "UPDATE export_deliveries SET state = 'running', lease_until = ?, updated = ? "
        "WHERE run_id = ? AND destination = ? AND ("
        "(state IN ('pending', 'failed') AND next_try <= ?) OR (state = 'running' AND lease_until <= ?))",
        (now + lease_s, now, run_id, destination, now, now),
    )
    return cur.rowcount == 1


def finish_delivery(conn: sqlite3.Connection, run_id: str, destination: str, now: float) -> None:
    conn.execute(
        "UPDATE export_deliveries SET state = 'done', attempts = attempts + 1, error = '', lease_until = 0, "
        "updated = ? WHERE run_id = ? AND destination = ?",
        (now, run_id, destination),
    )


def fail_delivery(
    conn: sqlite3.Connection, run_id: str, destination: str, now: float, error: str, next_try: float
) -> None:
    conn.execute(
        "UPDATE export_deliveries SET state = 'failed', attempts = attempts + 1, error = ?, next_try = ?, "
        "lease_until = 0, updated = ? WHERE run_id = ? AND destination = ?",
        (error[:500], next_try, now, run_id, destination),
    )


def drop_delivery(conn: sqlite3.Connection, run_id: str, destination: str, now: float, reason: str) -> None:
    """Give up on a destination that is no longer configured (the run can then complete without it)."""
    conn.execute(
        "UPDATE export_deliveries SET state = 'dropped', error = ?, updated = ? WHERE run_id = ? AND destination = ?",
        (reason[:500], now, run_id, destination),
    )


def set_run_size(conn: sqlite3.Connection, run_id: str, rows: int, size: int) -> None:
    """Record what staging the run produced (rows may be fewer than planned if some were erased since)."""
    conn.execute("UPDATE export_runs SET rows = ?, bytes = ? WHERE id = ?", (rows, size, run_id))


def complete_run_if_delivered(conn: sqlite3.Connection, run_id: str, now: float) -> bool:
    """Mark a run done once every destination has confirmed it; True if it is done now."""
    cur = conn.execute(
        "UPDATE export_runs SET state = 'done', finished = ? "
        "WHERE id = ? AND state = 'pending' AND NOT EXISTS ("
        "SELECT 1 FROM export_deliveries WHERE run_id = ? AND state NOT IN ('done', 'dropped'))",
        (now, run_id, run_id),
    )
    return cur.rowcount == 1


def make_due(conn: sqlite3.Connection, run_id: str | None = None) -> int:
    """Retry now: failed deliveries (of one run, or all) become due immediately; returns how many."""
    sql = "UPDATE export_deliveries SET next_try = 0 WHERE state IN ('failed', 'pending')"
    params: tuple[object, ...] = ()
    if run_id:
        sql += " AND run_id = ?"
        params = (run_id,)
    return conn.execute(sql, params).rowcount


def lower_cursor(conn: sqlite3.Connection) -> None:
    """After events were deleted: keep the cursor at or below the highest remaining id.

    SQLite hands out max(id) + 1 to the next event, so if the newest events were erased, new ones reuse
    their ids;
    the cursor must step back or those new events would never be exported.
    """
    cursor = export_cursor(conn)
    top = int(conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])
    if top < cursor:
        set_setting(conn, CURSOR_KEY, str(top))


def export_health(conn: sqlite3.Connection) -> ExportHealth:
    """How the scheduled export is doing, from the ledger (works from any process on the database)."""
    pending = int(conn.execute("SELECT count(*) FROM export_runs WHERE state = 'pending'").fetchone()[0])
    failing = [
        (str(r[0]), str(r[1]), int(r[2]), float(r[3]))
        for r in conn.execute(
            "SELECT destination, error, max(attempts), min(next_try) FROM export_deliveries "
            "WHERE state = 'failed' GROUP BY destination ORDER BY destination"
        )
    ]
    last = conn.execute("SELECT max(finished) FROM export_runs WHERE state = 'done'").fetchone()[0]
    return ExportHealth(pending, failing, None if last is None else float(last))


__all__ = ["DeliveryRow", "ExportHealth", "RunRow", "run_id_for"]
