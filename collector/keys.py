"""Every piece of typed state the collector keeps on its aiohttp Application."""

from __future__ import annotations

from aiohttp import web

from collector.client_ip import TrustedProxies
from collector.config import Config
from collector.export.status import ExportState
from collector.pipeline import Pipeline
from db.store import Store
from db.writer import Writer

CONFIG = web.AppKey("config", Config)
WRITER = web.AppKey("writer", Writer)
PIPELINE = web.AppKey("pipeline", Pipeline)
STORE = web.AppKey("store", Store)
"""The collector's own handle on the store: start-up reads, salts, settings, health, the read API. Its calls
block, so handlers run them in a thread; the writer has its own path to the store."""
ADMIN_TOKEN = web.AppKey("admin_token", str)
STARTED_AT = web.AppKey("started_at", float)
ALLOWED_ORIGINS = web.AppKey("allowed_origins", frozenset)
"""CORS origins allowed to post events; empty means any origin (no sites configured)."""
SITE_NAMES = web.AppKey("site_names", frozenset)
"""Configured site names, computed once (empty: any site is accepted)."""
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
"""Reverse proxies whose forwarding headers are believed."""
EXPORT = web.AppKey("export", ExportState)
"""The scheduled export's destinations and live progress."""
