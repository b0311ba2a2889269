"""Cookieless sessions through the real pipeline: timeout, midnight salt rotation, per-site visitors."""

from __future__ import annotations

from datetime import UTC, datetime

from collector.enrich.geo import GeoLookup
from collector.pipeline import Client, Pipeline
from collector.salts import SaltStore, keyed_hash
from collector.validation import Hit
from db.writer import Writer
from tests.conftest import CHROME_UA
from tests.engines import sqlite_store

ALICE = Client(ip="203.0.113.7", ua=CHROME_UA, accept="*/*", accept_language="en")
BOB = Client(ip="198.51.100.9", ua=CHROME_UA, accept="*/*", accept_language="en")


def make_pipeline(cfg) -> Pipeline:
    store = sqlite_store(cfg.db_path)
    writer = Writer(store)  # not started: rows just queue up, which is all these tests need
    return Pipeline(cfg, writer, SaltStore(store), GeoLookup(None))


def pageview(path: str, site: str = "example.com") -> Hit:
    return Hit(site=site, type="pageview", url=f"https://{site}{path}")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_pageviews_within_30_minutes_share_a_session(cfg):
    p = make_pipeline(cfg)
    a = p.process(pageview("/"), ALICE, ts("2026-11-20 10:00:00"))
    b = p.process(pageview("/about"), ALICE, ts("2026-11-20 10:29:00"))
    c = p.process(pageview("/contact"), ALICE, ts("2026-11-20 10:58:30"))
    assert a.session_id == b.session_id == c.session_id
    [session] = [s.record for s in p.sessions.active()]
    assert (session.pageviews, session.entry_path, session.exit_path) == (3, "/", "/contact")


def test_session_ends_after_30_minutes_of_inactivity(cfg):
    p = make_pipeline(cfg)
    a = p.process(pageview("/"), ALICE, ts("2026-11-20 10:00:00"))
    b = p.process(pageview("/again"), ALICE, ts("2026-11-20 10:30:01"))
    assert a.session_id != b.session_id
    assert a.visitor_id == b.visitor_id  # same visitor on the same day: one visitor, two sessions


def test_visit_survives_midnight_through_yesterdays_salt(cfg):
    p = make_pipeline(cfg)
    before = p.process(pageview("/"), ALICE, ts("2026-11-20 23:50:00"))
    after = p.process(pageview("/next"), ALICE, ts("2026-11-21 00:10:00"))
    assert after.session_id == before.session_id
    assert after.visitor_id == before.visitor_id
    # A new visit the next day gets the new day's id: visitors are not linkable across days.
    later = p.process(pageview("/"), ALICE, ts("2026-11-21 09:00:00"))
    assert later.session_id != before.session_id and later.visitor_id != before.visitor_id


def test_visitor_id_is_a_keyed_hash_of_site_ip_and_ua(cfg):
    p = make_pipeline(cfg)
    t = ts("2026-11-20 12:00:00")
    rec = p.process(pageview("/"), ALICE, t)
    assert rec.visitor_id == keyed_hash(p.salts.salt(t), "example.com", ALICE.ip, ALICE.ua)
    other_site = p.process(pageview("/", site="shop.example.com"), ALICE, t)
    other_person = p.process(pageview("/"), BOB, t)
    assert len({rec.visitor_id, other_site.visitor_id, other_person.visitor_id}) == 3
    assert ALICE.ip not in rec.visitor_id and rec.ip == ""


def test_salts_are_shared_through_the_database(cfg):
    t = ts("2026-11-20 12:00:00")
    first = SaltStore(sqlite_store(cfg.db_path)).salt(t)
    second = SaltStore(sqlite_store(cfg.db_path)).salt(t)
    assert first == second and len(first) == 32
    assert SaltStore(sqlite_store(cfg.db_path)).salt(t + 86400) != first


def test_engagement_updates_the_session(cfg):
    p = make_pipeline(cfg)
    t = ts("2026-11-20 12:00:00")
    p.process(pageview("/post"), ALICE, t)
    p.process(Hit(site="example.com", type="engagement", url="https://example.com/post", engaged_ms=42_000,
                  scroll=80), ALICE, t + 45)
    [session] = [s.record for s in p.sessions.active()]
    assert (session.engaged_ms, session.max_scroll, session.last_seen) == (42_000, 80, t + 45)


def test_raw_ip_is_stored_only_when_enabled(cfg):
    cfg.privacy.store_ip = True
    p = make_pipeline(cfg)
    rec = p.process(pageview("/"), ALICE, ts("2026-11-20 12:00:00"))
    assert rec.ip == ALICE.ip


def test_live_sessions_are_capped_so_a_flood_cannot_grow_memory(cfg, monkeypatch):
    from collector import sessions

    monkeypatch.setattr(sessions, "MAX_ACTIVE", 50)
    p = make_pipeline(cfg)
    t = ts("2026-11-20 12:00:00")
    first = p.process(pageview("/"), Client(ip="192.0.2.1", ua=CHROME_UA), t)
    for i in range(2, 200):
        p.process(pageview("/"), Client(ip=f"192.0.2.{i}", ua=CHROME_UA), t + i)
    assert len(p.sessions) <= 50
    # The oldest session was ended early; its visitor simply starts a new one.
    again = p.process(pageview("/next"), Client(ip="192.0.2.1", ua=CHROME_UA), t + 300)
    assert again.session_id != first.session_id


def test_a_session_is_rescored_when_its_fingerprint_starts_sessions_elsewhere(cfg):
    """The score is kept between hits that change nothing it reads; sessions of the same client on other sites
    change one of them (sessions per fingerprint), so the next hit of the first session, even an asset, sees it."""
    p = make_pipeline(cfg)
    start = ts("2026-11-20 10:00:00")
    p.process(pageview("/"), ALICE, start)
    [first] = [s for s in p.sessions.active() if s.record.site == "example.com"]
    assert not any(sig.name == "fingerprint_sessions" for sig in first.score.signals)
    for n in range(6):  # the same address and browser on six other sites: one fingerprint, seven sessions
        p.process(pageview("/", site=f"site{n}.example"), ALICE, start + 10 + n)
    asset = Hit(site="example.com", type="request", url="https://example.com/app.css", asset=True)
    p.process(asset, ALICE, start + 30)
    assert any(sig.name == "fingerprint_sessions" for sig in first.score.signals)
