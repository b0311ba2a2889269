"""The client's IP address: the socket peer, unless that peer is a trusted reverse proxy."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(specs: Sequence[str]) -> tuple[Network, ...]:
    """Trusted proxy specs (IPs or CIDRs) as networks."""
    return tuple(ipaddress.ip_network(s, strict=False) for s in specs)


Ranges = tuple[tuple[int, int, int], ...]
"""Networks as (IP version, network address, netmask) integers, for a membership test without `ipaddress`."""

_compiled_memo: dict[int, tuple[tuple[Network, ...], frozenset[str], Ranges]] = {}


def _compiled(networks: tuple[Network, ...]) -> tuple[frozenset[str], Ranges]:
    """The networks' single addresses as text and all of them as integer ranges, memoised by identity
    (the app parses its trusted proxies once)."""
    memo = _compiled_memo.get(id(networks))
    if memo is not None and memo[0] is networks:
        return memo[1], memo[2]
    hosts = frozenset(str(n.network_address) for n in networks if n.num_addresses == 1)
    ranges = tuple((n.version, int(n.network_address), int(n.netmask)) for n in networks)
    if len(_compiled_memo) > 64:
        _compiled_memo.clear()
    _compiled_memo[id(networks)] = (networks, hosts, ranges)
    return hosts, ranges


def _trusted(peer: str, networks: tuple[Network, ...], hosts: frozenset[str], ranges: Ranges) -> bool:
    """Is `peer` inside one of the networks (`hosts` and `ranges` from `_compiled`)? Uncached, so an unbounded
    stream of client addresses costs the same per request (an LRU smaller than the set of clients would miss
    every time)."""
    if peer in hosts:  # a proxy configured by its address, written as the socket writes it
        return True
    family, version = (socket.AF_INET6, 6) if ":" in peer else (socket.AF_INET, 4)
    try:
        value = int.from_bytes(socket.inet_pton(family, peer), "big")
    except OSError:  # scoped IPv6 (fe80::1%eth0), or not an address: the general parser decides
        try:
            addr = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(addr in net for net in networks)
    for v, net, mask in ranges:
        if v == version and value & mask == net:
            return True
    return False


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


def client_ip(peer: str | None, headers: Mapping[str, str], networks: tuple[Network, ...]) -> str:
    """Walk X-Forwarded-For from the right past trusted proxies; fall back to X-Real-IP, then the peer."""
    peer = peer or ""
    if not networks:
        return peer
    hosts, ranges = _compiled(networks)
    if not _trusted(peer, networks, hosts, ranges):
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
            if not _trusted(ip, networks, hosts, ranges):
                return ip
        if hops and (first := _valid_ip(hops[0])):
            return first
    real = headers.get("X-Real-IP")
    if real and (ip := _valid_ip(real)):
        return ip
    return peer
