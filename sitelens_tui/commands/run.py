"""`sitelens run [--demo]`: the collector and the TUI in one process and one asyncio loop (the default command)."""

from __future__ import annotations

import argparse

from collector.errors import UserError
from sitelens_tui.commands.tui import add_range_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="collector + live terminal UI in one process (default command)")
    p.add_argument("--demo", action="store_true", help="feed the collector realistic synthetic traffic")
    p.add_argument("--rate", type=float, default=5.0, metavar="N", help="demo events per second (default 5)")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8765)")
    add_range_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sitelens_tui.app import build_app
    from sitelens_tui.logfile import log_to_file

    cfg = args.config_obj
    if args.host:
        cfg.server.host = args.host
    if args.port is not None:
        cfg.server.port = args.port
    if args.rate <= 0:
        raise UserError("--rate must be positive")
    log_to_file()
    if args.demo:
        # Demo visitors' addresses (X-Forwarded-For over loopback) and their countries (generated GeoIP file).
        from collector.demo.embedded import prepare_demo_config

        prepare_demo_config(cfg)
    app = build_app(cfg, embedded=True, demo=args.demo, demo_rate=args.rate, initial_range=args.range_name)
    app.run()
    return app.return_code or 0
