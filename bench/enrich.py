"""Per-call cost of each enrichment step, cached and uncached, measured in one run.

Run from the repository root: python -m bench.enrich   (prints nanoseconds per call and the per-event total)
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from collector.enrich import ua as ua_mod
from collector.enrich.geo import GeoLookup
from collector.enrich.privacy import redact_text, redact_url, split_url
from collector.enrich.referrer import apply_utm, classify_referrer, parse_utm
from collector.enrich.ua import parse_ua

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
]
URL = "https://example.com/blog/post?utm_source=newsletter&utm_medium=email&utm_campaign=may"
REFERRER = "https://www.google.com/"


def per_call_ns(fn: Callable[[], object], number: int) -> float:
    """Mean wall time of one call in nanoseconds."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e9


def uncached_ua_ns(number: int) -> float:
    """Cost of a UA never seen before (cache cleared, distinct strings)."""
    ua_mod.cache_clear()
    strings = [f"{UAS[i % len(UAS)]} build/{i}" for i in range(number)]
    start = time.perf_counter()
    for s in strings:
        parse_ua(s)
    return (time.perf_counter() - start) / number * 1e9


def main() -> None:
    """Print one line per step, then the cached per-event total and the event rate it allows."""
    from tests.mmdb_factory import city_record, write_city_mmdb

    with tempfile.TemporaryDirectory() as tmp:
        db = write_city_mmdb(
            Path(tmp) / "city.mmdb", {"81.2.69.0/24": city_record("GB", "England", "London")}
        )
        geo = GeoLookup(db)
        parse_ua(UAS[0])  # warm-up: the parser loads its regex tables on first use
        n = 200_000
        rows = {
            "parse_ua (cached)": per_call_ns(lambda: parse_ua(UAS[0]), n),
            "parse_ua (uncached)": uncached_ua_ns(2_000),
            "geo.lookup (cached)": per_call_ns(lambda: geo.lookup("81.2.69.142"), n),
            "classify_referrer": per_call_ns(lambda: classify_referrer(REFERRER, "example.com"), n),
            "parse_utm + apply_utm": per_call_ns(
                lambda: apply_utm(classify_referrer("", "example.com"), parse_utm(URL.split("?", 1)[1])), n
            ),
            "split_url (cached)": per_call_ns(lambda: split_url(URL), n),
            "redact_url (cached)": per_call_ns(lambda: redact_url(URL), n),
            "redact_text (clean value)": per_call_ns(lambda: redact_text("pro-plan"), n),
        }
        geo.close()
    for name, ns in rows.items():
        print(f"{name:<28}{ns:>10.0f} ns")
    hot = sum(ns for name, ns in rows.items() if "uncached" not in name)
    print(f"{'per event (all cached)':<28}{hot:>10.0f} ns  → {1e9 / hot:,.0f} events/s on one core")


if __name__ == "__main__":
    main()
