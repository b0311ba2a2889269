"""Leases through the store: when several collectors share one store, one of them does a shared job at a time
(judging anomalies: two would open every anomaly twice). A lease is a setting "holder|expiry"; the last writer
wins, and a holder that stops renewing it loses it when it expires."""

from __future__ import annotations

import os
import socket
import uuid

from db.store import Store

COLLECTOR_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
"""This collector process, as leases name it."""


def parse_lease(value: str | None) -> tuple[str, float]:
    """(holder, expiry) of a stored lease; ("", 0) when there is none or it cannot be read."""
    holder, _, expires = (value or "").rpartition("|")
    try:
        return holder, float(expires)
    except ValueError:
        return "", 0.0


def hold_lease(store: Store, name: str, now: float, ttl_s: float, me: str = COLLECTOR_ID) -> bool:
    """Take or renew lease `name` unless another holder's is still valid; whether this process holds it now."""
    holder, expires = parse_lease(store.get_setting(f"lease:{name}"))
    if holder and holder != me and expires > now:
        return False
    store.set_setting(f"lease:{name}", f"{me}|{now + ttl_s}")
    return parse_lease(store.get_setting(f"lease:{name}"))[0] == me
