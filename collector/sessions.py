"""Cookieless sessions: which session an event belongs to, and what the session looks like now."""

from __future__ import annotations

import itertools
import random
import sys
from dataclasses import dataclass, field

from collector.bots.scorer import NO_SCORE, BotScore
from collector.bots.signals import Behaviour
from collector.salts import hash_key
from db.records import SessionRecord

_id_counter = itertools.count(random.getrandbits(12))

_SHARED_FIELDS = (
    "site", "browser", "browser_version", "os", "device", "country", "region", "city", "ref_source", "ref_medium",
    "utm_source", "utm_medium", "utm_campaign", "screen", "ua", "bot_name", "throttle_level", "entry_path",
    "exit_path", "os_version",
)  # fmt: skip
"""Session fields with few distinct values, shared between the sessions resumed after a restart."""
MAX_ACTIVE = 25_000
"""Live sessions kept in memory (≈ 2–3 KB each); past this the least recently seen end early, so a flood of new
clients cannot grow the collector without bound. Their rows stay in the database."""


def new_session_id(now: float) -> int:
    """A unique, roughly time-ordered id that other processes on the same database won't collide with."""
    return (int(now * 1000) << 20) | ((next(_id_counter) & 0xFFF) << 8) | random.getrandbits(8)


@dataclass(slots=True)
class Session:
    """A live session: its stored record plus the behaviour the bot scorer needs."""

    record: SessionRecord
    behaviour: Behaviour = field(default_factory=Behaviour)
    score: BotScore = NO_SCORE
    """The latest behavioural score; its signals are stored with the session at each flush."""
    scored: tuple[int, int, int] | None = None
    """What `score` was computed from (requests observed, site pages, fingerprint sessions), to skip rescoring."""
    fingerprint_key: int | str = field(init=False)
    """The record's fingerprint as `hash_key` makes it, what per-fingerprint counts are keyed by."""

    def __post_init__(self) -> None:
        self.fingerprint_key = hash_key(self.record.fingerprint)


class SessionTracker:
    """Active sessions by (site, visitor id); a session ends after `timeout_s` of inactivity."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._active: dict[tuple[str, str], Session] = {}
        self._visitors: dict[int, dict[str, set[int | str]]] = {}
        """UTC day → site → visitor ids (as `hash_key` makes them) that started a session that day, today's and
        yesterday's. A visitor id is keyed with its day's salt, so it belongs to one day only."""

    def __len__(self) -> int:
        return len(self._active)

    def find(self, site: str, visitor_today: str, visitor_yesterday: str, now: float) -> Session | None:
        """The visitor's ongoing session, trying yesterday's id too so a visit survives midnight."""
        for vid in (visitor_today, visitor_yesterday):
            session = self._active.get((site, vid))
            if session is not None and now - session.record.last_seen <= self.timeout_s:
                return session
        return None

    def start(self, record: SessionRecord) -> Session:
        """Register a new session; marks whether its visitor was already seen under this (day-scoped) id."""
        key = (record.site, record.visitor_id)
        record.new_visitor = self._mark_visitor(record)
        session = Session(record)
        self._active[key] = session
        if len(self._active) > MAX_ACTIVE:
            self._shed(record.started)
        return session

    def _mark_visitor(self, record: SessionRecord) -> int:
        """Mark the record's visitor as seen on its start's UTC day; 1 when it was not yet (a new visitor)."""
        day = int(record.started // 86400)
        sites = self._visitors.get(day)
        if sites is None:
            sites = self._visitors[day] = {}
        seen = sites.get(record.site)
        if seen is None:
            seen = sites[record.site] = set()
        vid = hash_key(record.visitor_id)
        if vid in seen:
            return 0
        seen.add(vid)
        return 1

    def _shed(self, now: float) -> None:
        """End expired sessions, then the least recently seen tenth, to get back under MAX_ACTIVE."""
        self.expire(now)
        if len(self._active) > MAX_ACTIVE:
            by_age = sorted(self._active.items(), key=lambda item: item[1].record.last_seen)
            for key, _session in by_age[: len(by_age) // 10]:
                del self._active[key]

    def adopt(self, record: SessionRecord) -> None:
        """Resume a session loaded from the database after a restart."""
        for name in _SHARED_FIELDS:  # each row read brings its own copies of the same few strings
            setattr(record, name, sys.intern(getattr(record, name)))
        self._active[(record.site, record.visitor_id)] = Session(record)
        self._mark_visitor(record)

    def expire(self, now: float) -> int:
        """Forget sessions idle longer than the timeout and yesterday's visitor marks; returns how many ended."""
        stale = [k for k, s in self._active.items() if now - s.record.last_seen > self.timeout_s]
        for key in stale:
            del self._active[key]
        today = int(now // 86400)
        for day in [day for day in self._visitors if day < today - 1]:
            del self._visitors[day]
        return len(stale)

    def active(self) -> list[Session]:
        return list(self._active.values())
