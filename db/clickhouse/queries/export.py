"""Row streams for exports on ClickHouse: the same tables, columns, order and filters as db/export/streams.py.

A stream is read a page at a time, each page its own short query over a key range, rather than as one
long-running result: the handle serves other queries between pages (chDB runs one query at a time per process,
and an HTTP export may read its chunks on different threads). The ranges come from one pass that numbers the
matching rows in export order and keeps every PAGE-th key, so every page reads only its own slice."""

from __future__ import annotations

from collections.abc import Iterator

from db.clickhouse.client import ClickHouse
from db.export.streams import CHUNK_ROWS, WHATS, ExportFilter, ExportQueryError, Row, RowStream, TableSpec
from db.sqlite.export.streams import spec_for, where_clause

__all__ = ["count_rows", "stream_table"]

_SOURCES = {
    "events": "events",
    "sessions": "sessions FINAL",
    "anomalies": "anomalies FINAL",
    # No autoincrement ids on ClickHouse: a funnel's id is a stable hash of its unique name.
    "funnels": "(SELECT toInt64(bitShiftRight(cityHash64(name), 1)) AS id, * FROM funnels FINAL WHERE deleted = 0)",
}
PAGE_ROWS = 10_000
"""Rows read per query: each query has a fixed cost (planning, skipping to its range), so pages are larger than
the chunks handed out (about 10 MB of rows in memory at most)."""
_FUNNEL_ORDER = "created, name"
"""SQLite orders funnels by id, i.e. by creation; ClickHouse by the creation time itself."""


def _spec(what: str, table: str | None) -> TableSpec:
    if what == "rollups":
        raise ExportQueryError("there are no rollup tables on a ClickHouse store (export events or sessions instead)")
    if what not in WHATS:
        raise ExportQueryError(f"unknown export {what!r} (choose from {', '.join(w for w in WHATS if w != 'rollups')})")
    return spec_for(None, what, table)  # type: ignore[arg-type]  # static specs need no connection


def _where(spec: TableSpec, flt: ExportFilter) -> tuple[str, list[object]]:
    """The filter's WHERE clause: SQLite's, whose SQL (double-quoted names, `?`) ClickHouse reads as is."""
    return where_clause(None, spec, flt)  # type: ignore[arg-type]  # the connection is not used


def count_rows(ch: ClickHouse, what: str, flt: ExportFilter, table: str | None = None) -> int:
    """How many rows an export will write (for the progress bar)."""
    spec = _spec(what, table)
    where, params = _where(spec, flt)
    return int(ch.value(f"SELECT count() FROM {_SOURCES[what]}{where}", params) or 0)


def _types(ch: ClickHouse, spec: TableSpec) -> list[str]:
    """"int", "float" or "str" per exported column, from the ClickHouse column types."""
    declared = {str(name): str(type_) for name, type_ in ch.rows(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ?", (spec.table,)
    )}
    declared.setdefault("id", "Int64")  # funnels: computed

    def kind(type_: str) -> str:
        inner = type_.removeprefix("Nullable(").removeprefix("LowCardinality(")
        return "int" if inner.startswith(("Int", "UInt")) else "float" if inner.startswith("Float") else "str"

    return [kind(declared.get(c, "String")) for c in spec.columns]


def _chunks(
    ch: ClickHouse, select: str, params: list[object], keys: tuple[str, ...], chunk: int, page: int
) -> Iterator[list[Row]]:
    """Chunks of the rows of `select` in `keys` order, read a page at a time: each page a query over [its first
    key, the next page's first key)."""
    key = f"({', '.join(keys)})" if len(keys) > 1 else keys[0]
    starts = [
        r[0]
        for r in ch.rows(
            f"SELECT k FROM (SELECT {key} AS k, row_number() OVER (ORDER BY {', '.join(keys)}) AS n "
            f"FROM {select}) WHERE (n - 1) % ? = 0 ORDER BY n",
            (*params, max(int(chunk), int(page))),
        )
    ]
    for i, first in enumerate(starts):
        low = list(first) if len(keys) > 1 else [first]
        # The leading key bounds are repeated as plain comparisons so the primary index can skip granules.
        bounds = f"{key} >= {_marks(keys)} AND {keys[0]} >= ?"
        bound_params: list[object] = [*low, low[0]]
        if i + 1 < len(starts):
            high = list(starts[i + 1]) if len(keys) > 1 else [starts[i + 1]]
            bounds += f" AND {key} < {_marks(keys)} AND {keys[0]} <= ?"
            bound_params += [*high, high[0]]
        rows = ch.rows(
            f"SELECT * FROM {select} WHERE {bounds} ORDER BY {', '.join(keys)}", (*params, *bound_params)
        )
        for j in range(0, len(rows), chunk):
            yield [tuple(r) for r in rows[j : j + chunk]]


def _marks(keys: tuple[str, ...]) -> str:
    return f"({', '.join('?' * len(keys))})" if len(keys) > 1 else "?"


def stream_table(
    ch: ClickHouse,
    what: str,
    flt: ExportFilter,
    *,
    table: str | None = None,
    chunk: int = CHUNK_ROWS,
    page_rows: int = PAGE_ROWS,
) -> RowStream:
    """The rows of one exportable table matching a filter, in stable order, as chunks (`page_rows` per query)."""
    spec = _spec(what, table)
    where, params = _where(spec, flt)
    order = spec.site_order if flt.site and spec.site_order else spec.order
    if what == "funnels":
        order = _FUNNEL_ORDER
    keys = tuple(k.strip() for k in order.split(","))
    cols = ", ".join(spec.columns)
    select = f"(SELECT {cols} FROM {_SOURCES[what]}{where})"
    return RowStream(list(spec.columns), _types(ch, spec), _chunks(ch, select, list(params), keys, chunk, page_rows))
