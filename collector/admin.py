"""Admin read API: GET /api/stats and GET /api/anomalies (bearer admin token); storage for /healthz."""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web

from collector import keys
from collector.middlewares import json_error, json_response
from db.errors import DatabaseError
from db.queries.common import DIMENSIONS, Filters, Span, parse_range, span_for
from db.queries.requests import status_classes
from db.store import Store

STORAGE_CACHE = web.AppKey("storage_cache", dict)
"""{"at": time, "stats": dict} so /healthz counts rows at most every STORAGE_TTL_S."""
STORAGE_TTL_S = 30.0
TOP_LISTS = {
    "top_pages": "path",
    "sources": "ref_source",
    "countries": "country",
    "browsers": "browser",
    "os": "os",
    "os_versions": "os_version",
    "devices": "device",
    "entry_pages": "entry_path",
    "exit_pages": "exit_path",
}


def bearer_token(request: web.Request) -> str:
    """The token of an `Authorization: Bearer …` header, or ''."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def is_admin(request: web.Request) -> bool:
    """Whether the request carries the admin bearer token (compared in constant time; no token set = nobody)."""
    given, expected = bearer_token(request), request.app[keys.ADMIN_TOKEN]
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def unauthorized() -> web.Response:
    """The 401 for a missing or wrong admin token."""
    return json_error(
        401,
        "missing or wrong bearer token (Authorization: Bearer <admin token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _filters(request: web.Request) -> Filters:
    """site, bots and any dimension given as query parameters (e.g. ?country=DE&ref_source=Google)."""
    q = request.query
    site = q.get("site") or None
    dims = tuple((name, q[name]) for name in DIMENSIONS if name in q)
    return Filters(site=site, dims=dims, bots=q.get("bots", "humans"))


def _stats_document(store: Store, range_text: str, filters: Filters, now: float) -> dict[str, Any]:
    parsed = parse_range(range_text)
    if isinstance(parsed, tuple):
        span = span_for("custom", now, custom=parsed)
    elif parsed == "all":
        span = span_for("all", now, first_ts=store.first_event_ts(filters.site))
    else:
        span = span_for(parsed, now)
    current, previous = store.kpis_with_change(span, filters)
    doc: dict[str, Any] = {
        "site": filters.site,
        "range": range_text,
        "start": span.start,
        "end": span.end,
        **asdict(current),
        "previous": asdict(previous),
    }
    tops = store.tops(span, filters, TOP_LISTS.values(), 10)
    for key, dim in TOP_LISTS.items():
        doc[key] = [asdict(r) for r in tops[dim]]
    doc["engagement"] = [asdict(r) for r in store.engagement(span, filters, 10)]
    codes = store.status_codes(span, filters)
    doc["status_classes"] = status_classes(codes)
    doc["status_codes"] = [asdict(r) for r in codes]
    doc["not_found"] = [asdict(r) for r in store.not_found(span, filters, 10)]
    doc["bandwidth"] = [asdict(r) for r in store.bandwidth(span, filters, 10)]
    doc["users"] = [asdict(r) for r in store.users(span, filters, 10)]
    doc["daily_active_users"] = [{"day": day, "users": n} for day, n in store.daily_active_users(span, filters)]
    return doc


async def get_stats(request: web.Request) -> web.Response:
    """GET /api/stats?site=S&range=R[&bots=B][&DIMENSION=VALUE...]: the Overview numbers as JSON."""
    if not is_admin(request):
        return unauthorized()
    range_text = request.query.get("range", "24h")
    try:
        filters = _filters(request)
        parse_range(range_text)
    except ValueError as exc:
        return json_error(400, str(exc))
    try:
        doc = await asyncio.to_thread(_stats_document, request.app[keys.STORE], range_text, filters, time.time())
    except ValueError as exc:
        return json_error(400, str(exc))
    return json_response(doc)


async def get_anomalies(request: web.Request) -> web.Response:
    """GET /api/anomalies[?range=R]: open anomalies and those of the range (default 7d)."""
    if not is_admin(request):
        return unauthorized()
    range_text = request.query.get("range", "7d")
    try:
        parsed = parse_range(range_text)
    except ValueError as exc:
        return json_error(400, str(exc))
    now = time.time()
    span = (
        span_for("custom", now, custom=parsed)
        if isinstance(parsed, tuple)
        else (Span(0, now) if parsed == "all" else span_for(parsed, now))
    )

    store = request.app[keys.STORE]

    def read() -> dict[str, Any]:
        return {
            "open": [asdict(a) for a in store.open_anomalies()],
            "recent": [asdict(a) for a in store.recent_anomalies(span, 200)],
        }

    return json_response(await asyncio.to_thread(read))


async def storage_summary(app: web.Application) -> dict[str, Any]:
    """Database size and row counts for /healthz, recounted at most every STORAGE_TTL_S seconds."""
    cache = app[STORAGE_CACHE]
    if cache.get("stats") is not None and time.monotonic() - cache["at"] < STORAGE_TTL_S:
        return dict(cache["stats"])
    try:
        stats = await asyncio.to_thread(app[keys.STORE].storage_stats)
    except (DatabaseError, OSError) as exc:
        return {"error": str(exc)}
    summary = {
        "size_bytes": stats.size_bytes,
        "wal_bytes": stats.wal_bytes,
        "rows": stats.rows,
        "oldest_event": stats.oldest_event,
    }
    cache.update(at=time.monotonic(), stats=summary)
    return dict(summary)


def setup_admin_routes(app: web.Application) -> None:
    """Register the admin read routes."""
    app[STORAGE_CACHE] = {}
    app.router.add_get("/api/stats", get_stats)
    app.router.add_get("/api/anomalies", get_anomalies)
