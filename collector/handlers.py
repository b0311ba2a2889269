"""Tracker-facing routes: /sl.js, /api/event, /p.gif and /healthz. Thin: parse → pipeline → respond."""

from __future__ import annotations

import asyncio
import base64
import math
import time
from functools import lru_cache
from importlib import resources

from aiohttp import web

from collector import keys
from collector.admin import storage_summary
from collector.batches import batch_items, decode_json, process_batch, queue_full, read_body
from collector.client_ip import TrustedProxies, client_ip, parse_networks
from collector.middlewares import json_error, json_response
from collector.pipeline import Client
from collector.throttle import Decision
from collector.validation import MAX_BATCH, MAX_URL, EventError, Hit, parse_tracker_event

MAX_UA = 1000
"""User-Agents are cut to this many characters before anything looks at them."""
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@lru_cache(maxsize=1)
def tracker_source() -> bytes:
    """The tracker script, read once from the package."""
    return (resources.files("collector") / "tracker" / "sl.js").read_bytes()


async def tracker_js(request: web.Request) -> web.Response:
    """GET /sl.js: the tracker, cacheable for a day (aiohttp compresses it when the client accepts gzip)."""
    resp = web.Response(
        body=tracker_source(),
        content_type="application/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"},
    )
    resp.enable_compression()
    return resp


def request_client(request: web.Request, proxies: TrustedProxies) -> Client:
    """The client behind a request (real IP behind trusted proxies, UA and the headers bot checks look at)."""
    headers = request.headers
    ua = headers.get("User-Agent", "")
    return Client(
        client_ip(request.remote, headers, proxies),
        ua if len(ua) <= MAX_UA else ua[:MAX_UA],
        headers.get("Accept"),
        headers.get("Accept-Language"),
    )


def cors_for(origin: str | None, allowed: frozenset[str]) -> dict[str, str] | None:
    """CORS headers for a request's Origin ({} without one); None when the origin is not allowed (any origin
    is when no sites are configured)."""
    if not origin:
        return {}
    if allowed and origin.lower() not in allowed:
        return None
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def event_preflight(request: web.Request) -> web.Response:
    """OPTIONS /api/event: answer CORS preflights for allowed origins."""
    headers = cors_for(request.headers.get("Origin"), request.app[keys.ALLOWED_ORIGINS])
    if not headers:
        return json_error(403, "origin not allowed")
    headers.update(
        {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        }
    )
    return web.Response(status=204, headers=headers)


def check_site(sites: frozenset[str], hit: Hit) -> None:
    """Refuse events for sites this collector does not serve (only when sites are configured)."""
    if sites and hit.site not in sites:
        raise EventError(f"site: unknown site {hit.site[:100]!r}")


async def post_event(request: web.Request) -> web.Response:
    """POST /api/event: one event object or an array of up to 100; bad events are reported, good ones kept."""
    app = request.app  # a property that walks the match info: read once
    headers = cors_for(request.headers.get("Origin"), app[keys.ALLOWED_ORIGINS])
    if headers is None:
        return json_error(403, "origin not allowed")
    items = batch_items(decode_json(await read_body(request, app[keys.CONFIG].server.max_body_bytes)), MAX_BATCH)
    pipeline = app[keys.PIPELINE]
    busy = queue_full(pipeline.writer, len(items), headers)
    if busy is not None:
        return busy
    client = request_client(request, app[keys.TRUSTED_PROXIES])
    now = time.time()
    # Throttle: 429 with Retry-After; blocked clients are dropped (and counted) with a silent 204.
    refused = throttle_response(pipeline.admit(client, now), headers)
    if refused is not None:
        return refused
    sites = app[keys.SITE_NAMES]
    accept = pipeline.accept

    def handle(item: object) -> None:
        hit = parse_tracker_event(item)
        check_site(sites, hit)
        accept(hit, client, now)

    return process_batch(items, handle, headers)


def throttle_response(decision: Decision | None, headers: dict[str, str]) -> web.Response | None:
    """429 with Retry-After for a throttled client, a silent 204 for a blocked one, None to go on."""
    if decision is None or decision.allowed:
        return None
    if decision.reason == "blocked":
        # Dropped without a word (and counted by the throttle): a blocked scraper learns nothing from it,
        # and a tracker's beacon does not retry a 204.
        return web.Response(status=204, headers=headers)
    retry = str(max(1, math.ceil(decision.retry_after)))
    return json_error(429, "too many requests: slow down", headers={**headers, "Retry-After": retry})


async def pixel(request: web.Request) -> web.Response:
    """GET /p.gif?site=S[&url=U][&ref=R]: a pageview for clients without JavaScript (noscript, e-mail)."""
    query = request.query
    page: str = query.get("url") or request.headers.get("Referer") or ""
    site = query.get("site", "")
    try:
        if not site:
            raise EventError("site: required (p.gif?site=example.com)")
        url = page[:MAX_URL] or f"https://{site}/"
        hit = parse_tracker_event({"site": site, "type": "pageview", "url": url, "referrer": query.get("ref", "")})
        check_site(request.app[keys.SITE_NAMES], hit)
    except EventError as exc:
        return json_error(400, str(exc))
    busy = queue_full(request.app[keys.WRITER], 1, {})
    if busy is not None:
        return busy
    pipeline = request.app[keys.PIPELINE]
    client = request_client(request, request.app[keys.TRUSTED_PROXIES])
    now = time.time()
    refused = throttle_response(pipeline.admit(client, now), {})
    if refused is not None:
        return refused
    pipeline.accept(hit, client, now)
    return web.Response(
        body=PIXEL,
        content_type="image/gif",
        headers={"Cache-Control": "no-store, max-age=0", "Access-Control-Allow-Origin": "*"},
    )


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: liveness, a database round trip, the writer's queue and counters."""
    writer = request.app[keys.WRITER]
    db_ok, db_error = True, ""
    try:
        await asyncio.to_thread(request.app[keys.STORE].ping)
    except Exception as exc:  # the point of a health check is to report, not raise
        db_ok, db_error = False, f"{type(exc).__name__}: {exc}"
    stats = writer.stats
    # A writer that cannot write is an outage even while reads work: events only queue, then get 503. A store
    # that is away while its events go to the local spool is not: the collector still takes every event.
    spooling = not db_ok and not stats.problem and writer.spooled_events > 0
    if db_ok and not stats.problem:
        status, problem = "ok", ""
    elif spooling:
        status, problem = "degraded", f"store unreachable: {writer.spooled_events} events wait in the local spool"
    else:
        status, problem = "error", stats.problem or f"database unreadable: {db_error}"
    body: dict[str, object] = {
        "status": status,
        "problem": problem,
        "database": {"ok": db_ok, "store": writer.store.url.display(), "error": db_error},
        "spooled_events": writer.spooled_events,
        "queue_depth": writer.queue_depth,
        "queue_max": writer.queue_max,
        "writer": {
            "problem": stats.problem,
            "failing_since": stats.failing_since or None,
            "written_events": stats.written_events,
            "flushes": stats.flushes,
            "rejected_full": stats.rejected_full,
            "errors": stats.errors,
            "last_error": stats.last_error,
            "last_flush_ms": round(stats.last_flush_ms, 2),
        },
        "uptime_s": round(time.time() - request.app[keys.STARTED_AT], 1),
        "active_sessions": len(request.app[keys.PIPELINE].sessions),
    }
    body["storage"] = await storage_summary(request.app)  # database size and row counts (cached)
    if keys.EXPORT in request.app:  # scheduled export progress and failing destinations
        body["export"] = request.app[keys.EXPORT].summary()
    return json_response(body, status=503 if status == "error" else 200)


def setup_routes(app: web.Application) -> None:
    """Register the tracker-facing routes."""
    app[keys.TRUSTED_PROXIES] = parse_networks(app[keys.CONFIG].server.trusted_proxies)
    app[keys.SITE_NAMES] = app[keys.CONFIG].site_names
    app.router.add_get("/sl.js", tracker_js)
    app.router.add_post("/api/event", post_event)
    app.router.add_route("OPTIONS", "/api/event", event_preflight)
    app.router.add_get("/p.gif", pixel)
    app.router.add_get("/healthz", healthz)
