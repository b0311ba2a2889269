"""`sitelens check`: validate config, database and GeoIP files; say what is wrong and how to fix it."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable

from collector.config import Config
from collector.enrich.geo import AsnLookup, GeoLookup
from collector.errors import UserError
from db.errors import DatabaseError
from db.store import open_store


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate config, store (database) and GeoIP files and print how to fix problems")
    p.add_argument("--create", action="store_true", help="create the ClickHouse database when it does not exist")
    p.set_defaults(func=run, create=False)


def check_database(cfg: Config, create: bool = False) -> str:
    """The store opens (reachable, credentials, database), migrates to the newest schema and checks out."""
    store = open_store(cfg.store_url, create=create or None)
    try:
        return store.check()
    finally:
        store.close()


def check_geoip(cfg: Config) -> str:
    if not cfg.geoip.path:
        return "not configured (countries stay empty; set geoip.path to a GeoLite2/DB-IP .mmdb)"
    GeoLookup(cfg.geoip.path).close()
    return cfg.geoip.path


def check_asn(cfg: Config) -> str:
    if not cfg.geoip.asn_path:
        return "not configured (optional: geoip.asn_path flags datacenter traffic)"
    AsnLookup(cfg.geoip.asn_path).close()
    return cfg.geoip.asn_path


def check_listen(cfg: Config) -> str:
    """The listen address can be bound (fails when another collector already runs there)."""
    with socket.socket(socket.AF_INET6 if ":" in cfg.server.host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((cfg.server.host, cfg.server.port))
        except OSError as exc:
            raise UserError(f"cannot listen on {cfg.server.host}:{cfg.server.port}: {exc.strerror} — is a collector "
                           "already running? choose another --port") from None
    return f"{cfg.server.host}:{cfg.server.port} is free"


def check_web(cfg: Config) -> str:
    """Dashboard users configured; when `sitelens web` runs, its open tabs and their users (from its /healthz)."""
    import json
    import urllib.error
    import urllib.request

    from collector.app import ensure_admin_token

    web = cfg.web
    if not web.users:
        return "no [[web.users]]: `sitelens web` will not start (`sitelens web passwd NAME` prints one)"
    admins = sum(u.role == "admin" for u in web.users)
    users = f"{len(web.users)} user(s), {admins} admin(s)"
    host = "127.0.0.1" if web.host in ("", "0.0.0.0") else web.host
    store = open_store(cfg.store_url)
    try:
        token = ensure_admin_token(cfg, store)
    finally:
        store.close()
    request = urllib.request.Request(f"http://{host}:{web.port}/healthz", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=3) as resp:
            health = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise UserError(f"{host}:{web.port} answers /healthz with {exc.code}: is it `sitelens web` "
                        "with this config?") from None
    except OSError:
        return f"{users}; not running on {host}:{web.port}"
    open_users = ", ".join(health["users"]) or "nobody"
    return f"{users}; running on {host}:{web.port} with {health['tabs']} of {health['max_tabs']} tabs open " \
           f"({open_users}), {health['failed_logins']} refused sign-in(s)"


def run(args: argparse.Namespace) -> int:
    cfg: Config = args.config_obj
    print(f"config: {cfg.source or 'defaults (no config file)'}")
    checks: list[tuple[str, Callable[[Config], str]]] = [
        ("store", lambda c: check_database(c, args.create)),
        ("geoip", check_geoip),
        ("asn", check_asn),
        ("listen", check_listen),
        ("web", check_web),
    ]
    failed = 0
    for name, fn in checks:
        try:
            print(f"  ok   {name}: {fn(cfg)}")
        except (DatabaseError, UserError) as exc:
            failed += 1
            print(f"  FAIL {name}: {exc}")
    if not cfg.sites:
        print("  note sites: none configured — events for any site are accepted from any origin")
    if not cfg.auth.admin_token:
        print("  note auth: no admin token configured — one is generated at first start and logged once")
    print("all checks passed" if not failed else f"{failed} check(s) failed", file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0
