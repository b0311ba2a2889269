"""The ClickHouse sink in a child process (how `clickhouse://` collectors write), against a real engine: chDB held by
the child alone, read back afterwards by another process (chDB opens one data directory per process, and this
test process has its own)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from db.batch import Batch
from db.clickhouse.sink_process import ClickHouseSinkProcess
from db.url import parse_store_url
from tests.factories import T0, visit

pytest.importorskip("chdb")
ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json, sys\n"
    "from db.store import open_store\n"
    "store = open_store(sys.argv[1], create=True)\n"
    "print(json.dumps([store.ch.rows(q) for q in sys.argv[2:]]))\n"
)


def stored(url: str, *queries: str) -> list[list[list[object]]]:
    """The answers to `queries`, from a process of their own that opens (creating and migrating) the store while
    no sink's process holds it: before a sink starts, as a collector's store does, and after it has exited."""
    proc = subprocess.run(
        [sys.executable, "-c", READ, url, *queries], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def batches() -> tuple[Batch, Batch]:
    """A human session and a crawler; the human turns out to be a bot in the second flush."""
    human = visit(T0 + 60, [(0, "/"), (5, "/a"), (10, "/b")], visitor="v1", session_id=7)
    crawler = visit(T0 + 70, [(0, "/"), (1, "/robots.txt")], visitor="c1", session_id=9, is_bot=1)
    first = Batch(
        events=[e.as_row() for e in human.events[:2] + crawler.events[:1]],
        sessions={7: human.session.as_row(), 9: crawler.session.as_row()},
    )
    later = Batch(
        events=[e.as_row() for e in human.events[2:] + crawler.events[1:]],
        sessions={7: replace(human.session, is_bot=1).as_row(), 9: crawler.session.as_row()},
    )
    return first, later


BY_SESSION = "SELECT session_id, countIf(is_bot = 1), count() FROM events GROUP BY session_id ORDER BY session_id"
SESSIONS = "SELECT id, is_bot FROM sessions FINAL ORDER BY id"


def test_the_child_writes_re_marks_and_deduplicates_a_resent_batch(tmp_path: Path) -> None:
    url = f"chdb://{tmp_path}/child-ch?database=sink"
    stored(url)
    sink = ClickHouseSinkProcess(parse_store_url(url), str(tmp_path / "spool"), 1 << 20)
    sink.start()
    assert sink.pid is not None and sink.pid != os.getpid()
    first, later = batches()
    sink.write(first)
    sink.write(later)  # re-marks session 7's stored events in the child, which remembers what it stored
    sink.write(later)  # the same batch sent again (its answer lost): the same insert tokens, stored once
    assert sink.spooled_events == 0
    sink.close()
    assert sink.pid is None
    assert stored(url, BY_SESSION, SESSIONS) == [[[7, 3, 3], [9, 2, 2]], [[7, 1], [9, 1]]]


def test_a_child_killed_between_flushes_is_replaced_and_nothing_is_lost(tmp_path: Path) -> None:
    url = f"chdb://{tmp_path}/child-ch?database=sink"
    stored(url)
    sink = ClickHouseSinkProcess(parse_store_url(url), str(tmp_path / "spool"), 1 << 20)
    sink.start()
    first, later = batches()
    sink.write(first)
    old = sink.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    sink.write(later)  # the dead child's pipe fails: a new child takes the batch
    assert sink.pid not in (None, old)
    sink.close()
    assert stored(url, BY_SESSION) == [[[7, 3, 3], [9, 2, 2]]]


def test_while_the_server_is_away_the_child_spools_and_a_later_child_sends_it_once(tmp_path: Path) -> None:
    spool = str(tmp_path / "spool")
    away = parse_store_url(f"clickhouse://default:pw@127.0.0.1:{closed_port()}/sitelens")
    first, later = batches()
    sink = ClickHouseSinkProcess(away, spool, 1 << 20)
    sink.start()  # no server: the child still starts, and acknowledges into its spool
    sink.write(first)
    sink.write(later)
    assert sink.spooled_events == 5  # the parent sees the child's spool depth (what /healthz shows)
    sink.close()  # stopped with a spool: it stays for the next start
    assert len(list(Path(spool).glob("*.batch"))) == 2
    url = f"chdb://{tmp_path}/child-ch?database=sink"
    stored(url)
    back = ClickHouseSinkProcess(parse_store_url(url), spool, 1 << 20)
    back.start()
    assert back.spooled_events == 5
    assert back.drain() and back.spooled_events == 0  # in order: the later batch re-marks the first one's events
    back.close()
    assert not list(Path(spool).glob("*.batch"))
    assert stored(url, BY_SESSION, SESSIONS) == [[[7, 3, 3], [9, 2, 2]], [[7, 1], [9, 1]]]


def test_a_full_spool_refuses_and_the_parent_keeps_the_batch(tmp_path: Path) -> None:
    from db.clickhouse.spool import SpoolFull

    away = parse_store_url(f"clickhouse://default:pw@127.0.0.1:{closed_port()}/sitelens")
    sink = ClickHouseSinkProcess(away, str(tmp_path / "spool"), 1)
    sink.start()
    first, _ = batches()
    with pytest.raises(SpoolFull):
        sink.write(first)  # the writer keeps it queued and the collector answers 503
    sink.keep(first)  # at shutdown: past the limit, for the next start
    assert sink.spooled_events == 3
    sink.close()
