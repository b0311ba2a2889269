"""A tiny MaxMind DB (.mmdb) writer, so the demo shows visitors' countries without downloading a GeoIP file.

The file follows the MaxMind DB format 2.0 (https://maxmind.github.io/MaxMind-DB/): a binary search tree over
address bits, 16 zero bytes, a data section of records, then a metadata map after a marker. The tree is an IPv6
one with IPv4 under ::/96, as in real GeoLite2 files; each record is a flat {"country_code": "DE"} map, one of
the shapes `collector.enrich.geo.GeoLookup` reads. It is demo data, generated at run time and never shipped.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from collector.config import Config
from collector.demo.catalog import COUNTRIES

DEMO_GEOIP_NAME: Final = "sitelens-demo-geoip.mmdb"
DATABASE_TYPE: Final = "SiteLens-Demo-Country"

log = logging.getLogger("sitelens.demo")

_RECORD_BITS: Final = 24  # each tree record is 3 bytes; enough for ~16 M nodes + data, far beyond demo needs
_DATA_SEPARATOR: Final = b"\x00" * 16
_METADATA_MARKER: Final = b"\xab\xcd\xefMaxMind.com"

# Data-section type numbers (format spec, "Output Data Section"); types above 7 are "extended".
_STRING, _UINT16, _UINT32, _MAP, _UINT64, _ARRAY = 2, 5, 6, 7, 9, 11

# A tree record while building: a child node's index, None for "no data", or a country code (resolved on output).
_Record = int | str | None


def _control(kind: int, size: int) -> bytes:
    """The control byte(s) starting a data field: type in the top 3 bits, size (with extra bytes) below."""
    if size < 29:
        first, extra = size, b""
    elif size < 285:
        first, extra = 29, bytes([size - 29])
    elif size < 65_821:
        first, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        first, extra = 31, (size - 65_821).to_bytes(3, "big")
    if kind <= 7:
        return bytes([kind << 5 | first]) + extra
    return bytes([first, kind - 7]) + extra  # extended type: type byte 0, then (type - 7)


def _string(text: str) -> bytes:
    """A UTF-8 string field."""
    raw = text.encode("utf-8")
    return _control(_STRING, len(raw)) + raw


def _uint(kind: int, value: int) -> bytes:
    """An unsigned integer of an explicit type (libmaxminddb checks metadata types), minimal big-endian bytes."""
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return _control(kind, len(raw)) + raw


def _map(pairs: Mapping[str, bytes]) -> bytes:
    """A map of already-encoded values."""
    return _control(_MAP, len(pairs)) + b"".join(_string(k) + v for k, v in pairs.items())


def _bits(cidr: str) -> tuple[int, int]:
    """(address as 128 bits, prefix length in the IPv6 tree) of a network; IPv4 lives under ::/96."""
    net = ipaddress.ip_network(cidr, strict=True)  # host bits set is a typo, not a network: refuse it
    if net.version == 4:
        return int(net.network_address), 96 + net.prefixlen
    if net.prefixlen == 0:
        raise ValueError(f"network {cidr} covers every address; give a narrower one")
    return int(net.network_address), net.prefixlen


def _build_tree(ranges: Mapping[str, str]) -> list[list[_Record]]:
    """The search tree as [left, right] records per node, node 0 the root; more specific networks win."""
    nodes: list[list[_Record]] = [[None, None]]
    # Shorter prefixes first: a longer one inserted later splits the leaf it falls in and overrides its part.
    for address, depth, code in sorted(((*_bits(c), cc) for c, cc in ranges.items()), key=lambda t: t[1]):
        node = 0
        for i in range(depth - 1):
            bit = (address >> (127 - i)) & 1
            child = nodes[node][bit]
            if not isinstance(child, int):  # empty or a country: becomes a node inheriting it on both sides
                nodes.append([child, child])
                child = nodes[node][bit] = len(nodes) - 1
            node = child
        nodes[node][(address >> (128 - depth)) & 1] = code
    return nodes


def mmdb_bytes(ranges: Mapping[str, str], *, build_epoch: int | None = None) -> bytes:
    """A complete .mmdb file mapping each CIDR ("73.0.0.0/8") to {"country_code": "US"}."""
    for cidr, code in ranges.items():
        if not (isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha()):
            raise ValueError(f"country code of {cidr} must be two letters (ISO 3166-1), got {code!r}")
    nodes = _build_tree({cidr: code.upper() for cidr, code in ranges.items()})
    node_count = len(nodes)

    data = bytearray()
    offsets: dict[str, int] = {}
    for code in sorted({c.upper() for c in ranges.values()}):
        offsets[code] = len(data)
        data += _map({"country_code": _string(code)})

    def value(record: _Record) -> int:
        """Record value: a node index, node_count for "no data", or node_count + 16 + data offset."""
        if record is None:
            return node_count
        if isinstance(record, int):
            return record
        return node_count + len(_DATA_SEPARATOR) + offsets[record]

    if node_count + len(_DATA_SEPARATOR) + len(data) >= 1 << _RECORD_BITS:
        raise ValueError("too many networks for a 24-bit record database")
    tree = b"".join(value(left).to_bytes(3, "big") + value(right).to_bytes(3, "big") for left, right in nodes)

    metadata = _map(
        {
            "binary_format_major_version": _uint(_UINT16, 2),
            "binary_format_minor_version": _uint(_UINT16, 0),
            "build_epoch": _uint(_UINT64, int(time.time()) if build_epoch is None else build_epoch),
            "database_type": _string(DATABASE_TYPE),
            "description": _map({"en": _string("SiteLens demo countries (generated, not real GeoIP data)")}),
            "ip_version": _uint(_UINT16, 6),
            "languages": _control(_ARRAY, 1) + _string("en"),
            "node_count": _uint(_UINT32, node_count),
            "record_size": _uint(_UINT16, _RECORD_BITS),
        }
    )
    return tree + _DATA_SEPARATOR + bytes(data) + _METADATA_MARKER + metadata


def write_country_mmdb(path: str | os.PathLike[str], ranges: Mapping[str, str]) -> None:
    """Write a country database for {cidr: country code}; replaced atomically, so a reader never sees half a file."""
    content = mmdb_bytes(ranges)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A running collector may have the old file memory-mapped: write aside, then rename over it.
    fd, tmp = tempfile.mkstemp(prefix=".geoip-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def demo_ranges() -> dict[str, str]:
    """{cidr: country code} of every address block the demo's visitors come from."""
    return {network: country.code for country in COUNTRIES for network in country.networks}


def demo_geoip_path(directory: str | os.PathLike[str]) -> Path:
    """Write the demo catalog's country database into `directory` and return its path."""
    path = Path(directory) / DEMO_GEOIP_NAME
    write_country_mmdb(path, demo_ranges())
    return path


def use_demo_geoip(cfg: Config) -> None:
    """Point a demo collector without a configured geoip.path at a generated database next to its SQLite file.

    A user's own database always wins. Failing to write the file only costs the countries, so it is logged and
    the demo goes on.
    """
    if cfg.geoip.path:
        return
    try:
        cfg.geoip.path = str(demo_geoip_path(cfg.db_path.parent))
    except OSError as exc:
        log.warning("demo countries unavailable: cannot write %s: %s", cfg.db_path.parent / DEMO_GEOIP_NAME, exc)
