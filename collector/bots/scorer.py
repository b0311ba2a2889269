"""The behavioural bot score: 7 weighted signals read from a session's Behaviour; ≥ 50 marks a bot."""

from __future__ import annotations

from typing import NamedTuple

from collector.bots.signals import Behaviour

BOT_THRESHOLD = 50

# Weights and thresholds from the product spec.
W_REQUEST_COUNT, REQUEST_COUNT_MIN = 30, 50
W_PAGE_COVERAGE, COVERAGE_MIN = 25, 0.60
W_SEQUENTIAL, SEQUENTIAL_MIN = 20, 0.80
W_FINGERPRINT_SESSIONS, FINGERPRINT_SESSIONS_MIN = 20, 5
W_REGULAR_TIMING, TIMING_VARIANCE_MAX = 15, 0.1
W_PAGES_PER_MINUTE, PAGES_PER_MINUTE_MIN = 15, 5.0
W_OUTDATED_BROWSER = 10
OUTDATED_BEFORE = {"Chrome": 90, "Chromium": 90, "HeadlessChrome": 90, "Firefox": 88}

# Minimum evidence before a signal may fire, so a short human visit never trips one by chance.
MIN_SITE_PAGES = 10
MIN_SEQUENTIAL_STEPS = 9  # 10 requests
MIN_TIMING_INTERVALS = 5
MIN_RATE_REQUESTS = 6
MIN_RATE_WINDOW_S = 60.0  # a burst of 6 requests in 2 s is not "180 pages a minute"

SIGNAL_LABELS = {
    "request_count": "high request count",
    "page_coverage": "high page coverage",
    "sequential": "sequential navigation",
    "fingerprint_sessions": "many sessions per fingerprint",
    "regular_timing": "regular timing",
    "pages_per_minute": "high pages per minute",
    "outdated_browser": "outdated browser",
}
"""Human wording of each signal name, for the TUI and the CLI."""


class Signal(NamedTuple):
    """One behavioural signal that fired: its name, its weight and the measured value that tripped it.

    Named tuples (here and BotScore): immutable, and built on every hit of a suspicious session, where a
    frozen dataclass costs several times more."""

    name: str
    weight: int
    value: float


class BotScore(NamedTuple):
    """A session's behavioural score with the signals behind it."""

    score: int
    signals: tuple[Signal, ...]
    is_bot: bool


NO_SCORE = BotScore(0, (), False)


def score_session(
    b: Behaviour,
    *,
    site_pages: int,
    fingerprint_sessions: int,
    browser: str,
    browser_major: int | None,
) -> BotScore:
    """Score a session from its behaviour so far; O(1), called again each time the session grows."""
    fired: list[Signal] = []
    score = 0
    if b.requests > REQUEST_COUNT_MIN:
        fired.append(Signal("request_count", W_REQUEST_COUNT, float(b.requests)))
        score += W_REQUEST_COUNT
    if site_pages >= MIN_SITE_PAGES:
        coverage = min(1.0, b.distinct_pages / site_pages)
        if coverage > COVERAGE_MIN:
            fired.append(Signal("page_coverage", W_PAGE_COVERAGE, round(coverage, 3)))
            score += W_PAGE_COVERAGE
    if b.steps >= MIN_SEQUENTIAL_STEPS and b.sequential_fraction >= SEQUENTIAL_MIN:
        fired.append(Signal("sequential", W_SEQUENTIAL, round(b.sequential_fraction, 3)))
        score += W_SEQUENTIAL
    if fingerprint_sessions > FINGERPRINT_SESSIONS_MIN:
        fired.append(Signal("fingerprint_sessions", W_FINGERPRINT_SESSIONS, float(fingerprint_sessions)))
        score += W_FINGERPRINT_SESSIONS
    if b.interval_count >= MIN_TIMING_INTERVALS:
        variance = b.timing_variance
        if variance < TIMING_VARIANCE_MAX:
            fired.append(Signal("regular_timing", W_REGULAR_TIMING, round(variance, 4)))
            score += W_REGULAR_TIMING
    if b.requests >= MIN_RATE_REQUESTS:
        per_minute = b.requests * 60.0 / max(b.duration_s, MIN_RATE_WINDOW_S)
        if per_minute > PAGES_PER_MINUTE_MIN:
            fired.append(Signal("pages_per_minute", W_PAGES_PER_MINUTE, round(per_minute, 2)))
            score += W_PAGES_PER_MINUTE
    limit = OUTDATED_BEFORE.get(browser)
    if limit is not None and browser_major is not None and browser_major < limit:
        fired.append(Signal("outdated_browser", W_OUTDATED_BROWSER, float(browser_major)))
        score += W_OUTDATED_BROWSER
    if not fired:
        return NO_SCORE
    score = min(100, score)
    return BotScore(score, tuple(fired), score >= BOT_THRESHOLD)


def describe(signal: Signal) -> str:
    """One line for people: `regular timing: variance 0.02`."""
    label = SIGNAL_LABELS.get(signal.name, signal.name)
    unit = {
        "request_count": f"{signal.value:.0f} requests",
        "page_coverage": f"{signal.value:.0%} of pages",
        "sequential": f"{signal.value:.0%} of steps in order",
        "fingerprint_sessions": f"{signal.value:.0f} sessions",
        "regular_timing": f"variance {signal.value:.3g}",
        "pages_per_minute": f"{signal.value:.1f}/min",
        "outdated_browser": f"version {signal.value:.0f}",
    }.get(signal.name, f"{signal.value:g}")
    return f"{label}: {unit}"
