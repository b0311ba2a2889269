"""The one error middleware: every failure becomes a JSON 4xx (or a logged 500), never a traceback to the client."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from collector.errors import StorageUnavailable
from collector.validation import EventError

log = logging.getLogger("sitelens.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """`{"error": message}` with the given status."""
    return json_response({"error": message}, status=status, headers=headers)


_REASONS = {
    400: "bad request",
    401: "missing or wrong bearer token",
    403: "forbidden",
    404: "no such route",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported content type",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn validation errors and aiohttp's HTTP errors into `{"error": ...}`; log anything unexpected."""
    try:
        return await handler(request)
    except EventError as exc:
        return json_error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else _REASONS.get(
            exc.status, exc.reason
        )
        if exc.status == 413:
            message = f"request body too large: {exc.text}"
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
        return json_error(exc.status, message, headers=headers)
    except StorageUnavailable as exc:
        return json_error(503, f"storage unavailable ({exc}), retry later", headers={"Retry-After": "5"})
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        log.exception("unexpected error handling %s %s", request.method, request.path)
        return json_error(500, "internal error (logged)")
