"""Fingerprint reputation tables (migration 0007): what the materialized views keep, rebuilt from what is stored.

`fingerprint_reputation`, `fingerprint_scores` and `fingerprint_signals` are filled by materialized views over
`fingerprint_news` and `sessions`; the backfill runs each view's own query over every stored row, so it cannot
fold differently from the views."""

from __future__ import annotations

from collections.abc import Iterable

from db.clickhouse.client import ClickHouse

VIEWS = {
    "fingerprint_reputation": "fingerprint_reputation_mv",
    "fingerprint_scores": "fingerprint_scores_mv",
    "fingerprint_signals": "fingerprint_signals_mv",
}
"""Table -> the materialized view that fills it."""
PER_FINGERPRINT = tuple(VIEWS)
"""The tables erasure deletes a fingerprint's rows from."""


def view_select(ch: ClickHouse, view: str) -> str:
    """The SELECT a materialized view runs on each insert."""
    return str(ch.value("SELECT as_select FROM system.tables WHERE database = currentDatabase() AND name = ?", (view,)))


def rebuild(ch: ClickHouse) -> int:
    """Fill the three tables from every stored news row and session (the backfill of migration 0007); returns the
    fingerprints with a reputation. Each insert has a token, so running it twice adds nothing."""
    for table, view in VIEWS.items():
        ch.command(
            f"INSERT INTO {table} {view_select(ch, view)}",
            settings={"insert_deduplication_token": f"reputation-rebuild:{table}", "max_threads": 1},
        )
    return int(ch.value("SELECT uniqExact(fingerprint) FROM fingerprint_reputation") or 0)


def forget(ch: ClickHouse, fingerprints: Iterable[str]) -> None:
    """After erasure: delete these fingerprints' rows from the three tables, then add back the signals of their
    sessions left (those of visitors not erased), as SQLite's reputation reads them from the sessions it keeps."""
    batch = sorted(set(fingerprints))
    if not batch:
        return
    for table in PER_FINGERPRINT:
        ch.command(f"DELETE FROM {table} WHERE fingerprint IN ?", (batch,))
    select = view_select(ch, VIEWS["fingerprint_signals"])  # the filter moves into it, before its GROUP BY
    ch.command(f"INSERT INTO fingerprint_signals SELECT * FROM ({select}) WHERE fingerprint IN ?", (batch,))
