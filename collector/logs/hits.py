"""What a logged request is for SiteLens (its kind, site, URL, hit and client), and the counts of imported hits."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from collector.logs.parse import LineError, LogLine
from collector.pipeline import Client
from collector.validation import Hit

_PAGE_EXTENSIONS: Final = frozenset({"", "html", "htm", "xhtml", "shtml", "php", "asp", "aspx", "jsp", "cfm", "cgi"})
_API_PREFIXES: Final = ("/api/", "/graphql", "/wp-json/", "/rpc/")


@lru_cache(maxsize=8192)
def hit_type(method: str, path: str, status: int) -> tuple[str, bool]:
    """("pageview" | "request", is_static_asset) for a logged request.

    Pageviews are successful GETs of HTML-like paths (no extension or a server-page one); assets, API calls,
    redirects, errors and non-GET methods are "request".
    """
    path = path.partition("?")[0].partition("#")[0]
    last = path.rpartition("/")[2]
    dot = last.rfind(".")
    ext = last[dot + 1 :].lower() if dot > 0 else ""
    if ext not in _PAGE_EXTENSIONS:
        return "request", True
    if method != "GET" or not (200 <= status < 300 or status == 304) or path.startswith(_API_PREFIXES):
        return "request", False
    return "pageview", False


def page_url(site: str, target: str) -> str:
    """An absolute URL for a logged request target: the pipeline needs the host (internal referrers, UTM)."""
    if target.startswith("/"):
        return f"https://{site}{target}"
    if target.startswith(("http://", "https://")):
        return target
    return f"https://{site}/{target}"


def line_site(rec: LogLine, site: str) -> str:
    """The site a line is imported into: the one given, else the line's own host (JSON logs); "no-site" if neither."""
    site = site or rec.host.lower()
    if not site:
        raise LineError("no-site")
    return site


def log_hit(rec: LogLine, site: str, kind: str, asset: bool, url: str = "") -> Hit:
    """The hit a parsed log line stands for (its URL only where the caller has not split it already)."""
    return Hit(
        site=site,
        type=kind,
        url=url,
        referrer=rec.referrer,
        method=rec.method,
        status=rec.status,
        latency_ms=rec.latency_ms,
        bytes=rec.size,
        success=rec.status < 500,
        asset=asset,
    )


def log_client(rec: LogLine) -> Client:
    """Who sent a logged request; headers count as known only when the log recorded one (Caddy's JSON does)."""
    headers_known = rec.accept is not None or rec.accept_language is not None
    return Client(rec.ip, rec.ua, rec.accept, rec.accept_language, headers_known)


@dataclass(slots=True)
class HitCounts:
    """Imported hits by kind, for the import's summary."""

    imported: int = 0
    pageviews: int = 0
    requests: int = 0
    assets: int = 0
    bots: int = 0

    def count(self, kind: str, asset: bool, is_bot: bool) -> None:
        """Count one imported hit."""
        self.imported += 1
        if kind == "pageview":
            self.pageviews += 1
        else:
            self.requests += 1
            if asset:
                self.assets += 1
        if is_bot:
            self.bots += 1
