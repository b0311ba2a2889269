"""`sitelens tui --db PATH`: the TUI attached to a database that a headless `sitelens collect` writes."""

from __future__ import annotations

import argparse

from collector.config import WEB_ROLES, Config
from db.errors import DatabaseError
from db.queries.common import RANGES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="terminal UI attached to the database of a running `sitelens collect`")
    add_range_option(p)
    p.add_argument("--role", choices=WEB_ROLES, default="admin",
                   help="admin (default) or viewer: read-only, no throttle overrides or funnel edits "
                   "(`sitelens web` starts each browser tab with its user's role)")
    p.set_defaults(func=run)


def add_range_option(p: argparse.ArgumentParser) -> None:
    """The initial range of the TUI (shared by `run` and `tui`)."""
    p.add_argument("--range", dest="range_name", default="24h", choices=RANGES, help="initial range (default 24h)")


def require_database(cfg: Config) -> None:
    """An attached UI needs the SQLite file a collector writes (ClickHouse stores are checked when opened)."""
    if cfg.store_url.engine == "sqlite" and not cfg.db_path.exists():
        raise DatabaseError(f"database not found: {cfg.db_path} (start `sitelens collect` first, or pass --db/--store)")


def run(args: argparse.Namespace) -> int:
    from sitelens_tui.app import build_app
    from sitelens_tui.logfile import log_to_file

    cfg = args.config_obj
    require_database(cfg)
    log_to_file()
    app = build_app(cfg, embedded=False, initial_range=args.range_name, role=args.role)
    app.run()
    return app.return_code or 0
