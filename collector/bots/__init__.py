"""Bot detection: per-request verdicts (request.py) and behavioural session scores (signals.py, scorer.py)."""

from __future__ import annotations

from collector.bots.request import RequestVerdict, assess_request, classify_ua
from collector.bots.scorer import BOT_THRESHOLD, BotScore, Signal, describe, score_session
from collector.bots.signals import Behaviour

__all__ = [
    "BOT_THRESHOLD",
    "Behaviour",
    "BotScore",
    "RequestVerdict",
    "Signal",
    "assess_request",
    "classify_ua",
    "describe",
    "score_session",
]
