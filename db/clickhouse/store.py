"""ClickHouse behind the storage contract: a server or cluster over HTTP(S), or chDB in-process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from db.clickhouse import copy, migrate
from db.clickhouse.client import ClickHouse, connect_client
from db.clickhouse.export_runs import ClickHouseExportLedger
from db.clickhouse.queries import (
    anomalies,
    bots,
    common,
    erase,
    events,
    export,
    funnels,
    ingest,
    live,
    overview,
    props,
    requests,
    retention,
    salts,
    server,
    sessions,
    settings,
    storage,
    throttle,
)
from db.clickhouse.writer import ClickHouseSink
from db.errors import DatabaseError
from db.store import EXPIRE_BATCH_ROWS, Sink, Store
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
    from db.queries.overview import Kpis, Overview, PageEngagement, Point, Row
    from db.queries.requests import PathHits, StatusRow
    from db.queries.server import CostRow, EndpointRow, LoginRow, UserRow
    from db.queries.storage import StorageStats
    from db.queries.throttle import FingerprintRow as Reputation
    from db.queries.throttle import OverrideRow
    from db.records import SessionRecord


class ClickHouseStore(Store):
    """One ClickHouse database; clickhouse-connect's client is safe to share between threads (chDB's is
    serialised by the handle)."""

    def __init__(self, url: StoreUrl, *, readonly: bool = False, create: bool = False) -> None:
        self.url = url
        self.ch: ClickHouse = connect_client(url, create_database=create)
        if not readonly:
            migrate.migrate(self.ch)
        else:
            current, newest = migrate.schema_version(self.ch), migrate.latest_version()
            if current > newest:
                raise DatabaseError(
                    f"the store {url.display()} has schema version {current}, newer than this "
                    f"SiteLens knows ({newest}): upgrade SiteLens"
                )

    def close(self) -> None:
        self.ch.close()

    def ping(self) -> None:
        self.ch.value("SELECT 1")

    def schema_version(self) -> int:
        return migrate.schema_version(self.ch)

    def latest_schema_version(self) -> int:
        return migrate.latest_version()

    def check(self) -> str:
        version = self.ch.value("SELECT version()")
        return (
            f"{self.url.display()} (ClickHouse {version}, schema v{self.schema_version()}/"
            f"{self.latest_schema_version()})"
        )

    def open_sink(
        self, *, process: bool = False, cache_kib: int | None = None, spool_dir: str = "", spool_max_bytes: int = 0
    ) -> Sink:
        if not spool_dir:
            raise DatabaseError("a ClickHouse writer needs a spool directory")
        limit = spool_max_bytes or 512 * 1024 * 1024
        if process and self.url.scheme != "chdb":  # chDB's engine cannot be opened by a second process
            from db.clickhouse.sink_process import ClickHouseSinkProcess

            child = ClickHouseSinkProcess(self.url, spool_dir, limit)
            child.start()
            return child
        return ClickHouseSink(self.ch, spool_dir, limit)

    @contextmanager
    def consistent_reads(self) -> Iterator[None]:
        yield  # each ClickHouse query sees its own snapshot; readers tolerate a session without its newest event

    def size_bytes(self) -> int:
        return int(
            self.ch.value("SELECT sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() AND active")
            or 0
        )

    def storage_stats(self) -> StorageStats:
        return storage.storage_stats(self.ch)

    def set_retention(self, raw_days: int, rollup_days: int) -> None:
        retention.set_retention(self.ch, raw_days, rollup_days)

    def expire(self, now: float, raw_days: int, rollup_days: int, limit: int = EXPIRE_BATCH_ROWS) -> dict[str, int]:
        return {}  # raw rows and rollups expire by the tables' TTL (set_retention)

    def copy_out(self, table: str, after: object, limit: int) -> list[tuple[object, ...]]:
        raise DatabaseError(
            "sitelens migrate copies from a SQLite store into ClickHouse; use `sitelens export` to "
            "take data out of ClickHouse"
        )

    def copy_in(self, table: str, rows: list[tuple[object, ...]], token: str) -> None:
        copy.copy_in(self.ch, table, rows, token)

    def count_table(self, table: str) -> int:
        return copy.count_table(self.ch, table)

    def export_ledger(self) -> ExportLedger:
        return ClickHouseExportLedger(self.ch)

    def count_rows(self, what: str, flt: ExportFilter, table: str | None = None) -> int:
        return export.count_rows(self.ch, what, flt, table)

    def stream_table(self, what: str, flt: ExportFilter, *, table: str | None = None, chunk: int = 5000) -> RowStream:
        return export.stream_table(self.ch, what, flt, table=table, chunk=chunk)

    # -------------------- overview

    def kpis_with_change(self, span: Span, filters: Filters) -> tuple[Kpis, Kpis]:
        return overview.kpis_with_change(self.ch, span, filters)

    def timeseries(self, span: Span, filters: Filters) -> list[Point]:
        return overview.timeseries(self.ch, span, filters)

    def heatmap(self, span: Span, filters: Filters) -> list[list[int]]:
        return overview.heatmap(self.ch, span, filters)

    def top(self, span: Span, filters: Filters, dimension: str, limit: int = 10) -> list[Row]:
        return overview.top(self.ch, span, filters, dimension, limit)

    def tops(self, span: Span, filters: Filters, dimensions: Iterable[str], limit: int = 10) -> dict[str, list[Row]]:
        return overview.tops(self.ch, span, filters, dimensions, limit)

    def overview(self, span: Span, filters: Filters, dimensions: Iterable[str], limit: int = 10) -> Overview:
        return overview.overview(self.ch, span, filters, dimensions, limit)

    def engagement(self, span: Span, filters: Filters, limit: int = 10) -> list[PageEngagement]:
        return overview.engagement(self.ch, span, filters, limit)

    # -------------------- scope

    def sites(self) -> list[str]:
        return common.sites(self.ch)

    def first_event_ts(self, site: str | None = None) -> float | None:
        return common.first_event_ts(self.ch, site)

    # -------------------- custom events

    def custom_events(self, span: Span, filters: Filters, limit: int = 20) -> list[EventCount]:
        return events.custom_events(self.ch, span, filters, limit)

    def property_breakdown(
        self, span: Span, filters: Filters, event: str, prop: str, where: dict[str, str] | None = None, limit: int = 20
    ) -> list[PropValue]:
        return events.property_breakdown(self.ch, span, filters, event, prop, where, limit)

    def property_keys(self, span: Span, filters: Filters, event: str, limit: int = 5) -> list[str]:
        return props.property_keys(self.ch, span, filters, event, limit)

    def property_breakdowns(
        self, span: Span, filters: Filters, event: str, keys: int = 5, limit: int = 20
    ) -> list[tuple[str, list[PropValue]]]:
        return events.property_breakdowns(self.ch, span, filters, event, keys, limit)

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
        return live.active_sessions(self.ch, now, site=site, dims=dims, bots=bots, limit=limit, window_s=window_s)

    def latest_events(
        self,
        after_id: int = 0,
        *,
        site: str | None = None,
        dims: Iterable[tuple[str, str]] = (),
        bots: bool | None = None,
        limit: int = 100,
    ) -> list[TailEvent]:
        return live.latest_events(self.ch, after_id, site=site, dims=dims, bots=bots, limit=limit)

    def events_since(self, since: float) -> int:
        return live.events_since(self.ch, since)

    def session_timeline(self, session_id: int, limit: int = 500) -> list[TimelineEvent]:
        return live.session_timeline(self.ch, session_id, limit)

    def session_detail(self, session_id: int) -> SessionDetail | None:
        return live.session_detail(self.ch, session_id)

    def fingerprint_history(self, fingerprint: str, limit: int = 50) -> list[FingerprintSession]:
        return live.fingerprint_history(self.ch, fingerprint, limit)

    def split_visits(self, since: float) -> int:
        return sessions.split_visits(self.ch, since)

    def sessions_active_since(self, since: float) -> list[SessionRecord]:
        return sessions.sessions_active_since(self.ch, since)

    # -------------------- bots

    def top_bots(self, span: Span, filters: Filters, limit: int = 20) -> list[BotRow]:
        return bots.top_bots(self.ch, span, filters, limit)

    def top_fingerprints(self, span: Span, limit: int = 50) -> list[FingerprintRow]:
        return bots.top_fingerprints(self.ch, span, limit)

    def drops_by_level(self, span: Span) -> list[DropRow]:
        return bots.drops_by_level(self.ch, span)

    # -------------------- server

    def endpoints(self, span: Span, filters: Filters, limit: int = 20) -> list[EndpointRow]:
        return server.endpoints(self.ch, span, filters, limit)

    def failed_logins(self, span: Span, filters: Filters, limit: int = 20) -> list[LoginRow]:
        return server.failed_logins(self.ch, span, filters, limit)

    def external_costs(self, span: Span, filters: Filters) -> list[CostRow]:
        return server.external_costs(self.ch, span, filters)

    def users(self, span: Span, filters: Filters, limit: int = 20) -> list[UserRow]:
        return server.users(self.ch, span, filters, limit)

    def daily_active_users(self, span: Span, filters: Filters) -> list[tuple[int, int]]:
        return server.daily_active_users(self.ch, span, filters)

    def active_users(self, span: Span, filters: Filters) -> int:
        return server.active_users(self.ch, span, filters)

    # -------------------- requests (imported access logs)

    def status_codes(self, span: Span, filters: Filters) -> list[StatusRow]:
        return requests.status_codes(self.ch, span, filters)

    def not_found(self, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
        return requests.not_found(self.ch, span, filters, limit)

    def bandwidth(self, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
        return requests.bandwidth(self.ch, span, filters, limit)

    # -------------------- funnels

    def list_funnels(self, cfg_funnels: Iterable[Any] = ()) -> list[Funnel]:
        return funnels.list_funnels(self.ch, cfg_funnels)

    def save_funnel(self, funnel: Funnel, *, now: float | None = None) -> None:
        return funnels.save_funnel(self.ch, funnel, now=now)

    def delete_funnel(self, name: str) -> bool:
        return funnels.delete_funnel(self.ch, name)

    def funnel_report(self, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
        return funnels.funnel_report(self.ch, funnel, span, filters)

    # -------------------- anomalies

    def metric_value(self, metric: str, site: str, start: float, end: float) -> tuple[float, int]:
        return anomalies.metric_value(self.ch, metric, site, start, end)

    def metric_series(self, metric: str, site: str, span: Span) -> list[tuple[float, float]]:
        return anomalies.metric_series(self.ch, metric, site, span)

    def open_anomalies(self) -> list[Anomaly]:
        return anomalies.open_anomalies(self.ch)

    def recent_anomalies(
        self, span: Span, limit: int = 100, *, site: str | None = None, open_first: bool = False
    ) -> list[Anomaly]:
        return anomalies.recent_anomalies(self.ch, span, limit, site=site, open_first=open_first)

    def insert_anomaly(
        self, kind: str, rule: str, metric: str, site: str, level: str, observed: float, expected: float, started: float
    ) -> Anomaly:
        return anomalies.insert_anomaly(self.ch, kind, rule, metric, site, level, observed, expected, started)

    def update_anomaly(self, anomaly_id: int, level: str, observed: float, expected: float) -> None:
        return anomalies.update_anomaly(self.ch, anomaly_id, level, observed, expected)

    def close_anomaly(self, anomaly_id: int, ended: float) -> None:
        return anomalies.close_anomaly(self.ch, anomaly_id, ended)

    def list_rules(self, *, enabled_only: bool = False) -> list[AnomalyRule]:
        return anomalies.list_rules(self.ch, enabled_only=enabled_only)

    def add_rule(
        self, metric: str, window_s: int, warning: float | None, critical: float | None, site: str = "", name: str = ""
    ) -> AnomalyRule:
        return anomalies.add_rule(self.ch, metric, window_s, warning, critical, site, name)

    def set_rule_enabled(self, rule_id: int, enabled: bool) -> bool:
        return anomalies.set_rule_enabled(self.ch, rule_id, enabled)

    def delete_rule(self, rule_id: int) -> bool:
        return anomalies.delete_rule(self.ch, rule_id)

    # -------------------- throttle

    def set_override(
        self, kind: str, target: str, level: str, reason: str, expires: float | None, *, now: float | None = None
    ) -> int:
        return throttle.set_override(self.ch, kind, target, level, reason, expires, now=now)

    def clear_override(self, id_or_target: int | str, *, now: float | None = None) -> int:
        return throttle.clear_override(self.ch, id_or_target, now=now)

    def active_overrides(self, now: float | None = None) -> list[OverrideRow]:
        return throttle.active_overrides(self.ch, now)

    def recent_overrides(self, limit: int = 100) -> list[OverrideRow]:
        return throttle.recent_overrides(self.ch, limit)

    def get_fingerprint(self, fingerprint: str) -> Reputation | None:
        return throttle.get_fingerprint(self.ch, fingerprint)

    def fingerprint_reputations(self, *, since: float = 0.0, min_score: int = 0, limit: int = 50) -> list[Reputation]:
        return throttle.top_fingerprints(self.ch, since=since, min_score=min_score, limit=limit)

    def drops_since(self, since: float) -> list[tuple[str, str, int]]:
        return throttle.drops_since(self.ch, since)

    # -------------------- settings and salts

    def get_setting(self, key: str) -> str | None:
        return settings.get_setting(self.ch, key)

    def set_setting(self, key: str, value: str) -> None:
        return settings.set_setting(self.ch, key, value)

    def set_setting_if_absent(self, key: str, value: str) -> str:
        return settings.set_setting_if_absent(self.ch, key, value)

    def salt_for_day(self, day: str) -> bytes:
        return salts.salt_for_day(self.ch, day)

    def forget_salts_before(self, day: str) -> int:
        return salts.forget_salts_before(self.ch, day)

    # -------------------- ingest tokens and imports

    def create_token(self, site: str, label: str = "", now: float | None = None) -> tuple[int, str]:
        return ingest.create_token(self.ch, site, label, now)

    def token_site(self, token: str) -> str | None:
        return ingest.token_site(self.ch, token)

    def list_tokens(self, include_revoked: bool = False) -> list[TokenRow]:
        return ingest.list_tokens(self.ch, include_revoked)

    def revoke_token(self, token_id: int, now: float | None = None) -> bool:
        return ingest.revoke_token(self.ch, token_id, now)

    def import_file(self, device: int, inode: int, head_hash: str, path: str) -> ImportFile:
        return ingest.import_file(self.ch, device, inode, head_hash, path)

    def save_import_offset(self, file_id: int, offset: int, lines: int) -> None:
        return ingest.save_import_offset(self.ch, file_id, offset, lines)

    # -------------------- erasure

    def recent_site_uas(self, since: float) -> list[tuple[str, str]]:
        return erase.recent_site_uas(self.ch, since)

    def known_salts(self) -> list[bytes]:
        return erase.known_salts(self.ch)

    def existing_visitor_ids(self, candidates: Iterable[str]) -> set[str]:
        return erase.existing_visitor_ids(self.ch, candidates)

    def visitor_ids_with_ip(self, ip: str) -> set[str]:
        return erase.visitor_ids_with_ip(self.ch, ip)

    def stored_ip_count(self) -> int:
        return erase.stored_ip_count(self.ch)

    def erase_visitors(self, visitor_ids: Iterable[str], *, ip: str = "") -> Erased:
        return erase.erase_visitors(self.ch, visitor_ids, ip=ip)
