"""One ClickHouse client (a server over HTTP(S), or chDB in-process) with the habits SiteLens relies on.

Queries are written with `?` placeholders, as for SQLite, and bound server-side as typed parameters: no value
is ever formatted into SQL text."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from db.errors import DatabaseError
from db.url import StoreUrl

_PLACEHOLDER = re.compile(r"\?")
# The client library logs each failed attempt itself; SiteLens reports the failure once, in its own words.
for _name in ("clickhouse_connect", "urllib3.connectionpool"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def _type_of(value: object) -> str:
    """The ClickHouse type a Python parameter is bound as."""
    if isinstance(value, bool):
        return "UInt8"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        return f"Array({_type_of(items[0]) if items else 'String'})"
    if value is None:
        return "Nullable(String)"
    return "String"


def bind(sql: str, params: Sequence[object]) -> tuple[str, dict[str, object]]:
    """`?` placeholders → typed `{pN:Type}` parameters (our SQL never holds a literal question mark)."""
    values = list(params)
    names: dict[str, object] = {}
    counter = iter(range(len(values)))

    def sub(_m: re.Match[str]) -> str:
        i = next(counter)
        value = values[i]
        if isinstance(value, (set, frozenset, tuple)):
            value = list(value)
        names[f"p{i}"] = value
        return f"{{p{i}:{_type_of(value)}}}"

    out = _PLACEHOLDER.sub(sub, sql)
    if len(names) != len(values):
        raise ValueError(f"{len(values)} parameters for {len(names)} placeholders")
    return out, names


class ClickHouse:
    """A thread-safe handle on one database of a ClickHouse server or chDB engine."""

    def __init__(self, url: StoreUrl, client: Any) -> None:
        self.url = url
        self.client = client
        # chDB runs queries in this process through one connection: one at a time. A server takes them in parallel.
        self._lock: threading.RLock | None = threading.RLock() if url.scheme == "chdb" else None

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._lock is None:
                return fn(*args, **kwargs)
            with self._lock:
                return fn(*args, **kwargs)
        except DatabaseError:
            raise
        except Exception as exc:
            raise DatabaseError(f"ClickHouse {self.url.display()}: {describe(exc)}") from exc

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """All result rows of a query."""
        text, named = bind(sql, params)
        return list(self._call(self.client.query, text, parameters=named).result_rows)

    def one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def value(self, sql: str, params: Sequence[object] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def command(self, sql: str, params: Sequence[object] = (), settings: dict[str, Any] | None = None) -> None:
        """A statement without a result (DDL, DELETE, ALTER)."""
        text, named = bind(sql, params)
        self._call(self.client.command, text, parameters=named or None, settings=settings)

    def insert(self, table: str, rows: Sequence[Sequence[object]], columns: Sequence[str], *, token: str = "") -> None:
        """Insert rows; a `token` makes a retried insert of the same rows a no-op (deduplication).

        The rows travel as one JSON document of columns (JSONCompactColumns) that orjson encodes in C: a fraction
        of the interpreter-lock time of the client's own per-value Native encoding, which competes with the
        collector's event loop. Rows JSON cannot carry (bytes, integers past 64 bits) take the Native way."""
        if not rows:
            return
        settings = {"insert_deduplication_token": token} if token else None
        try:
            body = orjson.dumps(list(zip(*rows, strict=True)))
        except (TypeError, ValueError):
            self._call(self.client.insert, table, rows, column_names=list(columns), settings=settings)
            return
        self._call(
            self.client.raw_insert, table, list(columns), body, settings=settings, fmt="JSONCompactColumns"
        )

    def close(self) -> None:
        try:
            self._call(self.client.close)
        except DatabaseError:
            pass


def describe(exc: BaseException) -> str:
    """A one-line reason for a ClickHouse failure, in words a user can act on."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    if "authentication failed" in lowered or "code: 516" in lowered or "wrong password" in lowered:
        return "authentication failed: check the user and password in the store URL"
    if "code: 81" in lowered or "unknown_database" in lowered:
        return "the database does not exist: create it with `sitelens check --store URL --create`"
    for needle, reason in _UNREACHABLE:
        if needle in lowered:
            return f"cannot reach the server ({reason})"
    return text[:300]


_UNREACHABLE = (
    ("connection refused", "connection refused: is ClickHouse running there, on that port?"),
    ("name or service not known", "unknown host name"),
    ("nodename nor servname", "unknown host name"),
    ("temporary failure in name resolution", "the host name could not be resolved"),
    ("timed out", "timed out"),
    ("connection reset", "the connection was reset"),
    ("certificate", "TLS certificate problem"),
    ("max retries", "no answer"),
)


def connect_client(url: StoreUrl, *, create_database: bool = False) -> ClickHouse:
    """Open the store's database (creating it first when asked); DatabaseError with the reason otherwise."""
    try:
        import clickhouse_connect
    except ImportError:
        raise DatabaseError(
            "the ClickHouse backend needs clickhouse-connect: pip install 'sitelens[clickhouse]' "
            "(and 'sitelens[chdb]' for chdb:// stores)"
        ) from None
    try:
        if url.scheme == "chdb":
            try:
                import chdb  # noqa: F401
            except ImportError:
                raise DatabaseError("chdb:// stores need chDB: pip install 'sitelens[chdb]'") from None
            from pathlib import Path

            Path(url.path).mkdir(parents=True, exist_ok=True)
            admin = clickhouse_connect.get_client(dsn=f"chdb://{Path(url.path).resolve()}")
            admin.command(f"CREATE DATABASE IF NOT EXISTS {url.database}")
            client = clickhouse_connect.get_client(dsn=f"chdb://{Path(url.path).resolve()}", database=url.database)
        else:
            common: dict[str, Any] = dict(
                host=url.host,
                port=url.port,
                username=url.user,
                password=url.password,
                secure=url.secure,
                autogenerate_session_id=False,
                connect_timeout=5,
                send_receive_timeout=60,
            )
            if create_database:
                admin = clickhouse_connect.get_client(**common)
                admin.command(f"CREATE DATABASE IF NOT EXISTS {url.database}")
                admin.close()
            client = clickhouse_connect.get_client(database=url.database, **common)
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(f"cannot open ClickHouse store {url.display()}: {describe(exc)}") from None
    return ClickHouse(url, client)
