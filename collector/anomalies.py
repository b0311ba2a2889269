"""Anomaly detection: threshold rules and trend tests (pure), evaluation against the database, and the service
that opens and closes anomalies every few seconds and tells a webhook."""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import aiohttp
from aiohttp import web

from collector import keys
from collector.config import AnomalyConfig, AnomalyRuleConfig, Config
from collector.leases import hold_lease
from db.queries.anomalies import (
    Anomaly,
    AnomalyRule,
    RuleError,
    validate_rule,
)
from db.store import Store

log = logging.getLogger("sitelens.anomalies")

TREND_METRICS = ("pageviews", "sessions", "bot_ratio", "error_rate", "p95_latency")
"""Metrics every site is watched on for trends, without any rule."""
TREND_WINDOW_S = 300
BASELINE_WINDOWS = 12
"""A trend window is compared with this many windows just before it (a robust moving baseline)."""
MIN_HISTORY_S = BASELINE_WINDOWS * TREND_WINDOW_S
"""A site's trends are judged only once it has stored data for a whole baseline (12 windows of 5 minutes, one
hour) before the window judged: earlier, the empty windows before its first event would read as "expected 0"."""
ZERO_BASELINE_FLOOR: dict[str, float] = {
    "pageviews": 50.0,
    "sessions": 25.0,
    "bot_ratio": 25.0,
    "error_rate": 10.0,
    "p95_latency": 1000.0,
}
"""When the baseline's median is 0 (nothing expected), a window is a warning from this value on and critical from
twice it, in the metric's own unit (events per window, percentage points, milliseconds); a z-score against a
scale of 1 would make any handful of events critical."""
DEFAULT_ZERO_FLOOR = 50.0
VOLUME_GATED = frozenset({"bot_ratio", "error_rate", "p95_latency"})
"""Metrics meaningless on a handful of events: rules on them need `min_volume` events in the window."""
WEBHOOK_TIMEOUT_S = 5.0


@dataclass(slots=True, frozen=True)
class Finding:
    """The verdict on one (kind, rule, metric, site) at one evaluation: a level, or None when all is well."""

    kind: str
    rule: str
    metric: str
    site: str
    level: str | None
    observed: float
    expected: float

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.rule, self.metric, self.site)


@dataclass(slots=True, frozen=True)
class Change:
    """What an evaluation did to the stored anomalies: opened, updated (level changed) or closed one."""

    action: str
    anomaly: Anomaly


# ------------------------------------------------------------------------------------------------ pure tests


def threshold_level(value: float, warning: float | None, critical: float | None) -> str | None:
    """'critical', 'warning' or None. Levels are upper limits; a critical level below the warning one makes
    the rule a lower limit (e.g. pageviews dropping under 10 then 2)."""
    lower = warning is not None and critical is not None and critical < warning
    if lower:
        assert warning is not None and critical is not None
        return "critical" if value <= critical else "warning" if value <= warning else None
    if critical is not None and value >= critical:
        return "critical"
    if warning is not None and value >= warning:
        return "warning"
    return None


def robust_baseline(history: Sequence[float]) -> tuple[float, float]:
    """(median, scale): the scale is the MAD-based standard deviation, never below Poisson noise or 1."""
    if not history:
        return 0.0, 1.0
    median = statistics.median(history)
    mad = statistics.median(abs(v - median) for v in history)
    return float(median), max(1.4826 * mad, math.sqrt(max(median, 0.0)), 1.0)


def trend_level(
    current: float,
    volume: int,
    history: Sequence[float],
    history_volume: float,
    factor: float,
    min_volume: int,
    *,
    zero_floor: float = DEFAULT_ZERO_FLOOR,
) -> tuple[str | None, float]:
    """(level, expected value): a robust z-score beyond `factor` is a warning, beyond twice it critical;
    windows with fewer than `min_volume` events now and in the baseline are not judged (quiet sites do not
    flap), and against an expected 0 only `zero_floor` (warning) and twice it (critical) count."""
    expected, scale = robust_baseline(history)
    if max(volume, history_volume) < min_volume or len(history) < 3:
        return None, expected
    if expected == 0:
        return ("critical" if current >= 2 * zero_floor else "warning" if current >= zero_floor else None), 0.0
    z = abs(current - expected) / scale
    if z >= 2 * factor:
        return "critical", expected
    if z >= factor:
        return "warning", expected
    return None, expected


def rules_from_config(rules: Iterable[AnomalyRuleConfig]) -> list[AnomalyRule]:
    """Config rules as rule objects (id 0); invalid ones are logged and skipped."""
    out = []
    for r in rules:
        try:
            metric = validate_rule(r.metric, r.window_s, r.warning, r.critical)
        except RuleError as exc:
            log.warning("anomaly rule %r in config skipped: %s", r.name or r.metric, exc)
            continue
        out.append(AnomalyRule(0, r.name, metric, int(r.window_s), r.warning, r.critical, r.site))
    return out


# ----------------------------------------------------------------------------------------------- evaluation


def evaluate(
    store: Store,
    cfg: AnomalyConfig,
    rules: Iterable[AnomalyRule],
    sites: Iterable[str],
    now: float,
) -> list[Finding]:
    """Every rule and every site's trend metrics judged on the window ending at `now`."""
    findings: list[Finding] = []
    for rule in rules:
        value, volume = store.metric_value(rule.metric, rule.site, now - rule.window_s, now)
        level = threshold_level(value, rule.warning, rule.critical)
        if rule.metric in VOLUME_GATED and volume < cfg.min_volume:
            level = None
        expected = rule.warning if rule.warning is not None else rule.critical
        findings.append(
            Finding("threshold", rule.label, rule.metric, rule.site, level, value, float(expected or 0))
        )
    for site in sites:
        first = store.first_event_ts(site or None)
        if first is None or first > now - TREND_WINDOW_S - MIN_HISTORY_S:
            continue  # too little history for a baseline: no trend findings (anything open is closed)
        for metric in TREND_METRICS:
            value, volume = store.metric_value(metric, site, now - TREND_WINDOW_S, now)
            history, volumes = [], []
            for i in range(1, BASELINE_WINDOWS + 1):
                end = now - i * TREND_WINDOW_S
                v, n = store.metric_value(metric, site, end - TREND_WINDOW_S, end)
                history.append(v)
                volumes.append(n)
            if metric in VOLUME_GATED and volume < cfg.min_volume:
                level, expected = None, robust_baseline(history)[0]
            else:
                level, expected = trend_level(
                    value, volume, history, statistics.median(volumes), cfg.trend_factor, cfg.min_volume,
                    zero_floor=ZERO_BASELINE_FLOOR.get(metric, DEFAULT_ZERO_FLOOR),
                )
            findings.append(Finding("trend", "trend", metric, site, level, value, round(expected, 3)))
    return findings


def reconcile(store: Store, findings: Iterable[Finding], now: float) -> list[Change]:
    """Open, update and close stored anomalies so they match the findings."""
    changes: list[Change] = []
    current = {(a.kind, a.rule, a.metric, a.site): a for a in store.open_anomalies()}
    firing = {f.key: f for f in findings if f.level is not None}
    for key, f in firing.items():
        assert f.level is not None
        existing = current.get(key)
        if existing is None:
            a = store.insert_anomaly(f.kind, f.rule, f.metric, f.site, f.level, f.observed, f.expected, now)
            changes.append(Change("open", a))
        elif existing.level != f.level:
            store.update_anomaly(existing.id, f.level, f.observed, f.expected)
            changes.append(Change("update", _replace(existing, level=f.level, observed=f.observed)))
        elif abs(f.observed - f.expected) > abs(existing.observed - existing.expected):
            store.update_anomaly(existing.id, f.level, f.observed, f.expected)  # keep the peak, quietly
    for key, a in current.items():
        if key not in firing:
            store.close_anomaly(a.id, now)
            changes.append(Change("close", _replace(a, ended=now)))
    return changes


def _replace(a: Anomaly, **changes: object) -> Anomaly:
    from dataclasses import replace

    return replace(a, **changes)  # type: ignore[arg-type]


def watched_sites(cfg: Config) -> list[str]:
    """Sites judged for trends: the configured ones, or all traffic together when none are configured."""
    return [s.name for s in cfg.sites] or [""]


def webhook_payload(change: Change) -> dict[str, object]:
    """The JSON document POSTed for an opened or closed anomaly."""
    return {
        "event": f"anomaly.{'opened' if change.action == 'open' else 'closed'}",
        "anomaly": asdict(change.anomaly),
    }


async def post_webhook(url: str, changes: Sequence[Change]) -> int:
    """POST each open/close to the webhook; failures are logged, never raised. Returns how many arrived."""
    delivered = 0
    wanted = [c for c in changes if c.action in ("open", "close")]
    if not url or not wanted:
        return 0
    timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for change in wanted:
                try:
                    async with session.post(url, json=webhook_payload(change)) as resp:
                        if resp.status >= 300:
                            log.warning("anomaly webhook answered %d", resp.status)
                        else:
                            delivered += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("anomaly webhook failed: %s", exc or type(exc).__name__)
    except Exception as exc:  # a broken URL must not stop the service
        log.warning("anomaly webhook failed: %s", exc)
    return delivered


# ------------------------------------------------------------------------------------------------- service


def _evaluate_now(cfg: Config, store: Store, now: float) -> list[Finding]:
    """Runs in a worker thread."""
    rules = rules_from_config(cfg.anomalies.rules) + store.list_rules(enabled_only=True)
    return evaluate(store, cfg.anomalies, rules, watched_sites(cfg), now)


async def check_anomalies(app: web.Application, now: float | None = None) -> list[Change]:
    """One evaluation: judge, store opens/closes on the writer's thread (between flushes), tell the webhook."""
    cfg = app[keys.CONFIG]
    if not cfg.anomalies.enabled:
        return []
    now = time.time() if now is None else now
    store = app[keys.STORE]
    # Collectors sharing a store take turns: only the lease holder judges (its lease outlives three rounds).
    if not await asyncio.to_thread(hold_lease, store, "anomalies", time.time(), 3 * cfg.anomalies.interval_s):
        return []
    findings = await asyncio.to_thread(_evaluate_now, cfg, store, now)
    changes = await app[keys.WRITER].run_in_thread(lambda: reconcile(store, findings, now))
    for change in changes:
        a = change.anomaly
        log.warning(
            "anomaly %s: %s %s on %s (%s, observed %.2f, expected %.2f)",
            change.action,
            a.level,
            a.metric,
            a.site or "all sites",
            a.rule,
            a.observed,
            a.expected,
        )
    if changes and cfg.anomalies.webhook_url:
        await post_webhook(cfg.anomalies.webhook_url, changes)
    return changes


async def anomaly_service(app: web.Application) -> None:
    """The background service entry (collector.tasks.SERVICES)."""
    await check_anomalies(app)
