"""User-Agent parsing: real browser, phone, tablet and crawler strings."""

from __future__ import annotations

import time

import pytest

from collector.enrich.ua import MAX_UA_LENGTH, UAInfo, parse_ua, warm_up

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (
            CHROME_WIN,
            UAInfo("Chrome", "120.0.0", 120, "Windows", "10", "desktop"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
            UAInfo("Firefox", "121.0", 121, "Windows", "10", "desktop"),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.1 Safari/605.1.15",
            UAInfo("Safari", "17.1", 17, "macOS", "10.15.7", "desktop"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
            UAInfo("Edge", "120.0.2210", 120, "Windows", "10", "desktop"),
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            UAInfo("Firefox", "120.0", 120, "Ubuntu", "", "desktop"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
            UAInfo("Safari", "17.1.2", 17, "iOS", "17.1.2", "mobile"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
            UAInfo("Chrome", "120.0.6099", 120, "iOS", "17.1", "mobile"),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/16.6 Mobile/15E148 Safari/604.1",
            UAInfo("Safari", "16.6", 16, "iOS", "16.6", "tablet"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.6099.144 Mobile Safari/537.36",
            UAInfo("Chrome", "120.0.6099", 120, "Android", "14", "mobile"),
        ),
        (
            # Galaxy Tab S8: Android without "Mobile" is a tablet.
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/119.0.0.0 Safari/537.36",
            UAInfo("Chrome", "119.0.0", 119, "Android", "13", "tablet"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            UAInfo("Samsung Internet", "23.0", 23, "Android", "10", "mobile"),
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            UAInfo("Googlebot", "2.1", 2, "Unknown", "", "bot"),
        ),
        (
            # Smartphone Googlebot looks like Chrome on Android but is still a crawler.
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0.6099.199 Mobile Safari/537.36 "
            "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            UAInfo("Googlebot", "2.1", 2, "Android", "6.0.1", "bot"),
        ),
        (
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            UAInfo("bingbot", "2.0", 2, "Unknown", "", "bot"),
        ),
        ("curl/8.4.0", UAInfo("curl", "8.4.0", 8, "Unknown", "", "bot")),
        ("python-requests/2.31.0", UAInfo("Python Requests", "2.31", 2, "Unknown", "", "bot")),
    ],
)
def test_real_user_agents(ua: str, expected: UAInfo) -> None:
    assert parse_ua(ua) == expected


def test_cubot_phone_is_not_mistaken_for_a_bot() -> None:
    ua = (
        "Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    )
    assert parse_ua(ua).device == "mobile"


@pytest.mark.parametrize("ua", ["", "   ", "garbage ☃", "\x00\x01", "Mozilla/5.0 \udce9\udcff"])
def test_empty_or_garbage_ua_is_unknown(ua: str) -> None:
    info = parse_ua(ua)
    assert info.browser == "Unknown"
    assert info.browser_major is None


def test_undecodable_bytes_in_a_real_ua_still_parse() -> None:
    # aiohttp decodes header bytes with surrogateescape; a stray 0xE9 byte arrives as a lone surrogate.
    info = parse_ua(CHROME_WIN.replace("Win64", "Win64 \udce9"))
    assert (info.browser, info.browser_major, info.device) == ("Chrome", 120, "desktop")


def test_huge_ua_is_truncated_before_caching() -> None:
    padded = CHROME_WIN + " " * MAX_UA_LENGTH
    info = parse_ua(padded + "x" * 100_000)
    assert info.browser == "Chrome"
    # Only the first MAX_UA_LENGTH characters count, so a different tail hits the same cache entry.
    assert parse_ua(padded + "y" * 100_000) is info


def test_repeat_parse_is_served_from_cache() -> None:
    assert parse_ua(CHROME_WIN) is parse_ua(CHROME_WIN)


def test_warm_up_makes_the_first_parse_fast() -> None:
    warm_up()
    start = time.perf_counter()
    info = parse_ua("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0 warm-up-check")
    assert time.perf_counter() - start < 0.05
    assert (info.browser, info.browser_major, info.os, info.device) == ("Firefox", 115, "Linux", "desktop")
