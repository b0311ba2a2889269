"""`sitelens collect`: the headless collector for systemd; SIGTERM/SIGINT flush everything and exit 0."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collector.config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="run the collector headless (for systemd), logging to stdout")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8765)")
    p.set_defaults(func=run)


def setup_logging() -> None:
    """One structured line per event on stdout (journald adds the timestamp)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("level=%(levelname)s logger=%(name)s msg=%(message)r"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def serve(cfg: Config, stop: asyncio.Event) -> None:
    """Run the collector until `stop` is set, then flush and close everything."""
    from aiohttp import web  # here, not at the top: every other command's start-up would pay for it

    from collector.app import create_app

    runner = web.AppRunner(create_app(cfg), handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, cfg.server.host, cfg.server.port)
        await site.start()
        logging.getLogger("sitelens.collector").info(
            "listening on http://%s:%d store=%s", cfg.server.host, cfg.server.port, cfg.store_url.display()
        )
        await stop.wait()
        logging.getLogger("sitelens.collector").info("stopping: flushing queued events")
    finally:
        await runner.cleanup()


async def _main(cfg: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(cfg, stop)


def run(args: argparse.Namespace) -> int:
    cfg = args.config_obj
    if args.host:
        cfg.server.host = args.host
    if args.port is not None:
        cfg.server.port = args.port
    setup_logging()
    try:
        asyncio.run(_main(cfg))
    except OSError as exc:
        print(
            f"sitelens: error: cannot listen on {cfg.server.host}:{cfg.server.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    return 0
