"""The Anomalies view and the anomaly service's storage: metric values, rules, open and past anomalies.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BASE_METRICS = ("pageviews", "sessions", "bot_ratio", "throttled", "error_rate", "p95_latency")
"""Metrics anomaly rules can watch, besides `event:NAME` (count of a custom event)."""
EVENT_PREFIX = "event:"


class RuleError(ValueError):
    """An anomaly rule that cannot work, worded for the user."""


@dataclass(slots=True, frozen=True)
class Anomaly:
    """An open (ended is None) or past anomaly."""

    id: int
    kind: str
    rule: str
    metric: str
    site: str
    level: str
    observed: float
    expected: float
    started: float
    ended: float | None


@dataclass(slots=True, frozen=True)
class AnomalyRule:
    """A threshold rule stored in the database (config rules have id 0)."""

    id: int
    name: str
    metric: str
    window_s: int
    warning: float | None
    critical: float | None
    site: str = ""
    enabled: bool = True

    @property
    def label(self) -> str:
        """The name anomalies of this rule carry."""
        return self.name or f"{self.metric} ({self.window_s}s)"


def check_metric(metric: str) -> str:
    """The metric name if it is one anomaly rules understand; RuleError naming the accepted ones otherwise."""
    metric = metric.strip()
    if metric in BASE_METRICS:
        return metric
    if metric.startswith(EVENT_PREFIX) and 0 < len(metric) - len(EVENT_PREFIX) <= 200:
        return metric
    raise RuleError(f"unknown metric {metric[:60]!r} (accepted: {', '.join(BASE_METRICS)}, event:NAME)")


# ---------------------------------------------------------------------------------------------- metric values


# ------------------------------------------------------------------------------------------------ anomalies

_COLUMNS = "id, kind, rule, metric, site, level, observed, expected, started, ended"


def _anomaly(r: Any) -> Anomaly:
    return Anomaly(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        float(r[6]),
        float(r[7]),
        float(r[8]),
        None if r[9] is None else float(r[9]),
    )


# ---------------------------------------------------------------------------------------------------- rules


def _rule(r: Any) -> AnomalyRule:
    return AnomalyRule(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        int(r[3]),
        None if r[4] is None else float(r[4]),
        None if r[5] is None else float(r[5]),
        str(r[6]),
        bool(r[7]),
    )


def validate_rule(metric: str, window_s: int, warning: float | None, critical: float | None) -> str:
    """The checked metric name; RuleError when the rule could never fire or has a silly window."""
    metric = check_metric(metric)
    if warning is None and critical is None:
        raise RuleError("a rule needs a warning level, a critical level or both")
    if not 10 <= int(window_s) <= 7 * 86400:
        raise RuleError("window_s must be between 10 seconds and 7 days")
    return metric


def rule_name(name: str) -> str:
    """A rule's name as every engine stores it: printable characters only, at most 100."""
    return "".join(c for c in name if c.isprintable())[:100]
