"""Anomalies on ClickHouse: metric values and series equal SQLite's on one dataset; anomalies and rules behave
the same on both engines."""

from __future__ import annotations

import pytest

from db.clickhouse.queries import anomalies as cha
from db.queries.common import Span, span_for
from db.rules import DAY, HOUR
from db.sqlite.queries import anomalies as sqa
from tests.db.both_engines import NOW, OTHER, generate, loaded
from tests.factories import SITE, new_db

METRICS = ["pageviews", "sessions", "bot_ratio", "throttled", "error_rate", "p95_latency", "event:signup", "event:none"]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    yield from loaded(tmp_path_factory, generate())


@pytest.mark.parametrize("metric", METRICS)
def test_metric_values_and_series_equal_sqlite(both, metric):
    conn, ch = both
    volume = 0
    for site in ("", SITE, OTHER):
        for start, end in [(NOW - 300, NOW), (NOW - HOUR - 17.5, NOW), (NOW - DAY, NOW), (NOW - 30 * DAY, NOW - DAY)]:
            value, n = sqa.metric_value(conn, metric, site, start, end)
            assert cha.metric_value(ch, metric, site, start, end) == (pytest.approx(value), n), (site, start, end)
            volume += n
        for range_name in ("live", "1h", "24h", "7d", "30d"):
            span = span_for(range_name, NOW)
            series = sqa.metric_series(conn, metric, site, span)
            assert cha.metric_series(ch, metric, site, span) == pytest.approx(series), (site, range_name)
    assert volume > 0 or metric == "event:none"


def test_metric_known_values(clickhouse):
    """Latency and errors of four API requests, by hand: nearest-rank p95 is the largest, one of four is a 5xx."""
    from tests.engines import ch_write
    from tests.factories import T0, server_event

    ch_write(
        clickhouse,
        [server_event(T0 + i, "api_request", status=s, latency_ms=ms) for i, (s, ms) in enumerate(
            [(200, 10.0), (500, 40.0), (200, 20.0), (404, 30.0)])],
    )
    assert cha.metric_value(clickhouse, "p95_latency", "", T0, T0 + 60) == (40.0, 4)
    assert cha.metric_value(clickhouse, "error_rate", "", T0, T0 + 60) == (25.0, 4)
    assert cha.metric_value(clickhouse, "pageviews", "", T0, T0 + 60) == (0.0, 0)
    assert cha.metric_series(clickhouse, "p95_latency", "", Span(T0, T0 + 120))[:2] == [(T0, 40.0), (T0 + 60, 0.0)]
    with pytest.raises(sqa.RuleError):
        cha.metric_value(clickhouse, "nonsense", "", T0, T0 + 60)


@pytest.fixture(params=["sqlite", "clickhouse"])
def store(request, tmp_path):
    if request.param == "sqlite":
        conn = new_db(tmp_path / "a.db")
        yield conn, sqa
        conn.close()
    else:
        yield request.getfixturevalue("clickhouse"), cha


def _shape(anomalies):
    """Anomalies without their ids (engine-specific)."""
    return [(a.kind, a.rule, a.metric, a.site, a.level, a.observed, a.expected, a.started, a.ended) for a in anomalies]


def test_anomalies(store):
    db, q = store
    a = q.insert_anomaly(db, "threshold", "r1", "pageviews", SITE, "warning", 120.0, 100.0, 1000.0)
    b = q.insert_anomaly(db, "trend", "", "sessions", "", "critical", 5.0, 50.0, 2000.0)
    c = q.insert_anomaly(db, "threshold", "r2", "bot_ratio", OTHER, "warning", 60.0, 20.0, 500.0)
    assert a.ended is None and len({a.id, b.id, c.id}) == 3
    assert _shape(q.open_anomalies(db)) == _shape([b, a, c])
    q.update_anomaly(db, a.id, "critical", 300.0, 100.0)
    q.close_anomaly(db, c.id, 900.0)
    q.close_anomaly(db, c.id, 5000.0)  # already closed: stays closed at 900
    still_open = [(x.id, x.level, x.observed) for x in q.open_anomalies(db)]
    assert still_open == [(b.id, "critical", 5.0), (a.id, "critical", 300.0)]
    recent = q.recent_anomalies(db, Span(0, 3000))
    assert [(x.id, x.ended) for x in recent] == [(b.id, None), (a.id, None), (c.id, 900.0)]
    assert [x.id for x in q.recent_anomalies(db, Span(950, 3000))] == [b.id, a.id]  # c ended before the span
    assert [x.id for x in q.recent_anomalies(db, Span(0, 3000), site=SITE)] == [b.id, a.id]  # site and all sites
    q.close_anomaly(db, b.id, 2500.0)
    assert [x.id for x in q.recent_anomalies(db, Span(0, 3000), open_first=True)] == [a.id, b.id, c.id]
    assert [x.id for x in q.recent_anomalies(db, Span(0, 3000), limit=1)] == [b.id]


def test_rules(store):
    db, q = store
    r1 = q.add_rule(db, "pageviews", 300, 100.0, None, SITE, "Traffic\x07 spike")
    r2 = q.add_rule(db, "event:signup", 600, None, 5.0)
    assert r1.name == "Traffic spike" and r1.enabled
    assert q.list_rules(db) == [r1, r2]
    assert q.set_rule_enabled(db, r1.id, False) is True
    assert q.set_rule_enabled(db, 999, False) is False
    assert [r.id for r in q.list_rules(db, enabled_only=True)] == [r2.id]
    assert q.list_rules(db)[0].enabled is False
    assert q.delete_rule(db, r2.id) is True
    assert q.delete_rule(db, r2.id) is False
    assert q.set_rule_enabled(db, r2.id, True) is False  # deleted rules stay deleted
    assert [r.id for r in q.list_rules(db)] == [r1.id]
    with pytest.raises(sqa.RuleError):
        q.add_rule(db, "pageviews", 5, 1.0, None)
    with pytest.raises(sqa.RuleError):
        q.add_rule(db, "unknown", 300, 1.0, None)
