"""Rollups kept current by the writer: each flush adds what it wrote to hourly and daily aggregate tables.

Events are rolled up from the last rolled-up id (`rollup_state`), sessions from `rollup_pending_sessions`
(filled by triggers with each session's state before it changed), so every row is counted exactly once,
whichever process wrote it. The definitions here are the ones the raw queries in db/queries use too.
A flush whose rows are all that is pending is rolled up from the rows it holds, not read back, and the
visit keys (first hit of a path or event name in a session) stay in memory between a connection's flushes.

Tables (db/migrations/0002_rollups.sql): `rollup_traffic` (hourly totals), `rollup_pages` and `rollup_events`
(hourly and daily, per path / custom event name), `rollup_dims` (daily, per session attribute),
`rollup_props` (daily, per custom event props object), `rollup_latency` (daily API latency histograms),
`rollup_auth` (daily failed logins per source) and `rollup_external` (daily external API calls and cost);
0007_requests_engaged.sql: `rollup_requests` (daily access-log hits and bytes per status and path) and
`rollup_engaged` (daily histograms of engaged time per page view, db/sqlite/engaged.py). The engaged histogram
has its own mark: a view's total changes with each of its reports, so the views a flush's reports change are
counted again (from the open views kept in memory, or read back: db/sqlite/engaged.py `recount`), and after the
migration it catches up from id 0 in bounded steps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from db.batch import Batch
from db.records import EVENT_COLUMNS
from db.rules import (
    DAY,
    ERROR_STATUS,
    HOUR,
    PAGE_TYPES,
    SESSION_DIMS,
    bucket,
    duration_of,
    is_bounce,
    latency_bucket,
    login_source,
    nano_usd,
)
from db.sqlite import engaged
from db.sqlite.batch import FlushHook
from db.sqlite.per_connection import PerConnection

GRAINS = (HOUR, DAY)
"""Grains of the per-path and per-event-name rollups."""
DIMS_GRAIN = DAY
"""The only grain of `rollup_dims` (and of the props and latency rollups)."""
MAX_EVENTS_PER_FLUSH = 50_000
"""Catching up on a backlog (an old database, a writer without hooks) is spread over several flushes."""
MAX_SESSIONS_PER_FLUSH = 20_000
REBUILD_EVENTS_CHUNK = 200_000
_CHUNK = 900

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
_ROLLED_COLUMNS = (
    "ts",
    "site",
    "type",
    "session_id",
    "path",
    "name",
    "is_bot",
    "engaged_ms",
    "scroll",
    "props",
    "method",
    "status",
    "latency_ms",
    "success",
    "ip",
    "fingerprint",
    "country",
    "cost_usd",
    "bytes",
)
"""The event columns the rollups read, in the order `_accumulate_events` takes them."""
_ROLLED_FROM_BATCH = itemgetter(*(EVENT_COLUMNS.index(c) for c in _ROLLED_COLUMNS))
MAX_VISIT_KEYS = 20_000
"""Visit keys kept between flushes (≈ 150 bytes each: 3 MB at most); past that they are dropped and the
sessions of the next flushes read theirs again from the database (which every flush used to do). Kept small: a
log import's writer must fit beside the importer in a fixed memory budget, and reading keys back is one indexed
query per flush."""

Deltas = dict[tuple[Any, ...], list[int]]


def rollup_hooks() -> list[FlushHook]:
    """The flush hooks that keep every rollup table current, in the order they must run."""
    return [_events_hook, _sessions_hook]


def lower_rolled_up_mark(conn: sqlite3.Connection) -> None:
    """After events were deleted: keep the rolled-up mark at or below the highest remaining id.

    Every event at or below that id is rolled up already; SQLite hands out max(id) + 1 to the next event, so
    if the newest events were deleted, new ones reuse their ids and must still be rolled up."""
    conn.execute(
        "UPDATE rollup_state SET value = min(value, (SELECT coalesce(max(id), 0) FROM events)) "
        "WHERE name IN ('events', 'engaged')"
    )
    engaged.forget_open_views(conn)


def _events_hook(conn: sqlite3.Connection, batch: Batch) -> None:
    if batch.remarked:
        move_to_bots(conn, batch.remarked)
    roll_up_events(conn, batch)


def _sessions_hook(conn: sqlite3.Connection, batch: Batch) -> None:
    roll_up_sessions(conn, batch)


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

    __slots__ = ("traffic", "pages", "custom", "props", "latency", "auth", "external", "requests")

    def __init__(self) -> None:
        self.traffic: Deltas = {}
        self.pages: Deltas = {}
        self.custom: Deltas = {}
        self.props: Deltas = {}
        self.latency: Deltas = {}
        self.auth: Deltas = {}
        self.external: Deltas = {}
        self.requests: Deltas = {}


class _Visited:
    """(session, is_event, path or name) keys already rolled up, for every session in `sessions`, as of event id
    `upto`: kept between the flushes of one connection, so a flush does not re-read its sessions' earlier events
    (which would cost each flush the length of its sessions so far). A visit counted stays counted when its
    event is deleted later (retention, erasure), like everything else already rolled up."""

    __slots__ = ("conn", "upto", "last", "sessions", "keys")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.upto = -1
        self.last: tuple[Any, ...] | None = None
        """(ts, session_id) of event `upto`, to tell a rolled-back flush's ids reused by other events."""
        self.sessions: set[int] = set()
        self.keys: set[tuple[Any, ...]] = set()

    def reset(self, upto: int) -> None:
        self.upto, self.last = upto, None
        self.sessions.clear()
        self.keys.clear()

    def holds_up_to(self, conn: sqlite3.Connection, start: int) -> bool:
        """Whether these keys are still exactly those of the events up to `start` (this connection rolled up
        every event since they were loaded, and that work was committed)."""
        if self.upto != start or len(self.keys) > MAX_VISIT_KEYS:
            return False
        if self.last is None:
            return not self.keys
        row = conn.execute("SELECT ts, session_id FROM events WHERE id = ?", (start,)).fetchone()
        return row is not None and tuple(row) == self.last

    def load(self, conn: sqlite3.Connection, session_ids: set[int]) -> None:
        """Add the keys of sessions not held yet, from the events up to `upto`."""
        missing = sorted(session_ids - self.sessions)
        for chunk in _chunks(missing):
            marks = ",".join("?" * len(chunk))
            for sid, is_event, key in conn.execute(
                f"SELECT DISTINCT session_id, type = 'event', CASE WHEN type = 'event' THEN name ELSE path END "
                f"FROM events WHERE session_id IN ({marks}) AND id <= ? "
                "AND type IN ('pageview', 'request', 'event')",
                (*chunk, self.upto),
            ):
                self.keys.add((sid, bool(is_event), key))
        self.sessions.update(missing)


_VISITED = PerConnection(_Visited)


def _visited(conn: sqlite3.Connection, start: int) -> _Visited:
    """The visit keys of `conn` as of event id `start`, emptied when they cannot be trusted."""
    entry = _VISITED.get(conn)
    if not entry.holds_up_to(conn, start):
        entry.reset(start)
    return entry


def roll_up_events(conn: sqlite3.Connection, batch: Batch | None = None, *, limit: int = MAX_EVENTS_PER_FLUSH) -> int:
    """Flush hook: roll up events written since the last run (traffic, pages, custom events, props, API
    latency, access-log requests, then engaged time per view); returns how many events (and event ids of the
    engaged histogram's backlog) it went through."""
    start = _mark(conn, "events")
    from_batch = _batch_events(conn, batch, start, limit)
    rows, last_id = from_batch or _stored_events(conn, start, limit)
    if not rows:
        return roll_up_engaged(conn, limit)
    visited = _visited(conn, start)
    visited.load(conn, {r[3] for r in rows if r[3] and (r[2] in PAGE_TYPES or r[2] == "event")})
    deltas = _EventDeltas()
    _accumulate_events(rows, visited.keys, deltas)
    update_traffic_events(conn, deltas.traffic)
    update_pages(conn, deltas.pages)
    update_custom_events(conn, deltas.custom)
    update_props(conn, deltas.props)
    update_latency(conn, deltas.latency)
    update_auth(conn, deltas.auth)
    update_external(conn, deltas.external)
    update_requests(conn, deltas.requests)
    conn.execute("UPDATE rollup_state SET value = ? WHERE name = 'events'", (last_id,))
    visited.upto, visited.last = last_id, (rows[-1][0], rows[-1][3])
    written = (start, batch.events) if from_batch is not None and batch is not None else None
    return len(rows) + roll_up_engaged(conn, limit, written)


def _mark(conn: sqlite3.Connection, name: str) -> int:
    """The last event id rolled up by the 'events' rollups or the 'engaged' histogram."""
    row = conn.execute("SELECT value FROM rollup_state WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row is not None else 0


def roll_up_engaged(
    conn: sqlite3.Connection,
    limit: int = MAX_EVENTS_PER_FLUSH,
    written: tuple[int, Sequence[Sequence[Any]]] | None = None,
) -> int:
    """Bring `rollup_engaged` up to the events' mark, at most `limit` event ids at a time; returns how many ids
    it went over. The views a report in those ids can change (db/sqlite/engaged.py `recount`: from the latest
    earlier page hit of its session, path and bot flag on) are counted again: what they added before
    (their rows up to the old mark) is taken out and what they add now is put in. `written`: (the id before
    them, the rows) of a flush's own events, used when they are exactly those ids instead of reading them."""
    low, target = _mark(conn, "engaged"), _mark(conn, "events")
    if low >= target:
        return 0
    high = min(target, low + limit)
    new = None
    if written is not None and written[0] == low and low + len(written[1]) == high:
        new = engaged.written_rows(written[1], low + 1)
    _apply_view_changes(conn, engaged.view_changes(conn, low, high, new))
    conn.execute("UPDATE rollup_state SET value = ? WHERE name = 'engaged'", (high,))
    return high - low


def _apply_view_changes(conn: sqlite3.Connection, changes: dict[tuple[Any, ...], int]) -> None:
    """rollup_engaged: add these changes of views per key (rows brought to 0 are deleted)."""
    update_engaged(conn, {key: [n] for key, n in changes.items()})
    delete_emptied(conn, "rollup_engaged", [key for key, n in changes.items() if n < 0])


def move_to_bots(conn: sqlite3.Connection, event_ids: Sequence[int]) -> None:
    """Events just re-marked as bots' (db/batch.py mark_bot_sessions): what was rolled up for them as human
    moves to the bot rows, exactly as a rebuild would count them. Events not rolled up yet need nothing: they
    are read back with their new flag.

    Visits (first hit of a path or name in a session) are recomputed over each session's rolled-up events in
    id order, which is how they were first counted."""
    mark = int(conn.execute("SELECT value FROM rollup_state WHERE name = 'events'").fetchone()[0])
    moved = sorted(i for i in event_ids if i <= mark)
    if not moved:
        return
    session_ids: set[int] = set()
    for chunk in _chunks(moved):
        marks = ",".join("?" * len(chunk))
        session_ids.update(
            r[0] for r in conn.execute(f"SELECT DISTINCT session_id FROM events WHERE id IN ({marks})", chunk)
        )
    moved_set = set(moved)
    human, bot = _EventDeltas(), _EventDeltas()
    seen_human: set[tuple[Any, ...]] = set()
    seen_bot: set[tuple[Any, ...]] = set()
    cur = conn.cursor()
    cur.row_factory = None
    for chunk in _chunks(sorted(session_ids)):
        marks = ",".join("?" * len(chunk))
        rows = cur.execute(
            f"SELECT {', '.join(_ROLLED_COLUMNS)}, id FROM events WHERE session_id IN ({marks}) AND id <= ? "
            "ORDER BY id",
            (*chunk, mark),
        ).fetchall()
        for row in rows:
            values = row[:-1]
            if row[-1] in moved_set:
                _accumulate_events([(*values[:6], 0, *values[7:])], seen_human, human)
                _accumulate_events([(*values[:6], 1, *values[7:])], seen_bot, bot)
            elif values[3] and values[2] in _VISIT_TYPES:
                key = (values[3], values[2] == "event", values[5] if values[2] == "event" else values[4])
                seen_human.add(key)
                seen_bot.add(key)
    for table in ("traffic", "pages", "custom", "props", "requests"):
        deltas: Deltas = getattr(bot, table)
        for key, values in getattr(human, table).items():
            _add(deltas, key, values, -1)
    update_traffic_events(conn, bot.traffic)
    update_pages(conn, bot.pages)
    update_custom_events(conn, bot.custom)
    update_props(conn, bot.props)
    update_requests(conn, bot.requests)
    delete_emptied(conn, "rollup_traffic", human.traffic)
    delete_emptied(conn, "rollup_pages", human.pages)
    delete_emptied(conn, "rollup_events", human.custom)
    delete_emptied(conn, "rollup_props", human.props)
    delete_emptied(conn, "rollup_requests", human.requests)
    _move_views_to_bots(conn, session_ids, set(event_ids))


def _move_views_to_bots(conn: sqlite3.Connection, session_ids: set[int], moved: set[int]) -> None:
    """The engaged histogram's part of `move_to_bots`: these sessions' views up to its own mark, counted again
    with the events' new flags instead of the old ones (the re-marked events were humans')."""
    after = engaged.session_rows(conn, session_ids, "id <= ?", (_mark(conn, "engaged"),))
    before = [(*row[:6], 0, row[7]) if row[1] in moved else row for row in after]
    _apply_view_changes(conn, engaged.replaced(before, after))
    engaged.forget_open_views(conn)


_VISIT_TYPES = frozenset(("pageview", "request", "event"))
_ROLLUP_SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rollup_traffic": (
        ("site", "hour", "is_bot"),
        ("hits", "pageviews", "events", "sessions", "visitors", "bounces", "duration_ms"),
    ),
    "rollup_pages": (
        ("grain", "site", "bucket", "is_bot", "path"),
        ("pageviews", "visits", "engagements", "scroll_sum", "engaged_ms"),
    ),
    "rollup_events": (("grain", "site", "bucket", "is_bot", "name"), ("count", "visits")),
    "rollup_props": (("site", "name", "day", "is_bot", "props"), ("count",)),
    "rollup_requests": (("site", "day", "is_bot", "status", "path"), ("hits", "bytes")),
    "rollup_engaged": (("site", "is_bot", "path", "day", "ms_bucket"), ("views",)),
}
"""Key and count columns of the rollup tables a count can be taken out of."""


def delete_emptied(conn: sqlite3.Connection, table: str, keys: Iterable[tuple[Any, ...]]) -> None:
    """Remove rows of `keys` whose counts all went to zero: a rebuild from raw rows would not have them."""
    key_cols, count_cols = _ROLLUP_SHAPES[table]
    conn.executemany(
        f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = ?' for c in key_cols)} AND "
        + " AND ".join(f"{c} = 0" for c in count_cols),
        [tuple(k) for k in keys],
    )


def _batch_events(
    conn: sqlite3.Connection, batch: Batch | None, start: int, limit: int
) -> tuple[list[tuple[Any, ...]], int] | None:
    """The flush's own rows, when they are exactly the events not rolled up yet (the usual case): no need to
    read back what was just written. They got the ids after every earlier row, in order, in this transaction."""
    if batch is None or not batch.events or len(batch.events) > limit:
        return None
    last = conn.execute("SELECT max(id) FROM events").fetchone()[0]
    if last is None or last - start != len(batch.events):
        return None
    return list(map(_ROLLED_FROM_BATCH, batch.events)), int(last)


def _stored_events(conn: sqlite3.Connection, start: int, limit: int) -> tuple[list[tuple[Any, ...]], int]:
    """Up to `limit` events after id `start`, read back (rows written without hooks, catch-up, rebuild)."""
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: a rebuild reads every stored event
    rows = cur.execute(
        f"SELECT {', '.join(_ROLLED_COLUMNS)}, id FROM events WHERE id > ? ORDER BY id LIMIT ?", (start, limit)
    ).fetchall()
    if not rows:
        return [], start
    return [row[:-1] for row in rows], int(rows[-1][-1])


def _accumulate_events(rows: Iterable[Sequence[Any]], seen: set[tuple[Any, ...]], out: _EventDeltas) -> None:
    """Add events (in id order, columns as `_ROLLED_COLUMNS`) to the deltas; `seen` holds (session, is_event,
    path or name) already visited, and gets this run's.

    Page hits and custom events, nearly every row, are only counted here per (type, site, hour, bot, path or
    name, visit); `_spread_counts` turns those counts into traffic, page and event deltas."""
    counts: dict[tuple[Any, ...], int] = {}
    engaged: Deltas = {}
    traffic, props_d, latency = out.traffic, out.props, out.latency
    for row in rows:
        ts, site, type_, session_id, path, name, is_bot = row[:7]
        hour = int(ts) // HOUR * HOUR
        if type_ == "pageview" or type_ == "request" or type_ == "event":
            is_event = type_ == "event"
            key_text = name if is_event else path
            visit = 1
            if session_id:
                seen_key = (session_id, is_event, key_text)
                if seen_key in seen:
                    visit = 0
                else:
                    seen.add(seen_key)
            key: tuple[Any, ...] = (is_event, site, hour, is_bot, key_text, visit)
            counts[key] = counts.get(key, 0) + 1
            if type_ == "request":
                _add(out.requests, (site, hour // DAY * DAY, is_bot, row[11], path), (1, row[18]))
            if is_event and row[9]:
                key = (site, name, hour // DAY * DAY, is_bot, row[9])
                cur = props_d.get(key)
                if cur is None:
                    props_d[key] = [1]
                else:
                    cur[0] += 1
            continue
        key = (site, hour, is_bot)
        cur = traffic.get(key)
        if cur is None:
            traffic[key] = [1, 0, 0]
        else:
            cur[0] += 1
        day = hour // DAY * DAY
        if type_ == "engagement":
            key = (site, hour, is_bot, path)
            cur = engaged.get(key)
            if cur is None:
                engaged[key] = [1, row[8], row[7]]
            else:
                cur[0] += 1
                cur[1] += row[8]
                cur[2] += row[7]
        elif type_ == "api_request":
            error = 1 if row[11] >= ERROR_STATUS else 0
            key = (site, day, row[10], path, latency_bucket(row[12]))
            cur = latency.get(key)
            if cur is None:
                latency[key] = [1, error]
            else:
                cur[0] += 1
                cur[1] += error
        elif type_ == "auth":
            if not row[13]:
                _add(out.auth, (site, day, login_source(row[14], row[15], row[16])), (1,))
        elif type_ == "external_call":
            _add(out.external, (site, day, name, latency_bucket(row[12])), (1, nano_usd(row[17])))
    _spread_counts(counts, engaged, out)


def _spread_counts(counts: dict[tuple[Any, ...], int], engaged: Deltas, out: _EventDeltas) -> None:
    """Hourly page hit and custom event counts (and engagement sums) into traffic, hourly and daily page and
    custom event deltas."""
    for (is_event, site, hour, is_bot, key_text, visit), n in counts.items():
        _add(out.traffic, (site, hour, is_bot), (n, 0, n) if is_event else (n, n, 0))
        visits = n if visit else 0
        if is_event:
            _add(out.custom, (HOUR, site, hour, is_bot, key_text), (n, visits))
            _add(out.custom, (DAY, site, hour // DAY * DAY, is_bot, key_text), (n, visits))
        else:
            _add(out.pages, (HOUR, site, hour, is_bot, key_text), (n, visits, 0, 0, 0))
            _add(out.pages, (DAY, site, hour // DAY * DAY, is_bot, key_text), (n, visits, 0, 0, 0))
    for (site, hour, is_bot, path), (n, scroll, engaged_ms) in engaged.items():
        _add(out.pages, (HOUR, site, hour, is_bot, path), (0, 0, n, scroll, engaged_ms))
        _add(out.pages, (DAY, site, hour // DAY * DAY, is_bot, path), (0, 0, n, scroll, engaged_ms))


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


def update_requests(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_requests: access-log hits and bytes sent per site, day, bot flag, status and path."""
    conn.executemany(
        "INSERT INTO rollup_requests (site, day, is_bot, status, path, hits, bytes) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site, day, is_bot, status, path) DO UPDATE SET hits = hits + excluded.hits, "
        "bytes = bytes + excluded.bytes",
        [(*k, *v) for k, v in deltas.items()],
    )


def update_engaged(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_engaged: page views per site, bot flag, path, day of the page hit and engaged-time bucket."""
    conn.executemany(
        "INSERT INTO rollup_engaged (site, is_bot, path, day, ms_bucket, views) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site, is_bot, path, day, ms_bucket) DO UPDATE SET views = views + excluded.views",
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


def update_traffic_sessions(conn: sqlite3.Connection, deltas: Deltas) -> None:
    """rollup_traffic: sessions, visitors, bounces and duration per site, start hour and bot flag."""
    conn.executemany(
        "INSERT INTO rollup_traffic (site, hour, is_bot, sessions, visitors, bounces, duration_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, hour, is_bot) DO UPDATE SET "
        "sessions = sessions + excluded.sessions, visitors = visitors + excluded.visitors, "
        "bounces = bounces + excluded.bounces, duration_ms = duration_ms + excluded.duration_ms",
        [(*k, *v) for k, v in deltas.items() if any(v)],
    )
    # A session that left these rows (it turned bot, its events with it) may have left them empty.
    delete_emptied(conn, "rollup_traffic", [k for k, v in deltas.items() if v[0] < 0])


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
    "rollup_requests",
    "rollup_engaged",
)


def rebuild(conn: sqlite3.Connection) -> None:
    """Recompute every rollup from the raw rows (after a bulk load without hooks, or to repair).

    Rollups of raw rows already deleted by retention are lost, like everything else not in the raw rows."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in (*ROLLUP_TABLES, "rollup_pending_sessions"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("UPDATE rollup_state SET value = 0 WHERE name IN ('events', 'engaged')")
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
