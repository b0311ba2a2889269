"""The collector's one app factory, used by headless mode, the TUI and the tests."""

from __future__ import annotations

import gc
import logging
import secrets
import time
from collections.abc import AsyncIterator

from aiohttp import web

from collector import keys
from collector.admin import setup_admin_routes
from collector.config import Config
from collector.enrich.geo import AsnLookup, GeoLookup
from collector.enrich.ua import warm_up as warm_up_ua_parser
from collector.errors import StorageUnavailable
from collector.export_api import setup_export_routes
from collector.handlers import setup_routes
from collector.ingest import setup_ingest_routes
from collector.middlewares import error_middleware
from collector.openapi import setup_openapi_route
from collector.pipeline import Pipeline
from collector.salts import SaltStore
from collector.tasks import background_ctx
from collector.throttle import Throttle, override_from_row
from db.store import Store, open_store
from db.writer import Writer

log = logging.getLogger("sitelens.collector")


def allowed_origins(cfg: Config) -> frozenset[str]:
    """CORS origins for the configured sites (http and https, with and without www), plus extra origins."""
    origins: set[str] = set()
    for site in cfg.sites:
        host = site.name.lower()
        for scheme in ("https", "http"):
            origins.add(f"{scheme}://{host}")
            origins.add(f"{scheme}://www.{host}")
        origins.update(o.lower().rstrip("/") for o in site.origins)
    return frozenset(origins)


def ensure_admin_token(cfg: Config, store: Store) -> str:
    """The admin token: from config, else the one generated at first start (logged once, when generated)."""
    if cfg.auth.admin_token:
        return cfg.auth.admin_token
    candidate = secrets.token_urlsafe(24)
    token = store.set_setting_if_absent("admin_token", candidate)
    if token == candidate:
        log.warning(
            "generated admin token %s (shown once; set auth.admin_token or SITELENS_ADMIN_TOKEN to choose one)", token
        )
    return token


GC_THRESHOLD = (50_000, 10, 10)
"""Young collections every 50,000 net allocations instead of 700. What is young and alive at any moment is
mostly what waits for the next flush (rows, fingerprint news: a few objects per queued event), and it all dies
at the flush; a threshold above that swing keeps young collections from firing on every flush cycle only to
promote objects about to die (10,000 did: ~4 µs per event of collection work at a few thousand events/s)."""


def tune_gc() -> None:
    """Collect less often, and never rescan what startup loaded (UA tables, GeoIP, adopted sessions)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: open the store, GeoIP, the writer and the pipeline; flush and close them at shutdown."""
    cfg = app[keys.CONFIG]
    warm_up_ua_parser()  # load the UA pattern tables now, not on the first request
    geo = GeoLookup(cfg.geoip.path or None)
    asn = AsnLookup(cfg.geoip.asn_path) if cfg.geoip.asn_path else None
    url = cfg.store_url
    store = open_store(url)  # salts, overrides, settings, start-up reads, health, the read API
    store.set_retention(cfg.retention.raw_days, cfg.retention.rollup_days)
    writer = Writer(
        store,
        flush_interval_s=cfg.db.flush_interval_s,
        flush_count=cfg.db.flush_count,
        queue_max=cfg.db.queue_max,
        process=True,  # flushes in a child process, never holding this process's GIL (chdb:// excepted)
        spool_dir=str(cfg.spool_dir),
        spool_max_bytes=cfg.db.spool_max_mb * 1024 * 1024,
    )
    await writer.start()
    salts = SaltStore(store)
    try:
        salts.prepare()
    except StorageUnavailable as exc:
        log.warning("cannot create today's visitor-id salt yet (%s): events get 503 until it can", exc)
    pipeline = Pipeline(cfg, writer, salts, geo, asn)
    if cfg.throttle.enabled:  # overrides are reloaded every second by the throttle-sync service
        t = cfg.throttle
        pipeline.throttle = Throttle(t.base_rate, t.burst, t.quiet_period_s, t.violations_to_escalate)
        pipeline.throttle.set_overrides([o for o in map(override_from_row, store.active_overrides()) if o])
    for record in store.sessions_active_since(time.time() - cfg.privacy.session_timeout_s):
        pipeline.sessions.adopt(record)
    app[keys.STORE] = store
    app[keys.WRITER] = writer
    app[keys.PIPELINE] = pipeline
    app[keys.ADMIN_TOKEN] = ensure_admin_token(cfg, store)
    app[keys.STARTED_AT] = time.time()
    if not cfg.sites:
        log.warning("no sites configured: accepting events for any site from any origin")
    log.info("collector storage open: %s", url.display())
    tune_gc()
    try:
        yield
    finally:
        await writer.stop()
        store.close()
        geo.close()
        if asn is not None:
            asn.close()
        log.info("collector stopped: %d events written", writer.stats.written_events)


def create_app(cfg: Config) -> web.Application:
    """Build the collector application; start it with web.AppRunner (inside any running loop) or run_app."""
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=max(cfg.server.max_body_bytes, cfg.server.max_ingest_bytes) + 1,
        # Request bodies are decoded by read_body, within each route's own limit and with JSON errors.
        handler_args={"auto_decompress": False},
    )
    app[keys.CONFIG] = cfg
    app[keys.ALLOWED_ORIGINS] = allowed_origins(cfg)
    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(background_ctx)
    setup_routes(app)
    setup_ingest_routes(app)
    setup_export_routes(app)  # GET /api/export; checks scheduled-export destinations
    setup_admin_routes(app)  # GET /api/stats, GET /api/anomalies
    setup_openapi_route(app)  # GET /api/openapi.json
    return app
