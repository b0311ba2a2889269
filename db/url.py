"""Store URLs: which engine holds the data and where (`--store`, `[db] url`, `SITELENS_STORE`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

SCHEMES = ("sqlite", "chdb", "clickhouse", "clickhouses")
ENGINES = {"sqlite": "sqlite", "chdb": "clickhouse", "clickhouse": "clickhouse", "clickhouses": "clickhouse"}
DEFAULT_DATABASE = "sitelens"


class StoreUrlError(ValueError):
    """A store URL that names no engine SiteLens knows, or lacks what its engine needs; worded for the user."""


@dataclass(slots=True, frozen=True)
class StoreUrl:
    """A parsed store URL; `path` for file-based engines (SQLite, chDB), host and credentials for a server."""

    scheme: str
    path: str = ""
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    database: str = DEFAULT_DATABASE

    @property
    def engine(self) -> str:
        """ "sqlite" or "clickhouse" (a server and the in-process chDB engine speak the same SQL)."""
        return ENGINES[self.scheme]

    @property
    def secure(self) -> bool:
        return self.scheme == "clickhouses"

    def display(self) -> str:
        """The URL without its password, for logs and messages."""
        if self.scheme in ("sqlite", "chdb"):
            return f"{self.scheme}://{self.path}" + (f"?database={self.database}" if self.scheme == "chdb" else "")
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}/{self.database}"


def sqlite_url(path: str | Path) -> StoreUrl:
    """The store URL `--db PATH` stands for."""
    return StoreUrl("sqlite", path=str(path))


def parse_store_url(text: str) -> StoreUrl:
    """Parse `sqlite://PATH`, `chdb://PATH[?database=NAME]` or `clickhouse[s]://USER:PASSWORD@HOST:PORT/DATABASE`.

    The path is what follows `scheme://`, as written: `sqlite:///var/lib/sitelens/site.db` and `chdb:///tmp/ch`
    are absolute (as clickhouse-connect reads `chdb:///tmp/ch`), `sqlite://site.db` is relative to the working
    directory."""
    text = text.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise StoreUrlError(
            f"not a store URL: {text[:80]!r} (expected one of {', '.join(s + '://…' for s in SCHEMES)})"
        )
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise StoreUrlError(f"unknown store scheme {scheme[:20]!r} in {text[:80]!r} (known: {', '.join(SCHEMES)})")
    if scheme in ("sqlite", "chdb"):
        path, _, query = rest.partition("?")
        if not path.strip("/"):
            raise StoreUrlError(f"{scheme} URL needs a file path: {scheme}:///ABSOLUTE/PATH (got {text[:80]!r})")
        if path.startswith("/"):
            path = "/" + path.lstrip("/")  # sqlite:////abs (SQLAlchemy's spelling) is the same file
        database = parse_qs(query).get("database", [DEFAULT_DATABASE])[0]
        _check_database(database, text)
        return StoreUrl(scheme, path=unquote(path), database=database)
    parts = urlsplit(text)
    if not parts.hostname:
        raise StoreUrlError(
            f"{scheme} URL needs a host: {scheme}://USER:PASSWORD@HOST:PORT/DATABASE (got {text[:80]!r})"
        )
    try:
        port = parts.port or (8443 if scheme == "clickhouses" else 8123)
    except ValueError:
        raise StoreUrlError(f"bad port in store URL {text[:80]!r}") from None
    database = parts.path.strip("/") or DEFAULT_DATABASE
    _check_database(database, text)
    return StoreUrl(
        scheme,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=database,
    )


def _check_database(name: str, text: str) -> None:
    if not name.replace("_", "").isalnum():
        raise StoreUrlError(f"database name must be letters, digits and underscores: {name[:40]!r} in {text[:80]!r}")
