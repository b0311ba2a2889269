"""An ASGI middleware (Starlette, FastAPI, Django, any ASGI 3 app) recording each HTTP request in SiteLens.

    app = SiteLensASGIMiddleware(app, client)

Records method, endpoint (the route template when the framework puts a `route` in the scope, as
Starlette does, else the path), status, latency to the last body byte, request and response sizes,
user id (optional getter on the scope), the end user's IP and User-Agent, and the exception name when
the app raised. Recording never changes what the app sends and never raises into it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from collector.client import SiteLensClient

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UserIdGetter = Callable[[Scope], str]
CLIENT_CLOSED = 499
"""Status recorded when the client disconnected before the answer (nginx's convention)."""


def header(scope: Scope, name: bytes) -> str:
    """A request header from an ASGI scope (names are lower-case bytes there), or ''."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def endpoint_of(scope: Scope) -> str:
    """The route template when the framework recorded one (`scope["route"].path`), else the request path."""
    route = scope.get("route")
    template = getattr(route, "path", None) if route is not None else None
    if isinstance(template, str) and template:
        return template
    return str(scope.get("path") or "/")


def client_ip_of(scope: Scope, trust_forwarded: bool) -> str:
    """The end user's IP: the first X-Forwarded-For hop behind a trusted proxy, else the peer address."""
    if trust_forwarded:
        first = header(scope, b"x-forwarded-for").split(",", 1)[0].strip()
        if first:
            return first
    peer = scope.get("client")
    return str(peer[0]) if peer else ""


class SiteLensASGIMiddleware:
    """Wraps an ASGI app; HTTP requests are recorded, lifespan and websocket scopes pass straight through."""

    def __init__(
        self,
        app: ASGIApp,
        client: SiteLensClient,
        *,
        user_id: UserIdGetter | None = None,
        trust_forwarded: bool = False,
    ) -> None:
        self.app = app
        self.client = client
        self.user_id = user_id
        self.trust_forwarded = trust_forwarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"status": 0, "sent": 0, "received": 0, "done": 0.0}

        async def counting_receive() -> Message:
            message = await receive()
            if message.get("type") == "http.request":
                state["received"] += len(message.get("body") or b"")
            return message

        async def recording_send(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                state["status"] = int(message.get("status") or 0)
            elif kind == "http.response.body":
                state["sent"] += len(message.get("body") or b"")
                if not message.get("more_body"):
                    state["done"] = time.perf_counter()
            await send(message)

        error = ""
        try:
            await self.app(scope, counting_receive, recording_send)
        except asyncio.CancelledError:
            state["status"] = state["status"] or CLIENT_CLOSED  # the client went away: not a server error
            raise
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            self._record(scope, state, error, started)

    def _record(self, scope: Scope, state: dict[str, Any], error: str, started: float) -> None:
        """Hand one request to the client; failures are swallowed (and counted by the client)."""
        try:
            status = state["status"] or 500  # the app raised before starting a response
            finished = state["done"] or time.perf_counter()
            uid = ""
            if self.user_id is not None:
                try:
                    uid = self.user_id(scope) or ""
                except Exception:
                    uid = ""
            self.client.api_request(
                str(scope.get("method") or "GET"),
                endpoint_of(scope),
                status,
                (finished - started) * 1000,
                request_bytes=int(state["received"]),
                response_bytes=int(state["sent"]),
                user_id=str(uid),
                ip=client_ip_of(scope, self.trust_forwarded),
                ua=header(scope, b"user-agent"),
                error=error,
            )
        except Exception:
            self.client.stats.errors += 1
