"""Event → enriched, sessionised, bot-scored record, queued for the writer. Pure CPU work, no awaits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from collector.bots.request import NO_HINTS, RequestVerdict, assess_request
from collector.bots.scorer import BotScore, score_session
from collector.config import Config
from collector.enrich.geo import AsnLookup, GeoLookup, is_hosting_org
from collector.enrich.privacy import redact_props, redact_text, redact_title, redact_url, split_redacted
from collector.enrich.referrer import RefInfo, Utm, apply_utm, classify_referrer, parse_utm
from collector.enrich.ua import UAInfo, os_version_label, parse_ua
from collector.salts import SaltStore
from collector.sessions import Session, SessionTracker, new_session_id
from collector.throttle import Decision, Throttle
from collector.validation import Hit
from db.records import SERVER_EVENT_TYPES, EventRecord, FingerprintRecord, SessionRecord
from db.writer import Batch, Writer

MAX_SITE_PAGES = 50_000
MAX_FINGERPRINTS = 100_000
"""Fingerprints counted per day (≈ 150 bytes each, in two tables); past that the counts start over."""


@dataclass(slots=True)
class Client:
    """Who sent a request, as far as the collector may know: used in memory only unless store_ip is on.

    Not frozen, unlike other records crossing modules: built once per request, and a frozen dataclass's
    __init__ costs several times more; nothing assigns to it."""

    ip: str
    ua: str
    accept: str | None = None
    accept_language: str | None = None
    headers_known: bool = True
    """False for imported log lines, which carry no Accept/Accept-Language headers."""
    ua_known: bool = True
    """False when the source never had a User-Agent (server-side events without one): not a bot hint then."""


@dataclass(slots=True)
class _FingerprintNews:
    """What the hits since the last flush said about one fingerprint (merged into its reputation row)."""

    ua: str
    seen: float = 0.0
    new_sessions: int = 0
    requests: int = 0
    score: int = 0
    level: str = "normal"
    bot_name: str = ""
    reasons: tuple[str, ...] = ()
    """The latest non-empty bot hints, serialised once per flush (in drain) rather than on every hit."""


@dataclass(slots=True)
class PipelineStats:
    """Counters for /healthz, the status bar and benchmarks."""

    accepted: int = 0
    bots: int = 0


class Pipeline:
    """Enriches hits, keeps sessions and fingerprints current, scores bots and queues rows for the writer."""

    def __init__(
        self,
        cfg: Config,
        writer: Writer,
        salts: SaltStore,
        geo: GeoLookup,
        asn: AsnLookup | None = None,
    ) -> None:
        self.cfg = cfg
        self.writer = writer
        self.salts = salts
        self.geo = geo
        self.asn = asn
        self.sessions = SessionTracker(cfg.privacy.session_timeout_s)
        self.server_sessions = SessionTracker(cfg.privacy.session_timeout_s)
        """Server-side callers' sessions: kept in memory for bot scoring and throttling only, never stored, so
        API traffic never becomes a web visit (its events are stored with session_id 0)."""
        self.site_pages: dict[str, set[str]] = {}
        self.fingerprint_sessions: dict[int | str, int] = {}
        """Sessions started today per fingerprint (keyed as `hash_key` makes it: up to 100k a day)."""
        self.fingerprint_scores: dict[str, int] = {}
        """Latest behavioural score per fingerprint, what the throttle escalates on."""
        self._fingerprints_day = 0
        """The UTC day the two fingerprint tables are about."""
        self.throttle: Throttle | None = None
        """Set by the app when throttling is on."""
        self.stats = PipelineStats()
        self._store_ip = cfg.privacy.store_ip
        self._dirty_sessions: dict[int, Session] = {}
        self._fingerprint_news: dict[str, _FingerprintNews] = {}
        writer.add_source(self.drain)

    def drain(self, batch: Batch) -> None:
        """Move session snapshots and fingerprint news into the writer's batch (once per flush, not per event)."""
        dirty, self._dirty_sessions = self._dirty_sessions, {}
        for session_id, session in dirty.items():
            rec = session.record
            rec.bot_signals = _signals_json(session.score)
            batch.sessions[session_id] = rec.as_row()
        news, self._fingerprint_news = self._fingerprint_news, {}
        for fingerprint, n in news.items():
            batch.fingerprints[fingerprint] = FingerprintRecord(
                fingerprint, n.seen, n.new_sessions, n.requests, n.score, n.level, n.ua, n.bot_name,
                orjson.dumps(n.reasons).decode() if n.reasons else "[]",
            )

    def _note_fingerprint(self, rec: SessionRecord, now: float, is_new: bool, verdict: RequestVerdict) -> None:
        """Accumulate what this hit says about its fingerprint until the next flush."""
        news = self._fingerprint_news.get(rec.fingerprint)
        if news is None:
            news = self._fingerprint_news[rec.fingerprint] = _FingerprintNews(ua=rec.ua)
        news.seen = now
        news.new_sessions += int(is_new)
        news.requests += 1
        if rec.bot_score > news.score:
            news.score = rec.bot_score
        news.level = rec.throttle_level
        news.bot_name = rec.bot_name
        if verdict.reasons:
            news.reasons = verdict.reasons

    def expire(self, now: float) -> int:
        """End idle web and server-side sessions; returns how many web sessions ended."""
        self.server_sessions.expire(now)
        return self.sessions.expire(now)

    def session_for(self, hit: Hit, client: Client, now: float) -> tuple[Session, bool]:
        """The client's current session on the hit's site, starting one if needed; True when new.

        Server-side events (api_request, auth, external_call) get a session of their own kind, which is
        scored like any other but never stored."""
        today, yesterday, fingerprint = self.salts.ids(now, hit.site, client.ip, client.ua)
        tracker = self.server_sessions if hit.type in SERVER_EVENT_TYPES else self.sessions
        session = tracker.find(hit.site, today, yesterday, now)
        if session is not None:
            return session, False
        ua = parse_ua(client.ua)
        geo = self.geo.lookup(client.ip)
        record = SessionRecord(
            id=new_session_id(now),
            site=hit.site,
            visitor_id=today,
            fingerprint=fingerprint,
            started=now,
            last_seen=now,
            browser=ua.browser,
            browser_version=ua.browser_version,
            os=ua.os,
            device=ua.device,
            country=geo.country,
            region=geo.region,
            city=geo.city,
            screen=hit.screen,
            ua=redact_text(client.ua[:500]),
            ip=client.ip if self._store_ip else "",
            os_version=os_version_label(ua.os, ua.os_version),
        )
        day = int(now // 86400)
        if day != self._fingerprints_day:  # fingerprints are keyed with the day's salt: yesterday's never return
            self._fingerprints_day = day
            self.fingerprint_sessions.clear()
            self.fingerprint_scores.clear()
        session = tracker.start(record)
        key = session.fingerprint_key
        count = self.fingerprint_sessions.get(key, 0) + 1
        if len(self.fingerprint_sessions) > MAX_FINGERPRINTS:
            self.fingerprint_sessions.clear()
        self.fingerprint_sessions[key] = count
        return session, True

    def admit(self, client: Client, now: float) -> Decision | None:
        """May this client send now? None when throttling is off."""
        if self.throttle is None:
            return None
        fingerprint = self.salts.fingerprint(now, client.ip, client.ua)
        return self.throttle.check(fingerprint, client.ip, self.fingerprint_scores.get(fingerprint, 0), now)

    def process(self, hit: Hit, client: Client, now: float | None = None) -> EventRecord:
        """Enrich and sessionise one hit, update its session, and queue both for the writer."""
        return EventRecord(*self.accept(hit, client, now))

    def accept(self, hit: Hit, client: Client, now: float | None = None) -> tuple[Any, ...]:
        """`process` returning the queued row (in EVENT_COLUMNS order) rather than a record built from it: the
        HTTP handlers have no use for the record, and its 36 fields cost a noticeable share of a request."""
        now = time.time() if now is None else now
        session, is_new = self.session_for(hit, client, now)
        ua = parse_ua(client.ua)
        if hit.url:
            host, path, query = split_redacted(hit.url)
        else:
            host, path, query = "", redact_url(hit.path) if hit.path else "", ""
        path = path or "/"
        ref = referral(hit.type, hit.referrer, host, query)
        verdict = self.verdict(hit, client, ua, path)
        return self.apply(hit, client, now, session, is_new, ua, path, ref, verdict)

    def apply(
        self,
        hit: Hit,
        client: Client,
        now: float,
        session: Session,
        is_new: bool,
        ua: UAInfo,
        path: str,
        ref: Referral,
        verdict: RequestVerdict,
    ) -> tuple[Any, ...]:
        """The stateful half of `accept`: fold a hit whose stateless enrichment is done into its session,
        score it and queue its row. The batch import computes that enrichment once per distinct value and
        comes in here, so live traffic and imported files follow one definition of every rule."""
        rec = session.record
        kind = hit.type
        info = ref.info
        referrer = ref.referrer
        if kind == "pageview" or kind == "request":
            utm = ref.utm
            if utm is not None and (is_new or rec.pageviews == 0):
                rec.utm_source, rec.utm_medium, rec.utm_campaign = utm.source, utm.medium, utm.campaign
            if is_new or (rec.pageviews == 0 and not rec.ref_source):
                if info.medium != "internal":
                    rec.referrer, rec.ref_source, rec.ref_medium = referrer, info.source, info.medium

        score = self._score(session, hit, path, ua, now)
        self._update_session(session, hit, path, now, verdict, score, verdict.is_bot or score.is_bot)
        # The session's verdict, not this hit's: once a session is judged a bot every later event is a bot's
        # too (its earlier ones are re-marked by the writer when the flip is flushed, db/sqlite/batch.py).
        is_bot = rec.is_bot
        server = kind in SERVER_EVENT_TYPES
        if self.throttle is not None:
            if len(self.fingerprint_scores) > MAX_FINGERPRINTS:
                self.fingerprint_scores.clear()
            self.fingerprint_scores[rec.fingerprint] = rec.bot_score
            rec.throttle_level = self.throttle.level_of(rec.fingerprint, now, client.ip).label

        # Built in column order (EVENT_COLUMNS) and queued as is.
        ip = client.ip if self._store_ip else ""
        row = (
            now, hit.site, kind, 0 if server else rec.id, rec.visitor_id, rec.fingerprint, path[:2000],
            redact_title(hit.title) if hit.title else "", referrer,
            info.source, info.medium,
            rec.utm_source if is_new else "", rec.utm_medium if is_new else "", rec.utm_campaign if is_new else "",
            redact_text(hit.name) if hit.name else "", _props_json(hit.props), hit.engaged_ms, hit.scroll,
            rec.browser, rec.browser_version, rec.os, rec.device, rec.country, rec.region, rec.city,
            hit.screen or rec.screen, 1 if is_bot else 0, rec.bot_name,
            hit.method, hit.status, hit.latency_ms, hit.bytes, hit.cost_usd,
            redact_text(hit.user_id) if hit.user_id else "", 1 if hit.success else 0, ip, rec.os_version,
        )
        self.writer.add_event(row)
        if not server:
            self._dirty_sessions[rec.id] = session
        self._note_fingerprint(rec, now, is_new and not server, verdict)
        self.stats.accepted += 1
        if is_bot:
            self.stats.bots += 1
        return row

    def verdict(self, hit: Hit, client: Client, ua: UAInfo, path: str) -> RequestVerdict:
        """Per-request bot hints: crawler lists, library UAs, header anomalies, webdriver, probes, hosting ASN."""
        if not client.ua_known:
            return NO_HINTS
        hosting = False
        if self.asn is not None:
            _number, org = self.asn.lookup(client.ip)
            hosting = bool(org) and is_hosting_org(org)
        return assess_request(
            client.ua,
            accept=client.accept,
            accept_language=client.accept_language,
            webdriver=hit.webdriver,
            path=path,
            hosting_org=hosting,
            browser_like=ua.device in ("desktop", "mobile", "tablet") and ua.browser not in ("", "Unknown", "Other"),
            headers_known=client.headers_known,
        )

    def _score(self, session: Session, hit: Hit, path: str, ua: UAInfo, now: float) -> BotScore:
        """Feed the session's behaviour (page-like hits only) and rescore it when anything it reads has changed.

        The score reads the behaviour (which grows with every observation), the site's and the fingerprint's
        counts, and the UA (one per session: it is part of the visitor id); an asset or a repeat that changed
        none of them keeps the score it had."""
        pages = self.site_pages.get(hit.site)
        behaviour = session.behaviour
        if hit.type in _PAGE_LIKE and not hit.asset:
            behaviour.observe(now, path)
            if pages is None:
                pages = self.site_pages[hit.site] = set()
            if len(pages) < MAX_SITE_PAGES:
                pages.add(path)
        site_pages = len(pages) if pages is not None else 0
        fingerprint_sessions = self.fingerprint_sessions.get(session.fingerprint_key, 1)
        inputs = (behaviour.requests, site_pages, fingerprint_sessions)
        if inputs == session.scored:
            return session.score
        session.scored = inputs
        return score_session(
            behaviour,
            site_pages=site_pages,
            fingerprint_sessions=fingerprint_sessions,
            browser=ua.browser,
            browser_major=ua.browser_major,
        )

    @staticmethod
    def _update_session(
        session: Session, hit: Hit, path: str, now: float, verdict: RequestVerdict, score: BotScore, is_bot: bool
    ) -> None:
        """Fold one hit into its session record."""
        rec = session.record
        if now > rec.last_seen:  # (conditionals, not max(): this runs on every hit)
            rec.last_seen = now
        if hit.type == "pageview":
            rec.pageviews += 1
            if not rec.entry_path:
                rec.entry_path = path
            rec.exit_path = path
        elif hit.type == "engagement":
            rec.engaged_ms += hit.engaged_ms
            rec.max_scroll = max(rec.max_scroll, hit.scroll)
        elif hit.type == "event":
            rec.events += 1
        else:
            rec.requests += 1
            if not rec.entry_path:
                rec.entry_path = path
            rec.exit_path = path
        if hit.screen and not rec.screen:
            rec.screen = hit.screen
        rec.bot_score = score.score
        session.score = score  # serialised into rec.bot_signals once per flush, in drain()
        if verdict.is_bot:
            rec.bot_name = rec.bot_name or redact_text(verdict.bot_name)
            rec.bot_reasons = ",".join(verdict.reasons)
        if is_bot:
            rec.is_bot = 1


@dataclass(slots=True, frozen=True)
class Referral:
    """Where a hit came from, as far as its own fields say (no session state): the referrer's class with any
    UTM tags applied, the tags themselves (None without any) and the referrer as stored."""

    info: RefInfo
    utm: Utm | None
    referrer: str


def referral(kind: str, referrer: str, host: str, query: str) -> Referral:
    """Classify a hit's referrer and UTM tags; pure, so a batch computes it once per distinct value."""
    if kind != "pageview" and kind != "request":
        return _NO_REFERRAL
    info = classify_referrer(referrer, host) if referrer else _DIRECT
    tags = None
    if query:
        utm = parse_utm(query)
        if utm.source or utm.medium or utm.campaign:
            info = apply_utm(info, utm)
            tags = utm
    stored = redact_url(referrer)[:500] if info.medium not in ("direct", "internal") else ""
    return Referral(info, tags, stored)


_PAGE_LIKE = frozenset({"pageview", "request", "api_request"})
"""Hit types that are behaviour the bot score reads (engagement pings and custom events are not)."""
_NO_REF = RefInfo("", "", "")
_DIRECT = RefInfo("", "direct", "")
_NO_REFERRAL = Referral(_NO_REF, None, "")


def _props_json(props: dict[str, str]) -> str:
    if not props:
        return ""
    return orjson.dumps(redact_props(props)).decode()


def _signals_json(score: BotScore) -> str:
    if not score.signals:  # most sessions: nothing fired
        return "[]"
    return orjson.dumps([{"name": s.name, "weight": s.weight, "value": s.value} for s in score.signals]).decode()


