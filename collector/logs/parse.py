"""Access-log line parsers: nginx/Apache combined and common formats, and JSON lines (Caddy, nginx JSON).

Every parser turns one untrusted text line into a `LogLine` or raises `LineError` with a short reason code
that the import summary counts. Parsing is split-based with a regex fallback: the common case (no escaped
quotes) costs one `str.split`, and timestamps are computed once per minute of log, not once per line.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

FORMATS: Final = ("auto", "combined", "common", "json")
MAX_FIELD: Final = 4000
"""Longer request targets, referrers and User-Agents are cut: a hostile line cannot pin memory."""

_MONTHS: Final = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
    "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}  # fmt: skip
# Slow path for lines whose quoted fields contain escaped quotes (Apache writes \" inside them).
_CLF_RE: Final = re.compile(
    r'(\S+) \S+ .*?\[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\S+) (\S+)'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)
_METHOD_RE: Final = re.compile(r"[A-Z][A-Z_-]{0,19}")


class LineError(ValueError):
    """A line that cannot be imported; `reason` is a short code the import summary counts."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class LogLine:
    """One parsed access-log request; strings are as logged (untrusted), numbers validated."""

    ip: str
    ts: float
    method: str
    target: str
    status: int
    size: int
    referrer: str
    ua: str
    host: str = ""
    latency_ms: float = 0.0
    accept: str | None = None
    accept_language: str | None = None


# ---------------------------------------------------------------------------------------------- time


_minute_cache: dict[str, float] = {}


def clf_time(text: str) -> float:
    """Unix time of a CLF timestamp `10/Oct/2000:13:55:36 -0700` (cached per minute: logs are in order)."""
    if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[11] != ":" or text[20] != " ":
        raise LineError("bad-time")
    key = text[:17] + text[20:]
    base = _minute_cache.get(key)
    if base is None:
        base = _clf_minute(text)
        if len(_minute_cache) > 4096:
            _minute_cache.clear()
        _minute_cache[key] = base
    seconds = text[18:20]
    if not (seconds.isascii() and seconds.isdigit()):  # isdigit alone takes "²", which int() refuses
        raise LineError("bad-time")
    return base + int(seconds)


def _clf_minute(text: str) -> float:
    """Uncached: the unix time at the start of a CLF timestamp's minute."""
    try:
        day, month, year = int(text[0:2]), _MONTHS[text[3:6]], int(text[7:11])
        hour, minute = int(text[12:14]), int(text[15:17])
        zone = text[21:26]
        sign = -1 if zone[0] == "-" else 1
        if zone[0] not in "+-" or not zone[1:].isdigit():
            raise ValueError(zone)
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
        if not (1 <= day <= 31 and hour < 24 and minute < 60 and 1970 <= year < 2200):
            raise ValueError(text)
        return float(calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0)) - offset)
    except (KeyError, ValueError):
        raise LineError("bad-time") from None


def iso_time(value: object) -> float:
    """Unix time from a JSON log's time field: epoch seconds/milliseconds or an ISO 8601 / CLF string."""
    if isinstance(value, bool):
        raise LineError("bad-time")
    if isinstance(value, (int, float)):
        ts = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            ts = float(text)
        except ValueError:
            if len(text) == 26 and text[2] == "/":
                return clf_time(text)
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise LineError("bad-time") from None
            try:
                if parsed.tzinfo is None:
                    ts = calendar.timegm(parsed.timetuple()) + parsed.microsecond / 1e6
                else:
                    ts = parsed.timestamp()
            except (OverflowError, ValueError):  # year 1 with a positive offset is before datetime's range
                raise LineError("bad-time") from None
    else:
        raise LineError("bad-time")
    if not math.isfinite(ts):  # "inf" or 1e400: dividing below would never end
        raise LineError("bad-time")
    if ts > 1e11:  # milliseconds (or micro/nanoseconds) since the epoch
        while ts > 1e11:
            ts /= 1000
    if not 0 < ts < 7.3e9:
        raise LineError("bad-time")
    return ts


# ------------------------------------------------------------------------------------ combined/common


def split_request(request: str) -> tuple[str, str]:
    """(method, target) of a request line `GET /path HTTP/1.1`; garbage (TLS bytes, `-`) is an error."""
    method, _, rest = request.partition(" ")
    if not rest or not _METHOD_RE.fullmatch(method):
        raise LineError("bad-request")
    target = (
        rest.rpartition(" ")[0] if rest.endswith(("HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/2", "HTTP/3")) else rest
    )
    target = target.strip()
    if not target:
        raise LineError("bad-request")
    return method, target[:MAX_FIELD]


def _number(text: str, reason: str) -> int:
    """A non-negative integer field of a log line; `-` means 0."""
    if text.isascii() and text.isdigit():
        return int(text)
    if text == "-":
        return 0
    raise LineError(reason)


def parse_clf(line: str) -> LogLine:
    """Parse a combined (or common: no referrer/User-Agent) log line as nginx and Apache write them."""
    parts = line.split('"')
    n = len(parts)
    if (n == 7 or n == 3) and "\\" not in line:
        head, request, middle = parts[0], parts[1], parts[2]
        if n == 7:
            referrer, ua = parts[3], parts[5]
        else:
            referrer = ua = ""
        numbers = middle.split()
        if len(numbers) < 2:
            raise LineError("malformed")
        status_text, size_text = numbers[0], numbers[1]
        space = head.find(" ")
        open_b = head.find("[")
        close_b = head.find("]", open_b)
        if space <= 0 or open_b < 0 or close_b < 0:
            raise LineError("malformed")
        ip = head[:space]
        stamp = head[open_b + 1 : close_b]
    else:
        m = _CLF_RE.match(line)
        if m is None:
            raise LineError("malformed")
        ip, stamp, request, status_text, size_text = m.group(1, 2, 3, 4, 5)
        referrer = _unescape(m.group(6) or "")
        ua = _unescape(m.group(7) or "")
        request = _unescape(request)
    ts = clf_time(stamp)
    method, target = split_request(request)
    status = _number(status_text, "bad-status")
    if not 100 <= status <= 599:
        raise LineError("bad-status")
    if referrer == "-":
        referrer = ""
    if ua == "-":
        ua = ""
    return LogLine(ip, ts, method, target, status, _number(size_text, "bad-size"), referrer[:MAX_FIELD], ua[:MAX_FIELD])


def _unescape(value: str) -> str:
    """Undo Apache's backslash escaping of quotes and backslashes in a quoted field."""
    return value.replace('\\"', '"').replace("\\\\", "\\") if "\\" in value else value


# ----------------------------------------------------------------------------------------------- json


def _first(obj: dict[str, Any], *keys: str) -> Any:
    """The first present, non-empty value among `keys`."""
    for key in keys:
        value = obj.get(key)
        if value is not None and value != "" and value != "-":
            return value
    return None


def _text(value: Any) -> str:
    """A JSON field as text: strings as is, numbers formatted, a list's first item (Caddy headers)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, str):
        return value[:MAX_FIELD]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise LineError("bad-field")


def _header(headers: Any, name: str) -> str | None:
    """A request header from Caddy's `headers` object (case-insensitive name, list of values)."""
    if not isinstance(headers, dict):
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == lowered), None)
    return None if value is None else _text(value)


def _json_int(value: Any, reason: str) -> int:
    """An integer from a JSON log field that may be a number or a numeric string."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise LineError(reason)
    if isinstance(value, int):
        return value if value >= 0 else 0
    if isinstance(value, float) and value == value:
        return max(0, int(value))
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise LineError(reason)


def _json_seconds(value: Any) -> float:
    """A duration in seconds (nginx `request_time`, Caddy `duration`) as milliseconds."""
    if value is None or isinstance(value, bool):
        return 0.0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return round(seconds * 1000, 3) if 0 <= seconds < 86_400 else 0.0


def parse_json(line: str) -> LogLine:
    """Parse a JSON access-log line: Caddy's structured log or an nginx `log_format … escape=json`."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise LineError("bad-json") from None
    if not isinstance(obj, dict):
        raise LineError("bad-json")
    req = obj.get("request")
    headers: Any = None
    if isinstance(req, dict):  # Caddy
        headers = req.get("headers")
        ip = _text(_first(req, "client_ip", "remote_ip", "remote_addr"))
        method = _text(req.get("method"))
        target = _text(_first(req, "uri", "path"))
        host = _text(req.get("host"))
    else:
        ip = _text(_first(obj, "remote_addr", "client_ip", "remote_ip", "ip", "client"))
        host = _text(_first(obj, "host", "http_host", "server_name", "vhost"))
        method = _text(_first(obj, "request_method", "method"))
        target = _text(_first(obj, "request_uri", "uri", "path", "url"))
        if (not method or not target) and isinstance(req, str):
            method, target = split_request(req)
    if not method or not target or not _METHOD_RE.fullmatch(method):
        raise LineError("bad-request")
    stamp = _first(obj, "ts", "time", "timestamp", "@timestamp", "time_iso8601", "time_local", "msec", "date")
    if stamp is None:
        raise LineError("bad-time")
    status = _json_int(_first(obj, "status", "status_code", "response_status"), "bad-status")
    if not 100 <= status <= 599:
        raise LineError("bad-status")
    ua = _header(headers, "User-Agent") if headers is not None else None
    if ua is None:
        ua = _text(_first(obj, "http_user_agent", "user_agent", "ua", "agent"))
    referrer = _header(headers, "Referer") if headers is not None else None
    if referrer is None:
        referrer = _text(_first(obj, "http_referer", "http_referrer", "referer", "referrer"))
    latency = obj.get("latency_ms")
    return LogLine(
        ip=ip,
        ts=iso_time(stamp),
        method=method,
        target=target[:MAX_FIELD],
        status=status,
        size=_json_int(_first(obj, "body_bytes_sent", "size", "bytes_sent", "bytes", "response_size"), "bad-size"),
        referrer="" if referrer == "-" else referrer,
        ua="" if ua == "-" else ua,
        host=host[:253],
        latency_ms=(
            float(latency)
            if isinstance(latency, (int, float)) and not isinstance(latency, bool) and 0 <= latency < 86_400_000
            else _json_seconds(_first(obj, "request_time", "duration", "upstream_response_time"))
        ),
        accept=_header(headers, "Accept") if headers is not None else None,
        accept_language=_header(headers, "Accept-Language") if headers is not None else None,
    )


# ---------------------------------------------------------------------------------------------- detect


def detect_format(sample: list[str]) -> str:
    """The format of a file from its first non-empty lines: json, combined or common."""
    lines = [line for line in sample if line.strip()]
    if not lines:
        return "combined"
    if sum(line.lstrip().startswith("{") for line in lines) * 2 > len(lines):
        return "json"
    combined = sum(line.count('"') >= 6 for line in lines)
    return "combined" if combined * 2 >= len(lines) else "common"


def format_problem(sample: list[str], fmt: str) -> str:
    """Why a file whose first lines are `sample` cannot be imported as `fmt` ("" when some line parses in it)."""
    lines = [line for line in sample if line.strip()]
    if not lines or fmt not in FORMATS[1:] or _parses_any(lines, fmt):
        return ""
    other = next((name for name in ("combined", "json") if name != fmt and _parses_any(lines, name)), "")
    which = "its first line is not" if len(lines) == 1 else f"none of its first {len(lines)} lines is"
    if other:
        return f"{which} in {fmt} format but in {other}: try --format {other}"
    return f"{which} an access-log line (binary data, or another kind of file?)"


def _parses_any(lines: list[str], fmt: str) -> bool:
    """Whether any of `lines` parses in `fmt`."""
    for line in lines:
        try:
            parser_for(fmt)(line)
        except LineError:
            continue
        return True
    return False


def parser_for(fmt: str) -> Any:
    """The line parser of a format name (combined and common share one parser)."""
    if fmt == "json":
        return parse_json
    if fmt in ("combined", "common"):
        return parse_clf
    raise ValueError(f"unknown log format {fmt!r} (choose from {', '.join(FORMATS)})")
