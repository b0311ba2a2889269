"""SQLite behind the storage contract: one connection per store, its calls serialised by a lock."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db.errors import DatabaseError
from db.records import COPY_KEYS, COPY_TABLES
from db.sqlite.batch import FlushHook, SqliteSink
from db.sqlite.connection import cache_pragmas, connect, snapshot
from db.sqlite.export import streams
from db.sqlite.migrate import latest_version
from db.sqlite.queries import (
    anomalies,
    bots,
    common,
    erase,
    events,
    funnels,
    ingest,
    live,
    overview,
    props,
    requests,
    salts,
    server,
    sessions,
    settings,
    storage,
    throttle,
)
from db.sqlite.retention import BATCH_ROWS, RAW_TABLES, ROLLUP_TABLES, cutoffs, delete_raw_batch, delete_rollup_batch
from db.store import Sink, Store
from db.url import StoreUrl

if TYPE_CHECKING:
    from db.export.runs import ExportLedger
    from db.export.streams import ExportFilter, RowStream
    from db.funnels import Funnel, StepResult
    from db.queries.anomalies import Anomaly, AnomalyRule
    from db.queries.bots import BotRow, DropRow, FingerprintRow
    from db.queries.common import Filters, Span
    from db.queries.erase import Erased
    from db.queries.events import EventCount, PropValue
    from db.queries.ingest import ImportFile, TokenRow
    from db.queries.live import ActiveSession, FingerprintSession, SessionDetail, TailEvent, TimelineEvent
    from db.queries.overview import Kpis, PageEngagement, Point, Row
    from db.queries.requests import PathHits, StatusRow
    from db.queries.server import CostRow, EndpointRow, LoginRow, UserRow
    from db.queries.storage import StorageStats
    from db.queries.throttle import FingerprintRow as Reputation
    from db.queries.throttle import OverrideRow
    from db.records import SessionRecord

WRITE_CACHE_KIB = 8_000
"""Page cache of the connection that writes: enough for the index pages new rows land on."""


def flush_hooks() -> list[FlushHook]:
    """What runs inside every flush transaction: the rollups, then a log import's offset."""
    from db.sqlite.rollups import rollup_hooks

    return [*rollup_hooks(), ingest.save_import_offset_hook]


def _closing(chunks: Iterator[list[Any]], conn: Any) -> Iterator[list[Any]]:
    """The chunks, then the connection closed (also when the consumer stops early and closes the generator)."""
    try:
        yield from chunks
    finally:
        conn.close()


class SqliteStore(Store):
    """A SQLite file in WAL mode (db/connection.py), migrated when opened for writing."""

    def __init__(
        self, url: StoreUrl, *, readonly: bool = False, create: bool = True, hooks: list[FlushHook] | None = None
    ) -> None:
        self.url = url
        self.extra_hooks = list(hooks or [])
        """Flush hooks run after the standard ones (tests inject failures this way)."""
        self.path = Path(url.path)
        self._lock = threading.RLock()
        self._db = connect(self.path, readonly=readonly, create=create, pragmas=cache_pragmas(2_000))

    def _conn(self) -> Any:
        return self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ping(self) -> None:
        with self._lock:
            try:
                self._db.execute("SELECT 1").fetchone()
            except Exception as exc:
                raise DatabaseError(f"database {self.path}: {exc}") from None

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def latest_schema_version(self) -> int:
        return latest_version()

    def check(self) -> str:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            result = self._db.execute("PRAGMA quick_check").fetchone()[0]
            mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
        if result != "ok":
            raise DatabaseError(
                f"{self.path} failed its integrity check: {result} — restore a backup or export and re-import"
            )
        return f"{self.path} (SQLite, schema v{version}/{latest_version()}, {mode})"

    def open_sink(
        self, *, process: bool = False, cache_kib: int | None = None, spool_dir: str = "", spool_max_bytes: int = 0
    ) -> Sink:
        pragmas = cache_pragmas(cache_kib or WRITE_CACHE_KIB)
        if not process:
            return SqliteSink(self.path, pragmas, [*flush_hooks(), *self.extra_hooks])
        from db.sqlite.writer_process import WriterProcess

        child = WriterProcess(self.path, [*flush_hooks(), *self.extra_hooks], pragmas)
        child.start()
        return child

    @contextmanager
    def consistent_reads(self) -> Iterator[None]:
        with self._lock, snapshot(self._db):
            yield

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += Path(f"{self.path}{suffix}").stat().st_size
            except OSError:
                pass
        return total

    def storage_stats(self) -> StorageStats:
        with self._lock:
            return storage.storage_stats(self._db, self.path)

    def set_retention(self, raw_days: int, rollup_days: int) -> None:
        """Nothing to set: SQLite's retention deletes in batches (`expire`), run by the collector's service."""

    def expire(self, now: float, raw_days: int, rollup_days: int, limit: int = BATCH_ROWS) -> dict[str, int]:
        due = cutoffs(now, raw_days, rollup_days)
        jobs = [(t, due.raw, delete_raw_batch) for t in RAW_TABLES if due.raw is not None]
        jobs += [(t, due.rollups, delete_rollup_batch) for t in ROLLUP_TABLES if due.rollups is not None]
        deleted: dict[str, int] = {}
        with self._lock:
            for table, cutoff, delete in jobs:
                n = delete(self._db, table, cutoff, limit)  # type: ignore[arg-type]
                if n:
                    deleted[table] = n
        return deleted

    def copy_out(self, table: str, after: object, limit: int) -> list[tuple[object, ...]]:
        columns = ", ".join(f'"{c}"' for c in COPY_TABLES[table])
        key = COPY_KEYS.get(table)
        with self._lock:
            if key is None:
                return [tuple(r) for r in self._db.execute(f"SELECT {columns} FROM {table}")]
            where, params = ("", [limit]) if after is None else (f" WHERE {key} > ?", [after, limit])
            sql = f"SELECT {columns} FROM {table}{where} ORDER BY {key} LIMIT ?"
            return [tuple(r) for r in self._db.execute(sql, params)]

    def copy_in(self, table: str, rows: list[tuple[object, ...]], token: str) -> None:
        raise DatabaseError(
            "sitelens migrate copies into a ClickHouse store (SQLite stays the source); to load a "
            "SQLite file use `sitelens import-json` on an NDJSON export"
        )

    def count_table(self, table: str) -> int:
        if table not in COPY_TABLES:
            raise ValueError(f"not a copied table: {table}")
        with self._lock:
            where = " WHERE key NOT LIKE 'migrate:%'" if table == "settings" else ""
            return int(self._db.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0])

    def export_ledger(self) -> ExportLedger:
        from db.sqlite.export.ledger import SqliteExportLedger

        return SqliteExportLedger(self.path)

    def count_rows(self, what: str, flt: ExportFilter, table: str | None = None) -> int:
        with self._lock:
            return streams.count_rows(self._db, what, flt, table)

    def stream_table(self, what: str, flt: ExportFilter, *, table: str | None = None, chunk: int = 5000) -> RowStream:
        # The stream reads lazily on a connection of its own: the caller consumes it without holding the lock.
        conn = connect(self.path, readonly=True, create=False)
        try:
            stream = streams.stream_table(conn, what, flt, table=table, chunk=chunk)
        except BaseException:
            conn.close()
            raise
        return streams.RowStream(stream.columns, stream.types, _closing(stream.chunks, conn))

    # -------------------- overview

    def kpis_with_change(self, span: Span, filters: Filters) -> tuple[Kpis, Kpis]:
        with self._lock:
            return overview.kpis_with_change(self._conn(), span, filters)

    def timeseries(self, span: Span, filters: Filters) -> list[Point]:
        with self._lock:
            return overview.timeseries(self._conn(), span, filters)

    def heatmap(self, span: Span, filters: Filters) -> list[list[int]]:
        with self._lock:
            return overview.heatmap(self._conn(), span, filters)

    def top(self, span: Span, filters: Filters, dimension: str, limit: int = 10) -> list[Row]:
        with self._lock:
            return overview.top(self._conn(), span, filters, dimension, limit)

    def engagement(self, span: Span, filters: Filters, limit: int = 10) -> list[PageEngagement]:
        with self._lock:
            return overview.engagement(self._conn(), span, filters, limit)

    # -------------------- scope

    def sites(self) -> list[str]:
        with self._lock:
            return common.sites(
                self._conn(),
            )

    def first_event_ts(self, site: str | None = None) -> float | None:
        with self._lock:
            return common.first_event_ts(self._conn(), site)

    # -------------------- custom events

    def custom_events(self, span: Span, filters: Filters, limit: int = 20) -> list[EventCount]:
        with self._lock:
            return events.custom_events(self._conn(), span, filters, limit)

    def property_breakdown(
        self, span: Span, filters: Filters, event: str, prop: str, where: dict[str, str] | None = None, limit: int = 20
    ) -> list[PropValue]:
        with self._lock:
            return events.property_breakdown(self._conn(), span, filters, event, prop, where, limit)

    def property_keys(self, span: Span, filters: Filters, event: str, limit: int = 5) -> list[str]:
        with self._lock:
            return props.property_keys(self._conn(), span, filters, event, limit)

    # -------------------- live

    def active_sessions(
        self,
        now: float,
        *,
        site: str | None = None,
        dims: Iterable[tuple[str, str]] = (),
        bots: bool | None = None,
        limit: int = 200,
        window_s: float = 1800,
    ) -> list[ActiveSession]:
        with self._lock:
            return live.active_sessions(
                self._conn(), now, site=site, dims=dims, bots=bots, limit=limit, window_s=window_s
            )

    def latest_events(
        self,
        after_id: int = 0,
        *,
        site: str | None = None,
        dims: Iterable[tuple[str, str]] = (),
        bots: bool | None = None,
        limit: int = 100,
    ) -> list[TailEvent]:
        with self._lock:
            return live.latest_events(self._conn(), after_id, site=site, dims=dims, bots=bots, limit=limit)

    def events_since(self, since: float) -> int:
        with self._lock:
            return live.events_since(self._conn(), since)

    def session_timeline(self, session_id: int, limit: int = 500) -> list[TimelineEvent]:
        with self._lock:
            return live.session_timeline(self._conn(), session_id, limit)

    def session_detail(self, session_id: int) -> SessionDetail | None:
        with self._lock:
            return live.session_detail(self._conn(), session_id)

    def fingerprint_history(self, fingerprint: str, limit: int = 50) -> list[FingerprintSession]:
        with self._lock:
            return live.fingerprint_history(self._conn(), fingerprint, limit)

    def split_visits(self, since: float) -> int:
        with self._lock:
            return sessions.split_visits(self._conn(), since)

    def sessions_active_since(self, since: float) -> list[SessionRecord]:
        with self._lock:
            return sessions.sessions_active_since(self._conn(), since)

    # -------------------- bots

    def top_bots(self, span: Span, filters: Filters, limit: int = 20) -> list[BotRow]:
        with self._lock:
            return bots.top_bots(self._conn(), span, filters, limit)

    def top_fingerprints(self, span: Span, limit: int = 50) -> list[FingerprintRow]:
        with self._lock:
            return bots.top_fingerprints(self._conn(), span, limit)

    def drops_by_level(self, span: Span) -> list[DropRow]:
        with self._lock:
            return bots.drops_by_level(self._conn(), span)

    # -------------------- server

    def endpoints(self, span: Span, filters: Filters, limit: int = 20) -> list[EndpointRow]:
        with self._lock:
            return server.endpoints(self._conn(), span, filters, limit)

    def failed_logins(self, span: Span, filters: Filters, limit: int = 20) -> list[LoginRow]:
        with self._lock:
            return server.failed_logins(self._conn(), span, filters, limit)

    def external_costs(self, span: Span, filters: Filters) -> list[CostRow]:
        with self._lock:
            return server.external_costs(self._conn(), span, filters)

    def users(self, span: Span, filters: Filters, limit: int = 20) -> list[UserRow]:
        with self._lock:
            return server.users(self._conn(), span, filters, limit)

    def daily_active_users(self, span: Span, filters: Filters) -> list[tuple[int, int]]:
        with self._lock:
            return server.daily_active_users(self._conn(), span, filters)

    def active_users(self, span: Span, filters: Filters) -> int:
        with self._lock:
            return server.active_users(self._conn(), span, filters)

    # -------------------- requests (imported access logs)

    def status_codes(self, span: Span, filters: Filters) -> list[StatusRow]:
        with self._lock:
            return requests.status_codes(self._conn(), span, filters)

    def not_found(self, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
        with self._lock:
            return requests.not_found(self._conn(), span, filters, limit)

    def bandwidth(self, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
        with self._lock:
            return requests.bandwidth(self._conn(), span, filters, limit)

    # -------------------- funnels

    def list_funnels(self, cfg_funnels: Iterable[Any] = ()) -> list[Funnel]:
        with self._lock:
            return funnels.list_funnels(self._conn(), cfg_funnels)

    def save_funnel(self, funnel: Funnel, *, now: float | None = None) -> None:
        with self._lock:
            return funnels.save_funnel(self._conn(), funnel, now=now)

    def delete_funnel(self, name: str) -> bool:
        with self._lock:
            return funnels.delete_funnel(self._conn(), name)

    def funnel_report(self, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
        # One snapshot: the report's later queries bind the candidates its first query found.
        with self._lock, snapshot(self._db):
            return funnels.funnel_report(self._conn(), funnel, span, filters)

    # -------------------- anomalies

    def metric_value(self, metric: str, site: str, start: float, end: float) -> tuple[float, int]:
        with self._lock:
            return anomalies.metric_value(self._conn(), metric, site, start, end)

    def metric_series(self, metric: str, site: str, span: Span) -> list[tuple[float, float]]:
        with self._lock:
            return anomalies.metric_series(self._conn(), metric, site, span)

    def open_anomalies(self) -> list[Anomaly]:
        with self._lock:
            return anomalies.open_anomalies(
                self._conn(),
            )

    def recent_anomalies(
        self, span: Span, limit: int = 100, *, site: str | None = None, open_first: bool = False
    ) -> list[Anomaly]:
        with self._lock:
            return anomalies.recent_anomalies(self._conn(), span, limit, site=site, open_first=open_first)

    def insert_anomaly(
        self, kind: str, rule: str, metric: str, site: str, level: str, observed: float, expected: float, started: float
    ) -> Anomaly:
        with self._lock:
            return anomalies.insert_anomaly(self._conn(), kind, rule, metric, site, level, observed, expected, started)

    def update_anomaly(self, anomaly_id: int, level: str, observed: float, expected: float) -> None:
        with self._lock:
            return anomalies.update_anomaly(self._conn(), anomaly_id, level, observed, expected)

    def close_anomaly(self, anomaly_id: int, ended: float) -> None:
        with self._lock:
            return anomalies.close_anomaly(self._conn(), anomaly_id, ended)

    def list_rules(self, *, enabled_only: bool = False) -> list[AnomalyRule]:
        with self._lock:
            return anomalies.list_rules(self._conn(), enabled_only=enabled_only)

    def add_rule(
        self, metric: str, window_s: int, warning: float | None, critical: float | None, site: str = "", name: str = ""
    ) -> AnomalyRule:
        with self._lock:
            return anomalies.add_rule(self._conn(), metric, window_s, warning, critical, site, name)

    def set_rule_enabled(self, rule_id: int, enabled: bool) -> bool:
        with self._lock:
            return anomalies.set_rule_enabled(self._conn(), rule_id, enabled)

    def delete_rule(self, rule_id: int) -> bool:
        with self._lock:
            return anomalies.delete_rule(self._conn(), rule_id)

    # -------------------- throttle

    def set_override(
        self, kind: str, target: str, level: str, reason: str, expires: float | None, *, now: float | None = None
    ) -> int:
        with self._lock:
            return throttle.set_override(self._conn(), kind, target, level, reason, expires, now=now)

    def clear_override(self, id_or_target: int | str, *, now: float | None = None) -> int:
        with self._lock:
            return throttle.clear_override(self._conn(), id_or_target, now=now)

    def active_overrides(self, now: float | None = None) -> list[OverrideRow]:
        with self._lock:
            return throttle.active_overrides(self._conn(), now)

    def recent_overrides(self, limit: int = 100) -> list[OverrideRow]:
        with self._lock:
            return throttle.recent_overrides(self._conn(), limit)

    def get_fingerprint(self, fingerprint: str) -> Reputation | None:
        with self._lock:
            return throttle.get_fingerprint(self._conn(), fingerprint)

    def fingerprint_reputations(self, *, since: float = 0.0, min_score: int = 0, limit: int = 50) -> list[Reputation]:
        with self._lock:
            return throttle.top_fingerprints(self._conn(), since=since, min_score=min_score, limit=limit)

    def drops_since(self, since: float) -> list[tuple[str, str, int]]:
        with self._lock:
            return throttle.drops_since(self._conn(), since)

    # -------------------- settings and salts

    def get_setting(self, key: str) -> str | None:
        with self._lock:
            return settings.get_setting(self._conn(), key)

    def set_setting(self, key: str, value: str) -> None:
        with self._lock:
            return settings.set_setting(self._conn(), key, value)

    def set_setting_if_absent(self, key: str, value: str) -> str:
        with self._lock:
            return settings.set_setting_if_absent(self._conn(), key, value)

    def salt_for_day(self, day: str) -> bytes:
        with self._lock:
            return salts.salt_for_day(self._conn(), day)

    def forget_salts_before(self, day: str) -> int:
        with self._lock:
            return salts.forget_salts_before(self._conn(), day)

    # -------------------- ingest tokens and imports

    def create_token(self, site: str, label: str = "", now: float | None = None) -> tuple[int, str]:
        with self._lock:
            return ingest.create_token(self._conn(), site, label, now)

    def token_site(self, token: str) -> str | None:
        with self._lock:
            return ingest.token_site(self._conn(), token)

    def list_tokens(self, include_revoked: bool = False) -> list[TokenRow]:
        with self._lock:
            return ingest.list_tokens(self._conn(), include_revoked)

    def revoke_token(self, token_id: int, now: float | None = None) -> bool:
        with self._lock:
            return ingest.revoke_token(self._conn(), token_id, now)

    def import_file(self, device: int, inode: int, head_hash: str, path: str) -> ImportFile:
        with self._lock:
            return ingest.import_file(self._conn(), device, inode, head_hash, path)

    def save_import_offset(self, file_id: int, offset: int, lines: int) -> None:
        with self._lock:
            return ingest.save_import_offset(self._conn(), file_id, offset, lines)

    # -------------------- erasure

    def recent_site_uas(self, since: float) -> list[tuple[str, str]]:
        with self._lock:
            return erase.recent_site_uas(self._conn(), since)

    def known_salts(self) -> list[bytes]:
        with self._lock:
            return erase.known_salts(
                self._conn(),
            )

    def existing_visitor_ids(self, candidates: Iterable[str]) -> set[str]:
        with self._lock:
            return erase.existing_visitor_ids(self._conn(), candidates)

    def visitor_ids_with_ip(self, ip: str) -> set[str]:
        with self._lock:
            return erase.visitor_ids_with_ip(self._conn(), ip)

    def stored_ip_count(self) -> int:
        with self._lock:
            return erase.stored_ip_count(
                self._conn(),
            )

    def erase_visitors(self, visitor_ids: Iterable[str], *, ip: str = "") -> Erased:
        with self._lock:
            return erase.erase_visitors(self._conn(), visitor_ids, ip=ip)
