"""Reputation of a fingerprint across its sessions: what the throttle and the Bots view remember about it."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

MAX_FLAGS = 16
"""Distinct flags kept per fingerprint (request reasons and signal names); enough to explain, bounded."""


@dataclass(slots=True)
class Reputation:
    """Running record of one fingerprint (one row of the `fingerprints` table)."""

    fingerprint: str
    first_seen: float
    last_seen: float
    sessions: int = 0
    requests: int = 0
    max_score: int = 0
    flags: list[str] = field(default_factory=list)
    level: str = "normal"
    ua: str = ""
    bot_name: str = ""

    def seen(self, now: float, *, new_session: bool) -> None:
        """Count one request (and a session when it opened one)."""
        self.requests += 1
        self.sessions += new_session
        self.first_seen = min(self.first_seen, now)
        self.last_seen = max(self.last_seen, now)

    def note(self, score: int, flags: tuple[str, ...] | list[str] = (), bot_name: str = "") -> None:
        """Raise the max score, add new flags (bounded), remember a bot name."""
        self.max_score = max(self.max_score, score)
        for flag in flags:
            if flag not in self.flags and len(self.flags) < MAX_FLAGS:
                self.flags.append(flag)
        if bot_name and not self.bot_name:
            self.bot_name = bot_name


class ReputationBook:
    """In-memory reputations, least recently seen forgotten past `cap` (the database keeps the history)."""

    def __init__(self, cap: int = 100_000) -> None:
        self.cap = cap
        self._items: OrderedDict[str, Reputation] = OrderedDict()
        self._dirty: set[str] = set()

    def get(self, fingerprint: str, now: float, ua: str = "") -> Reputation:
        """The reputation of a fingerprint, created on first sight; marks it for the next persist."""
        rep = self._items.get(fingerprint)
        if rep is None:
            rep = Reputation(fingerprint, now, now, ua=ua[:512])
            self._items[fingerprint] = rep
            if len(self._items) > self.cap:
                old, _ = self._items.popitem(last=False)
                self._dirty.discard(old)
        else:
            self._items.move_to_end(fingerprint)
        self._dirty.add(fingerprint)
        return rep

    def peek(self, fingerprint: str) -> Reputation | None:
        """The reputation if known, without touching recency."""
        return self._items.get(fingerprint)

    def take_dirty(self) -> list[Reputation]:
        """Reputations changed since the last call, for the writer's upsert."""
        dirty = [self._items[f] for f in self._dirty if f in self._items]
        self._dirty = set()
        return dirty

    def __len__(self) -> int:
        return len(self._items)
