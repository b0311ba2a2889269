"""GeoIP and ASN lookups against .mmdb files written by the tests themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.enrich.geo import AsnLookup, GeoError, GeoInfo, GeoLookup, is_hosting_org
from tests.mmdb_factory import (
    city_record,
    write_asn_mmdb,
    write_city_mmdb,
    write_country_mmdb,
    write_flat_country_mmdb,
)


@pytest.fixture
def city_db(tmp_path: Path) -> str:
    return write_city_mmdb(
        tmp_path / "GeoLite2-City.mmdb",
        {
            "81.2.69.0/24": city_record("GB", "England", "London"),
            "89.160.20.0/24": city_record("SE", "Östergötland County", "Linköping"),
            "2a02:ff40::/32": city_record("DE", "Bavaria", "Munich"),
            "203.0.113.0/24": {"registered_country": {"iso_code": "au"}},
        },
    )


def test_city_database_gives_country_region_city(city_db: str) -> None:
    geo = GeoLookup(city_db)
    try:
        assert geo.lookup("81.2.69.142") == GeoInfo("GB", "England", "London")
        assert geo.lookup("89.160.20.1") == GeoInfo("SE", "Östergötland County", "Linköping")
        assert geo.lookup("2a02:ff40::1") == GeoInfo("DE", "Bavaria", "Munich")
        # Dual-stack sockets report IPv4 clients as IPv4-mapped IPv6 addresses.
        assert geo.lookup("::ffff:81.2.69.142") == GeoInfo("GB", "England", "London")
        # Only a registered country: used, upper-cased.
        assert geo.lookup("203.0.113.9") == GeoInfo("AU", "", "")
    finally:
        geo.close()


@pytest.mark.parametrize(
    "ip", ["", "not-an-ip", "999.1.1.1", "1.2.3", "10.0.0.1", "127.0.0.1", "192.168.1.1", "::1", "x" * 10_000]
)
def test_bad_private_and_unknown_ips_are_empty(city_db: str, ip: str) -> None:
    geo = GeoLookup(city_db)
    assert geo.lookup(ip) == GeoInfo("", "", "")
    geo.close()


def test_country_database_has_no_region_or_city(tmp_path: Path) -> None:
    path = write_country_mmdb(
        tmp_path / "GeoLite2-Country.mmdb", {"81.2.69.0/24": "GB", "2001:db8::/32": "NL"}
    )
    geo = GeoLookup(path)
    assert geo.lookup("81.2.69.1") == GeoInfo("GB", "", "")
    assert geo.lookup("2001:db8::5") == GeoInfo("NL", "", "")
    geo.close()


@pytest.mark.parametrize("key", ["country_code", "country"])
def test_flat_country_databases(tmp_path: Path, key: str) -> None:
    path = write_flat_country_mmdb(tmp_path / "flat.mmdb", {"5.9.0.0/16": "de", "8.8.8.0/24": "US"}, key=key)
    geo = GeoLookup(path)
    assert geo.lookup("5.9.1.2") == GeoInfo("DE", "", "")
    assert geo.lookup("8.8.8.8") == GeoInfo("US", "", "")
    assert geo.lookup("9.9.9.9") == GeoInfo("", "", "")
    geo.close()


def test_no_path_means_no_geo() -> None:
    geo = GeoLookup(None)
    assert geo.lookup("81.2.69.142") == GeoInfo("", "", "")
    geo.close()


def test_lookups_after_close_are_empty(city_db: str) -> None:
    geo = GeoLookup(city_db)
    assert geo.lookup("81.2.69.142").country == "GB"
    geo.close()
    assert geo.lookup("81.2.69.142") == GeoInfo("", "", "")


def test_missing_file_error_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "GeoLite2-City.mmdb"
    with pytest.raises(GeoError) as err:
        GeoLookup(missing)
    message = str(err.value)
    assert str(missing) in message
    assert "not found" in message
    assert "geoip.path" in message


def test_invalid_file_and_directory_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"this is not a MaxMind database")
    with pytest.raises(GeoError, match="not a valid MaxMind"):
        GeoLookup(junk)
    with pytest.raises(GeoError, match="directory"):
        GeoLookup(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_a_clear_error(city_db: str) -> None:
    os.chmod(city_db, 0)
    with pytest.raises(GeoError, match="not readable"):
        GeoLookup(city_db)


def test_asn_file_given_as_location_database_is_refused(tmp_path: Path) -> None:
    path = write_asn_mmdb(tmp_path / "GeoLite2-ASN.mmdb", {"1.2.3.0/24": (15169, "GOOGLE")})
    with pytest.raises(GeoError, match="ASN database"):
        GeoLookup(path)


def test_location_file_given_as_asn_database_is_refused(city_db: str) -> None:
    with pytest.raises(GeoError, match="geoip.path"):
        AsnLookup(city_db)


def test_asn_lookup(tmp_path: Path) -> None:
    path = write_asn_mmdb(
        tmp_path / "GeoLite2-ASN.mmdb",
        {"3.5.0.0/16": (16509, "AMAZON-02"), "81.2.69.0/24": (20712, "Andrews & Arnold Ltd")},
    )
    asn = AsnLookup(path)
    assert asn.lookup("3.5.1.1") == (16509, "AMAZON-02")
    assert asn.lookup("81.2.69.5") == (20712, "Andrews & Arnold Ltd")
    assert asn.lookup("10.1.1.1") == (None, "")
    assert asn.lookup("bogus") == (None, "")
    asn.close()
    assert AsnLookup(None).lookup("3.5.1.1") == (None, "")


def test_asn_missing_file_names_its_setting(tmp_path: Path) -> None:
    with pytest.raises(GeoError, match="GeoLite2-ASN"):
        AsnLookup(tmp_path / "asn.mmdb")


@pytest.mark.parametrize(
    ("org", "hosting"),
    [
        ("AMAZON-02", True),
        ("Amazon.com, Inc.", True),
        ("GOOGLE-CLOUD-PLATFORM", True),
        ("GOOGLE", True),
        ("MICROSOFT-CORP-MSN-AS-BLOCK", True),
        ("DIGITALOCEAN-ASN", True),
        ("OVH SAS", True),
        ("Hetzner Online GmbH", True),
        ("Akamai Connected Cloud", True),
        ("Linode, LLC", True),
        ("AS-CHOOPA", True),
        ("Alibaba US Technology Co., Ltd.", True),
        ("Shenzhen Tencent Computer Systems Company Limited", True),
        ("ORACLE-BMC-31898", True),
        ("Scaleway S.a.s.", True),
        ("Contabo GmbH", True),
        ("LeaseWeb Netherlands B.V.", True),
        ("M247 Europe SRL", True),
        ("Google Fiber Inc.", False),
        ("Deutsche Telekom AG", False),
        ("Comcast Cable Communications, LLC", False),
        ("Andrews & Arnold Ltd", False),
        ("", False),
    ],
)
def test_hosting_organisations(org: str, hosting: bool) -> None:
    assert is_hosting_org(org) is hosting
