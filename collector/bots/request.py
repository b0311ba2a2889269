"""Per-request bot verdict: known crawlers, tool UAs, header anomalies, headless hints, probes, hosting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from crawlerdetect.crawlerdetect import (  # type: ignore[import-untyped]
    get_compiled_crawler_regex,
    get_compiled_exclusions_regex,
)

UA_MAX = 512
"""Longer User-Agents are cut before matching: the regexes' cost must not depend on what a client sends."""

# HTTP libraries, command-line tools, scanners and browser-automation stacks: the maintained crawler list
# misses several of these, and none of them is a person reading a page.
_TOOL_RE = re.compile(
    r"(curl|wget|python-requests|python-urllib|python-httpx|python/|aiohttp|httpx|go-http-client|okhttp"
    r"|java/|apache-httpclient|libwww-perl|lwp::|node-fetch|axios|undici|postmanruntime|insomnia|scrapy"
    r"|headlesschrome|headless|phantomjs|puppeteer|playwright|selenium|webdriver|http\.rb|faraday|guzzlehttp"
    r"|winhttp|dart:io|reqwest|httpie|powershell|mechanize|zgrab|masscan|nmap|nikto|sqlmap|nuclei"
    r"|libcurl|colly|hackney|^ruby\b|perl/|php/)",
    re.IGNORECASE,
)
# What every browser UA has sent for two decades: the Mozilla/5.0 (…) preamble (or old Opera's) plus a
# rendering-engine or browser product token.
_BROWSER_PREFIX_RE = re.compile(r"^(?:Mozilla/5\.0 \(|Opera/9\.80 \()")
_ENGINE_RE = re.compile(
    r"AppleWebKit/\d|Gecko/\d|Gecko\)|Trident/\d|Presto/\d|Chrome/\d|Firefox/\d|Safari/\d"
)
# A browser-shaped UA that carries a URL, a domain, a contact address or a placeholder version is a
# program identifying itself; real browsers never put these in their UA.
_SELF_ID_RE = re.compile(
    r"https?://|www\.|\+http|[\w.+-]+@[\w-]+\.[a-z]{2,}|\.(?:com|net|org|io|fr|de|ai|co|ru|uk)\b"
    r"|W\.X\.Y\.Z|compatible;(?! ?(?:MSIE|Konqueror))",
    re.IGNORECASE,
)
_HOST_RE = re.compile(r"(?:https?://)?(?:www\.)?([\w-]+(?:\.[\w-]+)*\.[a-z]{2,})(?=[/;)\s]|$)", re.IGNORECASE)
_PRODUCT_RE = re.compile(r"^\s*([^/;()\s][^/;()]{0,47})")
# Paths only vulnerability scanners ask for on an analytics-tracked site.
_PROBE_RE = re.compile(
    r"/\.env|/\.git(?:/|$)|/\.svn|/\.hg/|/\.aws/|/\.ssh/|/\.ds_store|/\.htaccess|/\.htpasswd|/wp-login\.php"
    r"|/wp-admin|/xmlrpc\.php|/wp-config|/phpmyadmin|/pma/|/myadmin|/phpinfo|/config\.php|/admin\.php"
    r"|/server-status|/cgi-bin/|/vendor/phpunit|/etc/passwd|/boaform|/hnap1|/actuator|/solr/|/console/"
    r"|/\.vscode/|/shell\.php|/eval-stdin\.php|/autodiscover/|/owa/|/_ignition/|/telescope/",
    re.IGNORECASE,
)

STRONG_KINDS = frozenset({"crawler", "tool", "empty-ua", "not-browser", "self-identified"})
"""UA evidence strong enough on its own; every other hint needs a second kind to agree."""


@dataclass(slots=True, frozen=True)
class RequestVerdict:
    """Whether one request comes from a bot, which one, and the hints that fired (`kind` or `kind:detail`)."""

    is_bot: bool
    bot_name: str
    reasons: tuple[str, ...]


NO_HINTS = RequestVerdict(False, "", ())
"""The verdict for a request nothing was found wrong with."""


@dataclass(slots=True, frozen=True)
class UAClass:
    """What the User-Agent alone says: the strong kind that fired (or ''), a name, and the reason text."""

    kind: str
    name: str
    reason: str


def _product(ua: str) -> str:
    """The first product token of a UA (`ALittle Client/1.0` → `ALittle Client`), a name for unlisted bots."""
    m = _PRODUCT_RE.match(ua)
    return m.group(1).strip() if m else ua[:48].strip()


def classify_ua(ua: str) -> UAClass:
    """Classify a User-Agent on its own (cached: the same few UAs arrive over and over)."""
    return _classify(ua.strip()[:UA_MAX])


# Keyed by the already-cut UA, so a hostile client cannot pin megabytes in the cache.
@lru_cache(maxsize=16384)
def _classify(ua: str) -> UAClass:
    """`classify_ua` on a stripped, length-capped UA."""
    if not ua or ua == "-":
        return UAClass("empty-ua", "empty UA", "empty-ua")
    m = _TOOL_RE.search(ua)
    if m:
        return UAClass("tool", m.group(1), f"tool:{m.group(1).lower()}")
    agent = get_compiled_exclusions_regex().sub("", ua)
    if agent:
        m = get_compiled_crawler_regex().search(agent)
        if m:
            name = next((g for g in m.groups() if g), m.group(0))
            return UAClass("crawler", name, f"crawler:{name}")
    if not _BROWSER_PREFIX_RE.match(ua) or not _ENGINE_RE.search(ua):
        name = _product(ua)
        return UAClass("not-browser", name, "not-browser")
    m = _SELF_ID_RE.search(ua)
    if m:
        host = _HOST_RE.search(ua)
        return UAClass("self-identified", host.group(1) if host else "unknown bot", "self-identified")
    return UAClass("", "", "")


def cache_clear() -> None:
    """Forget classified UAs (the benchmark measures the uncached path with it)."""
    _classify.cache_clear()


def is_probe_path(path: str) -> bool:
    """Whether a path is one of the well-known vulnerability-scanner probes."""
    return _is_probe(path[:256])


# Keyed by the cut path (bounded memory); a site's pages repeat, and the alternation is slow to search.
@lru_cache(maxsize=8192)
def _is_probe(path: str) -> bool:
    """`is_probe_path` on a length-capped path."""
    return _PROBE_RE.search(path) is not None


@lru_cache(maxsize=4096)
def _ua_verdict(name: str, reason: str) -> RequestVerdict:
    """The verdict on a request whose only hint is strong UA evidence (crawlers and tools, every time)."""
    return RequestVerdict(True, name, (reason,))


def assess_request(
    ua: str,
    *,
    accept: str | None,
    accept_language: str | None,
    webdriver: bool,
    path: str,
    hosting_org: bool,
    browser_like: bool,
    headers_known: bool = True,
) -> RequestVerdict:
    """Judge one request: strong UA evidence alone, or at least two kinds of weak hints agreeing.

    `browser_like` says the UA parser saw a real browser (header anomalies only count then);
    `headers_known=False` is for imported log lines, which carry no Accept/Accept-Language at all.
    """
    cls = classify_ua(ua)
    reasons: list[str] = []
    if cls.kind:
        reasons.append(cls.reason)
    weak = 0
    if headers_known and browser_like and not cls.kind:
        header_hints = False
        if not accept_language:
            reasons.append("header:no-accept-language")
            header_hints = True
        if not accept:
            reasons.append("header:no-accept")
            header_hints = True
        weak += header_hints
    if webdriver:
        reasons.append("webdriver")
        weak += 1
    if path and is_probe_path(path):
        reasons.append("probe-path")
        weak += 1
    if hosting_org:
        reasons.append("hosting-network")
        weak += 1
    if cls.kind:
        if len(reasons) == 1:  # the UA alone: the same verdict every time this UA comes back
            return _ua_verdict(cls.name, cls.reason)
        return RequestVerdict(True, cls.name, tuple(reasons))
    if weak >= 2:
        name = "automation" if webdriver else ("scanner" if "probe-path" in reasons else "suspicious client")
        return RequestVerdict(True, name, tuple(reasons))
    if not reasons:  # most requests: one shared verdict, not a new one each time
        return NO_HINTS
    return RequestVerdict(False, "", tuple(reasons))
