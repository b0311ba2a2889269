"""The engaged histogram on ClickHouse (`rollup_engaged`) stays exact as the writer keeps it: over days of views
whose reports arrive in later flushes (one out of order), a view crossing midnight, a report too late for its
view and a late bot verdict, long-span engagement medians read from it equal the raw rows' and SQLite's, and
what the writer kept equals what the migration's backfill counts from the stored rows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from db.batch import Batch
from db.clickhouse import engaged, rollups
from db.clickhouse.queries import overview as ch_overview
from db.clickhouse.writer import insert, prepare
from db.queries.common import Filters, Span
from db.rules import DAY, HOUR
from db.sqlite.batch import write_batch
from db.sqlite.queries import overview as sq_overview
from db.sqlite.rollups import rollup_hooks
from tests.factories import SITE, T0, Visit, new_db, visit

STRAGGLER = T0 + DAY - 10
"""A report sent before the reader's next page hit but delivered in the last flush, after it."""
BOUNDS = (T0 + DAY - 300, T0 + DAY + 600, T0 + 2 * DAY + 3690)
"""Where the flushes are cut (by event time; the straggler aside)."""
SPANS = (Span(T0, T0 + 3 * DAY), Span(T0 + 1234.5, T0 + 3 * DAY + 321.0), Span(T0 - DAY, T0 + 4 * DAY))


def _visits() -> list[Visit]:
    reader = visit(  # a view begun at 23:50 whose reports go on past midnight; a second view the next night
        T0 + DAY - 600,
        [(0, "/docs"), (DAY + 300, "/docs"), (DAY + 900, "/")],
        visitor="r1",
        session_id=21,
        engagement=[
            (60, "/docs", 50, 4000),
            (700, "/docs", 80, 9000),
            (STRAGGLER - (T0 + DAY - 600), "/docs", 90, 30000),
            (DAY + 400, "/docs", 30, 2000),
            (DAY + 1000, "/", 10, 1500),
        ],
    )
    late = visit(  # judged a bot in the last flush, after its first view was stored as a human's
        T0 + 2 * DAY + HOUR,
        [(0, "/docs"), (100, "/pricing")],
        visitor="b1",
        session_id=22,
        engagement=[(50, "/docs", 40, 7000), (200, "/pricing", 60, 3000), (500, "/docs", 70, 1000)],
    )
    slow = visit(  # one report in time, one more than a day after the page hit (not counted)
        T0 + HOUR,
        [(0, "/")],
        visitor="s1",
        session_id=23,
        engagement=[(30, "/", 10, 1200), (DAY + 2 * HOUR, "/", 10, 99999)],
    )
    return [reader, late, slow]


def _flushes() -> list[Batch]:
    """Four flushes by event time, each with its sessions' versions; the straggler in the last, where the late
    session is a bot."""
    batches = [Batch() for _ in range(len(BOUNDS) + 1)]
    for v in _visits():
        for e in v.events:
            i = len(BOUNDS) if e.ts == STRAGGLER else sum(e.ts >= b for b in BOUNDS)
            batches[i].events.append(e.as_row())
            last = i == len(BOUNDS) and v.session.id == 22
            session = replace(v.session, is_bot=1, bot_score=90) if last else v.session
            batches[i].sessions[v.session.id] = session.as_row()
    return batches


def _histogram(ch: object) -> list[tuple[object, ...]]:
    return ch.rows(  # type: ignore[attr-defined, no-any-return]
        "SELECT site, is_bot, path, grain, bucket, ms_bucket, sum(views) AS n FROM rollup_engaged GROUP BY ALL "
        "HAVING n != 0 ORDER BY ALL"
    )


@pytest.mark.parametrize("writer", ["kept", "forgetful", "unknown", "retried"])
def test_engaged_histogram_kept_by_flushes_matches_raw_rows_sqlite_and_the_backfill(clickhouse, tmp_path, writer):
    conn = new_db(tmp_path / "s.db")
    memo = {"kept": rollups.Memo(since=T0 - DAY), "forgetful": rollups.Memo(1, since=T0 - DAY)}.get(writer)
    for batch in _flushes():
        write_batch(conn, batch, rollup_hooks())
        prepared = prepare(batch)
        insert(clickhouse, prepared, memo=memo)  # type: ignore[arg-type]
        if writer == "retried":  # sent again after a timeout: counted once
            insert(clickhouse, prepared)  # type: ignore[arg-type]
    kept = _histogram(clickhouse)
    views = {
        (bot, grain): sum(int(r[6]) for r in kept if r[1] == bot and r[3] == grain)
        for bot in (0, 1)
        for grain in (HOUR, DAY)
    }  # type: ignore[call-overload]
    # reader's two /docs views and /, slow's /; the late bot's /docs and /pricing: by the hour and by the day
    assert views == {(0, HOUR): 4, (0, DAY): 4, (1, HOUR): 2, (1, DAY): 2}
    for span in SPANS:
        for bots in ("humans", "bots", "all"):
            f = Filters(SITE, (), bots)
            got = ch_overview.engagement(clickhouse, span, f)  # type: ignore[arg-type]
            assert got == ch_overview.engagement(clickhouse, span, f, rollups=False)  # type: ignore[arg-type]
            assert got == sq_overview.engagement(conn, span, f)
            assert got == sq_overview.engagement(conn, span, f, rollups=False)
    [docs] = [p for p in ch_overview.engagement(clickhouse, SPANS[0], Filters(SITE)) if p.path == "/docs"]  # type: ignore[arg-type]
    assert docs.median_engaged_s == pytest.approx((43.0 + 2.0) / 2, rel=0.03)  # views of 43 s and 2 s
    clickhouse.command("TRUNCATE TABLE rollup_engaged")  # type: ignore[attr-defined]
    assert engaged.rebuild(clickhouse) == 6  # type: ignore[arg-type]
    assert _histogram(clickhouse) == kept
