"""The collector running inside the TUI's event loop: AppRunner + TCPSite, never web.run_app."""

from __future__ import annotations

from aiohttp import web

from collector import keys
from collector.app import create_app
from collector.config import Config


class EmbeddedCollector:
    """Starts the collector's app in the running loop and stops it (flushing the writer) on demand."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.app = create_app(cfg)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Open storage, listen, and return the base URL actually bound (port 0 picks a free port)."""
        # handle_signals stays False: Textual owns the terminal and its signals.
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        self.runner = runner
        try:
            site = web.TCPSite(runner, self.cfg.server.host, self.cfg.server.port)
            await site.start()
        except BaseException:
            await self.stop()
            raise
        host, port = runner.addresses[0][:2]
        host = f"[{host}]" if ":" in str(host) else host
        self.url = f"http://{host}:{port}"
        return self.url

    @property
    def queue_depth(self) -> int:
        """Events accepted but not yet written."""
        writer = self.app.get(keys.WRITER)
        return 0 if writer is None else writer.queue_depth

    @property
    def problem(self) -> str:
        """Why the writer cannot write right now ('disk full', 'database read-only', ...), or ''."""
        writer = self.app.get(keys.WRITER)
        return "" if writer is None else writer.stats.problem

    async def stop(self) -> None:
        """Flush everything queued and close the collector; safe to call twice."""
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()
