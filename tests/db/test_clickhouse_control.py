"""Control tables on both engines: settings, daily salts, ingest tokens, import offsets, retention and storage.
Each behaviour test runs on SQLite and on ClickHouse (chDB) through the same function names."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest

from tests.db.both_engines import generate, loaded
from tests.engines import chdb_url
from tests.factories import new_db

ENGINES = ("sqlite", "clickhouse")


def queries(engine: str, module: str) -> object:
    """The query module of an engine: db.sqlite.queries.X or db.clickhouse.queries.X."""
    package = "db.sqlite.queries" if engine == "sqlite" else "db.clickhouse.queries"
    return importlib.import_module(f"{package}.{module}")


@pytest.fixture(params=ENGINES)
def store(request, tmp_path):
    """(engine name, handle, module loader) of an empty store of either engine."""
    if request.param == "sqlite":
        conn = new_db(tmp_path / "c.db")
        yield SimpleNamespace(engine="sqlite", db=conn, q=lambda m: queries("sqlite", m))
        conn.close()
    else:
        ch = request.getfixturevalue("clickhouse")
        yield SimpleNamespace(engine="clickhouse", db=ch, q=lambda m: queries("clickhouse", m))


def second_handle(tmp_path_factory, ch):
    """Another ClickHouse handle on the same database (as a second collector would open)."""
    from db.clickhouse.client import connect_client
    from db.url import parse_store_url

    return connect_client(parse_store_url(chdb_url(tmp_path_factory, ch.url.database)))


# ------------------------------------------------------------------------------------------------- settings


def test_settings(store):
    s = store.q("settings")
    assert s.get_setting(store.db, "admin_token") is None
    assert s.set_setting_if_absent(store.db, "admin_token", "first") == "first"
    assert s.set_setting_if_absent(store.db, "admin_token", "second") == "first"  # the first candidate stays
    s.set_setting(store.db, "admin_token", "chosen")
    assert s.get_setting(store.db, "admin_token") == "chosen"
    assert s.set_setting_if_absent(store.db, "admin_token", "third") == "chosen"  # an explicit set beats it
    s.set_setting(store.db, "admin_token", "again")
    assert s.get_setting(store.db, "admin_token") == "again"  # the newest explicit set wins
    assert s.get_setting(store.db, "other") is None


def test_two_collectors_generating_a_setting_end_with_one(clickhouse, tmp_path_factory):
    from db.clickhouse.queries.settings import get_setting, set_setting_if_absent

    other = second_handle(tmp_path_factory, clickhouse)
    a = set_setting_if_absent(clickhouse, "admin_token", "from-a")
    b = set_setting_if_absent(other, "admin_token", "from-b")
    assert a == b == "from-a"
    assert get_setting(other, "admin_token") == get_setting(clickhouse, "admin_token") == "from-a"


# ---------------------------------------------------------------------------------------------------- salts


def test_salts(store):
    s = store.q("salts")
    e = store.q("erase")
    first = s.salt_for_day(store.db, "2024-05-01")
    assert isinstance(first, bytes) and len(first) == 32
    assert s.salt_for_day(store.db, "2024-05-01") == first  # created once
    second = s.salt_for_day(store.db, "2024-05-02")
    third = s.salt_for_day(store.db, "2024-05-03")
    assert len({first, second, third}) == 3
    assert e.known_salts(store.db) == [third, second, first]  # newest day first
    assert s.forget_salts_before(store.db, "2024-05-03") == 2
    assert s.forget_salts_before(store.db, "2024-05-03") == 0
    assert e.known_salts(store.db) == [third]
    assert s.salt_for_day(store.db, "2024-05-03") == third


def test_two_collectors_share_the_daily_salt(clickhouse, tmp_path_factory):
    from db.clickhouse.queries.salts import salt_for_day

    other = second_handle(tmp_path_factory, clickhouse)
    salts = [salt_for_day(handle, "2024-06-01") for handle in (clickhouse, other, clickhouse, other)]
    assert len(set(salts)) == 1
    assert salt_for_day(other, "2024-06-02") == salt_for_day(clickhouse, "2024-06-02") != salts[0]


def test_racing_candidates_settle_on_the_earliest(clickhouse, tmp_path_factory):
    """Two collectors that both found no salt insert candidates; whichever lands last, the earlier one wins
    everywhere, for salts and generated settings alike."""
    from db.clickhouse.queries.salts import salt_for_day
    from db.clickhouse.queries.settings import candidate_version, get_setting, set_setting_if_absent

    other = second_handle(tmp_path_factory, clickhouse)
    early, late = candidate_version(), candidate_version()
    other.insert("salts", [("2024-07-01", "bb" * 32, late)], ("day", "salt", "version"))
    clickhouse.insert("salts", [("2024-07-01", "aa" * 32, early)], ("day", "salt", "version"))  # lands last
    assert salt_for_day(other, "2024-07-01") == salt_for_day(clickhouse, "2024-07-01") == b"\xaa" * 32
    other.insert("settings", [("admin_token", "late", late)], ("key", "value", "version"))
    clickhouse.insert("settings", [("admin_token", "early", early)], ("key", "value", "version"))
    assert set_setting_if_absent(other, "admin_token", "x") == get_setting(clickhouse, "admin_token") == "early"


# --------------------------------------------------------------------------------------------------- tokens


def test_ingest_tokens(store):
    t = store.q("ingest")
    a_id, a = t.create_token(store.db, "example.com", "deploy bot", now=1000.0)
    b_id, b = t.create_token(store.db, "other.example", "x" * 300, now=2000.0)
    assert a.startswith("sl_") and a != b
    assert t.token_site(store.db, a) == "example.com"
    assert t.token_site(store.db, b) == "other.example"
    assert t.token_site(store.db, "sl_unknown") is None
    listed = t.list_tokens(store.db)
    assert [(r.id, r.site, r.label, r.created, r.revoked) for r in listed] == [
        (b_id, "other.example", "x" * 200, 2000.0, None),
        (a_id, "example.com", "deploy bot", 1000.0, None),
    ]
    assert t.revoke_token(store.db, a_id, now=3000.0) is True
    assert t.revoke_token(store.db, a_id, now=4000.0) is False  # already revoked
    assert t.revoke_token(store.db, 12345, now=4000.0) is False
    assert t.token_site(store.db, a) is None
    assert [r.id for r in t.list_tokens(store.db)] == [b_id]
    revoked = {r.id: r.revoked for r in t.list_tokens(store.db, include_revoked=True)}
    assert revoked == {a_id: 3000.0, b_id: None}


def test_import_offsets(store):
    t = store.q("ingest")
    f = t.import_file(store.db, 1, 100, "head-a", "/var/log/access.log")
    assert (f.offset, f.lines) == (0, 0)
    t.save_import_offset(store.db, f.id, 5000, 40)
    t.save_import_offset(store.db, f.id, 3000, 20)  # never moves back
    again = t.import_file(store.db, 1, 100, "head-a", "/var/log/access.log.1")  # renamed: same file
    assert (again.id, again.offset, again.lines) == (f.id, 5000, 40)
    rotated = t.import_file(store.db, 1, 200, "head-a", "/var/log/access.log.1.gz")  # same content, new inode
    assert rotated.id != f.id and (rotated.offset, rotated.lines) == (5000, 40)
    other = t.import_file(store.db, 1, 300, "head-b", "/var/log/other.log")
    assert (other.offset, other.lines) == (0, 0)
    t.save_import_offset(store.db, rotated.id, 9000, 70)
    assert t.import_file(store.db, 1, 200, "head-a", "x").offset == 9000
    assert t.import_file(store.db, 1, 100, "head-a", "y").offset == 5000


def test_import_path_is_updated(clickhouse):
    from db.clickhouse.queries.ingest import import_file, save_import_offset

    f = import_file(clickhouse, 1, 100, "h", "/a.log")
    save_import_offset(clickhouse, f.id, 10, 1)
    import_file(clickhouse, 1, 100, "h", "/b.log")
    assert clickhouse.rows("SELECT path, offset FROM import_files FINAL") == [("/b.log", 10)]


# ------------------------------------------------------------------------------------------- storage, TTL


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    yield from loaded(tmp_path_factory, generate(n_visits=150))


def test_storage_stats_count_the_same_rows(both, tmp_path_factory):
    from db.clickhouse.queries.storage import storage_stats as ch_stats
    from db.sqlite.queries.storage import storage_stats

    conn, ch = both
    sqlite = storage_stats(conn, conn.execute("PRAGMA database_list").fetchone()[2])
    stats = ch_stats(ch)
    for table in ("events", "sessions", "fingerprints", "anomalies"):
        assert stats.rows[table] == sqlite.rows[table], table
    assert stats.rows["sessions"] == 150
    assert stats.oldest_event == pytest.approx(sqlite.oldest_event)
    assert stats.size_bytes > 10_000 and stats.wal_bytes == 0


def test_raw_retention_ttl(clickhouse):
    from db.clickhouse.queries.retention import RAW_TTL_COLUMNS, current_ttl, set_retention
    from tests.engines import ch_write
    from tests.factories import visit

    raw = list(RAW_TTL_COLUMNS)
    assert raw[:4] == ["events", "sessions", "fingerprint_news", "throttle_drops"] and "funnel_steps" in raw
    assert current_ttl(clickhouse, "events") == 0  # none until a collector sets it
    assert set_retention(clickhouse, 90, 0) == raw
    assert set_retention(clickhouse, 90, 0) == []  # unchanged: no ALTER
    assert current_ttl(clickhouse, "sessions") == 90 and current_ttl(clickhouse, "rollup_events") == 0
    assert set_retention(clickhouse, 30, 0) != [] and current_ttl(clickhouse, "funnel_steps") == 30
    # Rows older than the TTL go when parts merge, as SQLite's retention deletes them.
    import time

    old, new = visit(time.time() - 60 * 86400, [(0, "/old")]), visit(time.time() - 86400, [(0, "/new")])
    ch_write(clickhouse, old.events + new.events, [old.session, new.session])
    for table in ("events", "funnel_steps"):
        clickhouse.command(f"OPTIMIZE TABLE {table} FINAL")
    assert clickhouse.rows("SELECT path FROM events") == [("/new",)]
    assert clickhouse.rows("SELECT target FROM funnel_steps") == [("/new",)]
    assert set_retention(clickhouse, 0, 400) == [*raw, "rollup_events", "rollup_engaged"]
    assert current_ttl(clickhouse, "events") == 0  # kept forever, as raw_days = 0 on SQLite
    assert current_ttl(clickhouse, "rollup_engaged") == 400
    with pytest.raises(ValueError):
        set_retention(clickhouse, -1, 0)
