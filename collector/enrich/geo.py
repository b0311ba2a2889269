"""GeoIP and ASN lookups from a user-supplied MaxMind-format (.mmdb) file, cached per IP."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import maxminddb
from maxminddb.errors import InvalidDatabaseError

from collector.errors import UserError

# Longest textual IP is an IPv4-mapped IPv6 address (45 chars); anything longer is junk, not a cache key.
_MAX_IP_LENGTH: Final = 45
_MAX_NAME_LENGTH: Final = 100
_DOWNLOAD_HINT: Final = (
    "download a GeoLite2-City/GeoLite2-Country .mmdb (maxmind.com) or a DB-IP Lite .mmdb (db-ip.com)"
)
_ASN_HINT: Final = "download GeoLite2-ASN.mmdb (maxmind.com) or DB-IP ASN Lite (db-ip.com)"


class GeoError(UserError):
    """A GeoIP/ASN database could not be opened; the message names the file and the fix."""


@dataclass(slots=True, frozen=True)
class GeoInfo:
    """Where an IP address is, as far as the database knows ("" when unknown)."""

    country: str
    region: str
    city: str


EMPTY_GEO: Final = GeoInfo("", "", "")
_NO_ASN: Final[tuple[int | None, str]] = (None, "")


def _open(path: str | os.PathLike[str], setting: str, hint: str) -> maxminddb.Reader:
    """Open an .mmdb file, turning every failure into a GeoError that says what to do."""
    shown = os.fspath(path)
    fix = f"{hint} and set {setting} to its path, or unset {setting}"
    if not os.path.exists(shown):
        raise GeoError(f"GeoIP database not found: {shown} — {fix}")
    if os.path.isdir(shown):
        raise GeoError(f"GeoIP database path is a directory, not a file: {shown} — {fix}")
    try:
        return maxminddb.open_database(shown, maxminddb.MODE_AUTO)
    except PermissionError as exc:
        raise GeoError(
            f"GeoIP database is not readable: {shown} ({exc.strerror}) — "
            f"let the SiteLens user read it, or unset {setting}"
        ) from exc
    except (InvalidDatabaseError, ValueError, OSError) as exc:
        raise GeoError(f"GeoIP database is not a valid MaxMind .mmdb file: {shown} — {fix}") from exc


def _normalise_ip(ip: str) -> str:
    """Strip an IPv4-mapped IPv6 prefix (dual-stack sockets report "::ffff:1.2.3.4")."""
    if ip[:7].lower() == "::ffff:" and "." in ip:
        return ip[7:]
    return ip


class _MmdbFile:
    """Shared open/lookup/close handling for one .mmdb file; absent path means "no data"."""

    def __init__(self, path: str | os.PathLike[str] | None, setting: str, hint: str) -> None:
        self.path = os.fspath(path) if path is not None else None
        self._reader: maxminddb.Reader | None = None
        if path is not None:
            self._reader = _open(path, setting, hint)

    @property
    def database_type(self) -> str:
        """The database's own type name ("GeoLite2-City", "DBIP-City-Lite", …), "" without a file."""
        if self._reader is None:
            return ""
        return str(self._reader.metadata().database_type)

    def _record(self, ip: str) -> Any:
        """Raw record for an IP, or None for bad/private/unknown addresses."""
        reader = self._reader
        if reader is None or not ip or len(ip) > _MAX_IP_LENGTH:
            return None
        try:
            return reader.get(_normalise_ip(ip))
        except (ValueError, TypeError):
            # Malformed text, IPv6 against an IPv4-only file, or a closed reader.
            return None

    def close(self) -> None:
        """Release the file (memory map); later lookups return empty results."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()


def _name(node: Any) -> str:
    """English (else any) name from a {"names": {...}} node, or the node itself when it is a string."""
    if isinstance(node, str):
        return node[:_MAX_NAME_LENGTH]
    if isinstance(node, dict):
        names = node.get("names")
        if isinstance(names, dict) and names:
            value = names.get("en")
            if not isinstance(value, str):
                value = next((v for v in names.values() if isinstance(v, str)), "")
            return value[:_MAX_NAME_LENGTH]
        value = node.get("name")
        if isinstance(value, str):
            return value[:_MAX_NAME_LENGTH]
    return ""


def _country(record: dict[str, Any]) -> str:
    """ISO country code from GeoLite2/DB-IP nested records or flat country_code/country strings."""
    for key in ("country", "registered_country"):
        node = record.get(key)
        if isinstance(node, dict):
            code = node.get("iso_code")
            if isinstance(code, str) and code:
                return code.upper()[:8]
        elif isinstance(node, str) and node:
            return node.upper()[:8]
    for key in ("country_code", "iso_code", "countryCode"):
        code = record.get(key)
        if isinstance(code, str) and code:
            return code.upper()[:8]
    return ""


def _region(record: dict[str, Any]) -> str:
    """First-level subdivision name (state, region) from nested or flat records."""
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions:
        return _name(subdivisions[0])
    for key in ("region", "subdivision", "state"):
        value = record.get(key)
        if value:
            return _name(value)
    return ""


def geo_from_record(record: Any) -> GeoInfo:
    """GeoInfo from any supported record shape (pure; exposed for tests and importers)."""
    if isinstance(record, str):
        return GeoInfo(record.upper()[:8], "", "") if record else EMPTY_GEO
    if not isinstance(record, dict):
        return EMPTY_GEO
    country = _country(record)
    region = _region(record)
    city = _name(record.get("city"))
    if not (country or region or city):
        return EMPTY_GEO
    return GeoInfo(country, region, city)


class GeoLookup(_MmdbFile):
    """IP → country/region/city from a GeoLite2 City/Country, DB-IP Lite or flat country .mmdb."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        cache_size: int = 16384,
        setting: str = "geoip.path",
    ) -> None:
        super().__init__(path, setting, _DOWNLOAD_HINT)
        self._cached = lru_cache(maxsize=cache_size)(self._lookup)
        kind = self.database_type.upper()
        # ipinfo's "country_asn" files carry both, so only a pure ASN file is refused.
        if "ASN" in kind and "COUNTRY" not in kind and "CITY" not in kind:
            shown = self.path
            self.close()
            raise GeoError(
                f"GeoIP database {shown} is an ASN database, not a location one — "
                f"{_DOWNLOAD_HINT} and set {setting} to it (ASN files go in geoip.asn_path)"
            )

    def _lookup(self, ip: str) -> GeoInfo:
        """Uncached lookup."""
        record = self._record(ip)
        return EMPTY_GEO if record is None else geo_from_record(record)

    def lookup(self, ip: str) -> GeoInfo:
        """Location of an IP; empty GeoInfo for bad, private or unknown addresses. Never raises."""
        if self._reader is None:
            return EMPTY_GEO
        return self._cached(ip)

    def close(self) -> None:
        """Release the file and forget cached answers."""
        super().close()
        self._cached.cache_clear()


def asn_from_record(record: Any) -> tuple[int | None, str]:
    """(number, organisation) from GeoLite2-ASN records or flat {"asn": "AS123", "name": …} ones."""
    if not isinstance(record, dict):
        return _NO_ASN
    number: Any = record.get("autonomous_system_number", record.get("asn"))
    if isinstance(number, str):
        digits = number.upper().removeprefix("AS")
        number = int(digits) if digits.isdigit() and len(digits) <= 10 else None
    if not isinstance(number, int) or isinstance(number, bool):
        number = None
    org: Any = record.get("autonomous_system_organization")
    if not isinstance(org, str):
        org = record.get("as_name", record.get("name", ""))
    org = org[:_MAX_NAME_LENGTH] if isinstance(org, str) else ""
    if number is None and not org:
        return _NO_ASN
    return (number, org)


class AsnLookup(_MmdbFile):
    """IP → (autonomous system number, organisation) from a GeoLite2-ASN style .mmdb."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        cache_size: int = 16384,
        setting: str = "geoip.asn_path",
    ) -> None:
        super().__init__(path, setting, _ASN_HINT)
        self._cached = lru_cache(maxsize=cache_size)(self._lookup)
        kind = self.database_type.upper()
        if ("CITY" in kind or "COUNTRY" in kind) and "ASN" not in kind:
            shown = self.path
            self.close()
            raise GeoError(
                f"ASN database {shown} is a location database, not an ASN one — "
                f"{_ASN_HINT} and set {setting} to it (location files go in geoip.path)"
            )

    def _lookup(self, ip: str) -> tuple[int | None, str]:
        """Uncached lookup."""
        record = self._record(ip)
        return _NO_ASN if record is None else asn_from_record(record)

    def lookup(self, ip: str) -> tuple[int | None, str]:
        """(ASN, organisation) of an IP; (None, "") when unknown. Never raises."""
        if self._reader is None:
            return _NO_ASN
        return self._cached(ip)

    def close(self) -> None:
        """Release the file and forget cached answers."""
        super().close()
        self._cached.cache_clear()


# Organisation names of hosting, cloud and datacenter networks as they appear in ASN databases
# ("AMAZON-02", "DIGITALOCEAN-ASN", "OVH SAS", "Hetzner Online GmbH", "AS-CHOOPA", …).
_HOSTING_RE: Final = re.compile(
    r"\bamazon|\baws\b|google(?:[ -]cloud|\b(?![ -]?fiber))|microsoft|\bazure\b|digital\s*ocean|"
    r"\bovh|hetzner|linode|akamai|vultr|choopa|alibaba|aliyun|tencent|oracle|scaleway|"
    r"\bonline s\.?a\.?s\b|contabo|leaseweb|\bm247\b|hostinger|\bionos\b|cloudflare|"
    r"colocrossing|quadranet|psychz|hostwinds|kamatera|netcup|zenlayer|g-core|gcore|selectel|"
    r"timeweb|huawei cloud|hostroyale|datacamp|frantech|buyvm|servers\.com|packet host|equinix|"
    r"rackspace|softlayer|ibm cloud|fastly|\bhosting\b|data ?cent(?:er|re)|\bvps\b|\bcloud\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def is_hosting_org(org: str) -> bool:
    """Whether an ASN organisation name belongs to a hosting/cloud/datacenter provider."""
    return bool(org) and _HOSTING_RE.search(org) is not None
