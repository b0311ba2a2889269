"""Row streams for exports: one parameterised query per exportable table, read with fetchmany so memory stays flat."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from db.records import EVENT_COLUMNS, SESSION_COLUMNS

WHATS = ("events", "sessions", "rollups", "anomalies", "funnels")
BOTS = ("humans", "bots", "all")
CHUNK_ROWS = 5000

Row = tuple[object, ...]


class ExportQueryError(ValueError):
    """An export request that cannot be answered (unknown table, bad filter); the message is for the user."""


@dataclass(slots=True, frozen=True)
class ExportFilter:
    """Which rows of a table to export: one site or all, a time span [start, end), humans, bots or all."""

    site: str = ""
    start: float | None = None
    end: float | None = None
    bots: str = "all"


@dataclass(slots=True, frozen=True)
class TableSpec:
    """How one exportable table is read: its columns, time column, and whether it knows about bots."""

    table: str
    columns: tuple[str, ...]
    time_column: str | None
    order: str
    site_column: str | None = "site"
    bot_column: str | None = None
    site_order: str | None = None
    """Order used when filtering by site, when another order would make SQLite sort."""


@dataclass(slots=True)
class RowStream:
    """Column names, their value types ("int", "float", "str") and an iterator of row chunks."""

    columns: list[str]
    types: list[str]
    chunks: Iterator[list[Row]]


def _static_specs() -> dict[str, TableSpec]:
    # Events are ordered by (ts, id): both orderings are served by an index, so SQLite never sorts in memory.
    return {
        "events": TableSpec("events", ("id", *EVENT_COLUMNS), "ts", "ts, id", bot_column="is_bot"),
        "sessions": TableSpec(
            "sessions", SESSION_COLUMNS, "started", "id", bot_column="is_bot", site_order="started, id"
        ),
        "anomalies": TableSpec(
            "anomalies",
            ("id", "kind", "rule", "metric", "site", "level", "observed", "expected", "started", "ended", "details"),
            "started",
            "started, id",
        ),
        "funnels": TableSpec(
            "funnels", ("id", "name", "site", "steps", "window_s", "created", "updated"), "created", "id"
        ),
    }


def rollup_tables(conn: sqlite3.Connection) -> list[str]:
    """Daily rollup tables present in this database (created by the rollups migration)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rollup%' ORDER BY name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _table_info(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(column, declared type) of a table, in table order."""
    return [(str(r[1]), str(r[2]).upper()) for r in conn.execute(f"PRAGMA table_info({_quote(table)})")]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rollup_spec(conn: sqlite3.Connection, table: str | None) -> TableSpec:
    """The spec of a rollup table: day or hour column as time, site and is_bot/bots columns if it has them."""
    tables = rollup_tables(conn)
    if not tables:
        raise ExportQueryError("no rollup tables in this database yet (export events or sessions instead)")
    if table is None:
        daily = [t for t in tables if "daily" in t or "day" in t]
        table = (daily or tables)[0]
    elif table not in tables:
        raise ExportQueryError(f"unknown rollup table {table!r} (known: {', '.join(tables)})")
    info = _table_info(conn, table)
    cols = tuple(c for c, _ in info)
    time_col = next((c for c in ("day", "date", "bucket", "hour", "ts") if c in cols), None)
    bot_col = next((c for c in ("is_bot", "bot") if c in cols), None)
    order = ", ".join(_quote(c) for c in cols[: min(3, len(cols))]) if time_col is None else _quote(time_col)
    return TableSpec(table, cols, time_col, order, "site" if "site" in cols else None, bot_col)


def spec_for(conn: sqlite3.Connection, what: str, table: str | None = None) -> TableSpec:
    """The table spec behind an export name (`events`, `sessions`, `rollups`, `anomalies`, `funnels`)."""
    if what == "rollups":
        return _rollup_spec(conn, table)
    spec = _static_specs().get(what)
    if spec is None:
        raise ExportQueryError(f"unknown export {what!r} (choose from {', '.join(WHATS)})")
    return spec


def _type_name(declared: str) -> str:
    if "INT" in declared:
        return "int"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "float"
    return "str"


def _time_value(conn: sqlite3.Connection, spec: TableSpec, ts: float) -> object:
    """A unix time converted to what the table's time column holds (rollups may key by 'YYYY-MM-DD' text)."""
    declared = dict(_table_info(conn, spec.table)).get(spec.time_column or "", "")
    if spec.table.startswith("rollup") and "INT" not in declared and "REAL" not in declared:
        from datetime import UTC, datetime

        fmt = "%Y-%m-%d" if spec.time_column in ("day", "date") else "%Y-%m-%dT%H:00:00"
        return datetime.fromtimestamp(ts, UTC).strftime(fmt)
    return ts


def where_clause(conn: sqlite3.Connection, spec: TableSpec, flt: ExportFilter) -> tuple[str, list[object]]:
    """The parameterised WHERE for a filter on a table ('' when nothing filters)."""
    if flt.bots not in BOTS:
        raise ExportQueryError(f"bots must be one of {', '.join(BOTS)}, got {flt.bots!r}")
    parts: list[str] = []
    params: list[object] = []
    if flt.site and spec.site_column:
        parts.append(f"{spec.site_column} = ?")
        params.append(flt.site)
    if spec.time_column:
        if flt.start is not None:
            parts.append(f"{_quote(spec.time_column)} >= ?")
            params.append(_time_value(conn, spec, flt.start))
        if flt.end is not None:
            parts.append(f"{_quote(spec.time_column)} < ?")
            params.append(_time_value(conn, spec, flt.end))
    if spec.bot_column and flt.bots != "all":
        parts.append(f"{spec.bot_column} = ?")
        params.append(1 if flt.bots == "bots" else 0)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def count_rows(conn: sqlite3.Connection, what: str, flt: ExportFilter, table: str | None = None) -> int:
    """How many rows an export will write (for the progress bar)."""
    spec = spec_for(conn, what, table)
    where, params = where_clause(conn, spec, flt)
    return int(conn.execute(f"SELECT count(*) FROM {_quote(spec.table)}{where}", params).fetchone()[0])


def _chunks(cur: sqlite3.Cursor, size: int) -> Iterator[list[Row]]:
    """Chunks of plain tuples from a cursor; the cursor is closed when the iterator ends or is dropped."""
    try:
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            yield [tuple(r) for r in rows]
    finally:
        cur.close()


def stream_table(
    conn: sqlite3.Connection, what: str, flt: ExportFilter, *, table: str | None = None, chunk: int = CHUNK_ROWS
) -> RowStream:
    """The rows of one exportable table matching a filter, in stable order, as chunks."""
    spec = spec_for(conn, what, table)
    declared = dict(_table_info(conn, spec.table))
    where, params = where_clause(conn, spec, flt)
    cols = ", ".join(_quote(c) for c in spec.columns)
    cur = conn.cursor()
    order = spec.site_order if flt.site and spec.site_order else spec.order
    cur.execute(f"SELECT {cols} FROM {_quote(spec.table)}{where} ORDER BY {order}", params)
    types = [_type_name(declared.get(c, "")) for c in spec.columns]
    return RowStream(list(spec.columns), types, _chunks(cur, chunk))


# --- scheduled export: events by id range, split into (site, hour) partitions -----------------------------------

EVENT_EXPORT_COLUMNS: tuple[str, ...] = ("id", *EVENT_COLUMNS)


def event_types() -> list[str]:
    """Value types of the exported event columns."""
    floats = {"ts", "latency_ms", "cost_usd"}
    ints = {"id", "session_id", "engaged_ms", "scroll", "is_bot", "status", "bytes", "success"}
    return ["float" if c in floats else "int" if c in ints else "str" for c in EVENT_EXPORT_COLUMNS]


def max_event_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])


def id_range_bounds(conn: sqlite3.Connection, after_id: int, upto_id: int) -> tuple[int, float | None, float | None]:
    """(rows, first ts, last ts) of the events with after_id < id <= upto_id (a rowid range scan)."""
    row = conn.execute(
        "SELECT count(*), min(ts), max(ts) FROM events WHERE id > ? AND id <= ?", (after_id, upto_id)
    ).fetchone()
    return int(row[0]), row[1], row[2]


def id_range_sites(conn: sqlite3.Connection, after_id: int, upto_id: int) -> list[str]:
    """Sites with events in an id range, sorted."""
    rows = conn.execute(
        "SELECT DISTINCT site FROM events WHERE id > ? AND id <= ? ORDER BY site", (after_id, upto_id)
    ).fetchall()
    return [str(r[0]) for r in rows]


def stream_site_events(
    conn: sqlite3.Connection,
    site: str,
    after_id: int,
    upto_id: int,
    first_ts: float,
    last_ts: float,
    *,
    chunk: int = CHUNK_ROWS,
) -> Iterator[list[Row]]:
    """One site's events of an id range in (ts, id) order, read through the (site, ts) index without sorting."""
    cols = ", ".join(EVENT_EXPORT_COLUMNS)
    cur = conn.cursor()
    cur.execute(
        f"SELECT {cols} FROM events INDEXED BY events_site_ts WHERE site = ? AND ts >= ? AND ts <= ? "
        "AND id > ? AND id <= ? ORDER BY ts, id",
        (site, first_ts, last_ts, after_id, upto_id),
    )
    return _chunks(cur, chunk)
