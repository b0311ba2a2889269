"""Live view and session resumption on ClickHouse give SQLite's answers on the same generated data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from db.clickhouse.queries import live as ch_live
from db.clickhouse.queries import sessions as ch_sessions
from db.queries.live import LIVE_WINDOW_S
from db.rules import DAY, HOUR
from db.sqlite.queries import live, sessions
from tests.db.engine_pair import NOW, Pair, engine_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    yield from engine_pair(tmp_path_factory)


LIVE_FILTERS = [
    {},
    {"site": "example.com"},
    {"bots": True},
    {"bots": False, "site": "shop.example"},
    {"dims": [("country", "DE")]},
    {"dims": [("page", "/pricing"), ("browser", "Firefox")]},
    {"dims": [("exit", "/docs")], "bots": False},
]


@pytest.mark.parametrize("filters", LIVE_FILTERS)
def test_active_sessions_match(pair: Pair, filters: dict) -> None:
    for now, window in ((NOW, LIVE_WINDOW_S), (NOW - 5 * HOUR, 3 * HOUR)):
        want = live.active_sessions(pair.sqlite, now, window_s=window, **filters)
        got = ch_live.active_sessions(pair.ch, now, window_s=window, **filters)
        assert got == want
        assert want or filters.get("dims")
    assert ch_live.active_sessions(pair.ch, NOW, limit=3, **filters) == live.active_sessions(
        pair.sqlite, NOW, limit=3, **filters
    )


def test_active_sessions_count_by_hand(pair: Pair) -> None:
    seen = [s for s in pair.data.sessions.values() if NOW - LIVE_WINDOW_S < s.last_seen <= NOW + 1]
    got = ch_live.active_sessions(pair.ch, NOW, limit=10_000)
    assert len(got) == len(seen) > 20
    assert [s.current_page for s in got] == [
        s.exit_path for s in sorted(seen, key=lambda s: (s.last_seen, s.id), reverse=True)
    ]


def _ignore_ids(events: list[live.TailEvent]) -> list[live.TailEvent]:
    """Tail events without their ids: each engine numbers events its own way (in the same order)."""
    return [replace(e, id=0) for e in events]


@pytest.mark.parametrize("filters", LIVE_FILTERS)
def test_latest_events_match(pair: Pair, filters: dict) -> None:
    want = live.latest_events(pair.sqlite, 0, limit=50, **filters)
    got = ch_live.latest_events(pair.ch, 0, limit=50, **filters)
    assert _ignore_ids(got) == _ignore_ids(want)
    assert len(got) == 50 or filters.get("dims")
    if len(got) > 10:
        # The tail goes on from the tenth event it showed: the same events follow on both engines.
        after = ch_live.latest_events(pair.ch, got[9].id, limit=5, **filters)
        assert _ignore_ids(after) == _ignore_ids(live.latest_events(pair.sqlite, want[9].id, limit=5, **filters))
        assert _ignore_ids(after) == _ignore_ids(got[-5:])
        assert ch_live.latest_events(pair.ch, got[-1].id, **filters) == []


def test_latest_events_by_hand(pair: Pair) -> None:
    newest = sorted(pair.data.events, key=lambda e: e.ts)[-20:]
    got = ch_live.latest_events(pair.ch, 0, limit=20)
    assert [(e.ts, e.type, e.path, e.session_id) for e in got] == [
        (e.ts, e.type, e.path, e.session_id) for e in newest
    ]


def test_events_since(pair: Pair) -> None:
    for since in (NOW - 60, NOW - HOUR, NOW - 7 * DAY, 0.0):
        assert ch_live.events_since(pair.ch, since) == live.events_since(pair.sqlite, since)
    assert ch_live.events_since(pair.ch, NOW - DAY) == sum(e.ts > NOW - DAY for e in pair.data.events)


def test_session_timeline_detail_and_fingerprint_history(pair: Pair) -> None:
    ids = sorted(pair.data.sessions)
    picked = ids[::37] + ids[-5:]
    updated = [sid for sid, s in pair.data.sessions.items() if s.exit_path == "/thanks"]
    assert updated
    for sid in picked + updated[:5] + [10**12]:
        assert ch_live.session_timeline(pair.ch, sid) == live.session_timeline(pair.sqlite, sid)
        assert ch_live.session_timeline(pair.ch, sid, limit=2) == live.session_timeline(pair.sqlite, sid, limit=2)
        assert ch_live.session_detail(pair.ch, sid) == live.session_detail(pair.sqlite, sid)
    detail = ch_live.session_detail(pair.ch, updated[0])
    assert detail is not None and detail.session.current_page == "/thanks"  # the newest snapshot
    assert ch_live.session_detail(pair.ch, 10**12) is None
    windows = next(s for s in pair.data.sessions.values() if s.os_version == "Windows 11")
    detail = ch_live.session_detail(pair.ch, windows.id)
    assert detail is not None and (detail.os_version, detail.browser_version) == ("Windows 11", windows.browser_version)
    assert detail.browser_version.startswith("12")
    bot = next(s for s in pair.data.sessions.values() if s.is_bot)
    detail = ch_live.session_detail(pair.ch, bot.id)
    assert detail is not None and detail.bot_reasons == ("fast clicks", "no js")
    assert [s.name for s in detail.signals] == ["fast_clicks"]
    fingerprints = sorted({s.fingerprint for s in pair.data.sessions.values()})
    for fp in fingerprints[::4] + ["", "fp-unknown"]:
        want = live.fingerprint_history(pair.sqlite, fp)
        assert ch_live.fingerprint_history(pair.ch, fp) == want
        assert ch_live.fingerprint_history(pair.ch, fp, limit=2) == live.fingerprint_history(pair.sqlite, fp, 2)
        assert len(want) == min(50, sum(s.fingerprint == fp for s in pair.data.sessions.values()) if fp else 0)


def test_sessions_active_since(pair: Pair) -> None:
    for since in (NOW - 30 * 60, NOW - 6 * HOUR, NOW - 3 * DAY):
        want = sessions.sessions_active_since(pair.sqlite, since)
        got = ch_sessions.sessions_active_since(pair.ch, since)
        assert got == want
        assert got == sorted(
            (s for s in pair.data.sessions.values() if s.last_seen > since), key=lambda s: (s.last_seen, s.id)
        )


def test_tail_reads_from_the_time_of_the_last_id(pair: Pair) -> None:
    """Ids start with their event's milliseconds: the tail's time bound never drops an event it must show."""
    newest = ch_live.latest_events(pair.ch, 0, limit=1000)
    for e in newest[:: 50]:
        assert ch_live.earliest_ts(e.id) <= e.ts < ch_live.earliest_ts(e.id) + 1.001
        after = ch_live.latest_events(pair.ch, e.id, limit=10_000)
        assert after == [n for n in newest if n.id > e.id]


def test_migrate_copies_os_versions(pair: Pair, clickhouse: object) -> None:
    """`sitelens migrate` (SQLite copy_out -> ClickHouse copy_in) carries the OS version of events and sessions."""
    from db.clickhouse.copy import copy_in, count_table
    from db.clickhouse.queries import overview as ch_overview
    from db.queries.common import Filters, span_for
    from tests.engines import sqlite_store

    source = sqlite_store(pair.sqlite)
    try:
        for table in ("sessions", "events"):
            after = None
            while rows := source.copy_out(table, after, 5000):  # type: ignore[attr-defined]
                copy_in(clickhouse, table, rows, token=f"{table}:{after}")  # type: ignore[arg-type]
                after = rows[-1][0]
            assert count_table(clickhouse, table) == source.count_table(table)  # type: ignore[arg-type,attr-defined]
    finally:
        source.close()  # type: ignore[attr-defined]
    for sid in sorted(pair.data.sessions)[::50]:
        assert ch_live.session_detail(clickhouse, sid) == live.session_detail(pair.sqlite, sid)  # type: ignore[arg-type]
    span = span_for("7d", NOW)
    for dimension in ("os_version", "pages"):
        filters = Filters(dims=(("os_version", "Windows 10"),))
        assert ch_overview.top(clickhouse, span, filters, dimension) == ch_overview.top(  # type: ignore[arg-type]
            pair.ch, span, filters, dimension
        )
