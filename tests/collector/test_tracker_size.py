"""The tracker stays small and keeps its promise of storing nothing in the browser."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import collector

TRACKER = Path(collector.__file__).parent / "tracker" / "sl.js"


def _code_without_comments(source: str) -> str:
    """The script with /* */ and // comments removed, so prose about cookies does not count."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"(?<![:\"'\\])//.*$", "", source, flags=re.MULTILINE)


def test_tracker_is_at_most_2_kb_gzipped() -> None:
    size = len(gzip.compress(TRACKER.read_bytes(), compresslevel=9))
    assert size <= 2048, f"sl.js is {size} bytes gzipped; the budget is 2048"


def test_tracker_uses_no_cookies_or_web_storage() -> None:
    code = _code_without_comments(TRACKER.read_text(encoding="utf-8"))
    assert "sendBeacon" in code  # the stripping above left the code itself in place
    for api in ("cookie", "localStorage", "sessionStorage", "indexedDB", "caches"):
        assert not re.search(api, code, re.IGNORECASE), f"sl.js uses {api}"
