"""SQLite: row streams for exports: one parameterised query per table, read with fetchmany (flat memory)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from db.export.streams import (
    BOTS,
    CHUNK_ROWS,
    EVENT_EXPORT_COLUMNS,
    ROLLUP_DAY,
    ROLLUPS,
    WHATS,
    ExportFilter,
    ExportQueryError,
    Row,
    RowStream,
    TableSpec,
    _quote,
    _source,
    _static_specs,
    _type_name,
)


def rollup_tables(conn: sqlite3.Connection) -> list[str]:
    """Names of the daily rollups this database has (empty before the rollups migration)."""
    present = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [name for name in ROLLUPS if f"rollup_{name}" in present]


def _rollup_spec(conn: sqlite3.Connection, table: str | None) -> TableSpec:
    """A daily rollup (default: traffic) as a spec; `day` is the unix start of the UTC day."""
    names = rollup_tables(conn)
    if not names:
        raise ExportQueryError("no rollup tables in this database yet (export events or sessions instead)")
    name = (table or "traffic").removeprefix("rollup_")
    if name not in names:
        raise ExportQueryError(f"unknown rollup {table!r} (choose from {', '.join(names)})")
    source, columns = ROLLUPS[name]
    if not source.startswith("("):
        cols = ", ".join("bucket AS day" if c == "day" else c for c in columns)
        source = f"(SELECT {cols} FROM {source} WHERE grain = {ROLLUP_DAY})"
    types = tuple("str" if c in ("site", "path", "name", "dim", "value") else "int" for c in columns)
    return TableSpec(source, columns, "day", "day, site", bot_column="is_bot", types=types, time_floor=ROLLUP_DAY)


def _table_info(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(column, declared type) of a table, in table order."""
    return [(str(r[1]), str(r[2]).upper()) for r in conn.execute(f"PRAGMA table_info({_quote(table)})")]


def spec_for(conn: sqlite3.Connection, what: str, table: str | None = None) -> TableSpec:
    """The table spec behind an export name (`events`, `sessions`, `rollups`, `anomalies`, `funnels`)."""
    if what == "rollups":
        return _rollup_spec(conn, table)
    spec = _static_specs().get(what)
    if spec is None:
        raise ExportQueryError(f"unknown export {what!r} (choose from {', '.join(WHATS)})")
    return spec


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
            params.append(flt.start - flt.start % spec.time_floor if spec.time_floor else flt.start)
        if flt.end is not None:
            parts.append(f"{_quote(spec.time_column)} < ?")
            params.append(flt.end)
    if spec.bot_column and flt.bots != "all":
        parts.append(f"{spec.bot_column} = ?")
        params.append(1 if flt.bots == "bots" else 0)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def count_rows(conn: sqlite3.Connection, what: str, flt: ExportFilter, table: str | None = None) -> int:
    """How many rows an export will write (for the progress bar)."""
    spec = spec_for(conn, what, table)
    where, params = where_clause(conn, spec, flt)
    return int(conn.execute(f"SELECT count(*) FROM {_source(spec)}{where}", params).fetchone()[0])


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
    conn: sqlite3.Connection,
    what: str,
    flt: ExportFilter,
    *,
    table: str | None = None,
    chunk: int = CHUNK_ROWS,
) -> RowStream:
    """The rows of one exportable table matching a filter, in stable order, as chunks."""
    spec = spec_for(conn, what, table)
    where, params = where_clause(conn, spec, flt)
    cols = ", ".join(_quote(c) for c in spec.columns)
    cur = conn.cursor()
    order = spec.site_order if flt.site and spec.site_order else spec.order
    cur.execute(f"SELECT {cols} FROM {_source(spec)}{where} ORDER BY {order}", params)
    if spec.types is not None:
        types = list(spec.types)
    else:
        declared = dict(_table_info(conn, spec.table))
        types = [_type_name(declared.get(c, "")) for c in spec.columns]
    return RowStream(list(spec.columns), types, _chunks(cur, chunk))


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
    """One site's events of an id range in (ts, id) order, via the (site, ts) index, no sorting."""
    cols = ", ".join(EVENT_EXPORT_COLUMNS)
    cur = conn.cursor()
    cur.execute(
        f"SELECT {cols} FROM events INDEXED BY events_site_ts WHERE site = ? AND ts >= ? AND ts <= ? "
        "AND id > ? AND id <= ? ORDER BY ts, id",
        (site, first_ts, last_ts, after_id, upto_id),
    )
    return _chunks(cur, chunk)
