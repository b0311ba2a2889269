"""Rollups kept current by the writer: each flush adds what it wrote to hourly and daily aggregate tables.

Events are rolled up from the last rolled-up id (`rollup_state`), sessions from `rollup_pending_sessions`
(filled by triggers with each session's state before it changed), so every row is counted exactly once,
whichever process wrote it. The definitions here are the ones the raw queries in db/queries use too.

Tables (db/migrations/0002_rollups.sql): `rollup_traffic` (hourly totals), `rollup_pages` and `rollup_events`
(hourly and daily, per path / custom event name), `rollup_dims` (daily, per session attribute),
`rollup_props` (daily, per custom event props object), `rollup_latency` (daily API latency histograms),
`rollup_auth` (daily failed logins per source) and `rollup_external` (daily external API calls and cost).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from db.writer import Batch, FlushHook

HOUR = 3600
DAY = 86400
GRAINS = (HOUR, DAY)
"""Grains of the per-path and per-event-name rollups."""
DIMS_GRAIN = DAY
"""The only grain of `rollup_dims` (and of the props and latency rollups)."""
PAGE_TYPES = ("pageview", "request")
"""Event types counted as pageviews (tracker pageviews and imported access-log hits)."""
SESSION_DIMS = (
    "entry_path",
    "exit_path",
    "referrer",
    "ref_source",
    "ref_medium",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "country",
    "browser",
    "os",
    "device",
    "screen",
    "bot_name",
)
"""Session attributes rolled up into `rollup_dims` (same order as the columns of `rollup_pending_sessions`)."""
ERROR_STATUS = 500
"""API responses with this status or above count as errors."""
LATENCY_STEPS = 16
"""Latency histogram buckets per doubling of (1 + ms): a bucket's midpoint is within 2.2 % of any value in it."""
MAX_LATENCY_BUCKET = 32 * LATENCY_STEPS
"""Anything slower than about 4 * 10^9 ms shares the last bucket."""
MAX_EVENTS_PER_FLUSH = 50_000
"""Catching up on a backlog (an old database, a writer without hooks) is spread over several flushes."""
MAX_SESSIONS_PER_FLUSH = 20_000
REBUILD_EVENTS_CHUNK = 200_000
_CHUNK = 900
DURATION_MS_SQL = "max(0, CAST(({a}last_seen - {a}started) * 1000 + 0.5 AS INTEGER))"
"""`duration_of` in SQL (format with the table alias), so raw sums equal rolled-up ones exactly."""
BOUNCE_SQL = "({a}pageviews + {a}requests <= 1 AND {a}events = 0)"
"""`is_bounce` in SQL."""

_SESSION_FIELDS = (
    "site",
    "started",
    "last_seen",
    "is_bot",
    "new_visitor",
    "pageviews",
    "requests",
    "events",
    *SESSION_DIMS,
)
_EVENT_COLUMNS = (
    "id, ts, site, type, session_id, path, name, is_bot, engaged_ms, scroll, props, method, status, latency_ms, "
    "success, ip, fingerprint, country, cost_usd"
)

Deltas = dict[tuple[Any, ...], list[int]]


def rollup_hooks() -> list[FlushHook]:
    """The flush hooks that keep every rollup table current, in the order they must run."""
    return [_events_hook, _sessions_hook]


def _events_hook(conn: sqlite3.Connection, batch: Batch) -> None:
    roll_up_events(conn, batch)


def _sessions_hook(conn: sqlite3.Connection, batch: Batch) -> None:
    roll_up_sessions(conn, batch)


def bucket(ts: float, grain: int) -> int:
    """Start of the UTC hour or day containing `ts` (whole seconds first, exactly like `bucket_sql`)."""
    return int(ts) // grain * grain


def bucket_sql(column: str, grain: int) -> str:
    """`bucket` in SQL: integer arithmetic only, so SQL and Python never disagree at a boundary."""
    return f"(CAST({column} AS INTEGER) / {int(grain)} * {int(grain)})"


def is_bounce(pageviews: int, requests: int, events: int) -> bool:
    """A session with at most one page hit and no custom event."""
    return pageviews + requests <= 1 and events == 0


def latency_bucket(ms: float) -> int:
    """Histogram bucket of a latency: LATENCY_STEPS buckets per doubling of 1 + ms (bad values go to 0)."""
    if not ms > 0.0:  # also NaN
        return 0
    if ms >= 2.0**32:
        return MAX_LATENCY_BUCKET
    return min(int(math.log2(1.0 + ms) * LATENCY_STEPS), MAX_LATENCY_BUCKET)


def login_source(ip: str, fingerprint: str, country: str) -> str:
    """Who a failed login is counted against: the IP when stored, else the fingerprint, else the country."""
    return ip or fingerprint or country or "unknown"


LOGIN_SOURCE_SQL = (
    "CASE WHEN ip != '' THEN ip WHEN fingerprint != '' THEN fingerprint WHEN country != '' THEN country "
    "ELSE 'unknown' END"
)
"""`login_source` in SQL."""


def nano_usd(cost: float) -> int:
    """A cost in billionths of a dollar (non-finite or absurd values count as 0)."""
    if not -1e9 < cost < 1e9:  # also NaN
        return 0
    return round(cost * 1e9)


def latency_of_bucket(b: int) -> float:
    """The value a histogram bucket stands for: its geometric midpoint (in 1 + ms), in ms."""
    return 2.0 ** ((b + 0.5) / LATENCY_STEPS) - 1.0


def _add(deltas: Deltas, key: tuple[Any, ...], values: Sequence[int], sign: int = 1) -> None:
    current = deltas.get(key)
    if current is None:
        deltas[key] = [sign * v for v in values]
    else:
        for i, v in enumerate(values):
            current[i] += sign * v


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


# ---------------------------------------------------------------------------------------------------- events


class _EventDeltas:
    """What a run of events adds to each event rollup table."""

    __slots__ = ("traffic", "pages", "custom", "props", "latency", "auth", "external")

    def __init__(self) -> None:
        self.traffic: Deltas = {}
        self.pages: Deltas = {}
        self.custom: Deltas = {}
        self.props: Deltas = {}
        self.latency: Deltas = {}
        self.auth: Deltas = {}
        self.external: Deltas = {}


def roll_up_events(conn: sqlite3.Connection, batch: Batch | None = None, *, limit: int = MAX_EVENTS_PER_FLUSH) -> int:
    """Flush hook: roll up events written since the last run (traffic, pages, custom events, props, API
    latency); returns how many events it rolled up."""
    start = int(conn.execute("SELECT value FROM rollup_state WHERE name = 'events'").fetchone()[0])
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: a rebuild reads every stored event
    rows = cur.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?", (start, limit)
    ).fetchall()
    if not rows:
        return 0
    seen = _keys_seen_before(conn, {r[4] for r in rows if r[4] and (r[3] in PAGE_TYPES or r[3] == "event")}, start)
    deltas = _EventDeltas()
    _accumulate_events(rows, seen, deltas)
    update_traffic_events(conn, deltas.traffic)
    update_pages(conn, deltas.pages)
    update_custom_events(conn, deltas.custom)
    update_props(conn, deltas.props)
    update_latency(conn, deltas.latency)
    update_auth(conn, deltas.auth)
    update_external(conn, deltas.external)
    conn.execute("UPDATE rollup_state SET value = ? WHERE name = 'events'", (rows[-1][0],))
    return len(rows)


def _accumulate_events(rows: Iterable[Sequence[Any]], seen: set[tuple[Any, ...]], out: _EventDeltas) -> None:
    """Add events (in id order) to the deltas; `seen` holds (session, is_event, path or name) already visited.

    Written out by hand rather than through `_add`: a rebuild runs this once per stored event."""
    traffic, pages, custom, props_d, latency = out.traffic, out.pages, out.custom, out.props, out.latency
    for row in rows:
        ts, site, type_, session_id, path, name, is_bot = row[1:8]
        its = int(ts)
        hour = its // HOUR * HOUR
        day = its // DAY * DAY
        is_page = type_ == "pageview" or type_ == "request"
        is_event = type_ == "event"
        key: tuple[Any, ...] = (site, hour, is_bot)
        cur = traffic.get(key)
        if cur is None:
            traffic[key] = [1, 1 if is_page else 0, 1 if is_event else 0]
        else:
            cur[0] += 1
            if is_page:
                cur[1] += 1
            elif is_event:
                cur[2] += 1
        if is_page or is_event:
            visit = 1
            if session_id:
                seen_key = (session_id, is_event, name if is_event else path)
                if seen_key in seen:
                    visit = 0
                else:
                    seen.add(seen_key)
            if is_page:
                for key in ((HOUR, site, hour, is_bot, path), (DAY, site, day, is_bot, path)):
                    cur = pages.get(key)
                    if cur is None:
                        pages[key] = [1, visit, 0, 0, 0]
                    else:
                        cur[0] += 1
                        cur[1] += visit
            else:
                for key in ((HOUR, site, hour, is_bot, name), (DAY, site, day, is_bot, name)):
                    cur = custom.get(key)
                    if cur is None:
                        custom[key] = [1, visit]
                    else:
                        cur[0] += 1
                        cur[1] += visit
                props = row[10]
                if props:
                    key = (site, name, day, is_bot, props)
                    cur = props_d.get(key)
                    if cur is None:
                        props_d[key] = [1]
                    else:
                        cur[0] += 1
        elif type_ == "engagement":
            scroll, engaged_ms = row[9], row[8]
            for key in ((HOUR, site, hour, is_bot, path), (DAY, site, day, is_bot, path)):
                cur = pages.get(key)
                if cur is None:
                    pages[key] = [0, 0, 1, scroll, engaged_ms]
                else:
                    cur[2] += 1
                    cur[3] += scroll
                    cur[4] += engaged_ms
        elif type_ == "api_request":
            error = 1 if row[12] >= ERROR_STATUS else 0
            key = (site, day, row[11], path, latency_bucket(row[13]))
            cur = latency.get(key)
            if cur is None:
                latency[key] = [1, error]
            else:
                cur[0] += 1
                cur[1] += error
        elif type_ == "auth":
            if not row[14]:
                key = (site, day, login_source(row[15], row[16], row[17]))
                cur = out.auth.get(key)
                if cur is None:
                    out.auth[key] = [1]
                else:
                    cur[0] += 1
        elif type_ == "external_call":
            key = (site, day, name, latency_bucket(row[13]))
            cost = nano_usd(row[18])
            cur = out.external.get(key)
            if cur is None:
                out.external[key] = [1, cost]
            else:
                cur[0] += 1
                cur[1] += cost


def _keys_seen_before(conn: sqlite3.Connection, session_ids: set[int], before_id: int) -> set[tuple[Any, ...]]:
    """(session, is_event, path or name) seen in events up to `before_id`: later ones are not visits."""
    seen: set[tuple[Any, ...]] = set()
    ids = sorted(session_ids)
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for sid, is_event, key in conn.execute(
            f"SELECT DISTINCT session_id, type = 'event', CASE WHEN type = 'event' THEN name ELSE path END "
            f"FROM events WHERE session_id IN ({marks}) AND id <= ? "
            "AND type IN ('pageview', 'request', 'event')",
            (*chunk, before_id),
        ):
            seen.add((sid, bool(is_event), key))
    return seen


def update_traffic_events(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_traffic: hits, pageviews and custom events per site, hour and bot flag."""
    conn.executemany(
        "INSERT INTO rollup_traffic (site, hour, is_bot, hits, pageviews, events) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site, hour, is_bot) DO UPDATE SET hits = hits + excluded.hits, "
        "pageviews = pageviews + excluded.pageviews, events = events + excluded.events",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_pages(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_pages: views, visits and engagement per path."""
    conn.executemany(
        "INSERT INTO rollup_pages (grain, site, bucket, is_bot, path, pageviews, visits, engagements, "
        "scroll_sum, engaged_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (grain, site, bucket, is_bot, path) DO UPDATE SET "
        "pageviews = pageviews + excluded.pageviews, "
        "visits = visits + excluded.visits, engagements = engagements + excluded.engagements, "
        "scroll_sum = scroll_sum + excluded.scroll_sum, engaged_ms = engaged_ms + excluded.engaged_ms",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_custom_events(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_events: custom event counts and visits per name."""
    conn.executemany(
        "INSERT INTO rollup_events (grain, site, bucket, is_bot, name, count, visits) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (grain, site, bucket, is_bot, name) DO UPDATE SET count = count + excluded.count, "
        "visits = visits + excluded.visits",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_props(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_props: how often each props object was sent with a custom event name, per day."""
    conn.executemany(
        "INSERT INTO rollup_props (site, name, day, is_bot, props, count) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site, name, day, is_bot, props) DO UPDATE SET count = count + excluded.count",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_latency(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_latency: API requests and 5xx answers per endpoint, day and latency bucket."""
    conn.executemany(
        "INSERT INTO rollup_latency (site, day, method, path, ms_bucket, count, errors) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, day, method, path, ms_bucket) DO UPDATE SET "
        "count = count + excluded.count, errors = errors + excluded.errors",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_auth(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_auth: failed logins per site, day and source."""
    conn.executemany(
        "INSERT INTO rollup_auth (site, day, source, failures) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (site, day, source) DO UPDATE SET failures = failures + excluded.failures",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_external(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_external: external API calls and their cost per site, day, service and latency bucket."""
    conn.executemany(
        "INSERT INTO rollup_external (site, day, service, ms_bucket, calls, cost_nusd) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site, day, service, ms_bucket) DO UPDATE SET calls = calls + excluded.calls, "
        "cost_nusd = cost_nusd + excluded.cost_nusd",
        [(*k, *v) for k, v in deltas.items()],
    )


# -------------------------------------------------------------------------------------------------- sessions


def roll_up_sessions(conn: sqlite3.Connection, batch: Batch | None = None) -> int:
    """Flush hook: replace changed sessions' old contributions by their new ones; how many sessions."""
    cols = ", ".join(f"p.{c}" for c in _SESSION_FIELDS)
    new_cols = ", ".join(f"s.{c}" for c in _SESSION_FIELDS)
    rows = conn.execute(
        f"SELECT p.id, {cols}, {new_cols} FROM rollup_pending_sessions p LEFT JOIN sessions s ON s.id = p.id "
        "ORDER BY p.id LIMIT ?",
        (MAX_SESSIONS_PER_FLUSH,),
    ).fetchall()
    if not rows:
        return 0
    n = len(_SESSION_FIELDS)
    traffic: Deltas = {}
    dims: Deltas = {}
    for row in rows:
        old, new = tuple(row[1 : 1 + n]), tuple(row[1 + n :])
        if new[0] is None:  # deleted by retention meanwhile: its rolled-up contribution stays
            continue
        if old[0] is not None:
            _session_contribution(old, traffic, dims, -1)
        _session_contribution(new, traffic, dims, 1)
    update_traffic_sessions(conn, traffic)
    update_dims(conn, dims)
    if len(rows) < MAX_SESSIONS_PER_FLUSH:
        conn.execute("DELETE FROM rollup_pending_sessions")
    else:
        conn.execute("DELETE FROM rollup_pending_sessions WHERE id <= ?", (rows[-1][0],))
    return len(rows)


def _session_contribution(values: tuple[Any, ...], traffic: Deltas, dims: Deltas, sign: int) -> None:
    """Add (sign=1) or remove (sign=-1) what one session snapshot contributes to the rollups."""
    site, started, last_seen, is_bot, new_visitor, pageviews, requests, events = values[:8]
    bounce = 1 if is_bounce(pageviews, requests, events) else 0
    duration_ms = duration_of(started, last_seen)
    _add(traffic, (site, bucket(started, HOUR), is_bot), (1, new_visitor, bounce, duration_ms), sign)
    hits, visitors = sign * (pageviews + requests), sign * new_visitor
    events *= sign
    day = bucket(started, DIMS_GRAIN)
    # Inlined `_add`: every flush runs this for each changed session and dimension, twice.
    for dim, value in zip(SESSION_DIMS, values[8:], strict=True):
        key = (DIMS_GRAIN, site, dim, day, is_bot, value)
        cur = dims.get(key)
        if cur is None:
            dims[key] = [sign, visitors, hits, events]
        else:
            cur[0] += sign
            cur[1] += visitors
            cur[2] += hits
            cur[3] += events


def duration_of(started: float, last_seen: float) -> int:
    """A session's length in whole milliseconds (integers add up exactly in any order)."""
    return max(0, int((last_seen - started) * 1000 + 0.5))


def update_traffic_sessions(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_traffic: sessions, visitors, bounces and duration per site, start hour and bot flag."""
    conn.executemany(
        "INSERT INTO rollup_traffic (site, hour, is_bot, sessions, visitors, bounces, duration_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, hour, is_bot) DO UPDATE SET "
        "sessions = sessions + excluded.sessions, visitors = visitors + excluded.visitors, "
        "bounces = bounces + excluded.bounces, duration_ms = duration_ms + excluded.duration_ms",
        [(*k, *v) for k, v in deltas.items() if any(v)],
    )


def update_dims(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_dims: sessions, visitors, page hits and custom events per session attribute value; emptied
    rows are removed."""
    changed = [(*k, *v) for k, v in deltas.items() if any(v)]
    conn.executemany(
        "INSERT INTO rollup_dims (grain, site, dim, bucket, is_bot, value, sessions, visitors, hits, events) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (grain, site, dim, bucket, is_bot, value) DO UPDATE SET "
        "sessions = sessions + excluded.sessions, visitors = visitors + excluded.visitors, "
        "hits = hits + excluded.hits, events = events + excluded.events",
        changed,
    )
    emptied = [row[:6] for row in changed if row[6] < 0]
    if emptied:
        conn.executemany(
            "DELETE FROM rollup_dims WHERE grain = ? AND site = ? AND dim = ? AND bucket = ? AND is_bot = ? "
            "AND value = ? AND sessions = 0 AND visitors = 0 AND hits = 0 AND events = 0",
            emptied,
        )


def _rebuild_sessions(conn: sqlite3.Connection) -> None:
    """Every session's contribution, in one pass over the sessions table (one GROUP BY per dimension would
    sort the whole table fourteen times)."""
    traffic: Deltas = {}
    dims: Deltas = {}
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(f"SELECT {', '.join(_SESSION_FIELDS)} FROM sessions")
    while rows := cur.fetchmany(10_000):
        for row in rows:
            _session_contribution(row, traffic, dims, 1)
    update_traffic_sessions(conn, traffic)
    update_dims(conn, dims)


# ---------------------------------------------------------------------------------------------- maintenance

ROLLUP_TABLES: tuple[str, ...] = (
    "rollup_traffic",
    "rollup_pages",
    "rollup_events",
    "rollup_dims",
    "rollup_props",
    "rollup_latency",
    "rollup_auth",
    "rollup_external",
)


def rebuild(conn: sqlite3.Connection) -> None:
    """Recompute every rollup from the raw rows (after a bulk load without hooks, or to repair).

    Rollups of raw rows already deleted by retention are lost, like everything else not in the raw rows."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in (*ROLLUP_TABLES, "rollup_pending_sessions"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("UPDATE rollup_state SET value = 0 WHERE name = 'events'")
        while roll_up_events(conn, limit=REBUILD_EVENTS_CHUNK):
            pass
        _rebuild_sessions(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def catch_up(conn: sqlite3.Connection) -> None:
    """Roll up whatever is pending now, in one transaction (tests, CLI commands that wrote without hooks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        while roll_up_events(conn):
            pass
        while roll_up_sessions(conn):
            pass
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
