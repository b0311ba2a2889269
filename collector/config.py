"""The one typed configuration object: TOML file → SITELENS_* environment → command-line flags."""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import platformdirs

from collector.errors import UserError
from db.url import StoreUrl, StoreUrlError, parse_store_url, sqlite_url

APP_NAME = "sitelens"


class ConfigError(UserError):
    """A configuration problem, worded for the user (no traceback is shown for it)."""


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    """Address the collector listens on; put nginx/Caddy in front for the public internet."""
    port: int = 8765
    """TCP port of the collector."""
    trusted_proxies: list[str] = field(default_factory=list)
    """Peers (IPs or CIDRs) whose X-Forwarded-For / X-Real-IP header is believed."""
    max_body_bytes: int = 64 * 1024
    """Largest accepted request body for tracker events (413 above it)."""
    max_ingest_bytes: int = 1024 * 1024
    """Largest accepted body on /api/ingest (server-side batches of up to 1000 events)."""


@dataclass(slots=True)
class SiteConfig:
    name: str
    """The site id sent by the tracker (`data-site`), usually the domain."""
    origins: list[str] = field(default_factory=list)
    """Extra allowed CORS origins; https://NAME and https://www.NAME are always allowed."""
    ingest_token: str = ""
    """Bearer token for server-side events of this site (POST /api/ingest)."""


@dataclass(slots=True)
class DbConfig:
    url: str = ""
    """Store URL: `sqlite:///PATH`, `clickhouse://USER:PASSWORD@HOST:8123/DATABASE`, `clickhouses://…` (TLS) or
    `chdb:///PATH`; empty means the SQLite file `path`."""
    path: str = ""
    """SQLite file; empty means `sitelens.db` in the platform data directory."""
    spool_dir: str = ""
    """ClickHouse only: where acknowledged batches wait while the server is away; empty means a folder per store in
    the platform data directory."""
    spool_max_mb: int = 512
    """ClickHouse only: the spool's size limit; past it the collector answers 503."""
    flush_interval_s: float = 1.0
    """The writer flushes at least this often (kill -9 loses at most this much)."""
    flush_count: int = 500
    """... or as soon as this many records are queued."""
    queue_max: int = 50_000
    """Bounded ingest queue; when full the collector answers 503 and counts the drop."""


@dataclass(slots=True)
class PrivacyConfig:
    store_ip: bool = False
    """Keep raw client IPs in the database (off: IPs are used in memory only)."""
    session_timeout_s: int = 30 * 60
    """A session ends after this much inactivity."""


@dataclass(slots=True)
class GeoConfig:
    path: str = ""
    """MaxMind-format .mmdb for countries/cities (GeoLite2, DB-IP Lite, or flat country_code databases)."""
    asn_path: str = ""
    """Optional ASN .mmdb used to flag hosting/datacenter networks."""


@dataclass(slots=True)
class AuthConfig:
    admin_token: str = ""
    """Bearer token for /api/stats, /api/export and /api/anomalies; generated at first start when empty."""


@dataclass(slots=True)
class ThrottleConfig:
    enabled: bool = True
    """Rate-limit clients per fingerprint."""
    base_rate: float = 10.0
    """Requests per second allowed at level Normal (token refill rate)."""
    burst: float = 40.0
    """Token bucket size at level Normal."""
    quiet_period_s: float = 300.0
    """After this long without violations a level decays by one."""
    violations_to_escalate: int = 3
    """Rate violations within a quiet period that escalate the level by one."""


@dataclass(slots=True)
class RetentionConfig:
    raw_days: int = 90
    """Raw events older than this are deleted (in small batches)."""
    rollup_days: int = 0
    """Rollups older than this are deleted; 0 keeps them forever."""


@dataclass(slots=True)
class AnomalyRuleConfig:
    metric: str
    window_s: int = 300
    warning: float | None = None
    critical: float | None = None
    site: str = ""
    name: str = ""


@dataclass(slots=True)
class AnomalyConfig:
    enabled: bool = True
    interval_s: float = 5.0
    """How often rules and trends are evaluated."""
    webhook_url: str = ""
    """POSTed a JSON document when an anomaly opens or closes."""
    trend_factor: float = 3.0
    """A window deviating from its baseline by this robust z-score is a trend anomaly."""
    min_volume: int = 20
    """Windows with fewer events than this are not judged for trends."""
    rules: list[AnomalyRuleConfig] = field(default_factory=list)


@dataclass(slots=True)
class FunnelConfig:
    name: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    window_s: int = 1800
    site: str = ""


@dataclass(slots=True)
class ExportConfig:
    schedule_hours: float = 0
    """Every N hours write new rows to `directory` (0 turns scheduled export off)."""
    directory: str = ""
    format: str = "ndjson"
    destinations: list[dict[str, Any]] = field(default_factory=list)
    """Extra destinations (e.g. S3-compatible buckets) for the scheduled export."""


WEB_ROLES = ("viewer", "admin")
"""What a dashboard user may do: viewers look and export; admins also override throttles and edit funnels."""


@dataclass(slots=True)
class WebUserConfig:
    name: str
    """Login name."""
    password_hash: str
    """Argon2 hash printed by `sitelens web passwd NAME` (never the password itself)."""
    role: str = "viewer"
    """viewer (read-only: no throttle overrides, funnel edits or erasure; exports allowed) or admin."""


@dataclass(slots=True)
class WebConfig:
    host: str = "127.0.0.1"
    """Address `sitelens web` listens on; put nginx/Caddy with TLS in front for other machines."""
    port: int = 8766
    """TCP port of `sitelens web`."""
    public_url: str = ""
    """The address browsers use (e.g. https://stats.example.com) behind a reverse proxy; it sets the websocket
    scheme, the allowed Origin and Secure cookies. Empty: taken from each request's Host header."""
    max_sessions: int = 8
    """Browser tabs (one dashboard process each) open at once; more are refused until one closes."""
    idle_timeout_s: float = 1800.0
    """A dashboard tab without a key or click for this long is closed (its process ends)."""
    session_hours: float = 12.0
    """A login lasts this long, then the user logs in again."""
    cookie_name: str = "sitelens_session"
    """Name of the session cookie (HttpOnly, SameSite=Strict, Secure when public_url is https)."""
    cookie_secure: bool = False
    """Send the cookie over TLS only even when public_url is not https (https public_url always does)."""
    login_rate: float = 5.0
    """Login attempts per minute allowed from one address (the collector's throttle; refusals escalate)."""
    users: list[WebUserConfig] = field(default_factory=list)


@dataclass(slots=True)
class Config:
    """Everything SiteLens can be told; built once by `load_config` and passed down."""

    server: ServerConfig = field(default_factory=ServerConfig)
    db: DbConfig = field(default_factory=DbConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    geoip: GeoConfig = field(default_factory=GeoConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    sites: list[SiteConfig] = field(default_factory=list)
    funnels: list[FunnelConfig] = field(default_factory=list)
    web: WebConfig = field(default_factory=WebConfig)
    source: str = ""
    """Where the file part came from (empty when no file was read)."""

    @property
    def db_path(self) -> Path:
        """The SQLite file (of `db.url` when that names one), defaulting to the platform data directory."""
        if self.db.url.startswith("sqlite:"):
            try:
                return Path(parse_store_url(self.db.url).path).expanduser()
            except StoreUrlError as exc:
                raise ConfigError(str(exc)) from None
        if self.db.path:
            return Path(self.db.path).expanduser()
        return Path(platformdirs.user_data_dir(APP_NAME)) / "sitelens.db"

    @property
    def store_url(self) -> StoreUrl:
        """The store to open: `db.url` when set, else the SQLite file `db_path` (ConfigError for a bad URL)."""
        if not self.db.url:
            return sqlite_url(self.db_path)
        try:
            url = parse_store_url(self.db.url)
        except StoreUrlError as exc:
            raise ConfigError(str(exc)) from None
        return sqlite_url(self.db_path) if url.engine == "sqlite" else url

    @property
    def spool_dir(self) -> Path:
        """The ClickHouse spool folder of this store."""
        if self.db.spool_dir:
            return Path(self.db.spool_dir).expanduser()
        url = self.store_url
        tag = hashlib.sha256(url.display().encode()).hexdigest()[:12]
        return Path(platformdirs.user_data_dir(APP_NAME)) / f"spool-{url.database}-{tag}"

    @property
    def export_staging_dir(self) -> Path:
        """Where scheduled export runs are staged before delivery: beside the SQLite file, or beside the spool of a
        ClickHouse store (a folder of this collector's own either way)."""
        url = self.store_url
        if url.engine == "sqlite":
            return self.db_path.parent / "export-staging"
        spool = self.spool_dir
        return spool.parent / f"{spool.name}-export-staging"

    @property
    def site_names(self) -> frozenset[str]:
        """Names of the configured sites (empty: any site is accepted)."""
        return frozenset(s.name for s in self.sites)

    @classmethod
    def for_tests(cls, db_path: str | os.PathLike[str], **sections: Any) -> Config:
        """A config on a given database with fast flushes, for tests and benchmarks."""
        cfg = cls(db=DbConfig(path=str(db_path), flush_interval_s=0.05))
        cfg.auth.admin_token = "test-admin-token"
        for name, value in sections.items():
            setattr(cfg, name, value)
        return cfg


def default_config_path() -> Path:
    """The config file read when neither --config nor SITELENS_CONFIG names one."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "sitelens.toml"


# Short environment names users expect, besides the generic SITELENS_<SECTION>__<FIELD> form.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "SITELENS_DB": ("db", "path"),
    "SITELENS_STORE": ("db", "url"),
    "SITELENS_HOST": ("server", "host"),
    "SITELENS_PORT": ("server", "port"),
    "SITELENS_ADMIN_TOKEN": ("auth", "admin_token"),
    "SITELENS_GEOIP": ("geoip", "path"),
    "SITELENS_STORE_IP": ("privacy", "store_ip"),
}


def _coerce(value: str, current: Any, where: str, annotation: str = "") -> Any:
    """Turn an environment string into the type of the field it overrides (its annotation when it has one:
    a float field whose default is written 0 still takes 0.5)."""
    if annotation == "float" and not isinstance(current, bool):
        current = float(current or 0)
    if isinstance(current, bool):
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if isinstance(current, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(current, list):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _type_matches(default: Any, value: Any, annotation: str = "") -> bool:
    """Whether a TOML value has the field's type: its annotation for numbers (ints are fine where floats go,
    even when the default is written as an int), else the type of its default."""
    if annotation == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if default is None or is_dataclass(default):
        return True
    if value is None:  # TOML has no null; a mapping from elsewhere may, and a None count breaks later
        return False
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and (isinstance(default, float) or isinstance(value, int))
    return isinstance(value, type(default))


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Build a config dataclass from a TOML table, rejecting unknown keys and wrong types."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown setting {sorted(unknown)[0]!r} (known: {', '.join(sorted(known))})")
    try:
        obj = cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    defaults = {f.name: f.default if f.default is not MISSING else (
        f.default_factory() if f.default_factory is not MISSING else None) for f in fields(cls)}
    annotations = {f.name: str(f.type) for f in fields(cls)}
    for name, value in data.items():
        if not _type_matches(defaults[name], value, annotations[name]):
            expected = annotations[name] if annotations[name] in ("int", "float", "str", "bool") else (
                type(defaults[name]).__name__)
            raise ConfigError(f"{where}.{name}: expected {expected}, got {type(value).__name__} {value!r}")
    return obj


def _array(value: Any, where: str) -> list[Any]:
    """An array of tables (`[[sites]]`), or a ConfigError saying one was expected."""
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected an array of tables ([[{where}]])")
    return value


def config_from_mapping(data: Mapping[str, Any], source: str = "") -> Config:
    """Build a Config from a parsed TOML document."""
    cfg = Config(source=source)
    sections = {
        "server": ServerConfig,
        "db": DbConfig,
        "privacy": PrivacyConfig,
        "geoip": GeoConfig,
        "auth": AuthConfig,
        "throttle": ThrottleConfig,
        "retention": RetentionConfig,
    }
    for key, value in data.items():
        if key in sections:
            setattr(cfg, key, _build(sections[key], value, key))
        elif key == "anomalies":
            if not isinstance(value, Mapping):
                raise ConfigError("anomalies: expected a table")
            table = dict(value)
            rules = [_build(AnomalyRuleConfig, r, "anomalies.rules") for r in _array(table.pop("rules", []),
                                                                                      "anomalies.rules")]
            cfg.anomalies = _build(AnomalyConfig, table, "anomalies")
            cfg.anomalies.rules = rules
        elif key == "export":
            cfg.export = _build(ExportConfig, value, "export")
        elif key == "web":
            if not isinstance(value, Mapping):
                raise ConfigError("web: expected a table")
            table = dict(value)
            users = [_build(WebUserConfig, u, "web.users") for u in _array(table.pop("users", []), "web.users")]
            cfg.web = _build(WebConfig, table, "web")
            cfg.web.users = users
        elif key == "sites":
            cfg.sites = [_build(SiteConfig, s, "sites") for s in _array(value, "sites")]
        elif key == "funnels":
            cfg.funnels = [_build(FunnelConfig, f, "funnels") for f in _array(value, "funnels")]
        else:
            raise ConfigError(f"unknown section [{key}]")
    return cfg


def apply_env(cfg: Config, env: Mapping[str, str]) -> Config:
    """Override settings from SITELENS_* variables (aliases or SITELENS_SECTION__FIELD)."""
    for name, value in env.items():
        if not name.startswith("SITELENS_") or name == "SITELENS_CONFIG":
            continue
        if name in ENV_ALIASES:
            section, key = ENV_ALIASES[name]
        elif "__" in name:
            section, _, key = name[len("SITELENS_") :].lower().partition("__")
        else:
            continue
        target = getattr(cfg, section, None)
        if target is None or not is_dataclass(target) or not hasattr(target, key):
            raise ConfigError(f"{name}: no setting {section}.{key}")
        annotation = next((str(f.type) for f in fields(target) if f.name == key), "")
        setattr(target, key, _coerce(value, getattr(target, key), name, annotation))
    return cfg


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load the configuration: file (if any) → environment → `overrides` ("section.field": value) from flags."""
    env = os.environ if env is None else env
    explicit = path or env.get("SITELENS_CONFIG")
    file = Path(explicit).expanduser() if explicit else default_config_path()
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        cfg = config_from_mapping(data, source=str(file))
    elif explicit:
        raise ConfigError(f"config file not found: {file}")
    else:
        cfg = Config()
    apply_env(cfg, env)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        setattr(getattr(cfg, section), key, value)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Reject settings that cannot work, with a message saying which and why."""
    for name in ("server", "db", "privacy", "throttle", "retention", "anomalies", "export", "web"):
        section = getattr(cfg, name)
        for f in fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf
                raise ConfigError(f"{name}.{f.name} must be a finite number, got {value}")
    for rule in cfg.anomalies.rules:
        for limit in (rule.warning, rule.critical):
            if isinstance(limit, float) and not math.isfinite(limit):
                raise ConfigError(f"anomalies.rules: thresholds must be finite numbers, got {limit}")
    if not 0 <= cfg.server.port <= 65535:
        raise ConfigError(f"server.port must be 0-65535, got {cfg.server.port}")
    if cfg.db.flush_interval_s <= 0 or cfg.db.flush_count <= 0 or cfg.db.queue_max <= 0:
        raise ConfigError("db.flush_interval_s, db.flush_count and db.queue_max must be positive")
    if cfg.privacy.session_timeout_s <= 0:
        raise ConfigError("privacy.session_timeout_s must be positive")
    url = cfg.store_url  # a bad URL is a ConfigError here, before anything starts
    if cfg.db.url and cfg.db.path and url.engine == "sqlite" and Path(url.path) != Path(cfg.db.path).expanduser():
        raise ConfigError(f"--db {cfg.db.path} and --store {cfg.db.url} name different places: give one of them")
    if cfg.db.url and cfg.db.path and url.engine != "sqlite":
        raise ConfigError(f"--db names a SQLite file but --store names {url.display()}: give one of them")
    names = [s.name for s in cfg.sites]
    if len(names) != len(set(names)):
        raise ConfigError("sites: each site name must appear once")
    validate_web(cfg.web)
    import ipaddress

    for proxy in cfg.server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"server.trusted_proxies: {proxy!r} is not an IP address or CIDR") from None


def validate_web(web: WebConfig) -> None:
    """The [web] section: a usable port and limits, known roles, each user once with a hash."""
    if not 0 <= web.port <= 65535:
        raise ConfigError(f"web.port must be 0-65535, got {web.port}")
    if web.max_sessions <= 0 or web.idle_timeout_s <= 0 or web.session_hours <= 0 or web.login_rate <= 0:
        raise ConfigError("web.max_sessions, web.idle_timeout_s, web.session_hours and web.login_rate must be positive")
    if web.public_url and not web.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"web.public_url must start with http:// or https://, got {web.public_url!r}")
    if web.public_url.split("://", 1)[-1].rstrip("/").count("/"):
        raise ConfigError(f"web.public_url must be the root of a host (the dashboard's downloads are fetched from "
                          f"there), got {web.public_url!r}")
    names = [u.name for u in web.users]
    if len(names) != len(set(names)):
        raise ConfigError("web.users: each user name must appear once")
    for user in web.users:
        if user.role not in WEB_ROLES:
            raise ConfigError(f"web.users {user.name!r}: role must be one of {', '.join(WEB_ROLES)}, got {user.role!r}")
        if not user.name or not user.password_hash.startswith("$argon2"):
            raise ConfigError(f"web.users {user.name!r}: needs a name and a password_hash made by "
                              "`sitelens web passwd NAME`")
