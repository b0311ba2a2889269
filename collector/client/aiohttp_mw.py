"""An aiohttp middleware that records every request of the host app as a SiteLens `api_request` event.

    app = web.Application(middlewares=[sitelens_middleware(client)])

The endpoint is the route template (`/users/{id}`) when a route matched, so requests aggregate per
endpoint; unmatched requests (404s, scanners' probes) keep their real path. Recording never changes the
response and never raises: the host app's own exceptions pass through untouched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from collector.client import SiteLensClient

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UserIdGetter = Callable[[web.Request], str]
CLIENT_CLOSED = 499
"""Status recorded when the client disconnected before the answer (nginx's convention)."""


def endpoint_of(request: web.Request) -> str:
    """The matched route's template, or the raw path when no route matched."""
    try:
        info = request.match_info
        if info.http_exception is None:
            canonical = info.route.resource.canonical if info.route.resource is not None else ""
            if canonical:
                return canonical
    except Exception:  # defensive: a custom router or resource without a template
        pass
    return request.path


def client_ip_of(request: web.Request, trust_forwarded: bool) -> str:
    """The end user's IP: the first X-Forwarded-For hop when the app sits behind a trusted proxy."""
    if trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",", 1)[0].strip()
        if first:
            return first
        real = request.headers.get("X-Real-IP", "").strip()
        if real:
            return real
    return request.remote or ""


def sitelens_middleware(
    client: SiteLensClient,
    *,
    user_id: UserIdGetter | None = None,
    trust_forwarded: bool = False,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """A middleware recording method, endpoint, status, latency, sizes, user, IP, UA and error."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        error = ""
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED  # the client went away: not a server error
            raise
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            _record(client, request, response, status, error, started, user_id, trust_forwarded)

    return middleware


def _record(
    client: SiteLensClient,
    request: web.Request,
    response: web.StreamResponse | None,
    status: int,
    error: str,
    started: float,
    user_id: UserIdGetter | None,
    trust_forwarded: bool,
) -> None:
    """Hand one request to the client; any failure here is swallowed (and counted by the client)."""
    try:
        size = 0
        if response is not None:
            size = response.content_length or getattr(response, "body_length", 0) or 0
        uid = ""
        if user_id is not None:
            try:
                uid = user_id(request) or ""
            except Exception:
                uid = ""
        client.api_request(
            request.method,
            endpoint_of(request),
            status,
            (time.perf_counter() - started) * 1000,
            request_bytes=request.content_length or 0,
            response_bytes=int(size),
            user_id=str(uid),
            ip=client_ip_of(request, trust_forwarded),
            ua=request.headers.get("User-Agent", ""),
            error=error,
        )
    except Exception:
        client.stats.errors += 1
