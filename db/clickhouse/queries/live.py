"""Live view questions on ClickHouse: active sessions, the latest events, one session in detail.

Event ids are time-ordered there (db/clickhouse/writer.py), so "after id N" and "newest first" mean what they
mean on SQLite."""

from __future__ import annotations

from collections.abc import Iterable

from db.clickhouse.client import ClickHouse
from db.queries.live import (
    _ACTIVE_COLUMNS,
    EVENT_DIMS,
    LIVE_WINDOW_S,
    SESSION_DIMS,
    ActiveSession,
    FingerprintSession,
    SessionDetail,
    TailEvent,
    TimelineEvent,
    _active,
    _where,
    parse_signals,
)


def active_sessions(
    ch: ClickHouse,
    now: float,
    *,
    site: str | None = None,
    dims: Iterable[tuple[str, str]] = (),
    bots: bool | None = None,
    limit: int = 200,
    window_s: float = LIVE_WINDOW_S,
) -> list[ActiveSession]:
    """Sessions seen in the last `window_s` before `now`, most recently active first (at most `limit`)."""
    where, params = _where(site, dims, SESSION_DIMS, bots, "is_bot", now - window_s)
    rows = ch.rows(
        f"SELECT {_ACTIVE_COLUMNS} FROM sessions FINAL WHERE last_seen > ? AND last_seen <= ?{where} "
        "ORDER BY last_seen DESC, id DESC LIMIT ?",
        (now - window_s, now + 1, *params, limit),
    )
    return [_active(r) for r in rows]


def earliest_ts(after_id: int) -> float:
    """A time no event with an id above `after_id` is older than (ids start with their event's milliseconds,
    db/clickhouse/writer.py `event_id`; a second to spare), so the tail reads only the newest part of the table."""
    return (after_id >> 20) / 1000.0 - 1.0


def latest_events(
    ch: ClickHouse,
    after_id: int = 0,
    *,
    site: str | None = None,
    dims: Iterable[tuple[str, str]] = (),
    bots: bool | None = None,
    limit: int = 100,
) -> list[TailEvent]:
    """Events stored after `after_id`, the newest `limit` of them, oldest first (the tail appends them)."""
    where, params = _where(site, dims, EVENT_DIMS, bots, "is_bot")
    if after_id > 0:
        where, params = f" AND ts >= ?{where}", [earliest_ts(after_id), *params]
    rows = ch.rows(
        "SELECT id, ts, site, type, path, name, country, browser, is_bot, session_id, status FROM events "
        f"WHERE id > ?{where} ORDER BY id DESC LIMIT ?",
        (after_id, *params, limit),
    )
    return [
        TailEvent(
            id=int(r[0]), ts=float(r[1]), site=str(r[2]), type=str(r[3]), path=str(r[4]), name=str(r[5]),
            country=str(r[6]), browser=str(r[7]), is_bot=bool(r[8]), session_id=int(r[9]), status=int(r[10]),
        )
        for r in reversed(rows)
    ]


def events_since(ch: ClickHouse, since: float) -> int:
    """How many events were stored with a timestamp after `since` (the status bar's events/s)."""
    return int(ch.value("SELECT count() FROM events WHERE ts > ?", (since,)))


def session_timeline(ch: ClickHouse, session_id: int, limit: int = 500) -> list[TimelineEvent]:
    """The events of one session, oldest first (the first `limit`)."""
    rows = ch.rows(
        "SELECT ts, type, path, name, props, engaged_ms, scroll, status FROM events WHERE session_id = ? "
        "ORDER BY ts, id LIMIT ?",
        (session_id, limit),
    )
    return [
        TimelineEvent(
            ts=float(r[0]), type=str(r[1]), path=str(r[2]), name=str(r[3]), props=str(r[4]),
            engaged_ms=int(r[5]), scroll=int(r[6]), status=int(r[7]),
        )
        for r in rows
    ]


def session_detail(ch: ClickHouse, session_id: int) -> SessionDetail | None:
    """One session with its User-Agent, bot-score signals and reasons; None when it does not exist."""
    row = ch.one(
        f"SELECT {_ACTIVE_COLUMNS}, ua, entry_path, referrer, ref_source, city, screen, engaged_ms, max_scroll, "
        "bot_reasons, bot_signals, browser_version, os_version FROM sessions FINAL WHERE id = ?",
        (session_id,),
    )
    if row is None:
        return None
    reasons = tuple(r.strip() for r in str(row[25]).split(",") if r.strip())
    return SessionDetail(
        session=_active(row[:17]), ua=str(row[17]), entry_path=str(row[18]), referrer=str(row[19]),
        ref_source=str(row[20]), city=str(row[21]), screen=str(row[22]), engaged_ms=int(row[23]),
        max_scroll=int(row[24]), bot_reasons=reasons, signals=parse_signals(str(row[26])),
        browser_version=str(row[27]), os_version=str(row[28]),
    )


def fingerprint_history(ch: ClickHouse, fingerprint: str, limit: int = 50) -> list[FingerprintSession]:
    """The latest sessions of one fingerprint, newest first (ties: the later id first)."""
    if not fingerprint:
        return []
    rows = ch.rows(
        "SELECT id, site, started, last_seen, pageviews, bot_score, throttle_level FROM sessions FINAL "
        "WHERE fingerprint = ? ORDER BY started DESC, id DESC LIMIT ?",
        (fingerprint, limit),
    )
    return [
        FingerprintSession(
            id=int(r[0]), site=str(r[1]), started=float(r[2]), last_seen=float(r[3]), pageviews=int(r[4]),
            bot_score=int(r[5]), throttle_level=str(r[6]),
        )
        for r in rows
    ]
