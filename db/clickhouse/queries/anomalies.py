"""The Anomalies view and the anomaly service's storage on ClickHouse: metric values, rules, anomalies.

Metric values are computed by one grouped query per metric (a whole chart series at once); rules and anomalies
are ReplacingMergeTree rows changed by inserting a new version."""

from __future__ import annotations

import time
from typing import Any

from db.clickhouse.client import ClickHouse
from db.clickhouse.ids import new_id
from db.queries.anomalies import (
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
from db.queries.server import SERVER_TYPES_SQL

__all__ = [
    "Anomaly",
    "AnomalyRule",
    "RuleError",
    "add_rule",
    "close_anomaly",
    "delete_rule",
    "insert_anomaly",
    "list_rules",
    "metric_series",
    "metric_value",
    "open_anomalies",
    "recent_anomalies",
    "set_rule_enabled",
    "update_anomaly",
]

_RANK95 = "greatest(1, toUInt64(ceil(95 / 100.0 * count())))"
"""The nearest rank of the 95th percentile among a group's rows (db.queries.server._rank)."""


def _values(
    ch: ClickHouse, metric: str, site: str, start: float, end: float, size: int
) -> dict[int, tuple[float, int]]:
    """bucket -> (value, volume) of a metric over [start, end), in buckets of `size` seconds aligned to multiples
    of it (size 0: one bucket, key 0). Buckets without rows are absent (their value is 0)."""
    s_sql, s_params = site_sql(site or None)  # "" means every site

    def key(column: str) -> str:
        return "0" if size == 0 else f"toInt64(floor({column} / {int(size)})) * {int(size)}"

    if metric == "pageviews" or metric.startswith(EVENT_PREFIX):
        what_params: tuple[object, ...] = ()
        if metric == "pageviews":
            what = "type IN ('pageview', 'request')"
        else:
            what, what_params = "type = 'event' AND name = ?", (metric[len(EVENT_PREFIX) :],)
        rows = ch.rows(
            f"SELECT {key('ts')} AS b, count() FROM events WHERE {what}{s_sql} AND ts >= ? AND ts < ? AND is_bot = 0 "
            "GROUP BY b",
            (*what_params, *s_params, start, end),
        )
        return {int(b): (float(n), int(n)) for b, n in rows}
    if metric == "sessions":
        rows = ch.rows(
            f"SELECT {key('started')} AS b, count() FROM sessions FINAL "
            f"WHERE started >= ? AND started < ?{s_sql} AND is_bot = 0 GROUP BY b",
            (start, end, *s_params),
        )
        return {int(b): (float(n), int(n)) for b, n in rows}
    if metric == "bot_ratio":
        rows = ch.rows(
            f"SELECT {key('ts')} AS b, count(), countIf(is_bot = 1) FROM events WHERE ts >= ? AND ts < ?{s_sql} "
            "AND type IN ('pageview', 'request') GROUP BY b",
            (start, end, *s_params),
        )
        return {int(b): (100.0 * bots / total if total else 0.0, int(total)) for b, total, bots in rows}
    if metric == "throttled":
        # Minute buckets: the first one counts from the minute `start` falls in, as on SQLite.
        rows = ch.rows(
            f"SELECT {key('bucket')} AS b, sum(count) FROM throttle_drops WHERE bucket >= ? AND bucket < ? GROUP BY b",
            (int(start // 60 * 60), end),
        )
        return {int(b): (float(n), int(n)) for b, n in rows}
    if metric in ("error_rate", "p95_latency"):
        rows = ch.rows(
            f"SELECT {key('ts')} AS b, count(), countIf(status >= 500), "
            f"arrayElement(arraySort(groupArray(latency_ms)), {_RANK95}) "
            f"FROM events WHERE ts >= ? AND ts < ?{s_sql} AND {SERVER_TYPES_SQL} AND type = 'api_request' "
            "GROUP BY b",
            (start, end, *s_params),
        )
        if metric == "error_rate":
            return {int(b): (100.0 * errors / n, int(n)) for b, n, errors, _p95 in rows}
        return {int(b): (float(p95), int(n)) for b, n, _errors, p95 in rows}
    raise RuleError(f"unknown metric {metric[:60]!r}")


def metric_value(ch: ClickHouse, metric: str, site: str, start: float, end: float) -> tuple[float, int]:
    """(value, volume) of a metric over [start, end): counts are themselves the volume; ratios and latency
    report how many events they were computed from. Ratios are percent (0-100), latency milliseconds."""
    return _values(ch, metric, site, start, end, 0).get(0, (0.0, 0))


def metric_series(ch: ClickHouse, metric: str, site: str, span: Span) -> list[tuple[float, float]]:
    """(bucket start, value) across a span for charting next to an anomaly, from one grouped query."""
    check_metric(metric)
    size = bucket_seconds(span)
    first = int(span.start // size) * size
    # Every bucket starts on a whole minute, so the minute rounding of `throttled` changes nothing per bucket.
    values = _values(ch, metric, site, first, span.end, size)
    return [(float(b), round(values.get(b, (0.0, 0))[0], 3)) for b in range(first, int(span.end), size)]


# ------------------------------------------------------------------------------------------------ anomalies

_COLUMNS = "id, kind, rule, metric, site, level, observed, expected, started, ended"
_ANOMALY_COLUMNS = (*_COLUMNS.split(", "), "details", "version")


def open_anomalies(ch: ClickHouse) -> list[Anomaly]:
    """Anomalies still going on, newest first."""
    rows = ch.rows(f"SELECT {_COLUMNS} FROM anomalies FINAL WHERE ended IS NULL ORDER BY started DESC, id DESC")
    return [_anomaly(r) for r in rows]


def recent_anomalies(
    ch: ClickHouse, span: Span, limit: int = 100, *, site: str | None = None, open_first: bool = False
) -> list[Anomaly]:
    """Anomalies going on at any time in the span, newest first (open ones first if asked); with `site`, that
    site's anomalies and those on all sites."""
    where = "started < ? AND (ended IS NULL OR ended >= ?)"
    params: list[object] = [span.end, span.start]
    if site is not None:
        where += " AND site IN ('', ?)"
        params.append(site)
    order = "ended IS NOT NULL, started DESC, id DESC" if open_first else "started DESC, id DESC"
    rows = ch.rows(
        f"SELECT {_COLUMNS} FROM anomalies FINAL WHERE {where} ORDER BY {order} LIMIT ?", (*params, int(limit))
    )
    return [_anomaly(r) for r in rows]


def insert_anomaly(
    ch: ClickHouse,
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
    anomaly_id = new_id()
    row = (anomaly_id, kind, rule, metric, site, level, observed, expected, started, None, "", time.time_ns())
    ch.insert("anomalies", [row], _ANOMALY_COLUMNS)
    return Anomaly(anomaly_id, kind, rule, metric, site, level, observed, expected, started, None)


def update_anomaly(ch: ClickHouse, anomaly_id: int, level: str, observed: float, expected: float) -> None:
    """Raise or lower the level of an open anomaly (a new version, copied server-side)."""
    ch.command(
        "INSERT INTO anomalies SELECT id, kind, rule, metric, site, ?, ?, ?, started, ended, details, ? "
        "FROM anomalies FINAL WHERE id = ?",
        (level, float(observed), float(expected), time.time_ns(), anomaly_id),
    )


def close_anomaly(ch: ClickHouse, anomaly_id: int, ended: float) -> None:
    ch.command(
        "INSERT INTO anomalies SELECT id, kind, rule, metric, site, level, observed, expected, started, ?, "
        "details, ? FROM anomalies FINAL WHERE id = ? AND ended IS NULL",
        (float(ended), time.time_ns(), anomaly_id),
    )


# ---------------------------------------------------------------------------------------------------- rules

_RULE_COLUMNS = ("id", "name", "metric", "window_s", "warning", "critical", "site", "enabled", "deleted", "version")


def list_rules(ch: ClickHouse, *, enabled_only: bool = False) -> list[AnomalyRule]:
    """Rules stored in the database (added from the TUI)."""
    sql = (
        "SELECT id, name, metric, window_s, warning, critical, site, enabled FROM anomaly_rules FINAL WHERE deleted = 0"
    )
    if enabled_only:
        sql += " AND enabled = 1"
    return [_rule(r) for r in ch.rows(sql + " ORDER BY id")]


def add_rule(
    ch: ClickHouse,
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
    rule_id = new_id()
    row: tuple[Any, ...] = (rule_id, name, metric, int(window_s), warning, critical, site, 1, 0, time.time_ns())
    ch.insert("anomaly_rules", [row], _RULE_COLUMNS)
    return AnomalyRule(rule_id, name, metric, int(window_s), warning, critical, site, True)


def _change_rule(ch: ClickHouse, rule_id: int, enabled: str, deleted: str, params: tuple[object, ...]) -> bool:
    """A new version of a live rule with `enabled` and `deleted` as given (SQL expressions); False when none."""
    if ch.one("SELECT 1 FROM anomaly_rules FINAL WHERE id = ? AND deleted = 0", (rule_id,)) is None:
        return False
    ch.command(
        f"INSERT INTO anomaly_rules SELECT id, name, metric, window_s, warning, critical, site, {enabled}, "
        f"{deleted}, ? FROM anomaly_rules FINAL WHERE id = ? AND deleted = 0",
        (*params, time.time_ns(), rule_id),
    )
    return True


def set_rule_enabled(ch: ClickHouse, rule_id: int, enabled: bool) -> bool:
    return _change_rule(ch, rule_id, "toUInt8(?)", "deleted", (int(enabled),))


def delete_rule(ch: ClickHouse, rule_id: int) -> bool:
    return _change_rule(ch, rule_id, "enabled", "1", ())
