"""Streaming import through the live pipeline: counts, sessions and bots, gzip, re-import, --follow."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.config import Config
from collector.logs.importer import Importer, ImportStats, hit_type
from tests.conftest import query

DATA = Path(__file__).parents[2] / "data" / "logs"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


def line(n: int, ip: str = "192.0.2.7", path: str = "") -> str:
    """A combined-format line n seconds after 2024-05-01 12:00 UTC."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1714564800 + n))
    return f'{ip} - - [{stamp}] "GET {path or f"/page/{n}"} HTTP/1.1" 200 512 "-" "{FIREFOX}"\n'


async def run_import(cfg: Config, *paths: Path, site: str = "shop.example", fmt: str = "auto") -> ImportStats:
    async with Importer(cfg, site=site, fmt=fmt) as importer:
        for path in paths:
            await importer.import_file(path)
    return importer.stats


async def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_hit_types():
    assert hit_type("GET", "/pricing?x=1", 200) == ("pageview", False)
    assert hit_type("GET", "/about.html", 304) == ("pageview", False)
    assert hit_type("GET", "/static/app.css", 200) == ("request", True)
    assert hit_type("GET", "/missing", 404) == ("request", False)
    assert hit_type("POST", "/signup", 200) == ("request", False)
    assert hit_type("GET", "/api/items", 200) == ("request", False)
    assert hit_type("GET", "/.env", 404) == ("request", False)


async def test_a_combined_log_becomes_pageviews_requests_sessions_and_bots(cfg):
    stats = await run_import(cfg, DATA / "combined.log")
    assert (stats.lines, stats.imported, stats.pageviews, stats.requests, stats.assets) == (14, 9, 4, 5, 3)
    assert dict(stats.skipped) == {
        "malformed": 1,
        "bad-request": 1,
        "bad-time": 1,
        "blank": 1,
        "bad-status": 1,
    }
    assert stats.bots == 3  # Googlebot twice, curl probing /.env
    assert "skipped 5" in stats.summary() and "3 from bots" in stats.summary()

    rows = query(cfg, "SELECT ts, type, path, status, method, bytes, is_bot FROM events ORDER BY ts, id")
    assert rows[0]["ts"] == datetime(2024, 5, 1, 8, 0, tzinfo=UTC).timestamp()  # the log's time, not now
    assert [(r["type"], r["path"]) for r in rows[:5]] == [
        ("pageview", "/pricing"), ("request", "/static/app.css"), ("request", "/static/logo.png"),
        ("pageview", "/docs/install"), ("request", "/api/cart"),
    ]  # fmt: skip
    assert (rows[4]["method"], rows[4]["status"], rows[4]["bytes"]) == ("POST", 201, 40)
    human = query(cfg, "SELECT * FROM sessions WHERE browser = 'Chrome'")
    assert len(human) == 1  # five lines, one visit
    assert (human[0]["pageviews"], human[0]["requests"], human[0]["is_bot"]) == (2, 3, 0)
    assert (human[0]["entry_path"], human[0]["utm_source"], human[0]["ref_medium"]) == (
        "/pricing",
        "newsletter",
        "email",
    )
    bots = query(cfg, "SELECT bot_name FROM sessions WHERE is_bot = 1 ORDER BY bot_name")
    assert [r["bot_name"] for r in bots] == ["Googlebot", "curl"]


async def test_common_format_imports_without_user_agents(cfg):
    stats = await run_import(cfg, DATA / "common.log", fmt="common")
    assert (stats.imported, stats.pageviews, stats.assets) == (4, 2, 1)
    assert dict(stats.skipped) == {"malformed": 1}


async def test_json_logs_take_the_site_from_each_lines_host(cfg):
    stats = await run_import(cfg, DATA / "caddy.json", DATA / "nginx.json", site="")
    assert stats.imported == 4
    assert dict(stats.skipped) == {"no-site": 2, "bad-json": 2, "bad-status": 1}
    sites = dict(query(cfg, "SELECT site, count(*) FROM events GROUP BY site"))
    assert sites == {"blog.example": 3, "shop.example": 1}
    caddy = query(cfg, "SELECT latency_ms, ref_source, utm_source FROM events WHERE path = '/posts/hello' "
                       "ORDER BY ts LIMIT 1")[0]  # fmt: skip
    assert caddy["latency_ms"] == 12.3


async def test_gzip_files_import_like_plain_ones(cfg, tmp_path):
    gz = tmp_path / "access.log.2.gz"
    with gzip.open(gz, "wb") as f:
        f.write((DATA / "combined.log").read_bytes())
    stats = await run_import(cfg, gz)
    assert (stats.imported, stats.pageviews, sum(stats.skipped.values())) == (9, 4, 5)


async def test_a_corrupt_gzip_keeps_what_was_readable(cfg, tmp_path):
    gz = tmp_path / "broken.log.gz"
    data = gzip.compress("".join(line(i) for i in range(2000)).encode())
    gz.write_bytes(data[: len(data) // 2])
    stats = await run_import(cfg, gz)
    assert 0 < stats.imported < 2000
    assert stats.skipped["corrupt-gzip"] == 1


async def test_reimporting_adds_nothing_and_appended_lines_are_picked_up(cfg, tmp_path):
    log = tmp_path / "access.log"
    shutil.copy(DATA / "combined.log", log)
    assert (await run_import(cfg, log)).imported == 9
    again = await run_import(cfg, log)
    assert (again.imported, again.lines, again.already) == (0, 0, 14)
    with log.open("a") as f:
        f.write(line(1) + line(2))
    assert (await run_import(cfg, log)).imported == 2
    # logrotate: renamed, then compressed into a new file: still nothing new.
    rotated = tmp_path / "access.log.1"
    log.rename(rotated)
    assert (await run_import(cfg, rotated)).imported == 0
    with gzip.open(tmp_path / "access.log.2.gz", "wb") as f:
        f.write(rotated.read_bytes())
    assert (await run_import(cfg, tmp_path / "access.log.2.gz")).imported == 0
    assert query(cfg, "SELECT count(*) FROM events")[0][0] == 11


async def test_an_unfinished_last_line_waits_for_its_newline(cfg, tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes((DATA / "no_newline.log").read_bytes())
    assert (await run_import(cfg, log)).imported == 0
    with log.open("a") as f:
        f.write("\n" + line(5))
    stats = await run_import(cfg, log)
    assert stats.imported == 2
    assert query(cfg, "SELECT count(*) FROM events WHERE path = '/partial'")[0][0] == 1


async def test_follow_tails_appends_rotation_and_truncation(cfg, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(line(0))
    stop = asyncio.Event()
    async with Importer(cfg, site="shop.example", fmt="combined") as importer:
        task = asyncio.create_task(importer.follow(log, stop))
        try:
            await wait_until(lambda: importer.stats.imported == 1)
            with log.open("a") as f:
                f.write(line(1) + line(2)[:20])  # a line being written
                f.flush()
                await wait_until(lambda: importer.stats.imported == 2)
                await asyncio.sleep(0.3)
                assert importer.stats.imported == 2
                f.write(line(2)[20:])
            await wait_until(lambda: importer.stats.imported == 3)

            # Rotation: the server writes one more line to the renamed file, then reopens a new one.
            old = tmp_path / "access.log.1"
            log.rename(old)
            with old.open("a") as f:
                f.write(line(3))
            log.write_text(line(4) + line(5))
            await wait_until(lambda: importer.stats.imported == 6)

            # copytruncate: the same file emptied and written again from the start.
            log.write_text(line(6, path="/after-truncate"))
            await wait_until(lambda: importer.stats.imported == 7)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
    paths = [r["path"] for r in query(cfg, "SELECT path FROM events ORDER BY ts")]
    assert paths == ["/page/0", "/page/1", "/page/2", "/page/3", "/page/4", "/page/5", "/after-truncate"]
    # What was followed is remembered: importing the files again adds nothing.
    assert (await run_import(cfg, old, log)).imported == 0


async def test_sessions_are_forgotten_as_the_log_advances(cfg, tmp_path):
    log = tmp_path / "long.log"
    with log.open("w") as f:
        for i in range(3000):  # a new visitor every 20 s for almost 17 hours
            f.write(line(i * 20, ip=f"10.0.{i // 250}.{i % 250}"))
    async with Importer(cfg, site="shop.example", fmt="combined", chunk_lines=500) as importer:
        await importer.import_file(log)
        live = len(importer.pipeline.sessions)
    assert importer.stats.imported == 3000
    assert live <= 30 * 60 // 20 + 500  # about half an hour of visitors, not all 3000


async def test_a_missing_file_is_a_clear_error(cfg, tmp_path):
    from collector.logs.importer import ImportError_

    with pytest.raises(ImportError_, match="no such file"):
        await run_import(cfg, tmp_path / "nope.log")
