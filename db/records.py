"""Records that cross from the collector into storage: one event row and one session snapshot."""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter

EVENT_TYPES = ("pageview", "engagement", "event", "request", "api_request", "auth", "external_call")
WEB_EVENT_TYPES = ("pageview", "engagement", "event", "request")
"""Browser traffic (imported access-log `request` hits included): the only events web sessions, visitors,
pageviews, bounce and sources are made of."""
SERVER_EVENT_TYPES = frozenset(("api_request", "auth", "external_call"))
"""Server-side events: stored with session_id 0, never part of a web session; the Server view owns them."""


@dataclass(slots=True)
class EventRecord:
    """One stored event; field order matches `EVENT_COLUMNS` and the `events` table."""

    ts: float
    site: str
    type: str
    session_id: int = 0
    visitor_id: str = ""
    fingerprint: str = ""
    path: str = ""
    title: str = ""
    referrer: str = ""
    ref_source: str = ""
    ref_medium: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    name: str = ""
    props: str = ""
    engaged_ms: int = 0
    scroll: int = 0
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    device: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    screen: str = ""
    is_bot: int = 0
    bot_name: str = ""
    method: str = ""
    status: int = 0
    latency_ms: float = 0.0
    bytes: int = 0
    cost_usd: float = 0.0
    user_id: str = ""
    success: int = 1
    ip: str = ""
    os_version: str = ""
    """The OS as people name it with its version ("Windows 10", "iOS 17.1"); '' when the UA gives none."""

    def as_row(self) -> tuple[object, ...]:
        """The values in column order, for executemany."""
        return _event_row(self)  # type: ignore[no-any-return]


EVENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(EventRecord))
_event_row = attrgetter(*EVENT_COLUMNS)


@dataclass(slots=True)
class SessionRecord:
    """A session as the collector knows it now; upserted by the writer (last snapshot wins)."""

    id: int
    site: str
    visitor_id: str
    fingerprint: str
    started: float
    last_seen: float
    new_visitor: int = 1
    pageviews: int = 0
    events: int = 0
    requests: int = 0
    entry_path: str = ""
    exit_path: str = ""
    engaged_ms: int = 0
    max_scroll: int = 0
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    device: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    referrer: str = ""
    ref_source: str = ""
    ref_medium: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    screen: str = ""
    ua: str = ""
    bot_score: int = 0
    bot_signals: str = "[]"
    is_bot: int = 0
    bot_name: str = ""
    bot_reasons: str = ""
    throttle_level: str = "normal"
    ip: str = ""
    os_version: str = ""
    """As on EventRecord (last, like every column added after the first schema)."""

    def as_row(self) -> tuple[object, ...]:
        """The values in column order, for executemany."""
        return _session_row(self)  # type: ignore[no-any-return]


SESSION_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(SessionRecord))
_session_row = attrgetter(*SESSION_COLUMNS)


@dataclass(slots=True, frozen=True)
class FingerprintRecord:
    """What one flush learned about a fingerprint; merged into the `fingerprints` reputation row."""

    fingerprint: str
    seen: float
    new_sessions: int
    requests: int
    score: int
    level: str
    ua: str
    bot_name: str
    flags: str = "[]"

    def __reduce__(self) -> tuple[type[FingerprintRecord], tuple[object, ...]]:
        """Pickled as its values: batches go to the writer process, and the default slots-dataclass state
        (a Python-level getstate/setstate per record) was several times slower."""
        return FingerprintRecord, (
            self.fingerprint, self.seen, self.new_sessions, self.requests, self.score, self.level, self.ua,
            self.bot_name, self.flags,
        )


FINGERPRINT_COLUMNS = (
    "fingerprint", "first_seen", "last_seen", "sessions", "requests", "max_score", "flags", "level", "ua", "bot_name",
)  # fmt: skip
COPY_TABLES: dict[str, tuple[str, ...]] = {
    "salts": ("day", "salt"),
    "settings": ("key", "value"),
    "throttle_overrides": ("id", "kind", "target", "level", "reason", "created", "expires", "cleared"),
    "throttle_drops": ("bucket", "level", "reason", "count"),
    "funnels": ("name", "site", "steps", "window_s", "created", "updated"),
    "anomaly_rules": ("id", "name", "metric", "window_s", "warning", "critical", "site", "enabled"),
    "anomalies": (
        "id", "kind", "rule", "metric", "site", "level", "observed", "expected", "started", "ended", "details",
    ),
    "ingest_tokens": ("id", "site", "token_hash", "label", "created", "revoked"),
    "import_files": ("id", "device", "inode", "head_hash", "path", "offset", "lines", "updated"),
    "fingerprints": FINGERPRINT_COLUMNS,
    "sessions": SESSION_COLUMNS,
    "events": ("id", *EVENT_COLUMNS),
}  # fmt: skip
"""What `sitelens migrate` copies, table by table in this order, with the columns both engines agree on."""
COPY_KEYS = {"events": "id", "sessions": "id", "fingerprints": "fingerprint"}
"""Tables copied in chunks, ordered by this key (so a copy resumes after the last key it finished); the others
are small and copied whole."""
