"""Fingerprint reputation and rank on ClickHouse (migration 0007), kept as news and sessions arrive.

`fingerprint_reputation` and `fingerprint_signals` are filled by materialized views over `fingerprint_news` and
`sessions`. `fingerprint_ranks` is kept by whoever inserts news (the writer, `sitelens migrate`, the query bench):
right after the insert, `rank` stores the folded reputation of the fingerprints it wrote, read back from
`fingerprint_reputation`. Reputations only grow (counts add up, the max score only rises; `folded` counts the news
rows folded in), so a fingerprint's newest rank row is its highest in (max score, requests, fingerprint, folded)
order; and since the read follows the insert, the rank row of whichever writer read last holds every collector's
news inserted before it. A writer that fails between the two inserts retries the batch from its spool, which
ranks again. Stale rank rows stay until their TTL (db/clickhouse/queries/retention.py); readers take each
fingerprint's first row in descending order (db/clickhouse/queries/bots.py). On a replicated cluster the read must
see the writer's own insert (one replica per collector, or `select_sequential_consistency`)."""

from __future__ import annotations

from collections.abc import Iterable

from db.clickhouse.client import ClickHouse

REPUTATION_SQL = (
    "SELECT fingerprint, min(first_seen) AS first_seen, max(last_seen) AS last_seen, sum(news) AS news, "
    "sum(sessions) AS sessions, sum(requests) AS requests, max(max_score) AS max_score, "
    "if(argMaxMerge(flags) = '', '[]', argMaxMerge(flags)) AS flags, argMaxMerge(level) AS level, "
    "argMaxMerge(ua) AS ua, argMaxMerge(bot_name) AS bot_name, sum(folded) AS folded, max(touched) AS touched "
    "FROM fingerprint_reputation{where} GROUP BY fingerprint HAVING news > 0"
)
"""Every fingerprint's reputation row (`fingerprints` on SQLite): its `fingerprint_reputation` rows, which the view
folded from the news rows as SQLite's upsert folds them, folded together; `{where}` narrows the fingerprints."""
RANK_COLUMNS = (
    "max_score, requests, fingerprint, folded, first_seen, last_seen, sessions, flags, level, ua, bot_name, touched"
)
VIEWS = {"fingerprint_reputation": "fingerprint_reputation_mv", "fingerprint_signals": "fingerprint_signals_mv"}
"""Table -> the materialized view that fills it."""
PER_FINGERPRINT = ("fingerprint_reputation", "fingerprint_ranks", "fingerprint_signals")
"""The tables erasure deletes a fingerprint's rows from."""
CHUNK = 500
"""Fingerprints per statement (parameters travel with the query, so lists stay short, as erasure's)."""


def rank(ch: ClickHouse, fingerprints: Iterable[str]) -> None:
    """Store the current reputation of these fingerprints in rank order (after their news was inserted)."""
    batch = sorted(set(fingerprints))
    for i in range(0, len(batch), CHUNK):
        _insert_ranks(ch, " WHERE fingerprint IN ?", (batch[i : i + CHUNK],))


def _insert_ranks(
    ch: ClickHouse, where: str = "", params: tuple[object, ...] = (), settings: dict[str, object] | None = None
) -> None:
    """Store the folded reputation of the fingerprints `where` selects (all without it) as rank rows."""
    reputations = REPUTATION_SQL.format(where=where)
    ch.command(
        f"INSERT INTO fingerprint_ranks ({RANK_COLUMNS}) SELECT {RANK_COLUMNS} FROM ({reputations})",
        params,
        settings=settings,
    )


def view_select(ch: ClickHouse, view: str, table: str) -> str:
    """The SELECT a materialized view runs on each insert into `table`, as `(columns) SELECT …` to insert by name
    (as the view does) rather than by position."""
    sql = "SELECT as_select FROM system.tables WHERE database = currentDatabase() AND name = ?"
    columns = ", ".join(
        str(r[0])
        for r in ch.rows(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ? ORDER BY position",
            (table,),
        )
    )
    return f"({columns}) SELECT {columns} FROM ({ch.value(sql, (view,))})"


def rebuild(ch: ClickHouse) -> int:
    """Fill the three tables from every stored news row and session (the backfill of migration 0007), each view's
    own query over what is stored; returns the fingerprints ranked. Each insert has a token, so running it twice
    adds nothing."""
    once = {"max_threads": 1}  # one block order, so a second run's tokens match the first's
    for table, view in VIEWS.items():
        token = {"insert_deduplication_token": f"rank-rebuild:{table}", **once}
        ch.command(f"INSERT INTO {table} {view_select(ch, view, table)}", settings=token)
    rank_all(ch, {"insert_deduplication_token": "rank-rebuild:fingerprint_ranks", **once})
    return int(ch.value("SELECT uniqExact(fingerprint) FROM fingerprint_ranks") or 0)


def rank_all(ch: ClickHouse, settings: dict[str, object] | None = None) -> None:
    """Store every fingerprint's current reputation in rank order (after a bulk insert of news)."""
    _insert_ranks(ch, settings=settings)


def forget(ch: ClickHouse, fingerprints: Iterable[str]) -> None:
    """After erasure: delete these fingerprints' rows from the three tables, then add back the signals of their
    sessions left (those of visitors not erased), as SQLite reads them from the sessions it keeps."""
    batch = sorted(set(fingerprints))
    if not batch:
        return
    for table in PER_FINGERPRINT:
        ch.command(f"DELETE FROM {table} WHERE fingerprint IN ?", (batch,))
    select = view_select(ch, VIEWS["fingerprint_signals"], "fingerprint_signals")
    ch.command(f"INSERT INTO fingerprint_signals {select} WHERE fingerprint IN ?", (batch,))  # moved before GROUP BY
