"""Rows copied in from another store (`sitelens migrate`): each table's rows in its ClickHouse shape."""

from __future__ import annotations

import time
from collections.abc import Callable

from db.clickhouse import funnel_steps, rank, rollups
from db.clickhouse.client import ClickHouse
from db.records import COPY_TABLES, EVENT_COLUMNS, SESSION_COLUMNS

Row = tuple[object, ...]
EXPLICIT = 1 << 62
"""Version of a copied control row: above every 'set if absent' candidate (see the schema's comments)."""


def _hex(salt: object) -> str:
    """A SQLite salt (bytes) as ClickHouse keeps it (hex text)."""
    return bytes(salt).hex() if isinstance(salt, (bytes, bytearray, memoryview)) else str(salt)


def _versioned(rows: list[Row], version: int, extra: tuple[object, ...] = ()) -> list[Row]:
    return [(*row, *extra, version) for row in rows]


def _fingerprints(rows: list[Row], _version: int) -> list[Row]:
    """A reputation row becomes two news rows: its first sighting, and everything else at its last."""
    out: list[Row] = []
    for fp, first, last, sessions, requests, max_score, flags, level, ua, bot_name in rows:
        out.append((fp, first, 0, 0, 0, level, ua, bot_name, "[]"))
        out.append((fp, last, sessions, requests, max_score, level, ua, bot_name, flags))
    return out


_SHAPES: dict[str, tuple[str, tuple[str, ...], Callable[[list[Row], int], list[Row]]]] = {
    "salts": ("salts", ("day", "salt", "version"), lambda rows, v: [(d, _hex(s), EXPLICIT) for d, s in rows]),
    "settings": ("settings", ("key", "value", "version"), lambda rows, v: _versioned(rows, EXPLICIT + v)),
    "throttle_overrides": (
        "throttle_overrides", (*COPY_TABLES["throttle_overrides"], "version"), lambda rows, v: _versioned(rows, v)
    ),
    "throttle_drops": ("throttle_drops", COPY_TABLES["throttle_drops"], lambda rows, v: rows),
    "funnels": ("funnels", (*COPY_TABLES["funnels"], "deleted", "version"), lambda rows, v: _versioned(rows, v, (0,))),
    "anomaly_rules": (
        "anomaly_rules", (*COPY_TABLES["anomaly_rules"], "deleted", "version"),
        lambda rows, v: _versioned(rows, v, (0,)),
    ),
    "anomalies": ("anomalies", (*COPY_TABLES["anomalies"], "version"), lambda rows, v: _versioned(rows, v)),
    "ingest_tokens": ("ingest_tokens", (*COPY_TABLES["ingest_tokens"], "version"), lambda rows, v: _versioned(rows, v)),
    "import_files": ("import_files", (*COPY_TABLES["import_files"], "version"), lambda rows, v: _versioned(rows, v)),
    "fingerprints": (
        "fingerprint_news",
        ("fingerprint", "seen", "new_sessions", "requests", "score", "level", "ua", "bot_name", "flags"),
        _fingerprints,
    ),
    "sessions": ("sessions", (*SESSION_COLUMNS, "version"), lambda rows, v: _versioned(rows, v)),
    "events": ("events", ("id", *EVENT_COLUMNS), lambda rows, v: rows),
}  # fmt: skip


def copy_in(ch: ClickHouse, table: str, rows: list[Row], token: str) -> None:
    """Insert copied rows of one table with a deduplication token."""
    target, columns, shape = _SHAPES[table]
    if table in ("events", "sessions"):  # rolled up before they are stored (db/clickhouse/rollups.py)
        rollups.roll_up_batch(ch, rows if table == "events" else [], rows if table == "sessions" else [], token)
    ch.insert(target, shape(rows, time.time_ns()), columns, token=token)
    if table == "events":
        funnel_steps.insert(ch, rows, token)
    if target == "fingerprint_news":
        rank.rank(ch, (str(r[0]) for r in rows))


_COUNTS = {
    "events": "SELECT count() FROM events",
    "sessions": "SELECT count() FROM sessions FINAL",
    "fingerprints": "SELECT uniqExact(fingerprint) FROM fingerprint_news",
    "throttle_drops": "SELECT count() FROM throttle_drops FINAL",
    "settings": "SELECT count() FROM settings FINAL WHERE NOT startsWith(key, 'migrate:')",
    "funnels": "SELECT count() FROM funnels FINAL WHERE NOT deleted",
    "anomaly_rules": "SELECT count() FROM anomaly_rules FINAL WHERE NOT deleted",
}


def count_table(ch: ClickHouse, table: str) -> int:
    """Rows of a copied table as ClickHouse holds them (newest versions, live rows)."""
    return int(ch.value(_COUNTS.get(table, f"SELECT count() FROM {_SHAPES[table][0]} FINAL")) or 0)
