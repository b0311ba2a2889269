"""Progressive per-fingerprint rate limiting: token buckets whose rate shrinks as a client misbehaves."""

from __future__ import annotations

import ipaddress
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Protocol

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_TRACKED = 100_000
"""Fingerprints kept in memory; the least recently seen are forgotten first."""

OVERRIDE_KINDS = ("fingerprint", "ip", "cidr")
VIOLATION_SPACING_S = 1.0
"""Refusals closer together than this count as one rate violation."""


class Level(IntEnum):
    """Throttle levels, each a fraction of the base rate."""

    NORMAL = 0
    WARNING = 1
    SEVERE = 2
    BLOCKED = 3

    @property
    def multiplier(self) -> float:
        """Share of the base rate (and burst) a client at this level gets."""
        return _MULTIPLIERS[self]

    @property
    def label(self) -> str:
        """Lower-case name as stored and typed: normal | warning | severe | blocked."""
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        """Level from its name (any case); ValueError naming the choices otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown throttle level {text!r} (normal, warning, severe, blocked)") from None


_MULTIPLIERS = {Level.NORMAL: 1.0, Level.WARNING: 0.5, Level.SEVERE: 0.25, Level.BLOCKED: 0.0}
_LABELS = tuple(level.name.lower() for level in Level)
"""Labels by level value, read on every request (Enum's `name` is a slow descriptor)."""

# Behavioural score → the lowest level a client with that score is kept at.
SCORE_LEVELS: tuple[tuple[int, Level], ...] = ((90, Level.BLOCKED), (70, Level.SEVERE), (50, Level.WARNING))


_LOWEST_SCORE_LEVEL = SCORE_LEVELS[-1][0]
"""Scores below this earn no level: the usual case, told apart with one comparison."""


def level_for_score(score: int) -> Level:
    """The level a bot score earns (reached one step per request): ≥ 50 warning, ≥ 70 severe, ≥ 90 blocked."""
    for threshold, level in SCORE_LEVELS:
        if score >= threshold:
            return level
    return Level.NORMAL


@dataclass(slots=True, frozen=True)
class Override:
    """A manual level for a fingerprint, an IP or a network; beats automatic levels until it expires."""

    id: int
    kind: str  # fingerprint | ip | cidr
    target: str
    level: Level
    reason: str
    expires: float | None


@dataclass(slots=True, frozen=True)
class Decision:
    """The throttle's answer for one request; `retry_after` is in seconds."""

    allowed: bool
    level: Level
    retry_after: float
    reason: str  # ok | rate | blocked


_ALLOWED = {level: Decision(True, level, 0.0, "ok") for level in Level}
"""Allowed decisions are all alike: built once, not per request."""


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> IPAddress | None:
    """Client IP as an address (IPv4-mapped IPv6 unwrapped), None when it is not an IP."""
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class _Client:
    """Automatic throttle state of one fingerprint."""

    __slots__ = ("tokens", "stamp", "level", "calm_since", "violations", "last_violation")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.stamp = now
        self.level = Level.NORMAL
        self.calm_since = now
        """Last escalation or violation; decay counts quiet periods from here."""
        self.violations = 0
        """Rate violations since the last escalation or quiet period."""
        self.last_violation = -1e18


class Throttle:
    """Token bucket per fingerprint at base_rate × level multiplier; escalates on score and violations."""

    def __init__(
        self, base_rate: float, burst: float, quiet_period_s: float, violations_to_escalate: int
    ) -> None:
        self.base_rate = max(0.0, base_rate)
        self.burst = max(1.0, burst)
        self.quiet_period_s = max(0.001, quiet_period_s)
        self.violations_to_escalate = max(1, violations_to_escalate)
        self.max_tracked = MAX_TRACKED
        self.drops: Counter[tuple[str, str]] = Counter()
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._changed: dict[str, Level] = {}
        self._by_fingerprint: dict[str, Override] = {}
        self._by_ip: dict[IPAddress, Override] = {}
        self._by_net: list[tuple[IPNetwork, Override]] = []
        self._has_overrides = False
        self._limits = tuple(
            (self.base_rate * level.multiplier, max(1.0, self.burst * level.multiplier)) for level in Level
        )
        """(tokens per second, bucket capacity) by level, worked out once rather than on every request."""

    # -- overrides -----------------------------------------------------------------------------------

    def set_overrides(self, overrides: Sequence[Override]) -> None:
        """Replace the manual overrides (the collector reloads them from the database every second)."""
        by_fp: dict[str, Override] = {}
        by_ip: dict[IPAddress, Override] = {}
        nets: list[tuple[IPNetwork, Override]] = []
        # Later ids win over earlier ones for the same target.
        for ov in sorted(overrides, key=lambda o: o.id):
            if ov.kind == "fingerprint":
                by_fp[ov.target] = ov
            elif ov.kind == "ip":
                addr = parse_ip(ov.target)
                if addr is not None:
                    by_ip[addr] = ov
            elif ov.kind == "cidr":
                try:
                    net = ipaddress.ip_network(ov.target.strip(), strict=False)
                except ValueError:
                    continue
                nets = [(n, o) for n, o in nets if n != net]
                nets.append((net, ov))
        # Narrowest network first, so the most specific override wins.
        nets.sort(key=lambda item: -item[0].prefixlen)
        self._by_fingerprint, self._by_ip, self._by_net = by_fp, by_ip, nets
        self._has_overrides = bool(by_fp or by_ip or nets)

    @property
    def overrides(self) -> list[Override]:
        """The overrides in force (expired ones included until the next reload)."""
        return [*self._by_fingerprint.values(), *self._by_ip.values(), *(o for _, o in self._by_net)]

    def override_for(self, fingerprint: str, ip: str, now: float) -> Override | None:
        """The unexpired override that applies: fingerprint, then exact IP, then the narrowest network."""
        ov = self._by_fingerprint.get(fingerprint)
        if ov is not None and (ov.expires is None or ov.expires > now):
            return ov
        if self._by_ip or self._by_net:
            addr = parse_ip(ip)
            if addr is None:
                return None
            ov = self._by_ip.get(addr)
            if ov is not None and (ov.expires is None or ov.expires > now):
                return ov
            for net, ov in self._by_net:
                if addr.version == net.version and addr in net and (ov.expires is None or ov.expires > now):
                    return ov
        return None

    # -- automatic levels ----------------------------------------------------------------------------

    def _client(self, fingerprint: str, now: float) -> _Client:
        """The state of a fingerprint, created on first sight; least recently seen evicted past the cap."""
        client = self._clients.get(fingerprint)
        if client is None:
            self._forget_idle(now)
            client = _Client(self.burst, now)
            self._clients[fingerprint] = client
            if len(self._clients) > self.max_tracked:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(fingerprint)
        return client

    def _forget_idle(self, now: float) -> None:
        """Look at the two least recently seen clients: forget the idle, send the others to the back (O(1)).

        A Normal client without violations whose bucket has refilled is indistinguishable from a new one,
        so memory follows the clients active in the last few seconds plus the escalated ones, not everyone
        ever seen; escalated clients go round again, so under the hard cap idle ones are evicted first.
        """
        refill_s = self.burst / self.base_rate if self.base_rate > 0 else float("inf")
        for _ in range(2):
            if not self._clients:
                return
            fingerprint, client = next(iter(self._clients.items()))
            if client.level == Level.NORMAL and not client.violations and now - client.stamp >= refill_s:
                del self._clients[fingerprint]
            else:
                self._clients.move_to_end(fingerprint)

    def _set_level(self, fingerprint: str, client: _Client, level: Level, now: float) -> None:
        """Change a client's automatic level and remember the change for persistence."""
        if level != client.level:
            client.level = level
            self._changed[fingerprint] = level
        client.calm_since = now

    def _decay(self, fingerprint: str, client: _Client, now: float) -> None:
        """After each full quiet period without violations or escalation: reset violations, drop a level."""
        periods = int((now - client.calm_since) // self.quiet_period_s)
        if periods <= 0:
            return
        client.violations = 0
        client.calm_since += periods * self.quiet_period_s
        if client.level != Level.NORMAL:
            level = Level(max(0, client.level - periods))
            client.level = level
            self._changed[fingerprint] = level

    def level_of(self, fingerprint: str, now: float, ip: str = "") -> Level:
        """Current level of a fingerprint: its override if any, else the automatic level after decay."""
        if self._has_overrides:
            ov = self.override_for(fingerprint, ip, now)
            if ov is not None:
                return ov.level
        client = self._clients.get(fingerprint)
        if client is None:
            return Level.NORMAL
        if now - client.calm_since >= self.quiet_period_s:
            self._decay(fingerprint, client, now)
        return client.level

    # -- the hot path --------------------------------------------------------------------------------

    def check(self, fingerprint: str, ip: str, bot_score: int, now: float) -> Decision:
        """Allow or refuse one request of `fingerprint` from `ip` at time `now`."""
        client = self._client(fingerprint, now)
        if now - client.calm_since >= self.quiet_period_s:
            self._decay(fingerprint, client, now)
        # Climb towards the level the score earns one step per request, so every level is passed through
        # (and recorded) on the way: a score of 95 is Warning, then Severe, then Blocked.
        if bot_score >= _LOWEST_SCORE_LEVEL and level_for_score(bot_score) > client.level:
            self._set_level(fingerprint, client, Level(client.level + 1), now)
        ov = self.override_for(fingerprint, ip, now) if self._has_overrides else None
        level = ov.level if ov is not None else client.level
        drop_reason = "override" if ov is not None else ""

        if level == Level.BLOCKED:
            self.drops[(level.label, drop_reason or "blocked")] += 1
            if ov is not None:
                wait = (ov.expires - now) if ov.expires is not None else self.quiet_period_s
            else:
                wait = client.calm_since + self.quiet_period_s - now
            return Decision(False, level, max(1.0, wait), "blocked")

        rate, capacity = self._limits[level]
        # Conditionals rather than min()/max(): this is every request's path.
        elapsed = now - client.stamp
        tokens = client.tokens + elapsed * rate if elapsed > 0.0 else client.tokens
        client.tokens = tokens if tokens < capacity else capacity
        if now > client.stamp:
            client.stamp = now
        if client.tokens >= 1.0:
            client.tokens -= 1.0
            return _ALLOWED[level]

        self.drops[(level.label, drop_reason or "rate")] += 1
        retry = (1.0 - client.tokens) / rate if rate > 0 else self.quiet_period_s
        # A burst of refusals within one second is one violation: escalation needs repeated ones.
        if ov is None and now - client.last_violation >= VIOLATION_SPACING_S:
            client.last_violation = now
            client.violations += 1
            client.calm_since = now
            if client.violations >= self.violations_to_escalate and client.level < Level.BLOCKED:
                client.violations = 0
                self._set_level(fingerprint, client, Level(client.level + 1), now)
        return Decision(False, level, max(0.001, retry), "rate")

    # -- for the writer and the TUI ------------------------------------------------------------------

    def take_drops(self) -> Counter[tuple[str, str]]:
        """Refusals since the last call, per (level, reason); the writer persists them per minute."""
        drops, self.drops = self.drops, Counter()
        return drops

    def take_level_changes(self) -> dict[str, Level]:
        """Automatic level changes since the last call (fingerprint → level), for the fingerprints table."""
        changed, self._changed = self._changed, {}
        return changed

    def tracked(self) -> int:
        """Fingerprints currently held in memory."""
        return len(self._clients)


class OverrideLike(Protocol):
    """What a stored override row offers (db.queries.throttle.OverrideRow fits)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def expires(self) -> float | None: ...


def override_from_row(row: OverrideLike) -> Override | None:
    """An Override from a stored row; None when its level or kind is not one we know."""
    try:
        level = Level.parse(row.level)
    except ValueError:
        return None
    if row.kind not in OVERRIDE_KINDS:
        return None
    return Override(row.id, row.kind, row.target, level, row.reason, row.expires)
