"""`sitelens web`: the dashboard in a browser behind a login; `sitelens web passwd NAME` makes a user's hash."""

from __future__ import annotations

import argparse
import getpass
import json
import shlex
import sys
from collections.abc import Callable

from collector.config import WEB_ROLES, Config
from collector.errors import UserError
from sitelens_tui.commands.tui import require_database


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("web", help="serve the dashboard to browsers, behind a sign-in ([web] in the config); "
                       "needs the `web` extra",
                       description="Without ACTION: serve the dashboard to browsers behind a sign-in, one app "
                       "process per tab, attached to the store a running collector writes.")
    p.add_argument("--host", help="listen address (default web.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default web.port, 8766)")
    actions = p.add_subparsers(dest="web_action", metavar="ACTION")
    pw = actions.add_parser("passwd", help="print a [[web.users]] entry with the password hash for NAME")
    pw.add_argument("name", metavar="NAME", help="the user's sign-in name")
    pw.add_argument("--role", choices=WEB_ROLES, default="viewer", help="viewer (default, read-only) or admin")
    pw.set_defaults(func=passwd)
    p.set_defaults(func=run)


def read_password(name: str) -> str:
    """The new password: asked twice on a terminal, else the first line of standard input (for scripts)."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != first:
            raise UserError("the two passwords differ")
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    if len(first) < 8:
        raise UserError("choose a password of at least 8 characters")
    return first


def user_entry(name: str, password_hash: str, role: str) -> str:
    """The TOML lines of one dashboard user (JSON strings are valid TOML basic strings)."""
    return (f"[[web.users]]\nname = {json.dumps(name)}\npassword_hash = {json.dumps(password_hash)}\n"
            f"role = {json.dumps(role)}\n")


def passwd(args: argparse.Namespace) -> int:
    from sitelens_tui.web.passwords import hash_password

    name = args.name.strip()
    if not name or any(not c.isprintable() for c in name):
        raise UserError("NAME must be printable and not empty")
    print(user_entry(name, hash_password(read_password(name)), args.role), end="")
    print("# add these lines to the config file, then restart `sitelens web`", file=sys.stderr)
    return 0


def tab_command(args: argparse.Namespace) -> Callable[[str], str]:
    """The shell command of one browser tab's app, by role: `sitelens tui` on the same config and store."""
    common: list[str] = []
    for flag, value in (("--config", args.config), ("--db", args.db), ("--store", args.store)):
        if value:
            common += [flag, value]
    base = [sys.executable, "-m", "sitelens_tui", *common, "tui", "--role"]
    return lambda role: "exec " + shlex.join([*base, role])  # textual-serve runs it through sh: no sh left over


def run(args: argparse.Namespace) -> int:
    cfg: Config = args.config_obj
    if args.host:
        cfg.web.host = args.host
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise UserError(f"--port must be 0-65535, got {args.port}")
        cfg.web.port = args.port
    if not cfg.web.users:
        raise UserError("no dashboard users: add [[web.users]] to the config (`sitelens web passwd NAME` prints one)")
    require_database(cfg)
    try:
        from aiohttp import web

        from sitelens_tui.web.server import DashboardServer
    except ImportError as exc:
        raise UserError(f"`sitelens web` needs the web extra: pip install 'sitelens[web]' ({exc})") from None
    from collector.app import ensure_admin_token
    from db.store import open_store
    from sitelens_tui.commands.collect import setup_logging

    setup_logging()
    store = open_store(cfg.store_url)
    try:
        token = ensure_admin_token(cfg, store)
    finally:
        store.close()
    server = DashboardServer(cfg, tab_command(args))
    server.admin_token = token
    url = cfg.web.public_url or f"http://{cfg.web.host}:{cfg.web.port}"
    print(f"sitelens web: dashboard on {url} for {len(cfg.web.users)} user(s), at most {cfg.web.max_sessions} tabs",
          flush=True)
    try:
        web.run_app(server.make_app(), host=cfg.web.host, port=cfg.web.port, print=None, access_log=None)
    except OSError as exc:
        raise UserError(f"cannot listen on {cfg.web.host}:{cfg.web.port}: {exc.strerror or exc} — choose another "
                        "--port") from None
    return 0
