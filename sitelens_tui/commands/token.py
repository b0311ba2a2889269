"""`sitelens token create|list|revoke`: ingest tokens for server-side events (POST /api/ingest)."""

from __future__ import annotations

import argparse
import re
import time

from collector.config import Config
from collector.errors import UserError
from db.store import open_store
from sitelens_tui.commands import add_id_argument, chosen_id

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="create, list or revoke ingest tokens for server-side events")
    actions = p.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    # Nested commands accept the common options too (SUPPRESS: given before ACTION, they are kept).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    create = actions.add_parser("create", parents=[common], help="create a token for a site (shown once)")
    create.add_argument("--site", required=True, help="the site the token may send events for")
    create.add_argument("--label", default="", help="what the token is for, shown by `token list`")
    create.set_defaults(func=run)

    ls = actions.add_parser("list", parents=[common], help="show working tokens (not the tokens themselves)")
    ls.add_argument("--all", action="store_true", help="include revoked tokens")
    ls.set_defaults(func=run)

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a token by id")
    add_id_argument(revoke, "token id from `token list`")
    revoke.set_defaults(func=run)


def _plain(text: str) -> str:
    """Outside text made safe for a terminal."""
    return _CONTROL_RE.sub("?", text)


def run(args: argparse.Namespace) -> int:
    cfg: Config = args.config_obj
    action = args.token_action
    conn = open_store(cfg.store_url, create=None if action == "create" else False)
    try:
        if action == "create":
            site = args.site.strip().lower()
            names = sorted(cfg.site_names)
            if not site:
                raise UserError("--site must not be empty")
            if names and site not in names:
                raise UserError(f"--site {site!r} is not a configured site (configured: {', '.join(names)})")
            token_id, token = conn.create_token(site, args.label)
            print(f"ingest token #{token_id} for {site} (shown only now, store it safely):")
            print(token)
        elif action == "list":
            rows = conn.list_tokens(include_revoked=args.all)
            if not rows:
                print("no ingest tokens (create one with `sitelens token create --site SITE`)")
            for row in rows:
                created = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created))
                state = "" if row.revoked is None else "  (revoked)"
                print(f"#{row.id}  {_plain(row.site)}  created {created}  {_plain(row.label)}{state}".rstrip())
        else:
            revoked = chosen_id(args)
            assert revoked is not None  # required: chosen_id raised otherwise
            if not conn.revoke_token(revoked):
                raise UserError(f"no working ingest token #{revoked} (see `sitelens token list`)")
            print(f"revoked ingest token #{revoked}")
    finally:
        conn.close()
    return 0
