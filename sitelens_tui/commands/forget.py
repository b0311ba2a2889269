"""`sitelens forget --visitor ID | --ip ADDR`: erase a visitor's events and sessions (right to erasure)."""

from __future__ import annotations

import argparse
import ipaddress
import time

from collector.errors import UserError
from collector.salts import keyed_hash
from db.store import Store, open_store

RECENT_S = 2 * 86400
NO_STORED_IPS = (
    "IPs are not stored (privacy.store_ip is off), so an IP can only be matched to visits from today and "
    "yesterday, by recomputing visitor ids with the daily salts still kept; older visits cannot be linked "
    "to an IP by anyone"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forget", help="erase a visitor's events and sessions (right to erasure)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--visitor", metavar="ID", help="a visitor id as shown in the TUI or an export")
    who.add_argument("--ip", metavar="ADDR", help="every visitor seen from this IP address (see the help on limits)")
    p.add_argument("--dry-run", action="store_true", help="only show what would be erased")
    p.set_defaults(func=run)


def visitor_ids_for_ip(conn: Store, ip: str, now: float) -> set[str]:
    """Visitor ids this IP had: stored IPs, plus ids recomputed from kept salts over recent sessions' UAs."""
    found = conn.visitor_ids_with_ip(ip)
    candidates = [
        keyed_hash(salt, site, ip, ua)
        for salt in conn.known_salts()
        for site, ua in conn.recent_site_uas(now - RECENT_S)
    ]
    return found | conn.existing_visitor_ids(candidates)


def run(args: argparse.Namespace) -> int:
    conn = open_store(args.config_obj.store_url, create=False)
    try:
        ip = ""
        if args.ip is not None:
            try:
                ip = str(ipaddress.ip_address(args.ip.strip()))
            except ValueError:
                raise UserError(f"--ip: {args.ip!r} is not an IP address") from None
            visitors = visitor_ids_for_ip(conn, ip, time.time())
        else:
            visitor = args.visitor.strip()
            if not visitor or len(visitor) > 200:
                raise UserError("--visitor: give a visitor id (as shown in the TUI or an export)")
            visitors = {visitor}
        ips_stored = conn.stored_ip_count() > 0
        if args.dry_run:
            print(f"would erase {len(visitors)} visitor id(s): {', '.join(sorted(visitors)) or '-'}")
            return 0
        erased = conn.erase_visitors(visitors, ip=ip if ips_stored else "")
    finally:
        conn.close()
    print(
        f"erased {erased.events:,} events, {erased.sessions:,} sessions and "
        f"{erased.fingerprints:,} fingerprint "
        f"record(s) of {len(erased.visitors)} visitor id(s)"
        + (f": {', '.join(erased.visitors)}" if erased.visitors else "")
    )
    if ip and not ips_stored:
        print(f"note: {NO_STORED_IPS}")
    if not erased.events and not erased.sessions:
        print("nothing matched; exported files and backups made earlier are not touched by this command")
    return 0
