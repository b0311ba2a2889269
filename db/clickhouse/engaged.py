"""ClickHouse: the engaged histogram (`rollup_engaged`, migration 0005) kept by whoever writes events, as SQLite
keeps its own (db/sqlite/engaged.py), by db/engaged.py's rules: per (site, bot flag, path, hour and day of the
page hit, engaged-time bucket), the page views that sent engagement reports, so a span reads raw rows only for
its uneven ends shorter than an hour, as the other rollups (db/clickhouse/rollups.py).

Signed counts: when a batch's rows change a view (a report adds to its total, a page hit opens a new one), its
old bucket is taken out and its new one put in. The views a batch changes are counted on from the open view of
each (session, path, bot flag) that the writer's memory (`rollups.Memo`) holds for sessions it wrote; for the
others (sessions not known, rows older than the newest one kept, a session just re-marked as a bot) the
session's stored rows are read back and its views counted again with and without the batch. The changes go in
with the batch's deduplication token, so a retried batch counts once; `rebuild` counts what is stored."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from db.clickhouse.client import ClickHouse
from db.engaged import VIEW_COLUMNS, VIEW_TYPES, Row, ViewKey, count_on, replaced, tally
from db.rules import DAY, HOUR, VIEW_REPORTS_S, engaged_bucket_sql

log = logging.getLogger("sitelens.rollups")

COLUMNS = ("site", "is_bot", "path", "grain", "bucket", "ms_bucket", "views")
REBUILD_DAYS = 2
"""Days of page hits `rebuild` counts per round trip."""
Open = list[Any]
"""What the memory keeps of one (path, bot flag) of a session: [open view or None, ts, id of its newest row]."""
SessionViews = dict[tuple[str, int], Open]
"""A session's open views by (path, bot flag): every one its stored rows have."""
_VIEW_TYPES = frozenset(VIEW_TYPES)


def view_rows(events: Iterable[Sequence[Any]]) -> list[Row]:
    """The page hits and reports of sessions among rollup FIELDS tuples (db/clickhouse/rollups.py), as
    VIEW_COLUMNS rows in (ts, id) order."""
    out = [(e[1], e[0], e[4], e[5], e[3], e[10], e[8], e[2]) for e in events if e[4] and e[3] in _VIEW_TYPES]
    out.sort(key=itemgetter(0, 1))
    return out


def _open_views(rows: Iterable[Row]) -> SessionViews:
    """A session's open views after its rows (VIEW_COLUMNS, in (ts, id) order)."""
    by_pair: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        by_pair.setdefault((row[3], row[6]), []).append(row)
    return {
        pair: [count_on(None, pair_rows, None), pair_rows[-1][0], pair_rows[-1][1]]
        for pair, pair_rows in by_pair.items()
    }


def _count_on_kept(kept: SessionViews, rows: list[Row], out: dict[ViewKey, int]) -> SessionViews | None:
    """A session's open views after its new rows follow those kept, their changes added to `out`; None (nothing
    added) when a new row is not after the newest kept of its (path, bot flag)."""
    by_pair: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        by_pair.setdefault((row[3], row[6]), []).append(row)
    for pair, pair_rows in by_pair.items():
        old = kept.get(pair)
        if old is not None and (pair_rows[0][0], pair_rows[0][1]) <= (old[1], old[2]):
            return None
    after = dict(kept)
    for pair, pair_rows in by_pair.items():
        old = kept.get(pair)
        view = None if old is None or old[0] is None else list(old[0])
        triple = (pair_rows[0][2], pair[0], pair[1])
        tally(out, view, triple, -1, HOUR)
        view = count_on(view, pair_rows, out, HOUR)
        tally(out, view, triple, 1, HOUR)
        after[pair] = [view, pair_rows[-1][0], pair_rows[-1][1]]
    return after


def changes(
    ch: ClickHouse,
    events: Sequence[Sequence[Any]],
    kept: dict[int, SessionViews | None],
    since: float | None,
    bots: Iterable[int] = (),
) -> tuple[dict[ViewKey, int], dict[int, SessionViews | None]]:
    """What a batch's events (rollup FIELDS tuples) change in the views per key, and the open views of the
    sessions of `kept` afterwards (None: still to be read back). `kept`: per session of the batch, its open views
    when the memory holds them all, else None (read back). `since`: no stored row of the sessions read back is
    older (else their sessions' start). `bots`: sessions that are bots now, whose every stored row is a bot's
    (re-marked before, `move_to_bots`), even while a mutation (ClickHouse before 25.7) has not yet rewritten it."""
    by_session: dict[int, list[Row]] = {}
    for row in view_rows(events):
        by_session.setdefault(int(row[2]), []).append(row)
    out: dict[ViewKey, int] = {}
    after: dict[int, SessionViews | None] = dict(kept)
    missing: list[int] = []
    for sid, rows in by_session.items():
        views = kept.get(sid)
        counted = None if views is None else _count_on_kept(views, rows, out)
        if counted is None:
            missing.append(sid)
        else:
            after[sid] = counted
    if missing:
        stored = stored_rows(ch, events, missing, since)
        bot_sessions = set(bots)
        for sid in missing:
            before = stored.get(sid, [])
            if sid in bot_sessions:
                before = [(*row[:6], 1, row[7]) for row in before]
            rows = sorted([*before, *by_session[sid]], key=itemgetter(0, 1))
            for key, n in replaced(before, rows, HOUR).items():
                out[key] = out.get(key, 0) + n
            after[sid] = _open_views(rows)
    return {key: n for key, n in out.items() if n}, after


def stored_rows(
    ch: ClickHouse, events: Sequence[Sequence[Any]], sessions: list[int], since: float | None
) -> dict[int, list[Row]]:
    """The stored page hits and reports (VIEW_COLUMNS, in (ts, id) order) of these sessions, per session, other
    than the batch's own events (a retried batch may be stored already)."""
    sites = sorted({str(e[2]) for e in events})
    if since is None:
        since = ch.value("SELECT minOrNull(started) FROM sessions WHERE site IN ? AND id IN ?", (sites, sessions))
        if since is None:
            since = min(float(e[1]) for e in events)
    wanted = set(sessions)
    own = [int(e[0]) for e in events if e[4] in wanted]
    rows = ch.rows(
        f"SELECT {VIEW_COLUMNS} FROM events WHERE site IN ? AND ts >= ? AND session_id IN ? AND type IN ? "
        "AND id NOT IN ? ORDER BY ts, id",
        (sites, since, sessions, list(VIEW_TYPES), own),
    )
    out: dict[int, list[Row]] = {}
    for row in rows:
        out.setdefault(int(row[2]), []).append(tuple(row))
    return out


def insert_changes(ch: ClickHouse, deltas: dict[ViewKey, int], token: str) -> None:
    """Add changes of views per key (by the hour of their page hit) to `rollup_engaged`, hourly and daily, with a
    deduplication token."""
    sums: dict[tuple[Any, ...], int] = {}
    for (site, is_bot, path, hour, b), n in deltas.items():
        for grain in (HOUR, DAY):
            key = (site, is_bot, path, grain, hour // grain * grain, b)
            sums[key] = sums.get(key, 0) + n
    rows = [(*key, n) for key, n in sorted(sums.items()) if n]
    if rows:
        ch.insert("rollup_engaged", rows, COLUMNS, token=token)


def moved_to_bots(events: Iterable[Sequence[Any]]) -> dict[ViewKey, int]:
    """What re-marking these events (rollup FIELDS tuples: sessions' every stored event) as a bot's changes."""
    before = view_rows(events)
    return replaced(before, [(*row[:6], 1, row[7]) for row in before], HOUR)


def histogram_sql(where: str, hit_spans: int = 1) -> str:
    """Views per (site, bot flag, path, hour of the page hit, engaged-time bucket) from raw rows, by the rule of
    db/engaged.py: views numbered by a running count of page hits per session, path and bot flag in (ts, id)
    order, a report counted when sent within VIEW_REPORTS_S of its view's page hit (the running maximum of page
    hit times). Binds, after `where`'s own: (start, end) of each of `hit_spans` spans the views' page hits are
    in; `where` must read VIEW_REPORTS_S past each one's end (views begun before a span read are left out)."""
    window = "PARTITION BY session_id, path, is_bot ORDER BY ts, id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    counted = f"type = 'engagement' AND ts < hit + {VIEW_REPORTS_S:d}"
    hits = " OR ".join("(hit_ts >= ? AND hit_ts < ?)" for _ in range(hit_spans))
    return (
        f"SELECT site, is_bot, path, intDiv(toInt64(hit_ts), {HOUR:d}) * {HOUR:d} AS hour, "
        f"{engaged_bucket_sql('ms')} AS b, count() AS views FROM ("
        "SELECT anyIf(site, type != 'engagement') AS site, is_bot, path, min(hit) AS hit_ts, "
        f"sumIf(engaged_ms, {counted}) AS ms, countIf({counted}) AS reports "
        "FROM (SELECT site, session_id, path, is_bot, type, ts, engaged_ms, "
        f"sum(type != 'engagement') OVER ({window}) AS nth, "
        f"max(if(type != 'engagement', ts, 0)) OVER ({window}) AS hit "
        f"FROM events WHERE ({where}) AND type IN ('pageview', 'request', 'engagement') AND session_id != 0) "
        f"WHERE nth > 0 GROUP BY session_id, path, is_bot, nth HAVING reports > 0 AND ({hits})) "
        "GROUP BY site, is_bot, path, hour, b"
    )


def rebuild(ch: ClickHouse) -> int:
    """Count every stored view into `rollup_engaged` (the backfill of migration 0005), REBUILD_DAYS of page hits
    per round trip; returns the views counted. Each step's insert has a token, so a second run (another
    collector migrating at the same time) adds nothing."""
    first, last = ch.one("SELECT minOrNull(ts), maxOrNull(ts) FROM events WHERE session_id != 0") or (None, None)
    done = 0
    if first is None or last is None:
        return done
    day = int(first) // DAY * DAY
    while day <= last:
        end = day + REBUILD_DAYS * DAY
        rows = ch.rows(
            histogram_sql("ts >= ? AND ts < ?"), (float(day), float(end + VIEW_REPORTS_S), float(day), float(end))
        )
        insert_changes(ch, {tuple(r[:5]): int(r[5]) for r in rows}, f"engaged-rebuild:{day}")  # type: ignore[misc]
        done += sum(int(r[5]) for r in rows)
        day = end
    log.info("rollups: %d engaged views counted", done)
    return done
