"""What /api/event and /api/ingest share: a capped JSON body of one event or a bounded array, handled one by one."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web

from collector.decompress import BodyDecoder, BodyEncodingError, BodyTooLarge, UnsupportedEncoding, encoding_of
from collector.middlewares import json_error, json_response
from collector.validation import EventError, type_name
from db.writer import QueueFull, Writer


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, decoded when compressed: 413 past `limit` bytes (on the wire or once inflated, checked
    while inflating), 415 for an unsupported Content-Encoding, 400 for a malformed compressed stream."""
    try:
        encoding = encoding_of(request.headers.get("Content-Encoding", ""))
    except UnsupportedEncoding as exc:
        raise web.HTTPUnsupportedMediaType(text=str(exc)) from None
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    decoder = BodyDecoder(encoding, limit) if encoding else None
    content = request.content
    try:
        if content.is_eof():
            # The whole body already arrived (a small one, as events are): take it as is, without the
            # chunk-by-chunk read loop; large or slow bodies are read piece by piece.
            body = content.read_nowait()
            if len(body) > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
            if decoder is None:
                return body
            decoder.feed(body)
            return decoder.finish()
        parts: list[bytes] = []
        received = 0
        while chunk := await content.readany():
            received += len(chunk)
            if received > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=received)
            if decoder is None:
                parts.append(chunk)
            else:
                decoder.feed(chunk)  # inflated as it arrives: a bomb stops at the limit, not at the end
        return decoder.finish() if decoder is not None else b"".join(parts)
    except BodyTooLarge as exc:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, text=str(exc)) from None
    except BodyEncodingError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


def decode_json(body: bytes) -> object:
    """Parse a JSON body, with a message a developer can act on."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not body.strip():  # looked at only on failure: copying every good body to strip it costs
            raise EventError("empty body: expected a JSON object or array of events") from None
        if isinstance(exc.__cause__, UnicodeDecodeError) or "utf-8" in str(exc).lower():
            raise EventError("body is not valid UTF-8") from None
        raise EventError(f"malformed JSON: {exc}") from None


def batch_items(payload: object, limit: int) -> list[object]:
    """The events of a JSON body: one object, or an array of 1..limit items."""
    if isinstance(payload, list):
        if not payload:
            raise EventError("empty batch: expected at least one event")
        if len(payload) > limit:
            raise EventError(f"batch too large: at most {limit} events, got {len(payload)}")
        return payload
    if isinstance(payload, dict):
        return [payload]
    raise EventError(f"expected a JSON object or array of events, got {type_name(payload)}")


def queue_full(writer: Writer, count: int, headers: dict[str, str]) -> web.Response | None:
    """503 (and the drop counted) when the writer has no room for `count` more events, else None."""
    if writer.has_room(count):
        return None
    writer.stats.rejected_full += count
    return json_error(503, "collector busy: queue full, retry later", headers={**headers, "Retry-After": "1"})


def process_batch(items: list[object], handle: Callable[[object], None], headers: dict[str, str]) -> web.Response:
    """Run `handle` on every item; bad items are reported by index and never cost the good ones."""
    errors: list[dict[str, object]] = []
    accepted = 0
    for index, item in enumerate(items):
        try:
            handle(item)
            accepted += 1
        except EventError as exc:
            errors.append({"index": index, "error": str(exc)})
        except QueueFull:
            errors.append({"index": index, "error": "queue full"})
    if accepted == 0:
        status = 503 if all(e["error"] == "queue full" for e in errors) else 400
        message = str(errors[0]["error"]) if len(errors) == 1 else f"all {len(errors)} events rejected"
        return json_response({"error": message, "rejected": errors}, status=status, headers=headers)
    result: dict[str, object] = {"accepted": accepted}
    if errors:
        result["rejected"] = errors
    return json_response(result, status=202, headers=headers)
