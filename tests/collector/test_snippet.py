"""The pasted snippet: a deferred tracker tag plus a noscript pixel, safe for any site name."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from collector.snippet import SnippetError, snippet_html


class _Tags(HTMLParser):
    """Collects (tag, attributes) pairs, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def test_snippet_points_at_the_collector() -> None:
    tags = _parse(snippet_html("example.com", "https://stats.example.com"))
    assert [t for t, _ in tags] == ["script", "noscript", "img"]
    script, img = tags[0][1], tags[2][1]
    assert script["src"] == "https://stats.example.com/sl.js"
    assert script["data-site"] == "example.com"
    assert "defer" in script
    assert img["src"] == "https://stats.example.com/p.gif?site=example.com"
    assert img["alt"] == ""


def test_trailing_slash_and_sub_path_of_base_url() -> None:
    tags = _parse(snippet_html("blog.example.org", "https://example.org/stats/"))
    assert tags[0][1]["src"] == "https://example.org/stats/sl.js"
    assert tags[2][1]["src"] == "https://example.org/stats/p.gif?site=blog.example.org"


def test_hostile_site_name_stays_inside_its_attributes() -> None:
    site = '"><script>alert(1)</script>&x=1'
    html = snippet_html(site, "https://stats.example.com")
    tags = _parse(html)
    assert [t for t, _ in tags] == ["script", "noscript", "img"]
    assert tags[0][1]["data-site"] == site
    query = parse_qs(urlsplit(str(tags[2][1]["src"])).query)
    assert query == {"site": [site]}
    assert "<script>alert" not in html


@pytest.mark.parametrize("site", ["", "   ", "exa mple.com", "example.com\n<x>", "a\x00b"])
def test_bad_site_is_refused_with_a_clear_message(site: str) -> None:
    with pytest.raises(SnippetError, match="site"):
        snippet_html(site, "https://stats.example.com")


@pytest.mark.parametrize(
    "base",
    [
        "",
        "stats.example.com",
        "ftp://stats.example.com",
        "https://",
        "javascript:alert(1)",
        "https://stats.example.com:99999",
        "https://stats.example.com/?a=1",
        "https://st ats.example.com",
    ],
)
def test_bad_collector_url_is_refused_with_a_clear_message(base: str) -> None:
    with pytest.raises(SnippetError, match="collector URL"):
        snippet_html("example.com", base)
