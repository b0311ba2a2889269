"""The storage contract: everything SiteLens asks of a store, whichever engine holds it.

Callers above db/ hold a `Store` from `open_store(url)` and never learn which engine answers: SQLite
(db/sqlite, the embedded default) or ClickHouse (db/clickhouse: a server or cluster, or chDB in-process). The
records these methods return are the shared ones in db/records.py and db/queries/. Every method blocks: call it
from a worker thread (the TUI's workers, `asyncio.to_thread`, the writer's executor), never on the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from db.queries.overview import Overview
from db.url import StoreUrl, parse_store_url, sqlite_url

if TYPE_CHECKING:
    from db.batch import Batch
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


EXPIRE_BATCH_ROWS = 5_000
"""Rows `Store.expire` deletes per table per call: short transactions, so retention never stalls ingestion."""


class Sink(Protocol):
    """Where the batching writer's flushes land (opened and used on the writer's own thread)."""

    @property
    def pid(self) -> int | None:
        """The process that writes, when it is a child of this one."""

    def write(self, batch: Batch) -> None:
        """Store one flush durably, all of it or (raising) none of it."""

    def drain(self) -> bool:
        """Send what waits in a local spool, if the store takes it now; whether nothing waits any more."""

    def keep(self, batch: Batch) -> None:
        """Last chance at shutdown for a batch `write` could not store: keep it wherever it survives a restart,
        past any limit (raises when there is no such place)."""

    def close(self) -> None:
        """Finish and release what the sink holds."""

    @property
    def spooled_events(self) -> int:
        """Events acknowledged into a local spool and not yet in the store (0 where there is no spool)."""


class Store(ABC):
    """One store, opened for reading and writing; safe to share between threads."""

    url: StoreUrl

    # -------------------- lifecycle

    @property
    def engine(self) -> str:
        """ "sqlite" or "clickhouse", for `sitelens check` and logs only: callers never branch on it."""
        return self.url.engine

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def ping(self) -> None:
        """A round trip through the store (health checks); raises DatabaseError when it cannot answer."""

    @abstractmethod
    def schema_version(self) -> int:
        """The schema version the store is at."""

    @abstractmethod
    def latest_schema_version(self) -> int:
        """The newest schema version this SiteLens knows for the engine."""

    @abstractmethod
    def check(self) -> str:
        """Verify the store (integrity, schema) and describe it in one line; DatabaseError saying what is wrong."""

    @abstractmethod
    def open_sink(
        self, *, process: bool = False, cache_kib: int | None = None, spool_dir: str = "", spool_max_bytes: int = 0
    ) -> Sink:
        """The writer's sink; `process` puts the writes in a child process where the engine benefits from it."""

    @abstractmethod
    def consistent_reads(self) -> AbstractContextManager[None]:
        """A block whose reads see one moment of the store where the engine offers that (SQLite: one read
        transaction, e.g. live sessions and their latest events)."""

    @abstractmethod
    def size_bytes(self) -> int:
        """Bytes the store takes on disk, cheap enough for a status bar."""

    @abstractmethod
    def storage_stats(self) -> StorageStats:
        """Rows per table and bytes on disk."""

    @abstractmethod
    def set_retention(self, raw_days: int, rollup_days: int) -> None:
        """Tell an engine that expires rows by itself (a ClickHouse TTL) how long to keep raw rows and rollups;
        0 keeps them all."""

    @abstractmethod
    def expire(self, now: float, raw_days: int, rollup_days: int, limit: int = EXPIRE_BATCH_ROWS) -> dict[str, int]:
        """Apply retention: delete at most `limit` expired rows per table (call again while any count == limit)."""

    # -------------------- moving between stores (`sitelens migrate`)

    @abstractmethod
    def copy_out(self, table: str, after: object, limit: int) -> list[tuple[object, ...]]:
        """Rows of a COPY_TABLES table in its COPY_TABLES columns: those after key `after`, ordered by key, at most
        `limit` (a table without a COPY_KEYS key comes whole, `after` and `limit` ignored)."""

    @abstractmethod
    def copy_in(self, table: str, rows: list[tuple[object, ...]], token: str) -> None:
        """Store rows given as `copy_out` returns them; sending the same rows with the same token again adds
        nothing (a resumed copy may resend its last chunk)."""

    @abstractmethod
    def count_table(self, table: str) -> int:
        """Rows in a COPY_TABLES table, as this store counts them (for the summary of a migration; settings
        without the migration's own progress keys)."""

    # -------------------- export

    @abstractmethod
    def count_rows(self, what: str, flt: ExportFilter, table: str | None = None) -> int:
        """How many rows an export will write (for the progress bar)."""

    @abstractmethod
    def stream_table(self, what: str, flt: ExportFilter, *, table: str | None = None, chunk: int = 5000) -> RowStream:
        """The rows of one exportable table matching a filter, in stable order, as chunks."""

    @abstractmethod
    def export_ledger(self) -> ExportLedger:
        """The scheduled export's runs and deliveries (close it after the tick that uses it)."""

    # -------------------- overview

    @abstractmethod
    def kpis_with_change(self, span: Span, filters: Filters) -> tuple[Kpis, Kpis]:
        """The span's KPIs and those of the equally long period before it."""

    @abstractmethod
    def timeseries(self, span: Span, filters: Filters) -> list[Point]:
        """Pageviews, visitors and bot pageviews per bucket (minute, hour or day, by span length), gaps filled."""

    @abstractmethod
    def heatmap(self, span: Span, filters: Filters) -> list[list[int]]:
        """Pageviews by UTC weekday (rows, Monday first) and hour of day (columns): 7 x 24."""

    @abstractmethod
    def top(self, span: Span, filters: Filters, dimension: str, limit: int = 10) -> list[Row]:
        """The most frequent values of a dimension: pages by pageviews, session attributes by visitors."""

    def tops(self, span: Span, filters: Filters, dimensions: Iterable[str], limit: int = 10) -> dict[str, list[Row]]:
        """`top` of each dimension, as a view shows several at once (an engine may read them together)."""
        return {dimension: self.top(span, filters, dimension, limit) for dimension in dimensions}

    def overview(self, span: Span, filters: Filters, dimensions: Iterable[str], limit: int = 10) -> Overview:
        """The Overview view's numbers in one call, its top lists by `dimensions` (an engine may share reads
        between the parts)."""
        current, previous = self.kpis_with_change(span, filters)
        tops = self.tops(span, filters, dimensions, limit)
        return Overview(current, previous, self.timeseries(span, filters), tops, self.heatmap(span, filters))

    @abstractmethod
    def engagement(self, span: Span, filters: Filters, limit: int = 10) -> list[PageEngagement]:
        """Pages by views with average scroll depth and engaged time (from the tracker's engagement reports)."""

    # -------------------- scope

    @abstractmethod
    def sites(self) -> list[str]:
        """Every site with stored traffic, for the site selector."""

    @abstractmethod
    def first_event_ts(self, site: str | None = None) -> float | None:
        """When the first stored traffic happened (raw events may be gone; rollups remember)."""

    # -------------------- custom events

    @abstractmethod
    def custom_events(self, span: Span, filters: Filters, limit: int = 20) -> list[EventCount]:
        """Custom events by count (visitors counted as in overview.top)."""

    @abstractmethod
    def property_breakdown(
        self, span: Span, filters: Filters, event: str, prop: str, where: dict[str, str] | None = None, limit: int = 20
    ) -> list[PropValue]:
        """Values of property `prop` on event `event`, most frequent first, optionally only where other properties"""

    @abstractmethod
    def property_keys(self, span: Span, filters: Filters, event: str, limit: int = 5) -> list[str]:
        """The most used property keys of custom event `event` in the span (rollups for long spans)."""

    def property_breakdowns(
        self, span: Span, filters: Filters, event: str, keys: int = 5, limit: int = 20
    ) -> list[tuple[str, list[PropValue]]]:
        """The values of each of the event's most used property keys, as the Events view shows them:
        `property_keys`, then `property_breakdown` per key (an engine may answer it in fewer reads)."""
        return [
            (key, self.property_breakdown(span, filters, event, key, limit=limit))
            for key in self.property_keys(span, filters, event, keys)
        ]

    # -------------------- live

    @abstractmethod
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
        """Sessions seen in the last `window_s` before `now`, most recently active first (at most `limit`)."""

    @abstractmethod
    def latest_events(
        self,
        after_id: int = 0,
        *,
        site: str | None = None,
        dims: Iterable[tuple[str, str]] = (),
        bots: bool | None = None,
        limit: int = 100,
    ) -> list[TailEvent]:
        """Events stored after `after_id`, the newest `limit` of them, oldest first (the tail appends them)."""

    @abstractmethod
    def events_since(self, since: float) -> int:
        """How many events were stored with a timestamp after `since` (the status bar's events/s)."""

    @abstractmethod
    def session_timeline(self, session_id: int, limit: int = 500) -> list[TimelineEvent]:
        """The events of one session, oldest first (the first `limit`)."""

    @abstractmethod
    def session_detail(self, session_id: int) -> SessionDetail | None:
        """One session with its User-Agent, bot-score signals and reasons; None when it does not exist."""

    @abstractmethod
    def fingerprint_history(self, fingerprint: str, limit: int = 50) -> list[FingerprintSession]:
        """The latest sessions of one fingerprint, newest first."""

    @abstractmethod
    def split_visits(self, since: float) -> int:
        """Visitors seen since `since` whose sessions overlap in time: one visit counted by two collectors."""

    @abstractmethod
    def sessions_active_since(self, since: float) -> list[SessionRecord]:
        """Sessions seen after `since`, as records the collector can keep extending."""

    # -------------------- bots

    @abstractmethod
    def top_bots(self, span: Span, filters: Filters, limit: int = 20) -> list[BotRow]:
        """Bot sessions started in the span grouped by bot name, busiest first (daily rollups for the whole"""

    @abstractmethod
    def top_fingerprints(self, span: Span, limit: int = 50) -> list[FingerprintRow]:
        """Fingerprints seen in the span, worst first (highest bot score, then most requests)."""

    @abstractmethod
    def drops_by_level(self, span: Span) -> list[DropRow]:
        """Throttle refusals in the span (minute buckets) per level and reason, most first."""

    # -------------------- server

    @abstractmethod
    def endpoints(self, span: Span, filters: Filters, limit: int = 20) -> list[EndpointRow]:
        """Busiest endpoints with p50/p95/p99 latency and error rate (`rollups` forces one path, for tests)."""

    @abstractmethod
    def failed_logins(self, span: Span, filters: Filters, limit: int = 20) -> list[LoginRow]:
        """Sources with the most failed auth events (daily rollups for the whole days of long spans)."""

    @abstractmethod
    def external_costs(self, span: Span, filters: Filters) -> list[CostRow]:
        """External API calls per service with their total cost and p95 latency, most expensive first (exact for"""

    @abstractmethod
    def users(self, span: Span, filters: Filters, limit: int = 20) -> list[UserRow]:
        """Active users of server events by requests (then cost), with errors, external calls and active days."""

    @abstractmethod
    def daily_active_users(self, span: Span, filters: Filters) -> list[tuple[int, int]]:
        """(UTC day start, distinct active users) for each day of the span with any, oldest first."""

    @abstractmethod
    def active_users(self, span: Span, filters: Filters) -> int:
        """Distinct active users over the whole span."""

    # -------------------- requests (imported access logs)

    @abstractmethod
    def status_codes(self, span: Span, filters: Filters) -> list[StatusRow]:
        """Request events per HTTP status code, most hits first."""

    @abstractmethod
    def not_found(self, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
        """Paths with the most 404 answers."""

    @abstractmethod
    def bandwidth(self, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
        """Paths by bytes sent."""

    # -------------------- funnels

    @abstractmethod
    def list_funnels(self, cfg_funnels: Iterable[Any] = ()) -> list[Funnel]:
        """Funnels from the config (first; they win on a name clash) and from the database, by name."""

    @abstractmethod
    def save_funnel(self, funnel: Funnel, *, now: float | None = None) -> None:
        """Create or replace a funnel by name."""

    @abstractmethod
    def delete_funnel(self, name: str) -> bool:
        """Delete a stored funnel; False when there was none by that name."""

    @abstractmethod
    def funnel_report(self, funnel: Funnel, span: Span, filters: Filters) -> list[StepResult]:
        """Per step: visitors entering, converting to the next step within the window, and time between steps."""

    # -------------------- anomalies

    @abstractmethod
    def metric_value(self, metric: str, site: str, start: float, end: float) -> tuple[float, int]:
        """(value, volume) of a metric over [start, end): counts are themselves the volume; ratios and latency"""

    @abstractmethod
    def metric_series(self, metric: str, site: str, span: Span) -> list[tuple[float, float]]:
        """(bucket start, value) across a span for charting next to an anomaly."""

    @abstractmethod
    def open_anomalies(self) -> list[Anomaly]:
        """Anomalies still going on, newest first."""

    @abstractmethod
    def recent_anomalies(
        self, span: Span, limit: int = 100, *, site: str | None = None, open_first: bool = False
    ) -> list[Anomaly]:
        """Anomalies going on at any time in the span, newest first (open ones first if asked); with `site`, that"""

    @abstractmethod
    def insert_anomaly(
        self, kind: str, rule: str, metric: str, site: str, level: str, observed: float, expected: float, started: float
    ) -> Anomaly:
        """Store a newly opened anomaly."""

    @abstractmethod
    def update_anomaly(self, anomaly_id: int, level: str, observed: float, expected: float) -> None:
        """Raise or lower the level of an open anomaly."""

    @abstractmethod
    def close_anomaly(self, anomaly_id: int, ended: float) -> None:
        """close anomaly"""

    @abstractmethod
    def list_rules(self, *, enabled_only: bool = False) -> list[AnomalyRule]:
        """Rules stored in the database (added from the TUI)."""

    @abstractmethod
    def add_rule(
        self, metric: str, window_s: int, warning: float | None, critical: float | None, site: str = "", name: str = ""
    ) -> AnomalyRule:
        """Store a new threshold rule."""

    @abstractmethod
    def set_rule_enabled(self, rule_id: int, enabled: bool) -> bool:
        """set rule enabled"""

    @abstractmethod
    def delete_rule(self, rule_id: int) -> bool:
        """delete rule"""

    # -------------------- throttle

    @abstractmethod
    def set_override(
        self, kind: str, target: str, level: str, reason: str, expires: float | None, *, now: float | None = None
    ) -> int:
        """Store an override (replacing an active one on the same target) and return its id."""

    @abstractmethod
    def clear_override(self, id_or_target: int | str, *, now: float | None = None) -> int:
        """Clear active overrides by id (an int) or target (any str, digits too); returns how many."""

    @abstractmethod
    def active_overrides(self, now: float | None = None) -> list[OverrideRow]:
        """Overrides neither cleared nor expired at `now`, oldest first (later ones win on the same target)."""

    @abstractmethod
    def recent_overrides(self, limit: int = 100) -> list[OverrideRow]:
        """The latest overrides whatever their state, newest first (history for the TUI and `list --all`)."""

    @abstractmethod
    def get_fingerprint(self, fingerprint: str) -> Reputation | None:
        """The stored reputation of one fingerprint."""

    @abstractmethod
    def fingerprint_reputations(
        self, *, since: float = 0.0, min_score: int = 0, limit: int = 50
    ) -> list[Reputation]:
        """Fingerprints seen since `since`, worst first (highest max score, then most requests)."""

    @abstractmethod
    def drops_since(self, since: float) -> list[tuple[str, str, int]]:
        """Throttle refusals since `since` per (level, reason), most first."""

    # -------------------- settings and salts

    @abstractmethod
    def get_setting(self, key: str) -> str | None:
        """get setting"""

    @abstractmethod
    def set_setting(self, key: str, value: str) -> None:
        """set setting"""

    @abstractmethod
    def set_setting_if_absent(self, key: str, value: str) -> str:
        """Store `value` unless another value is there already; returns the stored one."""

    @abstractmethod
    def salt_for_day(self, day: str) -> bytes:
        """The salt of `day` (YYYY-MM-DD), creating it if no process has yet."""

    @abstractmethod
    def forget_salts_before(self, day: str) -> int:
        """Delete salts older than `day`, so old visitor ids can never be recomputed."""

    # -------------------- ingest tokens and imports

    @abstractmethod
    def create_token(self, site: str, label: str = "", now: float | None = None) -> tuple[int, str]:
        """Create an ingest token for a site; returns (id, token) — the token is not retrievable later."""

    @abstractmethod
    def token_site(self, token: str) -> str | None:
        """The site a working (not revoked) database token belongs to, or None."""

    @abstractmethod
    def list_tokens(self, include_revoked: bool = False) -> list[TokenRow]:
        """Stored tokens, newest first."""

    @abstractmethod
    def revoke_token(self, token_id: int, now: float | None = None) -> bool:
        """Revoke a token by id; False when there is no such working token."""

    @abstractmethod
    def import_file(self, device: int, inode: int, head_hash: str, path: str) -> ImportFile:
        """The import record of a file, created at offset 0 when new."""

    @abstractmethod
    def save_import_offset(self, file_id: int, offset: int, lines: int) -> None:
        """Record how far a file has been imported (called inside the writer's flush transaction)."""

    # -------------------- erasure

    @abstractmethod
    def recent_site_uas(self, since: float) -> list[tuple[str, str]]:
        """Distinct (site, User-Agent) of sessions seen since `since` (the inputs to recompute visitor ids)."""

    @abstractmethod
    def known_salts(self) -> list[bytes]:
        """The daily salts still stored (today's and yesterday's; older ones are deleted on purpose)."""

    @abstractmethod
    def existing_visitor_ids(self, candidates: Iterable[str]) -> set[str]:
        """Which of `candidates` appear as a visitor id in sessions or events."""

    @abstractmethod
    def visitor_ids_with_ip(self, ip: str) -> set[str]:
        """Visitor ids of rows that stored this raw IP (only when privacy.store_ip was on)."""

    @abstractmethod
    def stored_ip_count(self) -> int:
        """Whether any IPs are stored at all (decides how an IP erasure can match)."""

    @abstractmethod
    def erase_visitors(self, visitor_ids: Iterable[str], *, ip: str = "") -> Erased:
        """Delete every event and session of these visitors (and rows holding `ip`) and their fingerprints."""


def open_store(url: StoreUrl | str, *, readonly: bool = False, create: bool | None = None) -> Store:
    """Open (and migrate, unless read-only) the store a URL names; DatabaseError with the reason otherwise.

    `create` makes what is missing: None is each engine's habit (a SQLite file is created, a ClickHouse database
    is not: a typo in a server URL should be an error, not a new empty database)."""
    if isinstance(url, str):
        url = parse_store_url(url)
    if url.engine == "sqlite":
        from db.sqlite.store import SqliteStore

        return SqliteStore(url, readonly=readonly, create=True if create is None else create)
    from db.clickhouse.store import ClickHouseStore

    return ClickHouseStore(url, readonly=readonly, create=bool(create))


__all__ = ["EXPIRE_BATCH_ROWS", "Sink", "Store", "StoreUrl", "open_store", "parse_store_url", "sqlite_url"]
