"""SQLite: the Anomalies view and the anomaly service's storage: metric values, rules, open and past anomalies."""

from __future__ import annotations

import sqlite3

from db.queries.anomalies import (
    _COLUMNS,
    EVENT_PREFIX,
    Anomaly,
    AnomalyRule,
    RuleError,
    _anomaly,
    _rule,
    check_metric,
    rule_name,
    validate_rule,
)
from db.queries.common import Span, site_sql
from db.queries.overview import bucket_seconds
from db.queries.server import SERVER_TYPES_SQL, percentile


def metric_value(conn: sqlite3.Connection, metric: str, site: str, start: float, end: float) -> tuple[float, int]:
    """(value, volume) of a metric over [start, end): counts are themselves the volume; ratios and latency
    report how many events they were computed from. Ratios are percent (0-100), latency milliseconds."""
    s_sql, s_params = site_sql(site or None)  # "" means every site
    if metric == "pageviews":
        n = conn.execute(
            f"SELECT count(*) FROM events WHERE ts >= ? AND ts < ?{s_sql} AND is_bot = 0 "
            "AND type IN ('pageview', 'request')",
            (start, end, *s_params),
        ).fetchone()[0]
        return float(n), int(n)
    if metric == "sessions":
        n = conn.execute(
            f"SELECT count(*) FROM sessions WHERE started >= ? AND started < ?{s_sql} AND is_bot = 0",
            (start, end, *s_params),
        ).fetchone()[0]
        return float(n), int(n)
    if metric == "bot_ratio":
        total, bots = conn.execute(
            f"SELECT count(*), coalesce(sum(is_bot), 0) FROM events WHERE ts >= ? AND ts < ?{s_sql} "
            "AND type IN ('pageview', 'request')",
            (start, end, *s_params),
        ).fetchone()
        return (100.0 * bots / total if total else 0.0), int(total)
    if metric == "throttled":
        n = conn.execute(
            "SELECT coalesce(sum(count), 0) FROM throttle_drops WHERE bucket >= ? AND bucket < ?",
            (int(start // 60 * 60), end),
        ).fetchone()[0]
        return float(n), int(n)
    if metric in ("error_rate", "p95_latency"):
        rows = conn.execute(
            f"SELECT latency_ms, status FROM events WHERE ts >= ? AND ts < ?{s_sql} "
            f"AND {SERVER_TYPES_SQL} AND type = 'api_request' "
            "ORDER BY latency_ms",
            (start, end, *s_params),
        ).fetchall()
        if not rows:
            return 0.0, 0
        if metric == "error_rate":
            return 100.0 * sum(1 for r in rows if r[1] >= 500) / len(rows), len(rows)
        return percentile([float(r[0]) for r in rows], 95), len(rows)
    if metric.startswith(EVENT_PREFIX):
        n = conn.execute(
            f"SELECT count(*) FROM events WHERE type = 'event' AND name = ?{s_sql} AND ts >= ? AND ts < ? "
            "AND is_bot = 0",
            (metric[len(EVENT_PREFIX) :], *s_params, start, end),
        ).fetchone()[0]
        return float(n), int(n)
    raise RuleError(f"unknown metric {metric[:60]!r}")


def metric_series(conn: sqlite3.Connection, metric: str, site: str, span: Span) -> list[tuple[float, float]]:
    """(bucket start, value) across a span for charting next to an anomaly."""
    check_metric(metric)
    size = bucket_seconds(span)
    first = int(span.start // size) * size
    return [
        (float(b), round(metric_value(conn, metric, site, b, min(b + size, span.end))[0], 3))
        for b in range(first, int(span.end), size)
    ]


def open_anomalies(conn: sqlite3.Connection) -> list[Anomaly]:
    """Anomalies still going on, newest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM anomalies WHERE ended IS NULL ORDER BY started DESC, id DESC")
    return [_anomaly(r) for r in rows]


def recent_anomalies(
    conn: sqlite3.Connection, span: Span, limit: int = 100, *, site: str | None = None, open_first: bool = False
) -> list[Anomaly]:
    """Anomalies going on at any time in the span, newest first (open ones first if asked); with `site`, that
    site's anomalies and those on all sites."""
    where = "started < ? AND (ended IS NULL OR ended >= ?)"
    params: list[object] = [span.end, span.start]
    if site is not None:
        where += " AND site IN ('', ?)"
        params.append(site)
    order = "ended IS NOT NULL, started DESC, id DESC" if open_first else "started DESC, id DESC"
    rows = conn.execute(f"SELECT {_COLUMNS} FROM anomalies WHERE {where} ORDER BY {order} LIMIT ?", (*params, limit))
    return [_anomaly(r) for r in rows]


def insert_anomaly(
    conn: sqlite3.Connection,
    kind: str,
    rule: str,
    metric: str,
    site: str,
    level: str,
    observed: float,
    expected: float,
    started: float,
) -> Anomaly:
    """Store a newly opened anomaly."""
    cur = conn.execute(
        "INSERT INTO anomalies (kind, rule, metric, site, level, observed, expected, started) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, rule, metric, site, level, observed, expected, started),
    )
    return Anomaly(int(cur.lastrowid or 0), kind, rule, metric, site, level, observed, expected, started, None)


def update_anomaly(conn: sqlite3.Connection, anomaly_id: int, level: str, observed: float, expected: float) -> None:
    """Raise or lower the level of an open anomaly."""
    conn.execute(
        "UPDATE anomalies SET level = ?, observed = ?, expected = ? WHERE id = ?",
        (level, observed, expected, anomaly_id),
    )


def close_anomaly(conn: sqlite3.Connection, anomaly_id: int, ended: float) -> None:
    conn.execute("UPDATE anomalies SET ended = ? WHERE id = ? AND ended IS NULL", (ended, anomaly_id))


def list_rules(conn: sqlite3.Connection, *, enabled_only: bool = False) -> list[AnomalyRule]:
    """Rules stored in the database (added from the TUI)."""
    sql = "SELECT id, name, metric, window_s, warning, critical, site, enabled FROM anomaly_rules"
    if enabled_only:
        sql += " WHERE enabled = 1"
    return [_rule(r) for r in conn.execute(sql + " ORDER BY id")]


def add_rule(
    conn: sqlite3.Connection,
    metric: str,
    window_s: int,
    warning: float | None,
    critical: float | None,
    site: str = "",
    name: str = "",
) -> AnomalyRule:
    """Store a new threshold rule."""
    metric = validate_rule(metric, window_s, warning, critical)
    name = rule_name(name)
    cur = conn.execute(
        "INSERT INTO anomaly_rules (name, metric, window_s, warning, critical, site) VALUES (?, ?, ?, ?, ?, ?)",
        (name, metric, int(window_s), warning, critical, site),
    )
    if conn.isolation_level is not None:
        conn.commit()
    return AnomalyRule(int(cur.lastrowid or 0), name, metric, int(window_s), warning, critical, site, True)


def set_rule_enabled(conn: sqlite3.Connection, rule_id: int, enabled: bool) -> bool:
    changed = conn.execute("UPDATE anomaly_rules SET enabled = ? WHERE id = ?", (int(enabled), rule_id)).rowcount
    if conn.isolation_level is not None:
        conn.commit()
    return changed > 0


def delete_rule(conn: sqlite3.Connection, rule_id: int) -> bool:
    deleted = conn.execute("DELETE FROM anomaly_rules WHERE id = ?", (rule_id,)).rowcount
    if conn.isolation_level is not None:
        conn.commit()
    return deleted > 0
