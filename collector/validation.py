"""Turning untrusted tracker JSON into a typed Hit, with errors that say what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_URL = 2000
MAX_NAME = 100
MAX_TITLE = 300
MAX_PROPS = 30
MAX_PROP_VALUE = 500
MAX_SITE = 253
MAX_BATCH = 100
TRACKER_TYPES = frozenset({"pageview", "engagement", "event"})


class EventError(ValueError):
    """One event is invalid; the message names the field and the problem."""


@dataclass(slots=True)
class Hit:
    """One normalised incoming event, whatever its source (tracker, pixel, server-side, access log)."""

    site: str
    type: str
    url: str = ""
    path: str = ""
    referrer: str = ""
    title: str = ""
    name: str = ""
    props: dict[str, str] = field(default_factory=dict)
    engaged_ms: int = 0
    scroll: int = 0
    screen: str = ""
    webdriver: bool = False
    method: str = ""
    status: int = 0
    latency_ms: float = 0.0
    bytes: int = 0
    cost_usd: float = 0.0
    user_id: str = ""
    success: bool = True
    asset: bool = False
    """A static asset (CSS, image, font …) from an access log: stored and counted, but not behaviour to score."""


def _clean(value: str, limit: int) -> str:
    """Cap a string and drop NUL characters (SQLite and terminals both dislike them)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:limit]


def _text(value: object, key: str, limit: int) -> str:
    """A string field's value, capped; None is "", anything else where a string belongs is an error."""
    if type(value) is str and len(value) <= limit and "\x00" not in value:  # the usual case, checked first
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EventError(f"{key}: expected a string, got {type_name(value)}")
    return _clean(value, limit)


def get_str(obj: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    """A string field, capped; numbers or objects where a string belongs are an error."""
    value = obj.get(key)
    if value is None and required:
        raise EventError(f"{key}: required")
    return _text(value, key, limit)


def get_int(obj: dict[str, Any], key: str, low: int, high: int) -> int:
    """An integer field clamped to [low, high]; floats are truncated, other types are an error."""
    value = obj.get(key)
    if value is None:
        return low
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EventError(f"{key}: expected a number, got {type_name(value)}")
    if value != value:  # NaN
        raise EventError(f"{key}: expected a number, got NaN")
    return max(low, min(high, int(value))) if abs(value) < 1e18 else high


def get_props(obj: dict[str, Any], key: str = "props") -> dict[str, str]:
    """Custom-event properties: at most 30 string keys with string, number or boolean values."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError(f"{key}: expected an object, got {type_name(value)}")
    if len(value) > MAX_PROPS:
        raise EventError(f"{key}: at most {MAX_PROPS} properties, got {len(value)}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (int, float)):
            v = repr(v) if isinstance(v, float) else str(v)
        elif not isinstance(v, str):
            raise EventError(f"{key}.{_clean(str(k), 40)}: expected a string or number, got {type_name(v)}")
        out[_clean(k, MAX_NAME)] = _clean(v, MAX_PROP_VALUE)
    return out


def type_name(value: object) -> str:
    """JSON's name for a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def parse_tracker_event(obj: object) -> Hit:
    """Validate one tracker event object (fields as sent by sl.js); server time is authoritative, `ts` is ignored."""
    if not isinstance(obj, dict):
        raise EventError(f"event: expected an object, got {type_name(obj)}")
    get = obj.get
    kind = _text(get("type"), "type", 20) or "pageview"
    if kind not in TRACKER_TYPES:
        raise EventError(f"type: must be one of pageview, engagement, event; got {kind[:20]!r}")
    site = _text(get("site"), "site", MAX_SITE).strip().lower()
    if not site:
        raise EventError("site: required")
    url = get("url")
    if url is None:
        raise EventError("url: required")
    url = _text(url, "url", MAX_URL)
    name = _text(get("name"), "name", MAX_NAME)
    if kind == "event" and not name:
        raise EventError("name: required for type 'event'")
    webdriver = get("webdriver", False)
    if not isinstance(webdriver, bool):
        raise EventError(f"webdriver: expected a boolean, got {type_name(webdriver)}")
    return Hit(
        site=site,
        type=kind,
        url=url,
        referrer=_text(get("referrer"), "referrer", MAX_URL),
        title=_text(get("title"), "title", MAX_TITLE),
        name=name,
        props=get_props(obj),
        engaged_ms=get_int(obj, "engaged_ms", 0, 86_400_000),
        scroll=get_int(obj, "scroll", 0, 100),
        screen=_text(get("screen"), "screen", 20),
        webdriver=webdriver,
    )
