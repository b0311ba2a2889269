"""`sitelens throttle list|set|clear`: manual throttle overrides, which a running collector obeys in 2 s."""

from __future__ import annotations

import argparse
import re
import time

from collector.errors import UserError
from db.queries.throttle import (
    LEVELS,
    OverrideError,
    OverrideRow,
)
from db.store import open_store
from sitelens_tui.commands import add_id_argument, chosen_id

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_duration(text: str) -> float:
    """Seconds in `90s`, `30m`, `1h`, `2d` or `1w`."""
    m = _DURATION_RE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"bad duration {text!r}: use a number and a unit, e.g. 30m, 1h, 2d")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("throttle", help="list, set or clear manual throttle overrides")
    actions = p.add_subparsers(dest="throttle_action", metavar="ACTION", required=True)

    ls = actions.add_parser("list", help="show active overrides")
    ls.set_defaults(func=run)

    st = actions.add_parser("set", help="throttle or block a fingerprint, IP or network")
    target = st.add_mutually_exclusive_group(required=True)
    target.add_argument("--fingerprint", metavar="F", help="fingerprint as shown in the TUI")
    target.add_argument("--ip", metavar="ADDR", help="client IP address")
    target.add_argument("--cidr", metavar="NET", help="network, e.g. 203.0.113.0/24")
    st.add_argument("--level", required=True, choices=LEVELS, type=str.lower)
    st.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 30m, 1h, 2d (default: until cleared)")
    st.add_argument("--reason", default="", help="why, shown in the TUI")
    st.set_defaults(func=run)

    cl = actions.add_parser("clear", help="remove an override: by ID or --target")
    add_id_argument(cl, "override id from `throttle list`", required=False)
    cl.add_argument("--target", metavar="T", help="the fingerprint, IP or network it was set on (instead of ID)")
    cl.set_defaults(func=run)


def _plain(text: str, width: int = 0) -> str:
    """Outside text made safe for a terminal (control characters replaced), optionally cut to a width."""
    text = _CONTROL_RE.sub("?", text)
    return text if not width or len(text) <= width else text[: width - 1] + "…"


def _when(expires: float | None, now: float) -> str:
    """Expiry as local time plus what is left."""
    if expires is None:
        return "never"
    left = max(0, int(expires - now))
    span = (
        f"{left // 86400}d{left % 86400 // 3600}h"
        if left >= 86400
        else (f"{left // 3600}h{left % 3600 // 60:02d}m" if left >= 3600 else f"{left // 60}m{left % 60:02d}s")
    )
    return f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(expires))} (in {span})"


def format_table(rows: list[OverrideRow], now: float) -> str:
    """Active overrides as an aligned text table."""
    if not rows:
        return "no active throttle overrides"
    header = ("ID", "KIND", "TARGET", "LEVEL", "EXPIRES", "REASON")
    body = [
        (str(r.id), r.kind, _plain(r.target, 40), r.level, _when(r.expires, now), _plain(r.reason, 60)) for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *body]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    now = time.time()
    action = args.throttle_action
    conn = open_store(args.config_obj.store_url, create=None if action == "set" else False)
    try:
        if action == "list":
            print(format_table(conn.active_overrides(now), now))
        elif action == "set":
            choices = (("fingerprint", args.fingerprint), ("ip", args.ip), ("cidr", args.cidr))
            kind, target = next((k, v) for k, v in choices if v is not None)
            expires = now + parse_duration(args.duration) if args.duration else None
            try:
                new_id = conn.set_override(kind, target, args.level, args.reason, expires, now=now)
            except OverrideError as exc:
                raise UserError(str(exc)) from None
            row = next(r for r in conn.active_overrides(now) if r.id == new_id)
            until = _when(expires, now)
            print(f"override #{new_id}: {row.kind} {_plain(row.target)} → {row.level}, expires {until}")
        else:
            override_id = chosen_id(args)
            if (override_id is None) == (args.target is None):
                raise UserError("throttle clear: give the override ID or --target, not both")
            which = override_id if override_id is not None else args.target
            if not conn.clear_override(which, now=now):
                shown = f"#{override_id}" if override_id is not None else repr(_plain(str(args.target)))
                raise UserError(f"no active override {shown}")
            print("override cleared")
    finally:
        conn.close()
    return 0
