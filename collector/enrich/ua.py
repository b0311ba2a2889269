"""User-Agent → browser, OS and device class, parsed once per distinct UA string."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from ua_parser import BasicResolver, BestAvailableResolver, Parser, Result, load_builtins, load_lazy_builtins

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

# Hints are plain substrings of the lower-cased UA: a few dozen `in` tests cost less than one
# alternation regex, which Python's re tries at every position of a 100+ character string.
_BOT_WORDS: Final = ("crawl", "spider", "slurp", "scrap", "headless", "lighthouse")
# HTTP libraries and command-line clients the parser's device table does not tag as "Spider".
_CLIENT_PREFIXES: Final = (
    "curl",
    "wget",
    "python",
    "go-http-client",
    "java",
    "okhttp",
    "libwww-perl",
    "httpie",
    "axios",
    "node-fetch",
    "aiohttp",
    "php",
    "ruby",
    "scrapy",
    "apache-httpclient",
)
_TV_CONSOLE_WORDS: Final = (
    "smarttv",
    "smart-tv",
    " tv",
    ";tv",
    "tizen",
    "web0s",
    "webos",
    "roku",
    "appletv",
    "crkey",
    "bravia",
    "; aft",
    "playstation",
    "xbox",
    "nintendo",
)
_TABLET_WORDS: Final = ("ipad", "tablet", "kindle", "silk/", "playbook", "nexus 7", "nexus 9", "nexus 10")
_MOBILE_WORDS: Final = ("mobi", "iphone", "ipod", "windows phone", "opera mini")


def _has_any(low: str, words: tuple[str, ...]) -> bool:
    """Whether any of the words occurs in the (lower-cased) UA."""
    for word in words:
        if word in low:
            return True
    return False


def _is_bot(low: str) -> bool:
    """Crawler words or an HTTP-library UA; "Cubot" is a phone brand, not a crawler."""
    if low.startswith(_CLIENT_PREFIXES):
        return True
    if "bot" in low and low.count("bot") > low.count("cubot"):
        return True
    return _has_any(low, _BOT_WORDS)


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
    if device_family == "Spider":
        return "bot"
    low = ua.lower()
    if _is_bot(low):
        return "bot"
    if _has_any(low, _TV_CONSOLE_WORDS):
        return "other"
    if device_family in ("iPad", "Kindle") or "Tablet" in device_brand or _has_any(low, _TABLET_WORDS):
        return "tablet"
    if os_family == "Android":
        # Android tablets leave "Mobile" out of the UA; phones always include it.
        return "mobile" if "mobile" in low else "tablet"
    if os_family in _MOBILE_OS or _has_any(low, _MOBILE_WORDS):
        return "mobile"
    if os_family in _DESKTOP_OS or device_family == "Mac":
        return "desktop"
    return "other"


@lru_cache(maxsize=1)
def _parser() -> Parser:
    """The library's best resolver (regex/re2 when installed) without its own cache: ours is in front.

    Only its browser and OS tables: the device table (633 patterns) would cost 15 of the parser's 27 MB, and
    the device class comes from the OS and the UA's own words (`device_class`)."""
    lazy = BestAvailableResolver is not BasicResolver
    browsers, systems, _devices = load_lazy_builtins() if lazy else load_builtins()
    return Parser(BestAvailableResolver((browsers, systems, [])))


def _parse(ua: str) -> Result:
    """Full parse (agent, OS, device) by the shared parser."""
    return _parser().parse(ua)


@lru_cache(maxsize=8192)
def _parse_cached(ua: str) -> UAInfo:
    """Parse one (already truncated) UA string; the cache makes repeat visitors nearly free."""
    if not ua.strip():
        return UNKNOWN_UA
    if not ua.isascii():
        # Headers decoded with surrogateescape can hold lone surrogates, which the parser cannot encode.
        ua = ua.encode("utf-8", "replace").decode("utf-8")
    try:
        result = _parse(ua)
    except Exception:  # a parser bug must not drop the event; the UA is just unknown
        return UNKNOWN_UA
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


def os_version_label(os_name: str, version: str) -> str:
    """The OS with its version as people name it ("Windows 10", "iOS 17.1"): family + major[.minor], '' when
    there is no version (patch levels would split one OS version into many rows)."""
    if not version or os_name in ("", "Unknown", "Other"):
        return ""
    return f"{os_name} {'.'.join(version.split('.')[:2])}"


def parse_ua(ua: str) -> UAInfo:
    """Browser, OS and device class of a User-Agent string; cached, never raises."""
    if len(ua) > MAX_UA_LENGTH:
        ua = ua[:MAX_UA_LENGTH]
    return _parse_cached(ua)


def cache_clear() -> None:
    """Forget cached UAs (tests and benchmarks measure the uncached path with it)."""
    _parse_cached.cache_clear()


def warm_up() -> None:
    """Load the parser's regex tables now (~0.15 s) so the first real request does not pay for it."""
    _parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0")
