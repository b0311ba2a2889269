"""The OpenAPI 3 description of the collector's HTTP API, served at GET /api/openapi.json.

Kept beside the handlers as a Python dict so limits (batch sizes, string caps, ranges, dimensions) come from the
same constants the code enforces; a schemathesis test in the suite runs it against a live collector.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.decompress import ENCODINGS
from collector.ingest import AUTH_ACTIONS, INGEST_TYPES, MAX_INGEST_BATCH
from collector.middlewares import json_response
from collector.validation import MAX_BATCH, MAX_NAME, MAX_PROPS, MAX_SITE, MAX_TITLE, MAX_URL, TRACKER_TYPES
from db.export.streams import BOTS, WHATS
from db.queries.common import DIMENSIONS, RANGES

OPENAPI_VERSION = "3.0.3"

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/Rejected"}},
    },
}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _error(description: str, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    response = _json("#/components/schemas/Error", description)
    if headers:
        response["headers"] = {name: {"schema": {"type": "string"}} for name in headers}
    return response


_BODY_ERRORS = {
    "400": _error("malformed JSON or compressed data, wrong types, or every event rejected (`rejected` says why)"),
    "413": _error("body larger than the route's limit, on the wire or once decompressed"),
    "415": _error(f"a Content-Encoding other than {', '.join(ENCODINGS)} or identity"),
    "503": _error("write queue full: retry later", ("Retry-After",)),
}
_ADMIN_ERRORS = {
    "400": _error("a bad query parameter"),
    "401": _error("missing or wrong admin token", ("WWW-Authenticate",)),
}
_ENCODING_HEADER = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "description": "the body may be compressed; it is decoded within the route's size limit",
    "schema": {"type": "string", "enum": ["identity", *ENCODINGS]},
}
_RANGE = {
    "type": "string",
    "description": f"{', '.join(RANGES)} or custom:START..END (ISO dates or times)",
    "example": "24h",
}


def _string(limit: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit, "nullable": True}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


def _tracker_event() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["site", "url"],
        "properties": {
            "site": {"type": "string", "minLength": 1, "maxLength": MAX_SITE},
            "type": {"type": "string", "enum": sorted(TRACKER_TYPES), "nullable": True},
            "url": {"type": "string", "maxLength": MAX_URL},
            "referrer": _string(MAX_URL),
            "title": _string(MAX_TITLE),
            "name": _string(MAX_NAME),
            "props": {
                "type": "object",
                "maxProperties": MAX_PROPS,
                "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
                "nullable": True,
            },
            "engaged_ms": {"type": "number", "nullable": True},
            "scroll": {"type": "number", "nullable": True},
            "screen": _string(20),
            "webdriver": {"type": "boolean"},
        },
    }


def _ingest_event() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type"],
        "description": "api_request needs `endpoint`, external_call `service`, auth `action`, custom `name`",
        "properties": {
            "type": {"type": "string", "enum": list(INGEST_TYPES)},
            "site": _string(MAX_SITE),
            "ts": {"oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}], "nullable": True},
            "ip": {"type": "string", "nullable": True},
            "ua": _string(1000),
            "user_id": _string(MAX_NAME),
            "endpoint": _string(MAX_URL),
            "method": _string(10),
            "status": {"type": "integer", "minimum": 100, "maximum": 599, "nullable": True},
            "latency_ms": {"type": "number", "minimum": 0, "nullable": True},
            "response_bytes": {"type": "integer", "minimum": 0, "nullable": True},
            "request_bytes": {"type": "integer", "minimum": 0, "nullable": True},
            "action": {"type": "string", "enum": sorted(AUTH_ACTIONS)},
            "service": _string(MAX_NAME),
            "tokens": {"type": "integer", "minimum": 0, "nullable": True},
            "cost_usd": {"type": "number", "minimum": 0, "nullable": True},
            "error": _string(500),
            "success": {"type": "boolean", "nullable": True},
            "name": _string(MAX_NAME),
            "props": {"type": "object", "maxProperties": MAX_PROPS, "nullable": True},
        },
    }


def _batch(ref: str, limit: int) -> dict[str, Any]:
    return {"oneOf": [{"$ref": ref}, {"type": "array", "minItems": 1, "maxItems": limit, "items": {"$ref": ref}}]}


def build_spec() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict on every call)."""
    row = {
        "type": "object",
        "properties": {"value": {"type": "string"}, "visitors": {"type": "integer"}, "pageviews": {"type": "integer"}},
    }
    kpis = {
        name: {"type": "number"}
        for name in ("visitors", "sessions", "pageviews", "bounce_rate", "avg_duration_s", "live_visitors", "bots",
                     "events")
    }
    anomaly = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "rule": {"type": "string"},
            "metric": {"type": "string"},
            "site": {"type": "string"},
            "level": {"type": "string"},
            "observed": {"type": "number"},
            "expected": {"type": "number"},
            "started": {"type": "number"},
            "ended": {"type": "number", "nullable": True},
        },
    }
    dims = [_query(name, {"type": "string"}, f"only rows whose {name} is this value") for name in DIMENSIONS]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "SiteLens collector",
            "version": "1",
            "description": "Tracker, server-side ingest, admin read API and health of a SiteLens collector.",
        },
        "paths": {
            "/sl.js": {
                "get": {
                    "operationId": "trackerScript",
                    "summary": "the tracker script (cacheable for a day)",
                    "responses": {
                        "200": {"description": "the script", "content": {"application/javascript": {"schema": {
                            "type": "string"}}}},
                    },
                }
            },
            "/api/event": {
                "post": {
                    "operationId": "postEvent",
                    "summary": f"one tracker event or an array of up to {MAX_BATCH}; bad events never cost good ones",
                    "parameters": [_ENCODING_HEADER],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _batch("#/components/schemas/TrackerEvent", MAX_BATCH)},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "202": _json("#/components/schemas/Accepted", "accepted (some events may be `rejected`)"),
                        "204": {"description": "dropped without a word: a blocked client"},
                        **_BODY_ERRORS,
                        "403": _error("the Origin is not one of the configured sites'"),
                        "429": _error("throttled: slow down", ("Retry-After",)),
                    },
                },
                "options": {
                    "operationId": "eventPreflight",
                    "summary": "CORS preflight",
                    "responses": {
                        "204": {"description": "the origin may post events"},
                        "403": _error("no Origin, or one that is not allowed"),
                    },
                },
            },
            "/p.gif": {
                "get": {
                    "operationId": "pixel",
                    "summary": "a pageview for clients without JavaScript",
                    "parameters": [
                        {"name": "site", "in": "query", "required": True, "schema": {"type": "string"}},
                        _query("url", {"type": "string"}, "the page (default: the Referer, else the site's root)"),
                        _query("ref", {"type": "string"}, "the page's referrer"),
                    ],
                    "responses": {
                        "200": {"description": "a 1x1 GIF", "content": {"image/gif": {"schema": {
                            "type": "string", "format": "binary"}}}},
                        "204": {"description": "dropped without a word: a blocked client"},
                        "400": _error("no site, or a site this collector does not serve"),
                        "429": _error("throttled: slow down", ("Retry-After",)),
                        "503": _error("write queue full: retry later", ("Retry-After",)),
                    },
                }
            },
            "/api/ingest": {
                "post": {
                    "operationId": "postIngest",
                    "summary": f"server-side events, one or an array of up to {MAX_INGEST_BATCH}",
                    "security": [{"ingestToken": []}],
                    "parameters": [_ENCODING_HEADER],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _batch(
                            "#/components/schemas/IngestEvent", MAX_INGEST_BATCH)}},
                    },
                    "responses": {
                        "202": _json("#/components/schemas/Accepted", "accepted (some events may be `rejected`)"),
                        **_BODY_ERRORS,
                        "401": _error("missing, unknown or revoked ingest token", ("WWW-Authenticate",)),
                    },
                }
            },
            "/api/stats": {
                "get": {
                    "operationId": "stats",
                    "summary": "the Overview numbers: KPIs with the previous span's, and top lists",
                    "security": [{"adminToken": []}],
                    "parameters": [
                        _query("site", {"type": "string"}),
                        _query("range", _RANGE),
                        _query("bots", {"type": "string", "enum": list(BOTS)}),
                        *dims,
                    ],
                    "responses": {"200": _json("#/components/schemas/Stats", "the numbers"), **_ADMIN_ERRORS},
                }
            },
            "/api/export": {
                "get": {
                    "operationId": "export",
                    "summary": "a table as a CSV or NDJSON stream",
                    "security": [{"adminToken": []}],
                    "parameters": [
                        _query("what", {"type": "string", "enum": list(WHATS)}),
                        _query("format", {"type": "string", "enum": ["csv", "ndjson"]}),
                        _query("site", {"type": "string", "maxLength": MAX_SITE}),
                        _query("range", _RANGE),
                        _query("bots", {"type": "string", "enum": list(BOTS)}),
                    ],
                    "responses": {
                        "200": {
                            "description": "the rows",
                            "content": {
                                "text/csv": {"schema": {"type": "string"}},
                                "application/x-ndjson": {"schema": {"type": "string"}},
                            },
                        },
                        **_ADMIN_ERRORS,
                    },
                }
            },
            "/api/anomalies": {
                "get": {
                    "operationId": "anomalies",
                    "summary": "open anomalies and those of the range (default 7d)",
                    "security": [{"adminToken": []}],
                    "parameters": [_query("range", _RANGE)],
                    "responses": {"200": _json("#/components/schemas/Anomalies", "the anomalies"), **_ADMIN_ERRORS},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "liveness, a database round trip, the writer's queue and counters",
                    "responses": {
                        "200": _json("#/components/schemas/Health", "healthy or degraded"),
                        "503": _json("#/components/schemas/Health", "the database does not answer"),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "this document",
                    "responses": {"200": {"description": "OpenAPI 3", "content": {"application/json": {
                        "schema": {"type": "object"}}}}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "auth.admin_token"},
                "ingestToken": {"type": "http", "scheme": "bearer", "description": "a site's ingest token"},
            },
            "schemas": {
                "Error": _ERROR,
                "Rejected": {
                    "type": "object",
                    "required": ["index", "error"],
                    "properties": {"index": {"type": "integer"}, "error": {"type": "string"}},
                },
                "Accepted": {
                    "type": "object",
                    "required": ["accepted"],
                    "properties": {
                        "accepted": {"type": "integer", "minimum": 1},
                        "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/Rejected"}},
                    },
                },
                "TrackerEvent": _tracker_event(),
                "IngestEvent": _ingest_event(),
                "Stats": {
                    "type": "object",
                    "required": ["range", "start", "end", "previous", *kpis],
                    "properties": {
                        "site": {"type": "string", "nullable": True},
                        "range": {"type": "string"},
                        "start": {"type": "number"},
                        "end": {"type": "number"},
                        **kpis,
                        "previous": {"type": "object", "properties": kpis},
                        **{name: {"type": "array", "items": row} for name in (
                            "top_pages", "sources", "countries", "browsers", "os", "devices", "entry_pages",
                            "exit_pages")},
                    },
                },
                "Anomalies": {
                    "type": "object",
                    "required": ["open", "recent"],
                    "properties": {
                        "open": {"type": "array", "items": anomaly},
                        "recent": {"type": "array", "items": anomaly},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "database", "queue_depth", "writer"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "degraded", "error"]},
                        "database": {
                            "type": "object",
                            "properties": {
                                "ok": {"type": "boolean"},
                                "path": {"type": "string"},
                                "error": {"type": "string"},
                            },
                        },
                        "queue_depth": {"type": "integer"},
                        "writer": {"type": "object", "additionalProperties": {"nullable": True}},
                        "uptime_s": {"type": "number"},
                        "active_sessions": {"type": "integer"},
                        "storage": {"type": "object"},
                        "export": {"type": "object"},
                    },
                },
            },
        },
    }


async def get_openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json: this API's OpenAPI 3 description (public: it holds no data)."""
    return json_response(build_spec())


def setup_openapi_route(app: web.Application) -> None:
    """Register GET /api/openapi.json."""
    app.router.add_get("/api/openapi.json", get_openapi)
