"""Rollups on ClickHouse: hourly and daily sums per page, custom event and props object, kept by whoever writes
events, so long spans read a few thousand sums instead of a month of raw events.

One table, `rollup_events` (migration 0004), a SummingMergeTree of signed counts ordered by (site, kind, grain,
bucket, …). Every writer of events and sessions — the collector's sink, `sitelens migrate` and the query bench —
calls `roll_up_batch` before it inserts the rows, with the batch's deduplication token, so
a retried batch is neither rolled up twice nor rolled up against its own stored rows; the schema backfill
(`rebuild`) applies the same sums to what is stored. A materialized view would not do: it sees neither a
session's previous version nor the lightweight UPDATE that re-marks a bot session's events, so the sink calls
`move_to_bots` first, which writes the stored human events' sums again with the opposite sign for humans and the
same sign for bots (the rows SQLite's rollups move in `db.sqlite.rollups.move_to_bots`).

Kinds of rows (`kind`, `key`, `props`):
- `page`, path: page hits (`hits`) and visits (`visits`: hits that are the first of their path in their session);
- `event`, name: custom events and their visits (first of their name in their session);
- `engagement`, path: engagement reports, their summed `scroll` and `engaged_ms`;
- `props`, name, props object: custom events carrying that props object;
- `pages` and `events`, key '': the page hits and custom events of the bucket, for the KPIs and the chart;
- `sessions`, key '' (hourly only, by the hour a session started in): sessions (`hits`), first visits of the day
  (`visits`, the sum of `new_visitor`), `bounces` and `duration_ms`, as `db.rules` defines them.
The same call keeps the engaged histogram (`rollup_engaged`, db/clickhouse/engaged.py) with the same token, and
`move_to_bots` moves its views too.
"First" is the earliest (ts, id) among the session's page hits (or custom events), the rule of the raw queries
(db/clickhouse/queries/overview.py). As on SQLite, the rollups hold anonymous sums: erasure (`forget`) and the
raw-row retention TTL leave them, so long spans still count what was erased or expired; their own TTL
(`retention.rollup_days`, db/clickhouse/queries/retention.py) drops them when set."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter

from db.clickhouse import engaged
from db.clickhouse.client import ClickHouse
from db.records import EVENT_COLUMNS, SESSION_COLUMNS
from db.rules import DAY, HOUR, PAGE_TYPES, duration_of, is_bounce

log = logging.getLogger("sitelens.rollups")

ROLLUP_COLUMNS = (
    "site", "grain", "bucket", "is_bot", "kind", "key", "props",
    "hits", "visits", "scroll", "engaged_ms", "bounces", "duration_ms",
)  # fmt: skip
FIELDS = ("id", "ts", "site", "type", "session_id", "path", "name", "props", "is_bot", "scroll", "engaged_ms")
"""The event columns a rollup reads, in this order (`fields` takes them from a whole stored row)."""
fields = itemgetter(*(("id", *EVENT_COLUMNS).index(c) for c in FIELDS))
"""An (id, *EVENT_COLUMNS) row, as the writer and the copy insert them, cut down to FIELDS."""
SESSION_FIELDS = ("id", "site", "started", "last_seen", "is_bot", "new_visitor", "pageviews", "requests", "events")
"""The session columns a rollup reads, in this order."""
session_fields = itemgetter(*(SESSION_COLUMNS.index(c) for c in SESSION_FIELDS))
"""A SESSION_COLUMNS row (with or without the version after it) cut down to SESSION_FIELDS."""
VISIT_TYPES = (*PAGE_TYPES, "event")
MAX_SESSIONS = 100_000
"""Sessions a `Memo` keeps (a few hundred bytes each)."""
REBUILD_DAYS = 1
"""Days of one site's events `rebuild` reads per round trip."""

Event = tuple[object, ...]
Key = tuple[str, str, str]
"""(kind, key, props) of a rollup row."""
Sums = dict[tuple[str, int, int, int, str, str, str], list[int]]


class Memo:
    """What a writer knows of the sessions it wrote: their visit keys, last version and open views (the engaged
    histogram's, db/clickhouse/engaged.py), the least recently used forgotten past `limit` (a forgotten session is
    read back from the store when it comes again). A session that started after `since` and is not here was never
    stored: the sink sets `since` to when it was created (a collector's session ids are its own, see
    collector/sessions.py) and every forgotten session's start pushes it on; by default (`inf`) every session not
    here is looked up."""

    def __init__(self, limit: int = MAX_SESSIONS, since: float = math.inf) -> None:
        self.limit = limit
        self.since = since
        self._sessions: OrderedDict[
            int, tuple[set[tuple[bool, str]], Event | None, float, engaged.SessionViews | None]
        ] = OrderedDict()

    def knows(self, session_id: int, started: float | None) -> bool:
        """Whether the session's stored keys and version need no reading back."""
        return session_id in self._sessions or (started is not None and started > self.since)

    def keys(self, session_id: int) -> set[tuple[bool, str]]:
        known = self._sessions.get(session_id)
        return set(known[0]) if known else set()

    def version(self, session_id: int) -> Event | None:
        known = self._sessions.get(session_id)
        return known[1] if known else None

    def views(self, session_id: int, started: float | None) -> engaged.SessionViews | None:
        """The session's open views when every one of its stored rows' is known (none when never stored), else
        None (read back)."""
        known = self._sessions.get(session_id)
        if known is not None:
            return known[3]
        return {} if started is not None and started > self.since else None

    def remember(
        self,
        keys: dict[int, set[tuple[bool, str]]],
        versions: dict[int, Event],
        views: dict[int, engaged.SessionViews | None] | None = None,
    ) -> None:
        """After a batch is stored: what `roll_up_batch` returned for it."""
        views = views or {}
        for sid in keys.keys() | versions.keys() | views.keys():
            old = self._sessions.get(sid)
            version = versions.get(sid, old[1] if old else None)
            started = float(version[2]) if version is not None else (old[2] if old else -math.inf)  # type: ignore[arg-type]
            kept = views[sid] if sid in views else old[3] if old else None
            self._sessions[sid] = (keys.get(sid, old[0] if old else set()), version, started, kept)
            self._sessions.move_to_end(sid)
        while len(self._sessions) > self.limit:
            _sid, (_keys, _version, started, _views) = self._sessions.popitem(last=False)
            self.since = max(self.since, started)


_ONE = (1, 0, 0, 0, 0, 0)
_VISIT = (1, 1, 0, 0, 0, 0)
_TOTAL_PAGES = (("pages", "", ""), _ONE)
_TOTAL_EVENTS = (("events", "", ""), _ONE)


def _contributions(event: Event, first: bool) -> list[tuple[Key, tuple[int, ...]]]:
    """What one event adds to the rollups: (kind, key, props) → (hits, visits, scroll, engaged_ms, 0, 0)."""
    _id, _ts, _site, type_, _sid, path, name, props, _bot, scroll, engaged = event
    if type_ in PAGE_TYPES:
        return [(("page", path, ""), _VISIT if first else _ONE), _TOTAL_PAGES]  # type: ignore[list-item]
    if type_ == "event":
        out = [(("event", name, ""), _VISIT if first else _ONE), _TOTAL_EVENTS]
        if props:
            out.append((("props", name, props), _ONE))  # type: ignore[arg-type]
        return out  # type: ignore[return-value]
    if type_ == "engagement":
        return [(("engagement", path, ""), (1, 0, int(scroll), int(engaged), 0, 0))]  # type: ignore[call-overload, list-item]
    return []


def visit_key(event: Event) -> tuple[bool, str] | None:
    """What makes an event a visit when it comes first in its session: (custom event?, path or name)."""
    type_, sid = event[3], event[4]
    if not sid or type_ not in VISIT_TYPES:
        return None
    return (True, str(event[6])) if type_ == "event" else (False, str(event[5]))


def _in_order(events: Iterable[Event], seen: dict[int, set[tuple[bool, str]]]) -> Iterator[tuple[Event, bool]]:
    """Events in (ts, id) order, each with whether it is a visit (the first of its key in its session, or
    sessionless); `seen` holds each session's keys met before them and gains theirs."""
    for event in sorted(events, key=itemgetter(1, 0)):
        key = visit_key(event)
        first = True
        if key is not None:
            keys = seen.setdefault(int(event[4]), set())  # type: ignore[call-overload]
            first = key not in keys
            keys.add(key)
        yield event, first


def _add(out: Sums, event: Event, first: bool, signs: tuple[tuple[int, int], ...]) -> None:
    """Add an event's contributions to its hour, once per (is_bot, sign) of `signs` (`insert_sums` adds the
    days)."""
    site, hour = event[2], int(event[1]) // HOUR * HOUR  # type: ignore[call-overload]
    for (kind, name, props), values in _contributions(event, first):
        for is_bot, sign in signs:
            row = (site, HOUR, hour, is_bot, kind, name, props)
            cur = out.get(row)  # type: ignore[arg-type]
            if cur is None:
                out[row] = [v * sign for v in values]  # type: ignore[index]
            else:
                for i, v in enumerate(values):
                    if v:
                        cur[i] += v * sign


def sums(events: Iterable[Event], seen: dict[int, set[tuple[bool, str]]]) -> Sums:
    """Rollup sums of `events` (FIELDS tuples), `seen` as `_in_order` takes it."""
    out: Sums = {}
    for event, first in _in_order(events, seen):
        _add(out, event, first, ((int(event[8]), 1),))  # type: ignore[call-overload]
    return out


def _stored_keys(
    ch: ClickHouse,
    sites: list[str],
    sessions: list[int],
    since: float | None,
    until: float | None = None,
    besides: Sequence[int] = (),
) -> dict[int, set[tuple[bool, str]]]:
    """Visit keys of these sessions' stored events (before `until` if given, other than the events `besides`)."""
    if since is None:  # the sessions' first start bounds the read to their days
        since = ch.value("SELECT minOrNull(started) FROM sessions WHERE site IN ? AND id IN ?", (sites, sessions))
    where, params = "site IN ? AND session_id IN ? AND type IN ?", [sites, sessions, list(VISIT_TYPES)]
    for clause, value in ((" AND ts >= ?", since), (" AND ts < ?", until)):
        if value is not None:
            where += clause
            params.append(value)
    if besides:
        where += " AND id NOT IN ?"
        params.append(list(besides))
    rows = ch.rows(
        f"SELECT session_id, type = 'event', if(type = 'event', name, path) FROM events WHERE {where} GROUP BY 1, 2, 3",
        params,
    )
    out: dict[int, set[tuple[bool, str]]] = {sid: set() for sid in sessions}
    for sid, is_event, key in rows:
        out[int(sid)].add((bool(is_event), str(key)))
    return out


def insert_sums(ch: ClickHouse, rolled: Sums, token: str) -> None:
    """Insert hourly rollup sums and the daily sums they add up to (sessions are hourly only), rows that sum to
    nothing left out, with a deduplication token."""
    days: Sums = {}
    for (site, _grain, hour, is_bot, kind, name, props), values in rolled.items():
        if kind != "sessions":
            cur = days.setdefault((site, DAY, hour // DAY * DAY, is_bot, kind, name, props), [0] * 6)
            for i, v in enumerate(values):
                cur[i] += v
    rows = [(*k, *v) for k, v in sorted({**rolled, **days}.items()) if any(v)]
    if rows:
        ch.insert("rollup_events", rows, ROLLUP_COLUMNS, token=token)


def _event_sums(
    ch: ClickHouse, events: Sequence[Event], memo: Memo, starts: dict[int, float], since: float | None
) -> tuple[Sums, dict[int, set[tuple[bool, str]]]]:
    """Rollup sums of events about to be inserted (FIELDS tuples) and their sessions' keys afterwards. Sessions
    `memo` does not know (`starts`: the batch's sessions' starts) have their stored events' keys read first
    (`since`: no stored event of theirs is older; else their sessions' start)."""
    involved = sorted({int(e[4]) for e in events if visit_key(e) is not None})  # type: ignore[call-overload]
    missing = [sid for sid in involved if not memo.knows(sid, starts.get(sid))]
    seen = {sid: memo.keys(sid) for sid in involved}
    if missing:
        wanted = set(missing)
        own = [int(e[0]) for e in events if e[4] in wanted and visit_key(e) is not None]  # type: ignore[call-overload]
        seen.update(_stored_keys(ch, sorted({str(e[2]) for e in events}), missing, since, besides=own))
    return sums(events, seen), seen


def _merge_sums(into: Sums, more: Sums) -> Sums:
    for row, values in more.items():
        cur = into.setdefault(row, [0] * 6)
        for i, v in enumerate(values):
            cur[i] += v
    return into


def roll_up_batch(
    ch: ClickHouse, rows: Sequence[Event], sessions: Sequence[Event], token: str, memo: Memo | None = None
) -> tuple[dict[int, set[tuple[bool, str]]], dict[int, Event], dict[int, engaged.SessionViews | None]]:
    """A batch's events ((id, *EVENT_COLUMNS) rows) and session versions (SESSION_COLUMNS rows, a version after
    them or not) into the rollups and the engaged histogram, each in one insert with the batch's token, before
    either is inserted: a retry is then ignored, even once the rows are stored. The earliest start of the batch's
    sessions bounds what is read back of their stored events when every event's session is among them. Returns
    what `Memo.remember` takes once the batch is stored."""
    memo = memo if memo is not None else Memo()
    events = [fields(row) for row in rows]
    versions = {int(s[0]): s for s in map(session_fields, sessions)}  # type: ignore[call-overload]
    starts = {sid: float(s[2]) for sid, s in versions.items()}  # type: ignore[arg-type]
    complete = starts and all(e[4] in starts for e in events if e[4])
    since = min(starts.values()) if complete else None
    rolled, seen = _event_sums(ch, events, memo, starts, since)
    insert_sums(ch, _merge_sums(rolled, _session_sums(ch, versions, memo)), f"{token}:r")
    bots = [sid for sid, version in versions.items() if version[4]]
    changes, views = engaged.changes(ch, events, _kept_views(events, versions, starts, memo), since, bots)
    engaged.insert_changes(ch, changes, f"{token}:r")
    return seen, versions, views


def _kept_views(
    events: Sequence[Event], versions: dict[int, Event], starts: dict[int, float], memo: Memo
) -> dict[int, engaged.SessionViews | None]:
    """The open views `memo` holds of the batch's sessions; None for those it does not, and for a bot's session
    with human views kept (re-marked as a bot's by this batch: its stored rows changed)."""
    out: dict[int, engaged.SessionViews | None] = {}
    for sid in {int(e[4]) for e in events if e[4]} | versions.keys():  # type: ignore[call-overload]
        kept = memo.views(sid, starts.get(sid))
        version = versions.get(sid)
        if kept and version is not None and version[4] and any(not bot for _path, bot in kept):
            kept = None
        out[sid] = kept
    return out


def _add_session(out: Sums, session: Event, sign: int) -> None:
    """Add (sign 1) or take away (-1) what one session version counts in the hour it started."""
    _id, site, started, last_seen, is_bot, new_visitor, pageviews, requests, events = session
    row = (str(site), HOUR, int(started) // HOUR * HOUR, int(is_bot), "sessions", "", "")  # type: ignore[call-overload]
    bounce = is_bounce(int(pageviews), int(requests), int(events))  # type: ignore[call-overload]
    values = (1, int(new_visitor), 0, 0, int(bounce), duration_of(float(started), float(last_seen)))  # type: ignore[arg-type, call-overload]
    cur = out.setdefault(row, [0] * 6)
    for i, v in enumerate(values):
        cur[i] += sign * v


def _session_sums(ch: ClickHouse, news: dict[int, Event], memo: Memo) -> Sums:
    """Rollup sums of session versions about to be inserted (SESSION_FIELDS tuples by id), less what their
    previous versions added (remembered, else the newest stored version)."""
    previous = {sid: memo.version(sid) for sid in news}
    missing = [sid for sid in news if not memo.knows(sid, float(news[sid][2]))]  # type: ignore[arg-type]
    if missing:  # `started` never changes: the versions' own starts bound the read
        starts = [float(news[sid][2]) for sid in missing]  # type: ignore[arg-type]
        rows = ch.rows(
            f"SELECT id, argMax(tuple({', '.join(SESSION_FIELDS)}), version) FROM sessions "
            "WHERE site IN ? AND started >= ? AND started <= ? AND id IN ? GROUP BY id",
            (sorted({str(news[sid][1]) for sid in missing}), min(starts), max(starts), missing),
        )
        previous.update({int(sid): tuple(old) for sid, old in rows})
    out: Sums = {}
    for sid, session in news.items():
        _add_session(out, session, 1)
        if previous.get(sid) is not None:
            _add_session(out, previous[sid], -1)  # type: ignore[arg-type]
    return out


def move_to_bots(ch: ClickHouse, sites: list[str], since: float, sessions: list[int], token: str) -> None:
    """Before these sessions' stored human events are re-marked as bots': move their sums from humans to bots.
    Their every event is read (a visit is the first hit of a key, human or not), from `since` (the sessions'
    first start) on. Computed from the store as it is, so a retry after the re-marking moves nothing more."""
    events = ch.rows(
        f"SELECT {', '.join(FIELDS)} FROM events WHERE site IN ? AND ts >= ? AND session_id IN ?",
        (sites, since, sessions),
    )
    moved: Sums = {}
    for event, first in _in_order(events, {}):  # every event decides visits; only the human ones move
        if not event[8]:
            _add(moved, event, first, ((0, -1), (1, 1)))
    insert_sums(ch, moved, token)
    engaged.insert_changes(ch, engaged.moved_to_bots(events), token)


def _earlier_keys(ch: ClickHouse, site: str, day: int, sessions: list[int]) -> dict[int, set[tuple[bool, str]]]:
    """For `rebuild`: keys, from events before `day`, of the sessions among these that started before it."""
    out: dict[int, set[tuple[bool, str]]] = {sid: set() for sid in sessions}
    if not sessions:
        return out
    started = ch.rows(
        "SELECT id, min(started) FROM sessions WHERE site = ? AND started < ? AND id IN ? GROUP BY id",
        (site, float(day), sessions),
    )
    if started:
        since = min(float(r[1]) for r in started)
        out.update(_stored_keys(ch, [site], [int(r[0]) for r in started], since, until=float(day)))
    return out


def rebuild(ch: ClickHouse) -> int:
    """Roll up every stored event and session (the backfill of migration 0004), a day of one site per round
    trip, events in (ts, id) order; returns the events rolled up. Each day's inserts have tokens, so a second run
    (another collector migrating at the same time) adds nothing."""
    done = 0
    for site, first, last in ch.rows(
        "SELECT site, min(t), max(t) FROM (SELECT site, ts AS t FROM events UNION ALL "
        "SELECT site, started AS t FROM sessions) GROUP BY site ORDER BY site"
    ):
        keys = Memo()
        day = int(first) // DAY * DAY
        while day <= last:
            end = day + REBUILD_DAYS * DAY
            events = ch.rows(
                f"SELECT {', '.join(FIELDS)} FROM events WHERE site = ? AND ts >= ? AND ts < ?",
                (site, float(day), float(end)),  # Float64 like the column, or the key range is not bounded
            )
            involved = {int(e[4]) for e in events if visit_key(e) is not None}
            seen = {sid: keys.keys(sid) for sid in involved if keys.knows(sid, None)}
            seen.update(_earlier_keys(ch, str(site), day, sorted(involved - seen.keys())))
            insert_sums(ch, sums(events, seen), f"rollup-rebuild:{site}:{day}:{len(events)}")
            keys.remember(seen, {})
            sessions: Sums = {}
            for session in ch.rows(
                f"SELECT {', '.join(SESSION_FIELDS)} FROM sessions FINAL "
                "WHERE site = ? AND started >= ? AND started < ?",
                (site, float(day), float(end)),
            ):
                _add_session(sessions, session, 1)
            insert_sums(ch, sessions, f"rollup-rebuild:{site}:{day}:sessions")
            done += len(events)
            day = end
        log.info("rollups: %s rolled up", site)
    return done
