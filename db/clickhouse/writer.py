"""Writing one flush's batch into ClickHouse: inserts with deduplication tokens, a local spool while it is away."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from db.batch import Batch
from db.clickhouse import funnel_steps, rank, rollups
from db.clickhouse.client import ClickHouse
from db.clickhouse.ids import new_id
from db.clickhouse.spool import Spool, SpoolFull
from db.errors import DatabaseError
from db.records import EVENT_COLUMNS, SESSION_COLUMNS

log = logging.getLogger("sitelens.writer")

FINGERPRINT_COLUMNS = ("fingerprint", "seen", "new_sessions", "requests", "score", "level", "ua", "bot_name", "flags")
RETRY_AFTER_S = 5.0
"""After a failed insert, batches go straight to the spool for this long before ClickHouse is tried again."""


@dataclass(slots=True)
class Prepared:
    """A batch made ready to insert: event ids assigned and a token, so every retry inserts the same rows."""

    token: str
    events: list[tuple[object, ...]]
    sessions: list[tuple[object, ...]]
    fingerprints: list[tuple[object, ...]]
    drops: list[tuple[object, ...]]
    levels: dict[str, str]
    import_offset: tuple[int, int, int] | None
    created: float = field(default_factory=time.time)


_SESSION_ID = SESSION_COLUMNS.index("id")
_SESSION_IS_BOT = SESSION_COLUMNS.index("is_bot")
_SESSION_SITE = SESSION_COLUMNS.index("site")
_SESSION_STARTED = SESSION_COLUMNS.index("started")
_EVENT_SESSION = EVENT_COLUMNS.index("session_id")
_EVENT_IS_BOT = EVENT_COLUMNS.index("is_bot")


def prepare(batch: Batch) -> Prepared:
    """Ids, versions and a deduplication token for a batch (done once: a retry must send the very same rows)."""
    now = time.time()
    version = time.time_ns()
    fingerprints: list[tuple[object, ...]] = [
        (f.fingerprint, f.seen, f.new_sessions, f.requests, f.score, f.level, f.ua, f.bot_name, f.flags)
        for f in batch.fingerprints.values()
    ]
    fingerprints += [(fp, now, 0, 0, 0, level, "", "", "[]") for fp, level in batch.levels.items()]
    bots = {sid for sid, row in batch.sessions.items() if row[_SESSION_IS_BOT]}
    return Prepared(
        token=batch.token or uuid.uuid4().hex,
        events=[(new_id(float(row[0])), *_as_bot(row, bots)) for row in batch.events],  # type: ignore[arg-type]
        sessions=[(*row, version) for row in batch.sessions.values()],
        fingerprints=fingerprints,
        drops=[(*key, n) for key, n in batch.drops.items()],
        levels=dict(batch.levels),
        import_offset=batch.import_offset,
    )


def _as_bot(row: tuple[object, ...], bots: set[int]) -> tuple[object, ...]:
    """An event of a session that is a bot now is a bot's event, whatever its own hit looked like."""
    if row[_EVENT_IS_BOT] or row[_EVENT_SESSION] not in bots:
        return row
    return (*row[:_EVENT_IS_BOT], 1, *row[_EVENT_IS_BOT + 1 :])


KNOWN_SESSIONS_MAX = 100_000
"""Sessions whose stored bot verdict a sink remembers (a few dozen bytes each), so a bot's every flush does not
ask the store again."""


def remark_bot_sessions(
    ch: ClickHouse, sessions: list[tuple[object, ...]], known: dict[int, bool] | None = None, token: str = ""
) -> None:
    """The rule SQLite's writer keeps (db/sqlite/batch.py mark_bot_sessions): when a session turns out to be a bot,
    its events stored as human become a bot's. Runs before the sessions are inserted, so a retry finds the same
    sessions still human in the store and re-marks again (the update is idempotent). `known` (session id → stored
    as a bot) spares the store the question for sessions this sink wrote itself; the caller updates it once the
    sessions are stored. The rollups move the re-marked events' sums first (`token` is the batch's)."""
    known = {} if known is None else known
    bots = [row for row in sessions if row[_SESSION_IS_BOT] and not known.get(int(row[_SESSION_ID]))]  # type: ignore[call-overload]
    if not bots:
        return
    ids = [int(row[_SESSION_ID]) for row in bots]  # type: ignore[call-overload]
    sites = sorted({str(row[_SESSION_SITE]) for row in bots})
    since = min(float(row[_SESSION_STARTED]) for row in bots)  # type: ignore[arg-type]
    unknown = [sid for sid in ids if sid not in known]
    stored: dict[int, bool] = {}
    if unknown:  # a session never stored has no stored events either: they go in with its first snapshot
        stored = {
            int(r[0]): bool(r[1])
            for r in ch.rows(
                "SELECT id, is_bot FROM sessions FINAL WHERE site IN ? AND started >= ? AND id IN ?",
                (sites, since, unknown),
            )
        }
    flipped = [sid for sid in ids if known.get(sid) is False or stored.get(sid) is False]
    if not flipped:
        return
    rollups.move_to_bots(ch, sites, since, flipped, f"{token}:m")
    # By the events' sort key first (site, time), so the update reads only the days these sessions ran, not every
    # event; funnel steps (ordered by site, type, path or name, time) by their monthly partitions.
    for table in ("events", funnel_steps.TABLE):
        update(
            ch, table, "is_bot = 1", "site IN ? AND ts >= ? AND session_id IN ? AND is_bot = 0", (sites, since, flipped)
        )


def update(ch: ClickHouse, table: str, assignments: str, where: str, params: tuple[object, ...]) -> None:
    """A lightweight UPDATE (ClickHouse 25.7 and newer), else a mutation that the server applies by itself."""
    try:
        ch.command(f"UPDATE {table} SET {assignments} WHERE {where}", params)
    except DatabaseError:
        ch.command(f"ALTER TABLE {table} UPDATE {assignments} WHERE {where}", params)


def insert(ch: ClickHouse, p: Prepared, known: dict[int, bool] | None = None, memo: rollups.Memo | None = None) -> None:
    """Insert a prepared batch; each table's insert has its own token, so sending it again changes nothing.
    `memo` holds what the rollups need of sessions this sink wrote (see db/clickhouse/rollups.py)."""
    remark_bot_sessions(ch, p.sessions, known, p.token)
    memo = memo if memo is not None else rollups.Memo()
    rolled = rollups.roll_up_batch(ch, p.events, p.sessions, p.token, memo)
    ch.insert("events", p.events, ("id", *EVENT_COLUMNS), token=f"{p.token}:e")
    funnel_steps.insert(ch, p.events, p.token)
    ch.insert("sessions", p.sessions, (*SESSION_COLUMNS, "version"), token=f"{p.token}:s")
    ch.insert("fingerprint_news", p.fingerprints, FINGERPRINT_COLUMNS, token=f"{p.token}:f")
    rank.rank(ch, (str(f[0]) for f in p.fingerprints))  # after the news: it reads them back
    ch.insert("throttle_drops", p.drops, ("bucket", "level", "reason", "count"), token=f"{p.token}:d")
    if p.levels:  # one mutation per level, not per fingerprint: a mutation rewrites parts, it is not cheap
        since = p.created - 86400
        by_level: dict[str, list[str]] = {}
        for fp, level in p.levels.items():
            by_level.setdefault(level, []).append(fp)
        for level, fps in sorted(by_level.items()):
            update(
                ch, "sessions", "throttle_level = ?", "fingerprint IN ? AND last_seen > ?", (level, sorted(fps), since)
            )
    memo.remember(*rolled)
    if p.import_offset is not None:
        file_id, offset, lines = p.import_offset
        ch.command(
            "INSERT INTO import_files SELECT id, device, inode, head_hash, path, greatest(offset, ?), "
            "greatest(lines, ?), ?, ? FROM import_files FINAL WHERE id = ?",
            (offset, lines, p.created, time.time_ns(), file_id),
            settings={"insert_deduplication_token": f"{p.token}:i"},
        )


class ClickHouseSink:
    """Writes batches into ClickHouse, or into the spool when it cannot; drains the spool first, in order."""

    pid: int | None = None

    def __init__(self, ch: ClickHouse, spool_dir: str | Path, spool_max_bytes: int) -> None:
        self.ch = ch
        self.spool = Spool(spool_dir, spool_max_bytes)
        self._retry_at = 0.0
        self.last_error = ""
        self._known: dict[int, bool] = {}
        """Sessions this sink stored, and whether as bots (see remark_bot_sessions)."""
        self._memo = rollups.Memo(since=time.time())

    @property
    def spooled_events(self) -> int:
        return self.spool.events

    def write(self, batch: Batch) -> None:
        """Store the batch in ClickHouse or durably in the spool; SpoolFull when neither can take it."""
        prepared = prepare(batch)
        if self.drain() and self._try(prepared):
            return
        self.spool.append(prepared)  # raises SpoolFull: the writer keeps the batch queued

    def keep(self, batch: Batch) -> None:
        """At shutdown: into ClickHouse if it answers, else into the spool whatever its limit, for the next start."""
        try:
            self.write(batch)
        except SpoolFull:
            self.spool.append(prepare(batch), force=True)

    def close(self) -> None:
        """Try once more to send what waits in the spool; what cannot go stays there for the next start."""
        self._retry_at = 0.0
        self.drain()

    def drain(self) -> bool:
        """Send spooled batches, oldest first; True when the spool is empty afterwards."""
        if not len(self.spool):
            return time.monotonic() >= self._retry_at
        if time.monotonic() < self._retry_at:
            return False
        for path, item in self.spool.oldest():
            if not self._try(item):
                return False
            self.spool.remove(path, item)
            log.info(
                "spool: sent a batch of %d events to ClickHouse (%d batches left)", len(item.events), len(self.spool)
            )
        return True

    def _try(self, prepared: Prepared) -> bool:
        try:
            insert(self.ch, prepared, self._known, self._memo)
        except DatabaseError as exc:
            if not self.last_error:
                log.error("ClickHouse unavailable, spooling to %s: %s", self.spool.directory, exc)
            self.last_error = str(exc)
            self._retry_at = time.monotonic() + RETRY_AFTER_S
            return False
        if self.last_error:
            log.info("ClickHouse reachable again")
        self.last_error = ""
        if len(self._known) > KNOWN_SESSIONS_MAX:
            self._known.clear()
        for row in prepared.sessions:
            self._known[int(row[_SESSION_ID])] = bool(row[_SESSION_IS_BOT])  # type: ignore[call-overload]
        return True


__all__ = ["ClickHouseSink", "Prepared", "SpoolFull", "insert", "prepare"]
