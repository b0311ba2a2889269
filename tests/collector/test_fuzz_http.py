"""Property tests over every HTTP route: whatever arrives, never a 5xx, 4xx answers are JSON, good events are kept.

The collector runs for real on 127.0.0.1 (port 0) in its own thread; hypothesis drives it through a plain
HTTP client so headers and bodies go out byte for byte as generated (any encoding, length, content type).
CASES records how many requests each route received; the module prints it at the end (`pytest -s`).
"""

from __future__ import annotations

import gzip
import itertools
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_from_bytes

import brotli
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.config import Config, SiteConfig
from collector.ingest import MAX_INGEST_BATCH
from collector.validation import MAX_BATCH
from tests.collector.live import Answer, LiveCollector, live_collector
from tests.conftest import BROWSER_HEADERS, query

TOKEN = "fuzz-ingest-token"
SITE = "example.com"
CASES: Counter[str] = Counter()
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
"""~120 requests a property keep the whole module to about ten seconds on a small machine."""
_serial = itertools.count()

# ------------------------------------------------------------------------------------------- strategies

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)  # NUL, controls, surrogates
numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**63, 1e308, -1e-308, 10**30]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text,
                    st.sampled_from(["", "pageview", "event", "engagement", "api_request", "auth", "custom",
                                     "external_call", SITE, "https://example.com/x", "login", "\x00", "a" * 3000]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)), max_leaves=12)
TRACKER_FIELDS = ["site", "type", "url", "referrer", "title", "name", "props", "engaged_ms", "scroll", "screen",
                  "webdriver", "ts"]
INGEST_FIELDS = ["type", "site", "ts", "ip", "ua", "user_id", "endpoint", "method", "status", "latency_ms",
                 "response_bytes", "request_bytes", "action", "service", "tokens", "cost_usd", "error", "success",
                 "name", "props"]


def event_like(fields: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """Objects with the route's own field names (and some others) holding anything."""
    return st.dictionaries(st.one_of(st.sampled_from(fields), any_text), json_values, max_size=8)


def junk(fields: list[str]) -> st.SearchStrategy[object]:
    return st.one_of(event_like(fields), json_values)


@st.composite
def batches(draw: st.DrawFn, fields: list[str], limit: int) -> tuple[list[object], list[int]]:
    """A batch of junk with good events mixed in (their indices returned); sometimes past the batch limit."""
    items: list[object] = draw(st.lists(junk(fields), max_size=5))
    good = draw(st.integers(min_value=0, max_value=3))
    for _ in range(good):
        items.insert(draw(st.integers(0, len(items))), "GOOD")
    if draw(st.integers(0, 9)) == 0:  # past the limit: the whole batch is refused
        items.extend([{}] * (limit + 1 - len(items)))
    return items, [i for i, item in enumerate(items) if item == "GOOD"]


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": lambda body: brotli.compress(body, quality=1),  # the default (11) takes seconds on a 1 MB body
}


@st.composite
def encodings(draw: st.DrawFn) -> tuple[str | None, str, int, bytes]:
    """(Content-Encoding, damage, where, garbage): drawn the same way whatever the body, as hypothesis needs."""
    encoding = draw(st.sampled_from([None, None, "identity", "gzip", "deflate", "br", "zstd", "compress", "gzip, br"]))
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "garbage"]))
    return encoding, damage, draw(st.integers(0, 1 << 20)), draw(st.binary(max_size=200))


def encode(body: bytes, how: tuple[str | None, str, int, bytes]) -> tuple[bytes, dict[str, str], bool]:
    """(body, headers, intact): the body plain, compressed, corrupted, or with an encoding nobody supports."""
    encoding, damage, where, garbage = how
    if encoding is None or encoding == "identity":
        return body, ({"Content-Encoding": encoding} if encoding else {}), True
    headers = {"Content-Encoding": encoding}
    if encoding not in ENCODERS:
        return body, headers, False
    data = ENCODERS[encoding](body)
    if damage == "truncate":
        data = data[: where % len(data)]
    elif damage == "flip":
        at = where % len(data)
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    elif damage == "garbage":
        data = garbage
    return data, headers, damage == "none"


content_types = st.sampled_from(["text/plain", "application/json", "text/plain;charset=UTF-8",
                                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                 "application/octet-stream", "", "image/png"])


def dumps(items: object) -> bytes:
    """JSON as a lenient encoder writes it: big integers, NaN and lone surrogates all go out as written."""
    return json.dumps(items, allow_nan=True).encode()


# -------------------------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCollector]:
    """A collector with one site and an ingest token; throttling off, as its 429s would hide what is tested."""
    cfg = Config.for_tests(Path(tmp_path_factory.mktemp("fuzz")) / "sitelens.db")
    cfg.sites = [SiteConfig(name=SITE, ingest_token=TOKEN)]
    cfg.throttle.enabled = False
    with live_collector(cfg) as collector:
        yield collector
    print("\nfuzz cases per route:", ", ".join(f"{route} {n}" for route, n in sorted(CASES.items())))


def check_answer(route: str, answer: Answer) -> None:
    """Never a 5xx (503 only as "queue full", which these tests never fill); every error is JSON."""
    CASES[route] += 1
    assert answer.status < 500, (route, answer)
    if answer.status >= 400:
        assert answer.content_type == "application/json", (route, answer)
        assert isinstance(orjson.loads(answer.body)["error"], str)


def post_batches(live: LiveCollector, route: str, fields: list[str], limit: int, good_event, stored) -> None:
    """The shared property of the two event routes, then a check that every acknowledged good event is stored."""
    kept: list[str] = []

    @FUZZ
    @given(batch=batches(fields, limit), how=encodings(), content_type=content_types,
           padding=st.sampled_from([0, 0, 0, 70_000, 1_100_000]))
    def run(batch: tuple[list[object], list[int]], how: tuple[str | None, str, int, bytes], content_type: str,
            padding: int) -> None:
        items, good = batch
        markers = [f"fuzz{next(_serial)}" for _ in good]
        for index, marker in zip(good, markers, strict=True):
            items[index] = good_event(marker)
        if padding:
            items.append({"padding": "x" * padding})
        raw = dumps(items)
        body, headers, intact = encode(raw, how)
        answer = live.request("POST", route, body, {**BROWSER_HEADERS, **headers, "Content-Type": content_type,
                                                    "Authorization": f"Bearer {TOKEN}"})
        check_answer(route, answer)
        acceptable = intact and 1 <= len(items) <= limit and len(raw) <= live_limit(live, route) and good
        acceptable = acceptable and strict_json(raw)  # NaN, Infinity, 65-bit integers: the body is not JSON
        if acceptable:
            # A body the route can read with good events in it: they are all accepted, whatever surrounds them.
            assert answer.status == 202, (answer, items)
            doc = orjson.loads(answer.body)
            assert not {r["index"] for r in doc.get("rejected", [])} & set(good), doc
            kept.extend(markers)
        elif answer.status == 202:
            kept.extend(markers)

    run()
    live.flush()
    assert kept, "no example sent a good event"
    assert set(kept) <= stored(live), "acknowledged good events are missing from the database"


def strict_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def live_limit(live: LiveCollector, route: str) -> int:
    return live.cfg.server.max_body_bytes if route == "/api/event" else live.cfg.server.max_ingest_bytes


def test_post_event_never_5xx_and_keeps_good_events(live: LiveCollector) -> None:
    post_batches(
        live, "/api/event", TRACKER_FIELDS, MAX_BATCH,
        lambda marker: {"site": SITE, "url": f"https://{SITE}/{marker}"},
        lambda live: {r["path"].strip("/") for r in query(live.cfg, "SELECT path FROM events WHERE type='pageview'")},
    )


def test_post_ingest_never_5xx_and_keeps_good_events(live: LiveCollector) -> None:
    post_batches(
        live, "/api/ingest", INGEST_FIELDS, MAX_INGEST_BATCH,
        lambda marker: {"type": "custom", "name": marker},
        lambda live: {r["name"] for r in query(live.cfg, "SELECT name FROM events WHERE type='event'")},
    )


# ------------------------------------------------------------------------------------------- GET routes

query_values = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=30).map(lambda s: quote(s, safe="")),
    st.binary(max_size=20).map(lambda b: quote_from_bytes(b, safe="")),
    st.sampled_from(["24h", "7d", "all", "live", "custom:2024-01-01..2024-02-01", "custom:0001-01-01..9999-12-31",
                     "custom:0001-01-01T00:00+01:00..2024-01-01", "custom:2024-01-01..2023-01-01", "humans", "bots",
                     "events", "sessions", "rollups", "anomalies", "funnels", "csv", "ndjson", SITE, "%00", "-1"]),
)
query_keys = st.sampled_from(["site", "range", "bots", "what", "format", "url", "ref", "path", "country", "browser",
                              "fingerprint", "utm_source", "x", "", "%00"])
query_strings = st.lists(st.tuples(query_keys, query_values), max_size=5).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
GET_ROUTES = ["/api/stats", "/api/export", "/api/anomalies", "/p.gif", "/healthz", "/sl.js", "/api/openapi.json"]


@FUZZ
@given(route=st.sampled_from(GET_ROUTES), qs=query_strings, admin=st.booleans(),
       # Header values within HTTP's grammar: control bytes are refused by aiohttp's parser before the app.
       referer=st.one_of(st.none(), st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=50)))
def test_get_routes_never_5xx(live: LiveCollector, route: str, qs: str, admin: bool, referer: str | None) -> None:
    headers = dict(BROWSER_HEADERS)
    if admin:
        headers["Authorization"] = f"Bearer {live.cfg.auth.admin_token}"
    if referer is not None:
        headers["Referer"] = referer
    answer = live.request("GET", f"{route}?{qs}" if qs else route, None, headers)
    check_answer(route, answer)
    if admin and route.startswith("/api/") and answer.status == 200 and route != "/api/export":
        assert answer.content_type == "application/json"


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
       route=st.sampled_from([*GET_ROUTES, "/api/event", "/api/ingest", "/nope", "/api/event/x"]),
       origin=st.one_of(st.none(), st.sampled_from(["https://example.com", "https://evil.test", "null", ""])),
       body=st.one_of(st.none(), st.binary(max_size=100)))
def test_any_method_on_any_route_never_5xx(live: LiveCollector, method: str, route: str, origin: str | None,
                                           body: bytes | None) -> None:
    headers = {} if origin is None else {"Origin": origin}
    answer = live.request(method, route, body, headers)
    if method == "HEAD":
        CASES[route] += 1
        assert answer.status < 500
    else:
        check_answer(route, answer)
