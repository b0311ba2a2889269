"""Referrer → source/medium, UTM parsing and the UTM override."""

from __future__ import annotations

import pytest

from collector.enrich.referrer import RefInfo, Utm, apply_utm, classify_referrer, parse_utm

OWN = "example.com"


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("", RefInfo("", "direct", "")),
        ("   ", RefInfo("", "direct", "")),
        ("about:blank", RefInfo("", "direct", "")),
        ("javascript:alert(1)", RefInfo("", "direct", "")),
        ("https://<script>/x", RefInfo("", "direct", "")),
        ("https://example.com/pricing", RefInfo("", "internal", "example.com")),
        ("https://www.example.com/", RefInfo("", "internal", "www.example.com")),
        ("http://EXAMPLE.com:8080/a?b", RefInfo("", "internal", "example.com")),
        ("https://www.google.com/", RefInfo("Google", "search", "www.google.com")),
        ("https://www.google.co.uk/", RefInfo("Google", "search", "www.google.co.uk")),
        ("https://www.google.com.au/search?q=x", RefInfo("Google", "search", "www.google.com.au")),
        ("https://google.de", RefInfo("Google", "search", "google.de")),
        ("https://www.bing.com/search?q=sitelens", RefInfo("Bing", "search", "www.bing.com")),
        ("https://duckduckgo.com/", RefInfo("DuckDuckGo", "search", "duckduckgo.com")),
        ("https://yandex.ru/", RefInfo("Yandex", "search", "yandex.ru")),
        ("https://search.brave.com/search?q=x", RefInfo("Brave Search", "search", "search.brave.com")),
        ("https://www.ecosia.org/", RefInfo("Ecosia", "search", "www.ecosia.org")),
        ("https://l.facebook.com/l.php?u=x", RefInfo("Facebook", "social", "l.facebook.com")),
        ("https://m.facebook.com/", RefInfo("Facebook", "social", "m.facebook.com")),
        ("https://t.co/AbCdEf", RefInfo("Twitter/X", "social", "t.co")),
        ("https://x.com/someone/status/1", RefInfo("Twitter/X", "social", "x.com")),
        ("https://mobile.twitter.com/", RefInfo("Twitter/X", "social", "mobile.twitter.com")),
        ("https://old.reddit.com/r/selfhosted/", RefInfo("Reddit", "social", "old.reddit.com")),
        ("https://www.linkedin.com/feed/", RefInfo("LinkedIn", "social", "www.linkedin.com")),
        ("https://lnkd.in/abc", RefInfo("LinkedIn", "social", "lnkd.in")),
        ("https://news.ycombinator.com/item?id=1", RefInfo("Hacker News", "social", "news.ycombinator.com")),
        ("https://github.com/someone/sitelens", RefInfo("GitHub", "social", "github.com")),
        ("https://www.youtube.com/watch?v=1", RefInfo("YouTube", "social", "www.youtube.com")),
        ("https://youtu.be/abc", RefInfo("YouTube", "social", "youtu.be")),
        ("https://l.instagram.com/", RefInfo("Instagram", "social", "l.instagram.com")),
        ("https://mastodon.social/@someone", RefInfo("Mastodon", "social", "mastodon.social")),
        ("https://fosstodon.org/@someone", RefInfo("Mastodon", "social", "fosstodon.org")),
        ("https://mastodon.example.net/@me", RefInfo("Mastodon", "social", "mastodon.example.net")),
        ("https://mail.google.com/mail/u/0/", RefInfo("Gmail", "email", "mail.google.com")),
        ("https://outlook.live.com/mail/0/", RefInfo("Outlook", "email", "outlook.live.com")),
        ("https://outlook.office.com/", RefInfo("Outlook", "email", "outlook.office.com")),
        ("https://webmail.myisp.de/", RefInfo("webmail.myisp.de", "email", "webmail.myisp.de")),
        ("https://news.google.com/articles/x", RefInfo("Google News", "referral", "news.google.com")),
        ("https://en.wikipedia.org/wiki/Web_analytics", RefInfo("Wikipedia", "referral", "en.wikipedia.org")),
        ("https://www.someblog.net/post/1", RefInfo("someblog.net", "referral", "www.someblog.net")),
        ("https://user:pw@blog.example.org/", RefInfo("blog.example.org", "referral", "blog.example.org")),
        ("news.ycombinator.com/item?id=1", RefInfo("Hacker News", "social", "news.ycombinator.com")),
        ("android-app://com.google.android.gm", RefInfo("Gmail", "email", "com.google.android.gm")),
        (
            "android-app://com.google.android.googlequicksearchbox/https/www.google.com",
            RefInfo("Google", "search", "com.google.android.googlequicksearchbox"),
        ),
        ("android-app://com.twitter.android/", RefInfo("Twitter/X", "social", "com.twitter.android")),
        ("android-app://org.example.reader/https/t.co", RefInfo("Twitter/X", "social", "t.co")),
        ("android-app://org.example.reader", RefInfo("org.example.reader", "referral", "org.example.reader")),
    ],
)
def test_referrer_table(referrer: str, expected: RefInfo) -> None:
    assert classify_referrer(referrer, OWN) == expected


def test_own_host_given_with_www_and_port() -> None:
    assert classify_referrer("https://example.com/a", "www.example.com:443").medium == "internal"
    assert classify_referrer("https://blog.example.com/a", "example.com").medium == "referral"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", Utm("", "", "", "", "")),
        ("page=2", Utm("", "", "", "", "")),
        (
            "?utm_source=newsletter&utm_medium=Email&utm_campaign=spring+sale&utm_term=shoes&utm_content=top%20link",
            Utm("newsletter", "email", "spring sale", "shoes", "top link"),
        ),
        ("ref=producthunt", Utm("producthunt", "", "", "", "")),
        ("source=hn&utm_campaign=launch", Utm("hn", "", "launch", "", "")),
        ("utm_source=twitter&ref=other", Utm("twitter", "", "", "", "")),
        ("UTM_SOURCE=Twitter", Utm("Twitter", "", "", "", "")),
        ("utm_source=%00evil%1b[31m", Utm("evil[31m", "", "", "", "")),
        ("utm_source=" + "a" * 1000, Utm("a" * 200, "", "", "", "")),
    ],
)
def test_parse_utm(query: str, expected: Utm) -> None:
    assert parse_utm(query) == expected


def test_utm_email_medium_wins_over_direct() -> None:
    ref = classify_referrer("", OWN)
    utm = parse_utm("utm_source=weekly&utm_medium=newsletter")
    assert apply_utm(ref, utm) == RefInfo("weekly", "email", "")


def test_utm_cpc_wins_over_search() -> None:
    ref = classify_referrer("https://www.google.com/", OWN)
    assert apply_utm(ref, parse_utm("utm_source=google&utm_medium=cpc")) == RefInfo(
        "Google", "cpc", "www.google.com"
    )


def test_utm_social_wins_over_referral() -> None:
    ref = classify_referrer("https://someblog.net/", OWN)
    assert apply_utm(ref, parse_utm("utm_medium=social")).medium == "social"


def test_other_utm_mediums_keep_the_referrer_medium() -> None:
    ref = classify_referrer("https://duckduckgo.com/", OWN)
    assert apply_utm(ref, parse_utm("utm_medium=banner&utm_source=x")) is ref


def test_direct_visit_with_only_a_source_becomes_a_referral() -> None:
    assert apply_utm(classify_referrer("", OWN), parse_utm("ref=producthunt")) == RefInfo(
        "producthunt", "referral", ""
    )


def test_internal_navigation_is_never_a_new_source() -> None:
    ref = classify_referrer("https://example.com/", OWN)
    assert apply_utm(ref, parse_utm("utm_source=x&utm_medium=email")) is ref
