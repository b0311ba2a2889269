"""Throttle overrides and fingerprint reputation on ClickHouse.

Overrides are rows of a ReplacingMergeTree: setting or clearing one inserts a whole new version of the row (its
version a nanosecond time), read back with FINAL. A fingerprint's reputation is the aggregate of its
`fingerprint_news` rows, folded exactly as SQLite's upsert folds them (db/batch.py UPSERT_FINGERPRINT: the newest
User-Agent even when empty, the newest non-empty bot name and non-empty flags); a row the writer adds for a level
change alone (UPDATE_LEVEL_FINGERPRINT: no counts, no User-Agent) only sets the level, and makes no reputation of
its own for a fingerprint never seen. The materialized view of migration 0007 folds each insert's news rows into
`fingerprint_reputation`; the reads here finish the fold over its rows (db/clickhouse/rank.py)."""

from __future__ import annotations

import time

from db.clickhouse.client import ClickHouse
from db.clickhouse.ids import new_id
from db.clickhouse.rank import REPUTATION_SQL
from db.queries.throttle import (
    FingerprintRow,
    OverrideError,
    OverrideRow,
    _fingerprint,
    _override,
    checked_override,
    normalise_target,
)

_OVERRIDE_COLUMNS = "id, kind, target, level, reason, created, expires, cleared"
_INSERT_COLUMNS = ("id", "kind", "target", "level", "reason", "created", "expires", "cleared", "version")
SEEN_SINCE = " WHERE fingerprint IN (SELECT fingerprint FROM fingerprint_news WHERE seen >= ?)"
"""`{where}` for fingerprints with news since a time: no other can have been seen since then."""
_FP_COLUMNS = "fingerprint, first_seen, last_seen, sessions, requests, max_score, flags, level, ua, bot_name"


def _versions(rows: list[tuple[object, ...]], cleared: float) -> list[tuple[object, ...]]:
    """New versions of override rows (as selected by `_OVERRIDE_COLUMNS`) marked cleared at `cleared`."""
    version = time.time_ns()
    return [(*r[:7], cleared, version) for r in rows]


def set_override(
    ch: ClickHouse,
    kind: str,
    target: str,
    level: str,
    reason: str,
    expires: float | None,
    *,
    now: float | None = None,
) -> int:
    """Store an override (replacing an active one on the same target) and return its id."""
    now = time.time() if now is None else now
    target, level, reason = checked_override(kind, target, level, reason, expires, now)
    active = ch.rows(
        f"SELECT {_OVERRIDE_COLUMNS} FROM throttle_overrides FINAL WHERE kind = ? AND target = ? AND cleared IS NULL",
        (kind, target),
    )
    ch.insert("throttle_overrides", _versions(active, now), _INSERT_COLUMNS)
    override_id = new_id()  # in the order they were stored, as SQLite's INTEGER PRIMARY KEY
    ch.insert(
        "throttle_overrides",
        [(override_id, kind, target, level, reason, now, expires, None, time.time_ns())],
        _INSERT_COLUMNS,
    )
    return override_id


def clear_override(ch: ClickHouse, id_or_target: int | str, *, now: float | None = None) -> int:
    """Clear active overrides by id (an int) or target (any str, digits too); returns how many."""
    now = time.time() if now is None else now
    value: int | str
    if isinstance(id_or_target, int):
        condition, value = "id = ?", int(id_or_target)
    else:
        target = id_or_target.strip()
        # The same spelling the override was stored under (e.g. an IPv6 address typed in long form).
        for kind in ("ip", "cidr"):
            try:
                target = normalise_target(kind, target)
                break
            except OverrideError:
                continue
        condition, value = "target = ?", target
    active = ch.rows(
        f"SELECT {_OVERRIDE_COLUMNS} FROM throttle_overrides FINAL WHERE {condition} AND cleared IS NULL",
        (value,),
    )
    ch.insert("throttle_overrides", _versions(active, now), _INSERT_COLUMNS)
    return len(active)


def active_overrides(ch: ClickHouse, now: float | None = None) -> list[OverrideRow]:
    """Overrides neither cleared nor expired at `now`, oldest first (later ones win on the same target)."""
    now = time.time() if now is None else now
    rows = ch.rows(
        f"SELECT {_OVERRIDE_COLUMNS} FROM throttle_overrides FINAL "
        "WHERE cleared IS NULL AND (expires IS NULL OR expires > ?) ORDER BY id",
        (now,),
    )
    return [_override(r) for r in rows]


def recent_overrides(ch: ClickHouse, limit: int = 100) -> list[OverrideRow]:
    """The latest overrides whatever their state, newest first (history for the TUI and `list --all`)."""
    rows = ch.rows(f"SELECT {_OVERRIDE_COLUMNS} FROM throttle_overrides FINAL ORDER BY id DESC LIMIT ?", (limit,))
    return [_override(r) for r in rows]


def get_fingerprint(ch: ClickHouse, fingerprint: str) -> FingerprintRow | None:
    """The reputation of one fingerprint, folded from its news rows."""
    row = ch.one(f"SELECT {_FP_COLUMNS} FROM ({REPUTATION_SQL.format(where=' WHERE fingerprint = ?')})", (fingerprint,))
    return None if row is None else _fingerprint(row)


def top_fingerprints(
    ch: ClickHouse, *, since: float = 0.0, min_score: int = 0, limit: int = 50
) -> list[FingerprintRow]:
    """Fingerprints seen since `since`, worst first (highest max score, then most requests, then by name)."""
    rows = ch.rows(
        f"SELECT {_FP_COLUMNS} FROM ({REPUTATION_SQL.format(where=SEEN_SINCE)}) "
        "WHERE last_seen >= ? AND max_score >= ? ORDER BY max_score DESC, requests DESC, fingerprint LIMIT ?",
        (since, since, min_score, limit),
    )
    return [_fingerprint(r) for r in rows]


def drops_since(ch: ClickHouse, since: float) -> list[tuple[str, str, int]]:
    """Throttle refusals since `since` per (level, reason), most first."""
    rows = ch.rows(
        "SELECT level, reason, sum(count) AS n FROM throttle_drops WHERE bucket >= ? "
        "GROUP BY level, reason ORDER BY n DESC, level, reason",
        (int(since // 60 * 60),),
    )
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
