"""Erasure and export streams on ClickHouse: the same answers as SQLite on one dataset, nothing of an erased
visitor left on either engine, streamed exports with the same rows."""

from __future__ import annotations

import pytest

from db.clickhouse.queries import bots as chb
from db.clickhouse.queries import erase as che
from db.clickhouse.queries import export as chx
from db.export.streams import ExportFilter, ExportQueryError
from db.queries.common import Span
from db.rules import DAY
from db.sqlite.export import streams as sqx
from db.sqlite.queries import bots as sqb
from db.sqlite.queries import erase as sqe
from db.sqlite.queries.anomalies import insert_anomaly
from db.sqlite.queries.funnels import save_funnel
from tests.db.both_engines import NOW, OTHER, generate, loaded
from tests.factories import SITE, T0

FILTERS = [
    ExportFilter(),
    ExportFilter(site=SITE),
    ExportFilter(site=OTHER, bots="humans"),
    ExportFilter(start=NOW - 7 * DAY, end=NOW, bots="bots"),
    ExportFilter(site=SITE, start=T0 + 3.3 * DAY, end=T0 + 20 * DAY),
]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    from db.clickhouse.queries.anomalies import insert_anomaly as ch_insert_anomaly
    from db.clickhouse.queries.funnels import save_funnel as ch_save_funnel
    from db.funnels import make_funnel

    for conn, ch in loaded(tmp_path_factory, generate()):
        for i, site in enumerate([SITE, "", OTHER, SITE]):
            args = ("threshold", f"r{i}", "pageviews", site, "warning", 10.0 * i, 5.0, T0 + i * 5 * DAY)
            insert_anomaly(conn, *args)
            ch_insert_anomaly(ch, *args)
        for i, name in enumerate(["zeta", "alpha", "mid"]):
            funnel = make_funnel(name, [{"path": "/"}, {"path": f"/{name}"}], 600, SITE if i else "")
            save_funnel(conn, funnel, now=T0 + i * DAY)
            ch_save_funnel(ch, funnel, now=T0 + i * DAY)
        yield conn, ch


def _rows(stream, drop_id: bool):
    rows = [row for chunk in stream.chunks for row in chunk]
    return [row[1:] for row in rows] if drop_id else rows


@pytest.mark.parametrize("what", ["events", "sessions", "anomalies", "funnels"])
def test_streamed_exports_equal_sqlite(both, what):
    conn, ch = both
    # Row ids are each engine's own (autoincrement there, time-based here): compared without them, except
    # sessions, whose ids come from the collector.
    drop_id = what != "sessions"
    total = 0
    for flt in FILTERS:
        expected = sqx.stream_table(conn, what, flt)
        got = chx.stream_table(ch, what, flt, chunk=97, page_rows=300)  # many pages and chunks, uneven ends
        assert got.columns == expected.columns and got.types == expected.types
        rows = _rows(got, drop_id)
        assert rows == _rows(expected, drop_id), flt
        assert chx.count_rows(ch, what, flt) == sqx.count_rows(conn, what, flt) == len(rows)
        total += len(rows)
    assert total > 0


def test_export_known_values_and_errors(both):
    conn, ch = both
    assert chx.count_rows(ch, "funnels", ExportFilter()) == 3
    names = [row[1] for chunk in chx.stream_table(ch, "funnels", ExportFilter(site=SITE)).chunks for row in chunk]
    assert names == ["alpha", "mid"]  # created in this order, on SITE
    assert chx.count_rows(ch, "sessions", ExportFilter()) == 700
    with pytest.raises(ExportQueryError, match="rollup"):
        chx.stream_table(ch, "rollups", ExportFilter())
    with pytest.raises(ExportQueryError, match="unknown export"):
        chx.count_rows(ch, "secrets", ExportFilter())
    with pytest.raises(ExportQueryError, match="bots"):
        chx.stream_table(ch, "events", ExportFilter(bots="robots"))


def test_empty_export(clickhouse):
    stream = chx.stream_table(clickhouse, "events", ExportFilter())
    assert list(stream.chunks) == [] and stream.columns[0] == "id"


def test_lookups_equal_sqlite(both):
    conn, ch = both
    assert che.recent_site_uas(ch, NOW - 3 * DAY) == sorted(sqe.recent_site_uas(conn, NOW - 3 * DAY))
    candidates = [f"v{i}" for i in range(0, 400, 3)] + ["", "nobody"]
    assert che.existing_visitor_ids(ch, candidates) == sqe.existing_visitor_ids(conn, candidates)
    assert che.existing_visitor_ids(ch, ["v0", "nobody"]) == {"v0"}
    assert che.visitor_ids_with_ip(ch, "10.0.0.7") == sqe.visitor_ids_with_ip(conn, "10.0.0.7") != set()
    assert che.stored_ip_count(ch) == sqe.stored_ip_count(conn) == 1


@pytest.fixture
def fresh(tmp_path_factory):
    """Both engines with a small dataset of their own (erasure changes it)."""
    yield from loaded(tmp_path_factory, generate(seed=3, n_visits=120))


def _traces(conn, ch, visitors, ip):
    """Rows anywhere that still belong to the visitors or hold the IP, per engine."""
    sqlite = sum(
        conn.execute(f"SELECT count(*) FROM {t} WHERE visitor_id IN ({','.join('?' * len(visitors))}) OR ip = ?",
                     (*visitors, ip)).fetchone()[0]
        for t in ("events", "sessions")
    )
    clickhouse = sum(
        ch.value(f"SELECT count() FROM {t} WHERE visitor_id IN ? OR ip = ?", (visitors, ip))
        for t in ("events", "sessions")
    )
    return sqlite, clickhouse


def test_erase_leaves_nothing_on_either_engine(fresh):
    conn, ch = fresh
    visitors = ["v1", "v2", "v77"]
    ip = "10.0.0.9"
    before = _traces(conn, ch, visitors, ip)
    assert before[0] == before[1] > 0
    fps = sorted({r[0] for r in conn.execute("SELECT fingerprint FROM sessions WHERE visitor_id IN (?, ?, ?) OR ip = ?",
                                            (*visitors, ip))})
    other_sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
    sqlite = sqe.erase_visitors(conn, [*visitors, ""], ip=ip)
    clickhouse = che.erase_visitors(ch, [*visitors, ""], ip=ip)
    assert clickhouse == sqlite
    assert clickhouse.visitors == visitors and clickhouse.events > 0 and clickhouse.sessions > 0
    assert clickhouse.fingerprints == len(fps) > 0
    assert _traces(conn, ch, visitors, ip) == (0, 0)
    assert ch.value("SELECT count() FROM fingerprint_news WHERE fingerprint IN ?", (fps,)) == 0
    assert ch.value("SELECT count() FROM sessions FINAL") == conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
    assert ch.value("SELECT count() FROM sessions FINAL") == other_sessions - sqlite.sessions
    assert ch.value("SELECT count() FROM events") == conn.execute("SELECT count(*) FROM events").fetchone()[0]
    # The funnels' copy of page hits and custom events lost the same rows (those erased by IP included).
    steps = "SELECT count() FROM events WHERE type IN ('pageview', 'request', 'event')"
    assert ch.value("SELECT count() FROM funnel_steps FINAL") == ch.value(steps)
    assert che.erase_visitors(ch, visitors, ip=ip).events == 0  # nothing left to erase
    for table in ("fingerprint_reputation", "fingerprint_ranks", "fingerprint_signals"):
        assert ch.value(f"SELECT count() FROM {table} WHERE fingerprint IN ?", (fps,)) == 0, table
    span = Span(T0 - DAY, T0 + 60 * DAY)
    assert chb.top_fingerprints(ch, span, 1000) == sqb.top_fingerprints(conn, span, 1000)


def test_erase_removes_every_session_version(clickhouse):
    """A session updated by later flushes has several stored versions: erasure removes all of them."""
    from dataclasses import replace

    from tests.engines import ch_write
    from tests.factories import visit

    v = visit(T0, [(0, "/a")], visitor="gone")
    ch_write(clickhouse, v.events, [v.session])
    ch_write(clickhouse, [], [replace(v.session, pageviews=2, last_seen=T0 + 10)])
    assert clickhouse.value("SELECT count() FROM sessions") == 2
    erased = che.erase_visitors(clickhouse, ["gone"])
    assert (erased.events, erased.sessions) == (1, 1)
    assert clickhouse.value("SELECT count() FROM sessions") == 0
