"""The demo's generated country database: a valid .mmdb that GeoLookup reads, and countries in demo traffic."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import maxminddb
import pytest

from collector.config import Config, SiteConfig
from collector.demo import run_demo
from collector.demo.catalog import COUNTRIES, CRAWLERS, SCRAPER_NETWORKS
from collector.demo.embedded import prepare_demo_config
from collector.demo.geo import DEMO_GEOIP_NAME, demo_geoip_path, use_demo_geoip, write_country_mmdb
from collector.enrich.geo import EMPTY_GEO, GeoLookup
from tests.collector.test_demo import INGEST_TOKEN, serve
from tests.conftest import query
from tests.mmdb_factory import write_flat_country_mmdb

RANGES = {
    "81.2.69.0/24": "GB",
    "89.160.20.0/22": "SE",
    "10.0.0.0/8": "US",
    "10.20.0.0/16": "DE",  # more specific than 10.0.0.0/8: wins inside it, whatever the order
    "203.0.113.128/25": "au",  # lower case is accepted and stored upper case
    "2a02:ff40::/32": "FR",
}
LOOKUPS = {
    "81.2.69.142": "GB",
    "81.2.70.1": "",
    "89.160.23.255": "SE",
    "89.160.24.0": "",
    "10.1.2.3": "US",
    "10.20.255.1": "DE",
    "10.21.0.1": "US",
    "203.0.113.200": "AU",
    "203.0.113.5": "",
    "8.8.8.8": "",
    "0.0.0.0": "",
    "255.255.255.255": "",
    "::ffff:81.2.69.1": "GB",  # dual-stack sockets report IPv4 clients this way
    "2a02:ff40::1": "FR",
    "2001:db8::1": "",
    "::1": "",
    "not an ip": "",
}


def countries(path: Path | str) -> dict[str, str]:
    """Country code GeoLookup gives for each address of LOOKUPS."""
    geo = GeoLookup(path)
    try:
        return {ip: geo.lookup(ip).country for ip in LOOKUPS}
    finally:
        geo.close()


def test_written_database_answers_countries(tmp_path: Path) -> None:
    path = tmp_path / "countries.mmdb"
    write_country_mmdb(path, RANGES)
    assert countries(path) == LOOKUPS


def test_same_answers_as_a_database_from_the_reference_writer(tmp_path: Path) -> None:
    ours, reference = tmp_path / "ours.mmdb", tmp_path / "reference.mmdb"
    write_country_mmdb(ours, RANGES)
    write_flat_country_mmdb(reference, {cidr: cc.upper() for cidr, cc in RANGES.items()})
    assert countries(ours) == countries(reference)


@pytest.mark.parametrize("mode", [maxminddb.MODE_FILE, maxminddb.MODE_MMAP_EXT], ids=["python", "c-extension"])
def test_both_readers_accept_the_file(tmp_path: Path, mode: int) -> None:
    """The C reader checks metadata types strictly; the pure-Python one is used where it is not installed."""
    path = tmp_path / "countries.mmdb"
    write_country_mmdb(path, RANGES)
    try:
        reader = maxminddb.open_database(str(path), mode)
    except ImportError:
        pytest.skip("maxminddb C extension not installed")
    with reader:
        meta = reader.metadata()
        assert (meta.binary_format_major_version, meta.ip_version, meta.record_size) == (2, 6, 24)
        assert meta.languages == ["en"] and meta.description["en"]
        assert reader.get("10.20.0.1") == {"country_code": "DE"}
        assert reader.get_with_prefix_len("10.20.0.1")[1] == 16
        assert reader.get("11.0.0.1") is None


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"10.0.0.1/8": "US"}, "host bits"),
        ({"10.0.0.0/33": "US"}, "10.0.0.0/33"),
        ({"10.0.0.0/8": "USA"}, "two letters"),
        ({"::/0": "US"}, "every address"),
    ],
)
def test_bad_ranges_are_refused(tmp_path: Path, ranges: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_country_mmdb(tmp_path / "bad.mmdb", ranges)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_demo_database_knows_every_demo_country(tmp_path: Path) -> None:
    path = demo_geoip_path(tmp_path / "new-dir")
    assert path == tmp_path / "new-dir" / DEMO_GEOIP_NAME
    geo = GeoLookup(path)
    try:
        for country in COUNTRIES:
            for network in country.networks:
                net = ipaddress.ip_network(network)
                first, last = str(net.network_address), str(net.broadcast_address)
                assert geo.lookup(first).country == country.code, network
                assert geo.lookup(last).country == country.code, network
        for network in (*SCRAPER_NETWORKS, *(n for c in CRAWLERS for n in c.networks)):
            assert geo.lookup(network.split("/")[0]) == EMPTY_GEO, network
    finally:
        geo.close()


def test_rewriting_leaves_a_running_reader_intact(tmp_path: Path) -> None:
    """A second `sitelens run --demo` rewrites the file another collector has memory-mapped."""
    path = tmp_path / DEMO_GEOIP_NAME
    write_country_mmdb(path, {"10.0.0.0/8": "US"})
    running = GeoLookup(path)
    try:
        write_country_mmdb(path, {"10.0.0.0/8": "DE", **{f"{n}.0.0.0/8": "FR" for n in range(20, 60)}})
        assert running.lookup("10.1.2.3").country == "US"
        fresh = GeoLookup(path)
        assert fresh.lookup("10.1.2.3").country == "DE"
        fresh.close()
    finally:
        running.close()
    assert [p.name for p in tmp_path.iterdir()] == [DEMO_GEOIP_NAME]  # no temporary file left behind


def test_use_demo_geoip_keeps_a_configured_database(tmp_path: Path) -> None:
    cfg = Config.for_tests(tmp_path / "data" / "sitelens.db")
    use_demo_geoip(cfg)
    assert cfg.geoip.path == str(tmp_path / "data" / DEMO_GEOIP_NAME)
    own = Config.for_tests(tmp_path / "sitelens.db")
    own.geoip.path = str(tmp_path / "GeoLite2-City.mmdb")
    use_demo_geoip(own)
    assert own.geoip.path == str(tmp_path / "GeoLite2-City.mmdb")


def test_unwritable_directory_only_costs_the_countries(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "not-a-dir").write_text("")
    cfg = Config.for_tests(tmp_path / "not-a-dir" / "sitelens.db")
    use_demo_geoip(cfg)
    assert cfg.geoip.path == ""
    assert "demo countries unavailable" in caplog.text


async def test_demo_traffic_gets_countries(tmp_path: Path) -> None:
    # A first run: no config file, so no trusted proxies and no GeoIP file until `sitelens run --demo` adds them.
    demo_cfg = Config.for_tests(tmp_path / "sitelens.db")
    demo_cfg.sites = [SiteConfig("example.com"), SiteConfig("shop.example.com", ingest_token=INGEST_TOKEN)]
    prepare_demo_config(demo_cfg)
    async with serve(demo_cfg) as url:
        stats = await run_demo(url, rate=40, duration=3, seed=3, pace=0.1, spike_every_s=0, ingest_token=INGEST_TOKEN)
    assert stats.accepted > 50, stats
    sessions = query(demo_cfg, "SELECT country, is_bot, bot_name, entry_path, pageviews FROM sessions")
    # The scraper (/page/1, /page/2 …) and crawlers come from networks the demo database does not hold.
    outsiders = [s["country"] for s in sessions if s["bot_name"] or s["entry_path"].startswith("/page/")]
    people = [
        s["country"]
        for s in sessions
        if s["pageviews"] and not s["is_bot"] and not s["entry_path"].startswith("/page/")
    ]
    catalog = {c.code for c in COUNTRIES}
    assert len(people) > 20 and set(people) <= catalog and len(set(people)) >= 5, people
    assert outsiders and set(outsiders) == {""}
    fingerprints = query(demo_cfg, "SELECT count(DISTINCT fingerprint) AS n FROM sessions WHERE pageviews > 0")
    assert fingerprints[0]["n"] > len(people) * 0.9  # forwarded addresses believed: distinct visitors
    pageviews = query(demo_cfg, "SELECT country FROM events WHERE type = 'pageview' AND country != ''")
    assert len(pageviews) > 20
