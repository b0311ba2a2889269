"""GET /api/export: a chunked CSV/NDJSON stream of a table for admins, read off the event loop."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from aiohttp import web

from collector import keys
from collector.admin import is_admin, unauthorized
from collector.export.exporter import FUNNEL_COLUMNS, FUNNEL_TYPES, funnel_rows
from collector.export.formats import ExportError, make_writer
from collector.export.spans import parse_range
from collector.middlewares import json_error
from db.export.streams import BOTS, WHATS, ExportFilter, ExportQueryError
from db.store import Store

log = logging.getLogger("sitelens.export")

API_FORMATS = {"csv": "text/csv", "ndjson": "application/x-ndjson"}


def parse_export_query(query: dict[str, str], now: float) -> tuple[str, str, ExportFilter]:
    """(what, format, filter) from the query string; ValueError naming the bad parameter."""
    what = query.get("what", "events")
    if what not in WHATS:
        raise ValueError(f"what: unknown table {what[:40]!r} (choose from {', '.join(WHATS)})")
    fmt = query.get("format", "ndjson")
    if fmt not in API_FORMATS:
        raise ValueError(f"format: unknown format {fmt[:40]!r} (choose from {', '.join(API_FORMATS)})")
    bots = query.get("bots", "all")
    if bots not in BOTS:
        raise ValueError(f"bots: must be one of {', '.join(BOTS)}")
    site = query.get("site", "")
    if len(site) > 253:
        raise ValueError("site: too long")
    try:
        start, end = parse_range(query.get("range", "all"), now)
    except ExportError as exc:
        raise ValueError(f"range: {exc}") from None
    return what, fmt, ExportFilter(site=site, start=start, end=end, bots=bots)


class _Encoder:
    """Runs on a worker thread: reads the next chunk and encodes it; the event loop only sends bytes."""

    def __init__(
        self, store: Store, what: str, fmt: str, flt: ExportFilter, funnels: Sequence[Any]
    ) -> None:
        self.buffer = io.BytesIO()
        if what == "funnels":  # computed results, a handful of rows
            self.chunks: Iterator[list[Any]] = iter([funnel_rows(store, flt, funnels)])
            self.writer = make_writer(fmt, self.buffer, FUNNEL_COLUMNS, FUNNEL_TYPES)
        else:
            stream = store.stream_table(what, flt)
            self.chunks = stream.chunks
            self.writer = make_writer(fmt, self.buffer, stream.columns, stream.types)
        self.done = False

    def _drain(self) -> bytes:
        data = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return data

    def step(self) -> bytes:
        """The next piece of output (the header comes with the first chunk; b'' only at the very end)."""
        chunk = next(self.chunks, None)
        if chunk is None:
            self.writer.close()
            self.done = True
        else:
            self.writer.write(chunk)
        return self._drain()

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


async def get_export(request: web.Request) -> web.StreamResponse:
    """GET /api/export?what=&format=csv|ndjson&site=&range=&bots=: stream a table, admin token required."""
    if not is_admin(request):
        return unauthorized()
    try:
        what, fmt, flt = parse_export_query(dict(request.query), time.time())
    except ValueError as exc:
        return json_error(400, str(exc))
    cfg = request.app[keys.CONFIG]
    try:
        encoder = await asyncio.to_thread(_Encoder, request.app[keys.STORE], what, fmt, flt, cfg.funnels)
    except ExportQueryError as exc:
        return json_error(400, f"what: {exc}")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{API_FORMATS[fmt]}; charset=utf-8",
            "Content-Disposition": f'attachment; filename="sitelens-{what}-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        while not encoder.done:
            data = await asyncio.to_thread(encoder.step)
            if data:
                await response.write(data)
        await response.write_eof()
    finally:
        await asyncio.to_thread(encoder.close)
    return response


def setup_export_routes(app: web.Application) -> None:
    """Register GET /api/export and check the scheduled export's destinations (a bad one stops start-up)."""
    from collector.export.scheduled import setup_scheduled_export

    app.router.add_get("/api/export", get_export)
    setup_scheduled_export(app)
