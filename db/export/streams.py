"""Row streams for exports: one parameterised query per table, read with fetchmany (flat memory)."""

from __future__ import annotations

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
    types: tuple[str, ...] | None = None
    """Value types when the source is a subquery (else read from the table's declared types)."""
    time_floor: int = 0
    """Round span starts down to this grain (a day bucket overlapping the span counts)."""


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
            (
                "id",
                "kind",
                "rule",
                "metric",
                "site",
                "level",
                "observed",
                "expected",
                "started",
                "ended",
                "details",
            ),
            "started",
            "started, id",
        ),
        "funnels": TableSpec(
            "funnels", ("id", "name", "site", "steps", "window_s", "created", "updated"), "created", "id"
        ),
    }


ROLLUP_DAY = 86400
_DAILY_TRAFFIC = (
    "(SELECT site, CAST(hour / 86400 AS INTEGER) * 86400 AS day, is_bot, sum(hits) AS hits, "
    "sum(pageviews) AS pageviews, sum(events) AS events, sum(sessions) AS sessions, "
    "sum(visitors) AS visitors, sum(bounces) AS bounces, sum(duration_ms) AS duration_ms "
    "FROM rollup_traffic GROUP BY site, day, is_bot)"
)
ROLLUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "traffic": (
        _DAILY_TRAFFIC,
        (
            "day",
            "site",
            "is_bot",
            "hits",
            "pageviews",
            "events",
            "sessions",
            "visitors",
            "bounces",
            "duration_ms",
        ),
    ),
    "pages": (
        "rollup_pages",
        ("day", "site", "is_bot", "path", "pageviews", "visits", "engagements", "scroll_sum", "engaged_ms"),
    ),
    "events": ("rollup_events", ("day", "site", "is_bot", "name", "count", "visits")),
    "dims": ("rollup_dims", ("day", "site", "is_bot", "dim", "value", "sessions", "visitors", "hits")),
}
"""Daily rollups by name: traffic (summed from hourly rows), pages, custom events and session dimensions."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source(spec: TableSpec) -> str:
    """The FROM clause: a quoted table name, or a rollup's subquery."""
    return spec.table if spec.table.startswith("(") else _quote(spec.table)


def _type_name(declared: str) -> str:
    if "INT" in declared:
        return "int"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "float"
    return "str"


# --- scheduled export: events by id range, split into (site, hour) partitions ---

EVENT_EXPORT_COLUMNS: tuple[str, ...] = ("id", *EVENT_COLUMNS)


def event_types() -> list[str]:
    """Value types of the exported event columns."""
    floats = {"ts", "latency_ms", "cost_usd"}
    ints = {"id", "session_id", "engaged_ms", "scroll", "is_bot", "status", "bytes", "success"}
    return ["float" if c in floats else "int" if c in ints else "str" for c in EVENT_EXPORT_COLUMNS]
