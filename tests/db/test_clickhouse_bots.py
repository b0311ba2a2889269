"""The Bots view and fingerprint reputation on ClickHouse give SQLite's answers on the same generated data;
throttle overrides behave the same on both engines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from db.clickhouse.queries import bots as ch_bots
from db.clickhouse.queries import throttle as ch_throttle
from db.queries.common import Filters, span_for
from db.queries.throttle import OverrideError
from db.rules import DAY, HOUR
from db.sqlite.queries import bots, throttle
from tests.db.engine_pair import NOW, Pair, engine_pair
from tests.factories import new_db


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    yield from engine_pair(tmp_path_factory)


RANGES = ("live", "1h", "24h", "7d", "30d", "90d")
FILTERS = [
    Filters(),
    Filters(site="example.com"),
    Filters(site="shop.example", bots="all"),
    Filters(dims=(("country", "DE"),)),
    Filters(dims=(("path", "/pricing"),), bots="all"),
    Filters(site="example.com", dims=(("exit_path", "/thanks"),)),
]


@pytest.mark.parametrize("range_name", RANGES)
def test_bots_view_matches(pair: Pair, range_name: str) -> None:
    span = span_for(range_name, NOW)
    for filters in FILTERS:
        assert ch_bots.top_bots(pair.ch, span, filters) == bots.top_bots(pair.sqlite, span, filters)
        assert ch_bots.top_bots(pair.ch, span, filters, 2) == bots.top_bots(pair.sqlite, span, filters, 2)
        assert ch_bots.bot_share(pair.ch, span, filters) == bots.bot_share(pair.sqlite, span, filters)
    assert ch_bots.top_fingerprints(pair.ch, span) == bots.top_fingerprints(pair.sqlite, span)
    assert ch_bots.top_fingerprints(pair.ch, span, 5) == bots.top_fingerprints(pair.sqlite, span, 5)
    assert ch_bots.drops_by_level(pair.ch, span) == bots.drops_by_level(pair.sqlite, span)
    # The generated data fills every list of every span but the shortest.
    if range_name not in ("live", "1h"):
        assert ch_bots.top_bots(pair.ch, span, Filters()) and ch_bots.drops_by_level(pair.ch, span)


def test_bots_view_by_hand(pair: Pair) -> None:
    span = span_for("30d", NOW)
    started = [s for s in pair.data.sessions.values() if span.start <= s.started < span.end and s.is_bot]
    google = [s for s in started if s.bot_name == "Googlebot"]
    behavioural = [s for s in started if not s.bot_name]
    got = {b.name: b for b in ch_bots.top_bots(pair.ch, span, Filters())}
    assert (got["Googlebot"].sessions, got["Googlebot"].requests) == (
        len(google),
        sum(s.pageviews + s.requests + s.events for s in google),
    )
    assert got[bots.BEHAVIOURAL].sessions == len(behavioural) > 0
    pages = [e for e in pair.data.events if span.start <= e.ts < span.end and e.type in ("pageview", "request")]
    share = round(100.0 * sum(e.is_bot for e in pages) / len(pages), 2)
    assert ch_bots.bot_share(pair.ch, span, Filters()) == share > 0
    drops = sum(n for (minute, *_), n in pair.data.drops.items() if span.start // 60 * 60 <= minute < span.end)
    assert sum(d.count for d in ch_bots.drops_by_level(pair.ch, span)) == drops > 0


def test_fingerprint_reputation_matches(pair: Pair) -> None:
    fingerprints = sorted({f.fingerprint for f in pair.data.fingerprints})
    for fp in [*fingerprints, "fp-never-seen", "nobody"]:
        assert ch_throttle.get_fingerprint(pair.ch, fp) == throttle.get_fingerprint(pair.sqlite, fp)
    for since, min_score in ((0.0, 0), (NOW - 7 * DAY, 0), (NOW - 30 * DAY, 60), (NOW + DAY, 0)):
        want = throttle.top_fingerprints(pair.sqlite, since=since, min_score=min_score, limit=1000)
        got = ch_throttle.top_fingerprints(pair.ch, since=since, min_score=min_score, limit=1000)
        # SQLite leaves the order of equal (score, requests) pairs open: compare those as sets.
        assert sorted(got, key=lambda f: f.fingerprint) == sorted(want, key=lambda f: f.fingerprint)
        assert [(f.max_score, f.requests) for f in got] == [(f.max_score, f.requests) for f in want]
    assert ch_throttle.get_fingerprint(pair.ch, "fp-never-seen") is None
    blocked = [fp for fp, level in pair.data.levels.items() if level == "blocked"]
    row = ch_throttle.get_fingerprint(pair.ch, blocked[0])
    news = [f for f in pair.data.fingerprints if f.fingerprint == blocked[0]]
    assert row is not None and row.level == "blocked"  # the level change wins over the news it followed
    assert (row.first_seen, row.last_seen) == (min(f.seen for f in news), max(f.seen for f in news))
    assert (row.sessions, row.requests) == (sum(f.new_sessions for f in news), sum(f.requests for f in news))


def test_drops_since_match(pair: Pair) -> None:
    for since in (0.0, NOW - DAY, NOW - 7 * DAY - 17, NOW + HOUR):
        want = throttle.drops_since(pair.sqlite, since)
        got = ch_throttle.drops_since(pair.ch, since)
        assert sorted(got) == sorted(want)
        assert [n for *_k, n in got] == [n for *_k, n in want]
    total = sum(pair.data.drops.values())
    assert sum(n for *_k, n in ch_throttle.drops_since(pair.ch, 0.0)) == total


def test_top_fingerprints_signals(pair: Pair) -> None:
    rows = ch_bots.top_fingerprints(pair.ch, span_for("90d", NOW), 200)
    assert any("burst" in r.signals for r in rows)
    assert any(s.startswith("fast_clicks +") for r in rows for s in r.signals)


# --------------------------------------------------------------------------------------- throttle overrides


@pytest.fixture(params=["sqlite", "clickhouse"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[object, object]:
    """An empty store of each engine with its throttle module."""
    if request.param == "sqlite":
        return new_db(tmp_path / "t.db"), throttle
    return request.getfixturevalue("clickhouse"), ch_throttle


def test_override_set_active_clear(store: tuple[object, object]) -> None:
    db, mod = store
    t = 1_800_000_000.0
    first = mod.set_override(db, "ip", "2001:0db8:0000::0001", "blocked", "scraper\x07", None, now=t)  # type: ignore[attr-defined]
    active = mod.active_overrides(db, t + 1)  # type: ignore[attr-defined]
    assert [(o.id, o.kind, o.target, o.level, o.reason, o.cleared) for o in active] == [
        (first, "ip", "2001:db8::1", "blocked", "scraper ", None)
    ]
    # A new override on the same target replaces the active one; ids grow.
    second = mod.set_override(db, "ip", "2001:db8::1", "severe", "", t + 3600, now=t + 10)  # type: ignore[attr-defined]
    assert second > first
    assert [(o.id, o.level) for o in mod.active_overrides(db, t + 11)] == [(second, "severe")]  # type: ignore[attr-defined]
    cidr = mod.set_override(db, "cidr", "203.0.113.7/24", "warning", "net", None, now=t + 20)  # type: ignore[attr-defined]
    fp = mod.set_override(db, "fingerprint", " fp-1 ", "normal", "", None, now=t + 30)  # type: ignore[attr-defined]
    assert [(o.id, o.target) for o in mod.active_overrides(db, t + 31)] == [  # type: ignore[attr-defined]
        (second, "2001:db8::1"),
        (cidr, "203.0.113.0/24"),
        (fp, "fp-1"),
    ]
    # Expiry: the severe one ends after an hour.
    assert [o.id for o in mod.active_overrides(db, t + 3600 + 10)] == [cidr, fp]  # type: ignore[attr-defined]
    # Clearing by target (typed in long form), by id, and twice.
    assert mod.clear_override(db, "2001:0db8::0001", now=t + 40) == 1  # type: ignore[attr-defined]
    assert mod.clear_override(db, cidr, now=t + 41) == 1  # type: ignore[attr-defined]
    assert mod.clear_override(db, cidr, now=t + 42) == 0  # type: ignore[attr-defined]
    assert mod.clear_override(db, "nothing-here", now=t + 42) == 0  # type: ignore[attr-defined]
    assert [o.id for o in mod.active_overrides(db, t + 50)] == [fp]  # type: ignore[attr-defined]
    history = mod.recent_overrides(db)  # type: ignore[attr-defined]
    assert [(o.id, o.cleared) for o in history] == [
        (fp, None),
        (cidr, t + 41),
        (second, t + 40),
        (first, t + 10),
    ]
    assert [o.id for o in mod.recent_overrides(db, 2)] == [fp, cidr]  # type: ignore[attr-defined]


def test_override_refusals(store: tuple[object, object]) -> None:
    db, mod = store
    t = 1_800_000_000.0
    for kind, target, level, expires in (
        ("ip", "not-an-ip", "blocked", None),
        ("host", "x", "blocked", None),
        ("cidr", "300.0.0.0/8", "blocked", None),
        ("fingerprint", "fp", "furious", None),
        ("fingerprint", "fp", "blocked", t - 1),
        ("fingerprint", "", "blocked", None),
    ):
        with pytest.raises(OverrideError):
            mod.set_override(db, kind, target, level, "", expires, now=t)  # type: ignore[attr-defined]
    assert mod.recent_overrides(db) == []  # type: ignore[attr-defined]


def test_reputation_folds_like_the_sqlite_upsert(clickhouse: object, tmp_path: Path) -> None:
    """Hand-made news rows: the newest User-Agent wins even when empty, empty bot names and flags keep the
    older ones, a level change alone only sets the level (on both engines)."""
    from db.batch import Batch
    from db.records import FingerprintRecord
    from db.sqlite.batch import write_batch
    from tests.db.engine_pair import write_clickhouse

    t = 1_700_000_000.0
    batches = [
        Batch(fingerprints={"fp": FingerprintRecord("fp", t, 1, 5, 40, "normal", "UA/1", "", json.dumps(["a"]))}),
        Batch(fingerprints={"fp": FingerprintRecord("fp", t + 60, 0, 3, 90, "warning", "UA/2", "Googlebot")}),
        Batch(fingerprints={"fp": FingerprintRecord("fp", t + 120, 1, 2, 10, "severe", "", "")}),
        Batch(levels={"fp": "blocked", "other": "blocked"}),
    ]
    conn = new_db(tmp_path / "f.db")
    for b in batches:
        write_batch(conn, b, [])
    write_clickhouse(clickhouse, batches)
    want = throttle.FingerprintRow("fp", t, t + 120, 2, 10, 90, ("a",), "blocked", "", "Googlebot")
    assert throttle.get_fingerprint(conn, "fp") == want
    assert ch_throttle.get_fingerprint(clickhouse, "fp") == want  # type: ignore[arg-type]
    assert ch_throttle.get_fingerprint(clickhouse, "other") is None  # type: ignore[arg-type]
    assert ch_throttle.top_fingerprints(clickhouse, since=t + 121) == []  # type: ignore[arg-type]
    assert ch_throttle.top_fingerprints(clickhouse, min_score=50) == [want]  # type: ignore[arg-type]


@pytest.mark.parametrize("reads", [(256, 16_384), (1, 1 << 20), (1, 0)], ids=["default", "growing", "fold"])
def test_top_fingerprints_rank_on_every_news_row(
    clickhouse: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: tuple[int, int]
) -> None:
    """The worst fingerprints of a span are ranked on their whole reputation, on both engines and for every
    limit: a score from before the span counts, news only outside the span lists nothing, and the span's best
    news rows may all belong to one fingerprint; ties break by fingerprint. The same answers whether the rank rows
    are read at once, a few at a time (older rank rows of a fingerprint met on the way, a tie cut at the edge), or
    not at all (every fingerprint with news since the span's start folded)."""
    from db.batch import Batch
    from db.records import FingerprintRecord
    from db.sqlite.batch import write_batch
    from tests.db.engine_pair import write_clickhouse

    t = 1_700_000_000.0
    span = span_for("7d", t + 8 * DAY)  # from t + DAY to t + 8 days

    def news(fp: str, day: float, requests: int, score: int) -> Batch:
        return Batch(fingerprints={fp: FingerprintRecord(fp, t + day * DAY, 1, requests, score, "normal", "UA", "")})

    batches = [
        news("old-high", 0.5, 1, 95), news("old-high", 2, 1, 1),  # seen in the span, its highest score before it
        news("gone", 0.5, 9, 99),  # seen before the span only
        news("later", 9, 9, 99),  # seen after it only
        news("across", 0.5, 4, 70), news("across", 9, 4, 10),  # seen before and after, no news within
        *(news("busy", 2 + i / 10, 1, 98) for i in range(4)),  # the span's best rows, one fingerprint's
        *(news(f"fp{i}", 3, 10 + i, 40 + i % 3) for i in range(8)),
        *(news(f"tie-{c}", 4, 7, 60) for c in "cab"),
    ]
    conn = new_db(tmp_path / "f.db")
    for b in batches:
        write_batch(conn, b, [])
    write_clickhouse(clickhouse, batches)
    everything = bots.top_fingerprints(conn, span)
    assert [f.fingerprint for f in everything][:7] == ["busy", "old-high", "across", "tie-a", "tie-b", "tie-c", "fp5"]
    assert {"gone", "later"}.isdisjoint(f.fingerprint for f in everything)
    monkeypatch.setattr(ch_bots, "FIRST_READ", reads[0])
    monkeypatch.setattr(ch_bots, "MAX_READ", reads[1])
    for limit in range(1, 13):
        assert ch_bots.top_fingerprints(clickhouse, span, limit) == bots.top_fingerprints(conn, span, limit)  # type: ignore[arg-type]


def test_a_store_from_before_the_reputation_tables_gets_them_by_migration(clickhouse: object, tmp_path: Path) -> None:
    """News and sessions stored at schema 5 are folded by the migration's backfill, once, and later news adds to
    them: the worst fingerprints and their latest session's signals are SQLite's."""
    from dataclasses import replace

    from db.batch import Batch
    from db.clickhouse import migrate, rank
    from db.records import FingerprintRecord
    from db.sqlite.batch import write_batch
    from tests.db.engine_pair import write_clickhouse
    from tests.factories import visit

    ch: Any = clickhouse
    t = 1_700_000_000.0
    span = span_for("7d", t + 8 * DAY)

    def flush(i: int, fp: str, score: int, signal: str) -> Batch:
        v = visit(t + DAY + i * HOUR, [(0, "/")], visitor=fp, fingerprint=fp, session_id=i % 3 + 1)
        session = replace(v.session, last_seen=t + DAY + i * HOUR, bot_signals=json.dumps([{"name": signal}]))
        news = FingerprintRecord(fp, t + DAY + i * HOUR, 1, i, score, "normal", f"UA/{i}", "")
        return Batch(sessions={session.id: session.as_row()}, fingerprints={fp: news})

    before = [flush(i, f"fp{i % 3}", 10 * i, f"s{i}") for i in range(6)]
    after = [flush(i, f"fp{i % 3}", 5, f"late{i}") for i in range(6, 9)]
    conn = new_db(tmp_path / "f.db")
    for b in before:
        write_batch(conn, b, [])
    write_clickhouse(ch, before)
    for view in rank.VIEWS.values():  # back to a store of schema 5 holding those rows
        ch.command(f"DROP VIEW {view}")
    for table in rank.PER_FINGERPRINT:
        ch.command(f"DROP TABLE {table}")
    ch.command("ALTER TABLE schema_migrations DELETE WHERE version = 7 SETTINGS mutations_sync = 1")
    migrate.migrate(ch)
    migrate.migrate(ch)  # applied once
    assert ch.value("SELECT count() FROM fingerprint_reputation") == 3
    for b in after:
        write_batch(conn, b, [])
    write_clickhouse(ch, after)
    want = bots.top_fingerprints(conn, span)
    assert [(f.fingerprint, f.max_score, f.requests, f.signals) for f in want] == [
        ("fp2", 50, 2 + 5 + 8, ("late8 +0",)),
        ("fp1", 40, 1 + 4 + 7, ("late7 +0",)),
        ("fp0", 30, 0 + 3 + 6, ("late6 +0",)),
    ]
    assert ch_bots.top_fingerprints(ch, span) == want
    rank.rebuild(ch)  # a second backfill (another collector migrating at once) adds nothing
    assert ch_bots.top_fingerprints(ch, span) == want


def test_fingerprints_past_raw_days_leave_the_list_as_on_sqlite(clickhouse: object, tmp_path: Path) -> None:
    """The reputation tables expire with `retention.raw_days` (a TTL, counted from the real clock), as SQLite's
    retention deletes fingerprints last seen before it."""
    import time

    from db.batch import Batch
    from db.clickhouse.queries.retention import set_retention
    from db.queries.common import Span
    from db.records import FingerprintRecord
    from db.sqlite.batch import write_batch
    from db.sqlite.retention import purge
    from tests.db.engine_pair import write_clickhouse

    ch: Any = clickhouse
    now = time.time()
    batches = [
        Batch(fingerprints={fp: FingerprintRecord(fp, now - days * DAY, 1, 5, score, "normal", "UA", "")})
        for fp, days, score in (("old", 60, 90), ("new", 2, 20), ("old", 50, 10))
    ]
    conn = new_db(tmp_path / "f.db")
    for b in batches:
        write_batch(conn, b, [])
    write_clickhouse(ch, batches)
    span = Span(now - 90 * DAY, now)
    assert [f.fingerprint for f in ch_bots.top_fingerprints(ch, span)] == ["old", "new"]
    purge(conn, now, raw_days=30, rollup_days=0)
    set_retention(ch, 30, 0)
    for table in ("fingerprint_news", "fingerprint_reputation", "fingerprint_ranks", "fingerprint_signals"):
        ch.command(f"OPTIMIZE TABLE {table} FINAL")  # TTLs apply at merges
    assert ch_bots.top_fingerprints(ch, span) == bots.top_fingerprints(conn, span)
    assert [f.fingerprint for f in ch_bots.top_fingerprints(ch, span)] == ["new"]


def test_worst_seen_reads_on_while_a_tie_may_be_cut() -> None:
    """Rank rows come worst first with ties in descending fingerprint order: a tie cut at the edge of what was read
    (its smallest fingerprint, first in SQLite's order, may come next) needs more rows; an older rank row of a
    fingerprint met before is passed over; a fingerprint seen outside the span is not listed."""
    from db.queries.common import Span

    def row(fp: str, score: int, requests: int, first: float = 10.0, last: float = 20.0) -> tuple[object, ...]:
        return (fp, "UA", 1, requests, score, "normal", "", last, "[]", first)

    span = Span(0.0, 100.0)
    rows = [row("out", 99, 9, first=200.0, last=300.0), row("x", 90, 5), row("x", 90, 4), row("c", 60, 7)]
    assert ch_bots.worst_seen(rows, span, 2, complete=False) is None  # "b" or "a" may tie with "c" further down
    rows += [row("b", 60, 7), row("a", 60, 7), row("z", 50, 1)]
    assert [r[0] for r in ch_bots.worst_seen(rows, span, 2, complete=False) or []] == ["x", "a"]
    assert ch_bots.worst_seen(rows, span, 2, complete=False)[0][3] == 5  # type: ignore[index]  # the newest row
    assert ch_bots.worst_seen(rows, span, 9, complete=False) is None
    assert [r[0] for r in ch_bots.worst_seen(rows, span, 9, complete=True) or []] == ["x", "a", "b", "c", "z"]


def test_an_erased_visitor_s_signals_go_and_the_others_stay(clickhouse: object, tmp_path: Path) -> None:
    """Two visitors behind one fingerprint, the later one erased: the fingerprint goes on both engines, and when it
    is seen again its signals are those of the latest session left, as SQLite reads them."""
    from dataclasses import replace

    from db.batch import Batch
    from db.clickhouse.queries import erase as ch_erase
    from db.records import FingerprintRecord
    from db.sqlite.batch import write_batch
    from db.sqlite.queries import erase as sq_erase
    from tests.db.engine_pair import write_clickhouse
    from tests.factories import visit

    ch: Any = clickhouse
    t = 1_700_000_000.0
    span = span_for("7d", t + 3 * DAY)

    def flush(i: int, visitor: str, day: float) -> Batch:
        v = visit(t + day * DAY, [(0, "/")], visitor=visitor, fingerprint="shared", session_id=i)
        session = replace(v.session, bot_signals=json.dumps([{"name": visitor, "weight": i}]))
        news = FingerprintRecord("shared", t + day * DAY, 1, 1, 50, "normal", "UA", "")
        return Batch(sessions={session.id: session.as_row()}, fingerprints={"shared": news})

    conn = new_db(tmp_path / "f.db")
    for batches in ([flush(1, "kept", 1)], [flush(2, "gone", 2)]):
        write_batch(conn, batches[0], [])
        write_clickhouse(ch, batches)
    assert ch_bots.top_fingerprints(ch, span)[0].signals == ("gone +2",)
    assert ch_erase.erase_visitors(ch, ["gone"]) == sq_erase.erase_visitors(conn, ["gone"])
    assert ch_bots.top_fingerprints(ch, span) == bots.top_fingerprints(conn, span) == []
    again = Batch(fingerprints={"shared": FingerprintRecord("shared", t + 2.5 * DAY, 0, 1, 20, "normal", "UA", "")})
    write_batch(conn, again, [])
    write_clickhouse(ch, [again])
    assert ch_bots.top_fingerprints(ch, span) == bots.top_fingerprints(conn, span)
    assert ch_bots.top_fingerprints(ch, span)[0].signals == ("kept +1",)
