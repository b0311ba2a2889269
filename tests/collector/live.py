"""A real collector on 127.0.0.1 (port 0) in its own thread and event loop, for synchronous property tests."""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from collector import keys
from collector.app import create_app
from collector.config import Config


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


@dataclass
class LiveCollector:
    """A running collector: its URL, loop and app, and a plain HTTP client for it."""

    cfg: Config
    port: int
    loop: asyncio.AbstractEventLoop
    app: web.Application

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Answer:
        """One request on a fresh connection (raw bytes and headers exactly as given)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers.get_content_type(), resp.read())
        finally:
            conn.close()

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the collector's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def flush(self) -> None:
        """Wait until everything the writer queued is committed."""
        self.call(self.app[keys.WRITER].flush())


@contextmanager
def live_collector(cfg: Config) -> Iterator[LiveCollector]:
    """Start create_app(cfg) behind AppRunner/TCPSite on 127.0.0.1:0 in a thread; stop it on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-collector", daemon=True)
    thread.start()
    app = create_app(cfg)
    runner = web.AppRunner(app, access_log=None)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner.addresses[0][1]

    try:
        port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
        yield LiveCollector(cfg, port, loop, app)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
