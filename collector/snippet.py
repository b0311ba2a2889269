"""The HTML a site owner pastes into their pages: the tracker script tag plus a no-JavaScript pixel."""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlsplit

from collector.errors import UserError


class SnippetError(UserError, ValueError):
    """A site or collector URL that cannot go into a snippet, worded for the user."""


def _check_site(site: str) -> str:
    """The site id, refused when empty or when it holds whitespace or control characters."""
    site = site.strip()
    if not site:
        raise SnippetError("site must not be empty (use the domain, e.g. example.com)")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in site):
        raise SnippetError(f"site {site!r} must not contain spaces or control characters")
    return site


def _check_base(base_url: str) -> str:
    """The collector's public base URL without a trailing slash, refused unless it is http(s)://host[/path]."""
    base = base_url.strip().rstrip("/")
    try:
        parts = urlsplit(base)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise SnippetError(f"collector URL {base_url!r} is not a valid URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SnippetError(f"collector URL {base_url!r} must look like https://stats.example.com")
    if parts.query or parts.fragment or any(ch.isspace() for ch in base):
        raise SnippetError(f"collector URL {base_url!r} must not contain spaces, a query or a fragment")
    return base


def snippet_html(site: str, base_url: str) -> str:
    """The script tag and noscript pixel for `site`, served by the collector at `base_url`."""
    site = _check_site(site)
    base = _check_base(base_url)
    script_src = escape(f"{base}/sl.js")
    pixel_src = escape(f"{base}/p.gif?site={quote(site, safe='')}")
    # The pixel cannot read the page URL; its Referer (full URL, kept on https) tells the collector the page.
    return (
        f'<script defer src="{script_src}" data-site="{escape(site)}"></script>\n'
        f'<noscript><img src="{pixel_src}" alt="" width="1" height="1" '
        f'referrerpolicy="no-referrer-when-downgrade" style="position:absolute;left:-9999px"></noscript>\n'
    )
