"""Write small MaxMind-format (.mmdb) databases for tests, in the record shapes real GeoIP files use."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped]


def write_mmdb(
    path: str | os.PathLike[str],
    networks: Mapping[str, Any],
    database_type: str = "GeoLite2-City",
) -> str:
    """Write an IPv6 database (IPv4 reachable, as in real files) mapping each CIDR to its record."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description="SiteLens test database",
    )
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(os.fspath(path))
    return os.fspath(path)


def city_record(country: str, region: str = "", city: str = "") -> dict[str, Any]:
    """A GeoLite2-City / DB-IP City Lite style record."""
    record: dict[str, Any] = {
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "country": {"iso_code": country, "names": {"en": country}},
        "registered_country": {"iso_code": country, "names": {"en": country}},
    }
    if region:
        record["subdivisions"] = [{"iso_code": region[:3].upper(), "names": {"en": region, "de": region}}]
    if city:
        record["city"] = {"names": {"en": city, "de": city}}
    return record


def country_record(country: str) -> dict[str, Any]:
    """A GeoLite2-Country / DB-IP Country Lite style record."""
    return {
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "country": {"iso_code": country, "names": {"en": country}},
    }


def write_city_mmdb(path: str | os.PathLike[str], networks: Mapping[str, Any]) -> str:
    """A GeoLite2-City shaped file; values are full records (see `city_record`)."""
    return write_mmdb(path, networks, "GeoLite2-City")


def write_country_mmdb(path: str | os.PathLike[str], networks: Mapping[str, str]) -> str:
    """A GeoLite2-Country shaped file from {cidr: iso_code}."""
    return write_mmdb(path, {cidr: country_record(cc) for cidr, cc in networks.items()}, "GeoLite2-Country")


def write_flat_country_mmdb(
    path: str | os.PathLike[str], networks: Mapping[str, str], key: str = "country_code"
) -> str:
    """A flat country file ({"country_code": "DE"}, or {"country": "DE"} with key="country")."""
    return write_mmdb(path, {cidr: {key: cc} for cidr, cc in networks.items()}, "ip-to-country")


def write_asn_mmdb(path: str | os.PathLike[str], networks: Mapping[str, tuple[int, str]]) -> str:
    """A GeoLite2-ASN shaped file from {cidr: (asn, organisation)}."""
    records = {
        cidr: {"autonomous_system_number": asn, "autonomous_system_organization": org}
        for cidr, (asn, org) in networks.items()
    }
    return write_mmdb(path, records, "GeoLite2-ASN")
