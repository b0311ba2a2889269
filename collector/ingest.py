"""POST /api/ingest: server-side events (API requests, auth, external calls, custom), bearer ingest token.

A token belongs to one site: `[[sites]] ingest_token` in the config, or a database token made with
`sitelens token create`. Events carry the END USER's ip and ua (not the sending server's), and may carry
their own time (`ts`, accepted within the last 7 days). Like /api/event, every bad event gets its own 400
reason and the good ones of the batch are kept.

Success: an explicit boolean `success` wins; otherwise `api_request` fails on `error` or status >= 500
(a 4xx is the client's mistake, not the API's), `external_call` fails on `error` or status >= 400 (the
call did not get what it asked for) and `auth` fails for `login_failed`.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from aiohttp import web

from collector import keys
from collector.admin import bearer_token
from collector.batches import batch_items, decode_json, process_batch, queue_full, read_body
from collector.middlewares import json_error
from collector.pipeline import Client
from collector.validation import (
    MAX_NAME,
    MAX_SITE,
    MAX_URL,
    EventError,
    Hit,
    get_int,
    get_props,
    get_str,
    type_name,
)

MAX_INGEST_BATCH: Final = 1000
MAX_AGE_S: Final = 7 * 86400
"""Older event times are replaced by the server's: the past is not rewritten through this door."""
MAX_SKEW_S: Final = 300
"""Event times this far in the future are clock skew, also replaced by the server's time."""
MAX_UA: Final = 1000
MAX_ERROR: Final = 500
INGEST_TYPES: Final = ("api_request", "auth", "external_call", "custom")
AUTH_ACTIONS: Final = frozenset({"signup", "login", "logout", "login_failed", "token_refresh", "password_reset"})
_METHOD_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

CONFIG_TOKENS = web.AppKey("ingest_config_tokens", tuple)
"""(token bytes, site) pairs from the config file, compared in constant time."""


def config_tokens(app: web.Application) -> tuple[tuple[bytes, str], ...]:
    """The ingest tokens set in the config file, with their sites."""
    return tuple((site.ingest_token.encode(), site.name) for site in app[keys.CONFIG].sites if site.ingest_token)


def token_owner(request: web.Request, token: str) -> str | None:
    """The site an ingest token belongs to (config tokens first, then working database tokens)."""
    if not token or len(token) > 200:
        return None
    given = token.encode("utf-8", "surrogatepass")
    site = None
    for candidate, name in request.app[CONFIG_TOKENS]:
        if hmac.compare_digest(candidate, given) and site is None:
            site = name
    if site is not None:
        return site
    return _stored_token_site(request.app, token, time.monotonic())


TOKEN_CACHE_S = 5.0
"""How long a stored token's answer is reused: a revoked token stops working within this, and a collector on a
remote store does not ask it on every request."""
TOKEN_CACHE = web.AppKey("ingest_token_cache", dict)


def _stored_token_site(app: web.Application, token: str, now: float) -> str | None:
    """A working stored token's site, asked of the store at most once per TOKEN_CACHE_S per token."""
    cache: dict[str, tuple[float, str | None]] = app[TOKEN_CACHE]
    hit = cache.get(token)
    if hit is not None and hit[0] > now:
        return hit[1]
    site = app[keys.STORE].token_site(token)
    if len(cache) > 10_000:
        cache.clear()
    cache[token] = (now + TOKEN_CACHE_S, site)
    return site


# ------------------------------------------------------------------------------------------ validation


def get_bool(obj: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean field; anything but true/false is an error."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise EventError(f"{key}: expected a boolean, got {type_name(value)}")
    return value


def get_float(obj: dict[str, Any], key: str, high: float) -> float:
    """A non-negative number field, capped at `high`."""
    value = obj.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EventError(f"{key}: expected a number, got {type_name(value)}")
    if value != value or value < 0:
        raise EventError(f"{key}: expected a non-negative number")
    return float(min(value, high))


def get_ip(obj: dict[str, Any]) -> str:
    """The end user's IP address (optional); anything that is not an address is an error."""
    text = get_str(obj, "ip", 64).strip()
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise EventError(f"ip: not an IP address: {text[:64]!r}") from None


def get_status(obj: dict[str, Any]) -> int:
    """An HTTP status (100–599) or 0 when absent."""
    value = obj.get("status")
    if value is None:
        return 0
    status = get_int(obj, "status", 0, 10_000)
    if not 100 <= status <= 599:
        raise EventError(f"status: expected an HTTP status 100-599, got {value!r}")
    return status


def get_method(obj: dict[str, Any]) -> str:
    """An HTTP method, upper-cased (letters only, at most 10)."""
    method = get_str(obj, "method", 20).strip().upper()
    if method and (len(method) > 10 or not set(method) <= _METHOD_CHARS):
        raise EventError(f"method: not an HTTP method: {method[:20]!r}")
    return method


def get_endpoint(obj: dict[str, Any], *, required: bool) -> str:
    """A request path or URL (`/api/users/{id}` or `https://api.example.com/v1/chat`)."""
    endpoint = get_str(obj, "endpoint", MAX_URL).strip()
    if required and not endpoint:
        raise EventError("endpoint: required")
    return endpoint


@lru_cache(maxsize=1024)
def _parse_iso(text: str) -> float | None:
    """Unix time of an ISO 8601 timestamp (one without a zone is taken as UTC), or None."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def event_time(obj: dict[str, Any], now: float) -> float:
    """The event's own time when given and plausible (last 7 days, not in the future), else `now`."""
    value = obj.get("ts")
    if value is None:
        return now
    if isinstance(value, bool):
        raise EventError("ts: expected unix seconds or an ISO 8601 string, got boolean")
    if isinstance(value, (int, float)):
        ts = float(value)
        if ts > 1e11:  # milliseconds
            ts /= 1000
    elif isinstance(value, str):
        parsed = _parse_iso(value.strip()[:40])
        if parsed is None:
            raise EventError(f"ts: not an ISO 8601 time: {value[:40]!r}")
        ts = parsed
    else:
        raise EventError(f"ts: expected unix seconds or an ISO 8601 string, got {type_name(value)}")
    if ts != ts or not now - MAX_AGE_S <= ts <= now + MAX_SKEW_S:
        return now
    return min(ts, now)


def server_props(obj: dict[str, Any], error: str, count_key: str = "") -> dict[str, str]:
    """A server-side event's props: its count field (bytes, tokens) when non-zero and its error when given."""
    props: dict[str, str] = {}
    if count_key:
        count = get_int(obj, count_key, 0, 1 << 40)
        if count:
            props[count_key] = str(count)
    if error:
        props["error"] = error
    return props


def parse_ingest_event(obj: object, site: str, now: float) -> tuple[Hit, Client, float]:
    """Validate one server-side event for a token's site: the hit, its end user, and its time."""
    if not isinstance(obj, dict):
        raise EventError(f"event: expected an object, got {type_name(obj)}")
    kind = get_str(obj, "type", 20)
    if kind not in INGEST_TYPES:
        shown = f"{kind[:20]!r}" if kind else "nothing"
        raise EventError(f"type: must be one of {', '.join(INGEST_TYPES)}; got {shown}")
    claimed = get_str(obj, "site", MAX_SITE).strip().lower()
    if claimed and claimed != site:
        raise EventError(f"site: this token sends events for {site!r}, not {claimed[:100]!r}")
    ts = event_time(obj, now)
    ua = get_str(obj, "ua", MAX_UA)
    client = Client(ip=get_ip(obj), ua=ua, headers_known=False, ua_known=bool(ua))
    user_id = get_str(obj, "user_id", MAX_NAME)
    error = get_str(obj, "error", MAX_ERROR)
    if kind == "api_request":
        status = get_status(obj)
        hit = Hit(
            site=site,
            type="api_request",
            path=get_endpoint(obj, required=True),
            method=get_method(obj) or "GET",
            status=status,
            latency_ms=get_float(obj, "latency_ms", 86_400_000.0),
            bytes=get_int(obj, "response_bytes", 0, 1 << 40),
            user_id=user_id,
            props=server_props(obj, error, "request_bytes"),
            success=get_bool(obj, "success", not error and status < 500),
        )
    elif kind == "auth":
        action = get_str(obj, "action", 40).strip().lower()
        if action not in AUTH_ACTIONS:
            shown = f"{action[:40]!r}" if action else "nothing"
            raise EventError(f"action: must be one of {', '.join(sorted(AUTH_ACTIONS))}; got {shown}")
        hit = Hit(
            site=site,
            type="auth",
            name=action,
            path=get_endpoint(obj, required=False),
            method=get_method(obj),
            status=get_status(obj),
            user_id=user_id,
            props=server_props(obj, error),
            success=get_bool(obj, "success", action != "login_failed" and not error),
        )
    elif kind == "external_call":
        service = get_str(obj, "service", MAX_NAME).strip()
        if not service:
            raise EventError("service: required for type 'external_call' (e.g. \"openai\")")
        status = get_status(obj)
        hit = Hit(
            site=site,
            type="external_call",
            name=service,
            path=get_endpoint(obj, required=False),
            method=get_method(obj),
            status=status,
            latency_ms=get_float(obj, "latency_ms", 86_400_000.0),
            cost_usd=get_float(obj, "cost_usd", 1e9),
            user_id=user_id,
            props=server_props(obj, error, "tokens"),
            success=get_bool(obj, "success", not error and status < 400),
        )
    else:
        name = get_str(obj, "name", MAX_NAME).strip()
        if not name:
            raise EventError("name: required for type 'custom'")
        hit = Hit(
            site=site,
            type="event",
            name=name,
            path=get_endpoint(obj, required=False),
            props=get_props(obj),
            user_id=user_id,
            success=get_bool(obj, "success", True),
        )
    return hit, client, ts


# --------------------------------------------------------------------------------------------- handler


async def post_ingest(request: web.Request) -> web.Response:
    """POST /api/ingest: one event or an array of up to 1000; bad events are reported, good ones kept."""
    auth = {"WWW-Authenticate": 'Bearer realm="sitelens-ingest"'}
    token = bearer_token(request)
    if not token:
        return json_error(401, "missing ingest token: send Authorization: Bearer <token>", headers=auth)
    site = token_owner(request, token)
    if site is None:
        return json_error(401, "unknown or revoked ingest token", headers=auth)
    items = batch_items(decode_json(await read_body(request, request.app[keys.CONFIG].server.max_ingest_bytes)),
                        MAX_INGEST_BATCH)
    pipeline = request.app[keys.PIPELINE]
    busy = queue_full(pipeline.writer, len(items), {})
    if busy is not None:
        return busy
    now = time.time()

    def handle(item: object) -> None:
        hit, client, ts = parse_ingest_event(item, site, now)
        pipeline.accept(hit, client, ts)

    return process_batch(items, handle, {})


def setup_ingest_routes(app: web.Application) -> None:
    """Register POST /api/ingest (called by create_app)."""
    app[CONFIG_TOKENS] = config_tokens(app)
    app[TOKEN_CACHE] = {}
    app.router.add_post("/api/ingest", post_ingest)
