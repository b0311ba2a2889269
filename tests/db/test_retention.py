"""Retention deletes old raw rows in small batches and keeps the rollups, so old statistics stay."""

from __future__ import annotations

from db.queries.common import Filters, Span
from db.rules import DAY
from db.sqlite.queries.overview import kpis, top
from db.sqlite.retention import delete_raw_batch, purge
from tests.factories import SITE, T0, new_db, visit, write_visits


def dataset(conn) -> None:
    old = [visit(T0 + i * 60, [(0, "/"), (30, "/old")], visitor=f"o{i}") for i in range(30)]
    new = [visit(T0 + 100 * DAY + i * 60, [(0, "/new")], visitor=f"n{i}") for i in range(5)]
    write_visits(conn, old + new)


def test_old_raw_rows_go_in_batches_and_rollups_stay(tmp_path):
    conn = new_db(tmp_path / "r.db")
    dataset(conn)
    old_span = Span(T0 - 5 * DAY, T0 + 10 * DAY)
    before = kpis(conn, old_span, Filters(site=SITE))
    assert before.pageviews == 60

    now = T0 + 101 * DAY
    assert delete_raw_batch(conn, "events", now - 90 * DAY, limit=25) == 25  # one small batch at a time
    deleted = purge(conn, now, raw_days=90, rollup_days=0, limit=25)
    assert deleted == {"events": 35, "sessions": 30}
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 5

    after = kpis(conn, old_span, Filters(site=SITE))
    assert (after.pageviews, after.sessions, after.visitors) == (60, 30, 30)  # served by the rollups
    assert top(conn, old_span, Filters(site=SITE), "pages")[0].value in ("/", "/old")


def test_rollups_are_kept_forever_unless_configured(tmp_path):
    conn = new_db(tmp_path / "r.db")
    dataset(conn)
    now = T0 + 101 * DAY
    purge(conn, now, raw_days=90, rollup_days=0)
    assert conn.execute("SELECT count(*) FROM rollup_traffic WHERE hour < ?", (T0 + DAY,)).fetchone()[0] > 0
    deleted = purge(conn, now, raw_days=90, rollup_days=30)
    assert deleted["rollup_traffic"] > 0 and deleted["rollup_pages"] > 0 and deleted["rollup_dims"] > 0
    assert conn.execute("SELECT min(hour) FROM rollup_traffic").fetchone()[0] >= T0 + 100 * DAY
    assert kpis(conn, Span(T0 + 99 * DAY, now), Filters(site=SITE)).pageviews == 5
