"""The client's IP address: the socket peer, unless that peer is a trusted reverse proxy."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


Ranges = tuple[tuple[int, int, int], ...]
"""Networks as (IP version, network address, netmask) integers, for a membership test without `ipaddress`."""


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The reverse proxies whose forwarding headers are believed, prepared once for a per-request test."""

    networks: tuple[Network, ...]
    hosts: frozenset[str]
    """Proxies configured as single addresses, as text: the usual case is one exact string match."""
    ranges: Ranges

    def __contains__(self, peer: object) -> bool:
        """Is `peer` (an address as text) inside one of the networks? Uncached, so an unbounded stream of client
        addresses costs the same per request (an LRU smaller than the set of clients would miss every time)."""
        if not isinstance(peer, str):
            return False
        if peer in self.hosts:
            return True
        family, version = (socket.AF_INET6, 6) if ":" in peer else (socket.AF_INET, 4)
        try:
            value = int.from_bytes(socket.inet_pton(family, peer), "big")
        except OSError:  # scoped IPv6 (fe80::1%eth0), or not an address: the general parser decides
            try:
                addr = ipaddress.ip_address(peer)
            except ValueError:
                return False
            return any(addr in net for net in self.networks)
        for v, net, mask in self.ranges:
            if v == version and value & mask == net:
                return True
        return False


def parse_networks(specs: Sequence[str]) -> TrustedProxies:
    """Trusted proxy specs (IPs or CIDRs) as networks."""
    networks = tuple(ipaddress.ip_network(s, strict=False) for s in specs)
    return TrustedProxies(
        networks,
        frozenset(str(n.network_address) for n in networks if n.num_addresses == 1),
        tuple((n.version, int(n.network_address), int(n.netmask)) for n in networks),
    )


@lru_cache(maxsize=16384)
def _valid_ip(value: str) -> str:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


def client_ip(peer: str | None, headers: Mapping[str, str], proxies: TrustedProxies) -> str:
    """Walk X-Forwarded-For from the right past trusted proxies; fall back to X-Real-IP, then the peer."""
    peer = peer or ""
    if not proxies.networks or peer not in proxies:
        return peer
    forwarded = headers.get("X-Forwarded-For")
    if forwarded:
        if "," in forwarded:
            hops = [h for h in (p.strip() for p in forwarded.split(",")) if h]
        else:  # one hop, the usual case behind one proxy
            hop = forwarded.strip()
            hops = [hop] if hop else []
        for hop in reversed(hops):
            ip = _valid_ip(hop)
            if not ip:
                break
            if ip not in proxies:
                return ip
        if hops and (first := _valid_ip(hops[0])):
            return first
    real = headers.get("X-Real-IP")
    if real and (ip := _valid_ip(real)):
        return ip
    return peer
