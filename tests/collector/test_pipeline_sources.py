"""Hits from servers and access logs go through the same pipeline without being misread as bots."""

from __future__ import annotations

from collector.pipeline import Client
from collector.validation import Hit
from db.records import EVENT_COLUMNS
from tests.collector.test_sessions import make_pipeline, ts


def test_server_side_event_without_user_agent_is_not_a_bot(cfg):
    p = make_pipeline(cfg)
    hit = Hit(site="api.example.com", type="external_call", path="/v1/chat", name="openai", cost_usd=0.02)
    server = Client(ip="203.0.113.9", ua="", headers_known=False, ua_known=False)
    rec = p.process(hit, server, ts("2026-11-20 12:00:00"))
    assert rec.is_bot == 0
    # The same empty UA on a live request is a strong bot hint.
    live = p.process(Hit(site="example.com", type="pageview", url="https://example.com/"),
                     Client(ip="203.0.113.10", ua=""), ts("2026-11-20 12:00:00"))
    assert live.is_bot == 1


def test_static_assets_do_not_count_as_behaviour(cfg):
    p = make_pipeline(cfg)
    person = Client(ip="198.51.100.4", ua="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                    headers_known=False)
    t = ts("2026-11-20 12:00:00")
    pages = ["/", "/pricing", "/blog", "/about", "/docs/setup", "/blog/why", "/careers", "/docs", "/contact", "/faq",
             "/blog/ssh", "/changelog", "/docs/api", "/team", "/legal"]
    pauses = [4, 95, 40, 7, 230, 18, 61, 3, 140, 33, 12, 300, 26, 75, 9]
    for page, pause in zip(pages, pauses, strict=True):  # 15 pages, each with 4 assets: 75 logged requests
        t += pause
        p.process(Hit(site="example.com", type="pageview", url=f"https://example.com{page}"), person, t)
        for asset in ("/app.css", "/app.js", "/logo.png", "/font.woff2"):
            p.process(Hit(site="example.com", type="request", url=f"https://example.com{asset}", asset=True), person,
                      t + 0.05)
    [live] = p.sessions.active()
    session = live.record
    assert session.requests == 60 and session.pageviews == 15
    assert "request_count" not in {signal.name for signal in live.score.signals} and session.is_bot == 0


def test_the_queued_row_is_the_returned_record_in_column_order(cfg):
    """What the writer stores is exactly the record process() returns, column by column."""
    p = make_pipeline(cfg)
    person = Client(ip="198.51.100.4", ua="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                    accept="*/*", accept_language="en")
    hit = Hit(site="example.com", type="event", url="https://example.com/pricing?utm_source=news", name="signup",
              referrer="https://news.ycombinator.com/item?id=1", title="Pricing", props={"plan": "pro"},
              screen="1920x1080")
    rec = p.process(hit, person, ts("2026-11-20 12:00:00"))
    [row] = p.writer._batch.events
    assert row == rec.as_row()
    named = dict(zip(EVENT_COLUMNS, row, strict=True))
    assert (named["type"], named["name"], named["path"], named["props"], named["browser"], named["screen"]) == (
        "event", "signup", "/pricing", '{"plan":"pro"}', "Firefox", "1920x1080"
    )


def test_fingerprint_counts_start_over_each_day(cfg):
    """Fingerprints carry the day's salt: yesterday's counts are dropped, so a long import or uptime stays flat."""
    p = make_pipeline(cfg)
    client = Client(ip="198.51.100.4", ua="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    t = ts("2026-11-20 09:00:00")
    for visit in range(3):  # three sessions an hour apart: the same fingerprint
        p.process(Hit(site="example.com", type="pageview", url="https://example.com/"), client, t + visit * 3600)
    assert list(p.fingerprint_sessions.values()) == [3]
    p.process(Hit(site="example.com", type="pageview", url="https://example.com/"), client, ts("2026-11-21 09:00:00"))
    assert list(p.fingerprint_sessions.values()) == [1]
