"""Referrer → source and medium, and UTM campaign fields from the landing page's query string."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import unquote_plus

SEARCH: Final = "search"
SOCIAL: Final = "social"
EMAIL: Final = "email"
REFERRAL: Final = "referral"
DIRECT: Final = "direct"
INTERNAL: Final = "internal"

_MAX_HOST_LENGTH: Final = 253
_MAX_UTM_LENGTH: Final = 200
# Referrers/queries longer than this are classified but not cached, so the caches stay small.
_MAX_CACHED_LENGTH: Final = 512
_UTM_KEYS: Final = frozenset(
    {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "ref", "source"}
)


@dataclass(slots=True, frozen=True)
class RefInfo:
    """Where a visit came from: friendly source name, medium and referring host.

    Direct visits have source "" and host ""; internal ones keep the host but have source "".
    """

    source: str
    medium: str
    host: str


@dataclass(slots=True, frozen=True)
class Utm:
    """UTM campaign fields of a landing URL ("" when absent)."""

    source: str
    medium: str
    campaign: str
    term: str
    content: str


DIRECT_REF: Final = RefInfo("", DIRECT, "")
EMPTY_UTM: Final = Utm("", "", "", "", "")

# Exact hosts (after dropping "www."/"m."); checked before the parent-domain walk so that
# mail.google.com is e-mail even though google.com is search.
_HOSTS: Final[dict[str, tuple[str, str]]] = {
    # e-mail (webmail)
    "mail.google.com": ("Gmail", EMAIL),
    "inbox.google.com": ("Gmail", EMAIL),
    "outlook.live.com": ("Outlook", EMAIL),
    "outlook.office.com": ("Outlook", EMAIL),
    "outlook.office365.com": ("Outlook", EMAIL),
    "mail.yahoo.com": ("Yahoo Mail", EMAIL),
    "mail.yahoo.co.jp": ("Yahoo Mail", EMAIL),
    "mail.proton.me": ("Proton Mail", EMAIL),
    "mail.protonmail.com": ("Proton Mail", EMAIL),
    "app.fastmail.com": ("Fastmail", EMAIL),
    "fastmail.com": ("Fastmail", EMAIL),
    "mail.aol.com": ("AOL Mail", EMAIL),
    "mail.yandex.ru": ("Yandex Mail", EMAIL),
    "mail.yandex.com": ("Yandex Mail", EMAIL),
    "mail.zoho.com": ("Zoho Mail", EMAIL),
    "mail.zoho.eu": ("Zoho Mail", EMAIL),
    "e.mail.ru": ("Mail.ru", EMAIL),
    "mail.gmx.net": ("GMX", EMAIL),
    "navigator.gmx.net": ("GMX", EMAIL),
    "navigator.web.de": ("WEB.DE", EMAIL),
    "mail.tutanota.com": ("Tuta", EMAIL),
    "app.tuta.com": ("Tuta", EMAIL),
    "icloud.com": ("iCloud Mail", EMAIL),
    "mail.hey.com": ("HEY", EMAIL),
    "app.hey.com": ("HEY", EMAIL),
    # search
    "news.google.com": ("Google News", REFERRAL),
    "docs.google.com": ("Google Docs", REFERRAL),
    "drive.google.com": ("Google Drive", REFERRAL),
    "classroom.google.com": ("Google Classroom", REFERRAL),
    "search.yahoo.com": ("Yahoo", SEARCH),
    "search.brave.com": ("Brave Search", SEARCH),
    "search.aol.com": ("AOL", SEARCH),
    "go.mail.ru": ("Mail.ru", SEARCH),
    "news.ycombinator.com": ("Hacker News", SOCIAL),
    "out.reddit.com": ("Reddit", SOCIAL),
}

# Registrable domains; a referrer host matches itself or any subdomain of these.
_DOMAINS: Final[dict[str, tuple[str, str]]] = {
    "bing.com": ("Bing", SEARCH),
    "duckduckgo.com": ("DuckDuckGo", SEARCH),
    "yahoo.com": ("Yahoo", SEARCH),
    "yahoo.co.jp": ("Yahoo", SEARCH),
    "baidu.com": ("Baidu", SEARCH),
    "ecosia.org": ("Ecosia", SEARCH),
    "qwant.com": ("Qwant", SEARCH),
    "startpage.com": ("Startpage", SEARCH),
    "kagi.com": ("Kagi", SEARCH),
    "naver.com": ("Naver", SEARCH),
    "seznam.cz": ("Seznam", SEARCH),
    "sogou.com": ("Sogou", SEARCH),
    "ask.com": ("Ask", SEARCH),
    "so.com": ("360 Search", SEARCH),
    "perplexity.ai": ("Perplexity", SEARCH),
    "you.com": ("You.com", SEARCH),
    "mojeek.com": ("Mojeek", SEARCH),
    "facebook.com": ("Facebook", SOCIAL),
    "fb.com": ("Facebook", SOCIAL),
    "fb.me": ("Facebook", SOCIAL),
    "messenger.com": ("Facebook", SOCIAL),
    "t.co": ("Twitter/X", SOCIAL),
    "twitter.com": ("Twitter/X", SOCIAL),
    "x.com": ("Twitter/X", SOCIAL),
    "reddit.com": ("Reddit", SOCIAL),
    "redd.it": ("Reddit", SOCIAL),
    "linkedin.com": ("LinkedIn", SOCIAL),
    "lnkd.in": ("LinkedIn", SOCIAL),
    "ycombinator.com": ("Hacker News", SOCIAL),
    "github.com": ("GitHub", SOCIAL),
    "youtube.com": ("YouTube", SOCIAL),
    "youtu.be": ("YouTube", SOCIAL),
    "instagram.com": ("Instagram", SOCIAL),
    "threads.net": ("Threads", SOCIAL),
    "bsky.app": ("Bluesky", SOCIAL),
    "pinterest.com": ("Pinterest", SOCIAL),
    "tiktok.com": ("TikTok", SOCIAL),
    "vk.com": ("VK", SOCIAL),
    "weibo.com": ("Weibo", SOCIAL),
    "discord.com": ("Discord", SOCIAL),
    "discordapp.com": ("Discord", SOCIAL),
    "t.me": ("Telegram", SOCIAL),
    "telegram.org": ("Telegram", SOCIAL),
    "whatsapp.com": ("WhatsApp", SOCIAL),
    "wa.me": ("WhatsApp", SOCIAL),
    "slack.com": ("Slack", SOCIAL),
    "stackoverflow.com": ("Stack Overflow", SOCIAL),
    "stackexchange.com": ("Stack Exchange", SOCIAL),
    "lobste.rs": ("Lobsters", SOCIAL),
    "quora.com": ("Quora", SOCIAL),
    "medium.com": ("Medium", SOCIAL),
    "dev.to": ("DEV", SOCIAL),
    "producthunt.com": ("Product Hunt", SOCIAL),
    "tumblr.com": ("Tumblr", SOCIAL),
    "snapchat.com": ("Snapchat", SOCIAL),
    "twitch.tv": ("Twitch", SOCIAL),
    "mastodon.social": ("Mastodon", SOCIAL),
    "mastodon.online": ("Mastodon", SOCIAL),
    "mas.to": ("Mastodon", SOCIAL),
    "fosstodon.org": ("Mastodon", SOCIAL),
    "hachyderm.io": ("Mastodon", SOCIAL),
    "infosec.exchange": ("Mastodon", SOCIAL),
    "techhub.social": ("Mastodon", SOCIAL),
    "mstdn.social": ("Mastodon", SOCIAL),
    "chaos.social": ("Mastodon", SOCIAL),
    "chatgpt.com": ("ChatGPT", REFERRAL),
    "chat.openai.com": ("ChatGPT", REFERRAL),
    "wikipedia.org": ("Wikipedia", REFERRAL),
}

# Country-code variants: google.de, google.co.uk, yandex.ru, pinterest.fr, amazon … (label + public suffix).
_VARIANT_RE: Final = re.compile(
    r"(?:^|\.)(google|yandex|bing|yahoo|pinterest|facebook|instagram|linkedin|reddit|youtube)"
    r"\.(?:com?\.|org\.|net\.)?[a-z]{2,3}$"
)
_VARIANTS: Final[dict[str, tuple[str, str]]] = {
    "google": ("Google", SEARCH),
    "yandex": ("Yandex", SEARCH),
    "bing": ("Bing", SEARCH),
    "yahoo": ("Yahoo", SEARCH),
    "pinterest": ("Pinterest", SOCIAL),
    "facebook": ("Facebook", SOCIAL),
    "instagram": ("Instagram", SOCIAL),
    "linkedin": ("LinkedIn", SOCIAL),
    "reddit": ("Reddit", SOCIAL),
    "youtube": ("YouTube", SOCIAL),
}
# Self-hosted instances: mastodon.example, mstdn.example, social.example running Mastodon.
_MASTODON_RE: Final = re.compile(r"(?:^|\.)(?:mastodon|mstdn|toot)\.|(?:^|\.)[a-z0-9-]*mastodon[a-z0-9-]*\.")
_WEBMAIL_RE: Final = re.compile(r"^(?:mail|webmail|email|roundcube|owa)\.[a-z0-9-]+\.[a-z0-9.-]+$")

# Android app package → (source, medium); the referrer is "android-app://PACKAGE[/scheme/host/...]".
_ANDROID_APPS: Final[dict[str, tuple[str, str]]] = {
    "com.google.android.gm": ("Gmail", EMAIL),
    "com.google.android.googlequicksearchbox": ("Google", SEARCH),
    "com.google.android.apps.searchlite": ("Google", SEARCH),
    "com.microsoft.office.outlook": ("Outlook", EMAIL),
    "com.yahoo.mobile.client.android.mail": ("Yahoo Mail", EMAIL),
    "ch.protonmail.android": ("Proton Mail", EMAIL),
    "com.fsck.k9": ("K-9 Mail", EMAIL),
    "com.twitter.android": ("Twitter/X", SOCIAL),
    "com.facebook.katana": ("Facebook", SOCIAL),
    "com.facebook.orca": ("Facebook", SOCIAL),
    "com.instagram.android": ("Instagram", SOCIAL),
    "com.linkedin.android": ("LinkedIn", SOCIAL),
    "com.reddit.frontpage": ("Reddit", SOCIAL),
    "com.google.android.youtube": ("YouTube", SOCIAL),
    "org.telegram.messenger": ("Telegram", SOCIAL),
    "com.whatsapp": ("WhatsApp", SOCIAL),
    "com.Slack": ("Slack", SOCIAL),
    "com.discord": ("Discord", SOCIAL),
    "org.joinmastodon.android": ("Mastodon", SOCIAL),
    "com.pinterest": ("Pinterest", SOCIAL),
    "com.zhiliaoapp.musically": ("TikTok", SOCIAL),
}

_URL_RE: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]{0,31}):(?://)?([^/?#]*)(?:/([^?#]*))?")
_HOST_RE: Final = re.compile(r"[a-z0-9_.-]+|\[[0-9a-f:.]+\]")

_UTM_MEDIUM_OVERRIDES: Final[dict[str, str]] = {
    "email": EMAIL,
    "e-mail": EMAIL,
    "e_mail": EMAIL,
    "mail": EMAIL,
    "newsletter": EMAIL,
    "social": SOCIAL,
    "social-media": SOCIAL,
    "social_media": SOCIAL,
    "social-network": SOCIAL,
    "social_network": SOCIAL,
    "sm": SOCIAL,
    "cpc": "cpc",
    "ppc": "cpc",
    "paidsearch": "cpc",
    "paid_search": "cpc",
    "paid-search": "cpc",
}


def _bare(host: str) -> str:
    """Host without a leading "www." (the form used for sources and internal checks)."""
    return host[4:] if host.startswith("www.") else host


@lru_cache(maxsize=1024)
def _own_host(own_host: str) -> str:
    """The site's own host, lower-cased, without scheme, port or "www."."""
    host = own_host.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].rsplit("@", 1)[-1]
    if not host.startswith("["):
        host = host.split(":", 1)[0]
    return _bare(host.rstrip("."))


def _classify_known(host: str) -> tuple[str, str] | None:
    """(source, medium) for a recognised host, else None."""
    bare = _bare(host)
    if bare.startswith("m."):
        bare = bare[2:]
    known = _HOSTS.get(bare) or _HOSTS.get(host)
    if known:
        return known
    # Walk up the parent domains: l.facebook.com → facebook.com.
    name = bare
    while True:
        known = _DOMAINS.get(name)
        if known:
            return known
        dot = name.find(".")
        if dot < 0:
            break
        name = name[dot + 1 :]
    match = _VARIANT_RE.search(bare)
    if match:
        return _VARIANTS[match.group(1)]
    if _WEBMAIL_RE.match(bare):
        return (bare, EMAIL)
    if _MASTODON_RE.search(bare):
        return ("Mastodon", SOCIAL)
    return None


@lru_cache(maxsize=8192)
def classify_host(host: str) -> RefInfo:
    """RefInfo for an external referring host (lower-case, no port); unknown hosts are referrals."""
    known = _classify_known(host)
    if known is not None:
        return RefInfo(known[0], known[1], host)
    return RefInfo(_bare(host), REFERRAL, host)


@lru_cache(maxsize=1024)
def _classify_android(package: str, target_host: str) -> RefInfo:
    """RefInfo for an android-app:// referrer (an app, or a web host opened from it)."""
    known = _ANDROID_APPS.get(package)
    if known is not None:
        return RefInfo(known[0], known[1], package)
    if target_host:
        return classify_host(target_host)
    return RefInfo(package, REFERRAL, package)


def _clean_host(authority: str) -> str:
    """Lower-case host of a URL authority without userinfo, port or trailing dot; "" if invalid."""
    host = authority.rpartition("@")[2].lower()
    if host.startswith("["):
        host = host[: host.find("]") + 1]
    else:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    if not host or len(host) > _MAX_HOST_LENGTH or not _HOST_RE.fullmatch(host):
        return ""
    return host


def classify_referrer(referrer: str, own_host: str) -> RefInfo:
    """Source and medium of a referrer URL; own host (or its www-variant) is "internal", empty is "direct"."""
    if not referrer:
        return DIRECT_REF
    # Cross-origin referrers are usually just an origin ("https://www.google.com/"), so they repeat.
    if len(referrer) <= _MAX_CACHED_LENGTH:
        return _classify_cached(referrer, own_host)
    return _classify(referrer, own_host)


def _classify(referrer: str, own_host: str) -> RefInfo:
    """Uncached classify_referrer."""
    referrer = referrer.strip()
    match = _URL_RE.match(referrer)
    if match is None:
        # Server-side senders sometimes pass a bare host ("news.ycombinator.com/item").
        host = _clean_host(referrer.split("/", 1)[0])
        if "." not in host:
            return DIRECT_REF
        if own_host and _bare(host) == _own_host(own_host):
            return RefInfo("", INTERNAL, host)
        return classify_host(host)
    scheme = match.group(1).lower()
    if scheme == "android-app":
        package = match.group(2)
        if not package or len(package) > _MAX_HOST_LENGTH or not _HOST_RE.fullmatch(package.lower()):
            return DIRECT_REF
        # android-app://com.google.android.googlequicksearchbox/https/www.google.com
        rest = (match.group(3) or "").split("/")
        target = _clean_host(rest[1]) if len(rest) > 1 and rest[0] in ("http", "https") else ""
        return _classify_android(package, target)
    if scheme not in ("http", "https"):
        return DIRECT_REF
    host = _clean_host(match.group(2))
    if not host:
        return DIRECT_REF
    if own_host and _bare(host) == _own_host(own_host):
        return RefInfo("", INTERNAL, host)
    return classify_host(host)


_classify_cached = lru_cache(maxsize=8192)(_classify)


def _clean(value: str) -> str:
    """A UTM value trimmed, without control characters and capped in length."""
    value = value.strip()[:_MAX_UTM_LENGTH]
    if not value.isprintable():
        value = "".join(ch for ch in value if ch.isprintable())
    return value


def parse_utm(query: str) -> Utm:
    """UTM fields of a query string (leading "?" allowed); `ref`/`source` stand in for utm_source."""
    if not query:
        return EMPTY_UTM
    if len(query) <= _MAX_CACHED_LENGTH:
        return _parse_utm_cached(query)
    return _parse_utm(query)


def _parse_utm(query: str) -> Utm:
    """Uncached parse_utm: only the UTM-ish pairs are decoded; the first occurrence of a key wins."""
    lowered = query.lower()
    if "utm_" not in lowered and "ref=" not in lowered and "source=" not in lowered:
        return EMPTY_UTM
    fields: dict[str, str] = {}
    for pair in query.lstrip("?").split("&", 200)[:200]:
        key, eq, value = pair.partition("=")
        if not (eq and value):
            continue
        key = key.lower()
        if key in _UTM_KEYS and key not in fields:
            fields[key] = _clean(unquote_plus(value))
    source = fields.get("utm_source") or fields.get("ref") or fields.get("source") or ""
    utm = Utm(
        source,
        fields.get("utm_medium", "").lower(),
        fields.get("utm_campaign", ""),
        fields.get("utm_term", ""),
        fields.get("utm_content", ""),
    )
    return EMPTY_UTM if utm == EMPTY_UTM else utm


_parse_utm_cached = lru_cache(maxsize=4096)(_parse_utm)


def apply_utm(ref: RefInfo, utm: Utm) -> RefInfo:
    """Let a tagged campaign win: utm_medium email/newsletter/social/cpc overrides the referrer's medium.

    A direct visit carrying a utm_source becomes a referral from that source; internal navigation is
    left alone (it is never a new source).
    """
    if utm is EMPTY_UTM or ref.medium == INTERNAL:
        return ref
    medium = _UTM_MEDIUM_OVERRIDES.get(utm.medium, ref.medium)
    source = ref.source or utm.source
    if ref.medium == DIRECT and utm.source and medium == DIRECT:
        medium = REFERRAL
    if medium == ref.medium and source == ref.source:
        return ref
    return RefInfo(source, medium, ref.host)
