"""User-Agent → browser, OS and device class, parsed once per distinct UA string."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from ua_parser import parse

# Longer UAs are cut before parsing and caching so a hostile header cannot pin megabytes in the cache.
MAX_UA_LENGTH: Final = 512

# The parser's mobile/desktop variants are folded together: the device class already says "mobile".
_BROWSER_ALIASES: Final[dict[str, str]] = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
}
_OS_ALIASES: Final[dict[str, str]] = {"Mac OS X": "macOS"}

_DESKTOP_OS: Final = frozenset(
    {
        "Windows",
        "macOS",
        "Linux",
        "Ubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "SUSE",
        "Arch Linux",
        "Linux Mint",
        "Chrome OS",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    }
)
_MOBILE_OS: Final = frozenset({"iOS", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS"})

_TABLET_RE: Final = re.compile(r"iPad|Tablet|Kindle|Silk/|PlayBook|Nexus (?:7|9|10)\b", re.IGNORECASE)
_MOBILE_RE: Final = re.compile(r"Mobi|iPhone|iPod|Windows Phone|Opera Mini|IEMobile", re.IGNORECASE)
# Fallback for crawlers and HTTP libraries the parser's device table does not tag as "Spider".
_BOT_RE: Final = re.compile(
    r"(?<!cu)bot\b|(?<!cu)bot/|crawl|spider|slurp|scrap|headless|lighthouse|"
    r"^(?:curl|wget|python|go-http-client|java|okhttp|libwww-perl|httpie|axios|node-fetch|"
    r"aiohttp|php|ruby|scrapy|apache-httpclient)",
    re.IGNORECASE,
)
_TV_CONSOLE_RE: Final = re.compile(
    r"SmartTV|Smart-TV|SMART-TV|\bTV\b|Tizen|Web0S|webOS|Roku|AppleTV|CrKey|AFT[A-Z]|BRAVIA|"
    r"PlayStation|Xbox|Nintendo",
    re.IGNORECASE,
)


@dataclass(slots=True, frozen=True)
class UAInfo:
    """What a User-Agent says about the visitor's software and hardware."""

    browser: str
    browser_version: str
    browser_major: int | None
    os: str
    os_version: str
    device: str  # "desktop" | "mobile" | "tablet" | "bot" | "other"


UNKNOWN_UA: Final = UAInfo("Unknown", "", None, "Unknown", "", "other")


def _join_version(*parts: str | None) -> str:
    """Dotted version from the leading non-empty parts ("17", "1", None → "17.1")."""
    out: list[str] = []
    for part in parts:
        if not part:
            break
        out.append(part)
    return ".".join(out)


def _to_int(value: str | None) -> int | None:
    """Integer major version, or None when absent or not numeric."""
    if value and value.isdigit() and len(value) <= 9:
        return int(value)
    return None


def device_class(ua: str, os_family: str, device_family: str, device_brand: str) -> str:
    """Device class from the parsed device/OS and the raw UA: bot, tablet, mobile, desktop or other."""
    if device_family == "Spider" or _BOT_RE.search(ua):
        return "bot"
    if _TV_CONSOLE_RE.search(ua):
        return "other"
    if device_family in ("iPad", "Kindle") or "Tablet" in device_brand or _TABLET_RE.search(ua):
        return "tablet"
    if os_family == "Android":
        # Android tablets leave "Mobile" out of the UA; phones always include it.
        return "mobile" if "Mobile" in ua else "tablet"
    if os_family in _MOBILE_OS or _MOBILE_RE.search(ua):
        return "mobile"
    if os_family in _DESKTOP_OS or device_family == "Mac":
        return "desktop"
    return "other"


@lru_cache(maxsize=8192)
def _parse_cached(ua: str) -> UAInfo:
    """Parse one (already truncated) UA string; the cache makes repeat visitors nearly free."""
    if not ua.strip():
        return UNKNOWN_UA
    result = parse(ua)
    agent, os_, dev = result.user_agent, result.os, result.device
    if agent is not None:
        browser = _BROWSER_ALIASES.get(agent.family, agent.family)
        browser_version = _join_version(agent.major, agent.minor, agent.patch)
        browser_major = _to_int(agent.major)
    else:
        browser, browser_version, browser_major = "Unknown", "", None
    if os_ is not None:
        os_name = _OS_ALIASES.get(os_.family, os_.family)
        os_version = _join_version(os_.major, os_.minor, os_.patch)
    else:
        os_name, os_version = "Unknown", ""
    device = device_class(
        ua,
        os_name,
        dev.family if dev is not None else "",
        (dev.brand or "") if dev is not None else "",
    )
    return UAInfo(browser, browser_version, browser_major, os_name, os_version, device)


def parse_ua(ua: str) -> UAInfo:
    """Browser, OS and device class of a User-Agent string; cached, never raises."""
    if len(ua) > MAX_UA_LENGTH:
        ua = ua[:MAX_UA_LENGTH]
    return _parse_cached(ua)


def cache_clear() -> None:
    """Forget cached UAs (tests and benchmarks measure the uncached path with it)."""
    _parse_cached.cache_clear()
