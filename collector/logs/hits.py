"""What a logged request is for SiteLens: a pageview, a request or a static asset, and its absolute URL."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

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
