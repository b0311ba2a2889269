"""A stand-in ClickHouse HTTP endpoint backed by chDB, for benchmarks only: NOT a ClickHouse server.

    python -m bench.ch_standin --path /tmp/standin [--port 0] [--user default] [--password ''] [--workers 2]

Prints `{"port": N}` once listening on 127.0.0.1:N, then serves until SIGTERM. It speaks the part of ClickHouse's
HTTP interface that clickhouse-connect's HttpClient uses, so a `clickhouse://USER:PASSWORD@127.0.0.1:N/DB` store
(a collector's sink child, `sitelens check`, migrations) runs against the ClickHouse engine chDB holds in this
process, and the collector's own process carries only clickhouse-connect, as against a real server:

- `GET /ping` → `Ok.`; any other request is one statement: the `query` URL parameter followed by the body (or the
  body alone), with `database`, `default_format`, `param_NAME` bind values and settings as URL parameters (the
  query and bind values may come as form fields instead, as clickhouse-connect sends long ones);
- `INSERT INTO t (cols) FORMAT F` followed by data (JSONCompactColumns, Native, ...; the body lz4/zstd/gzip/
  deflate-compressed or chunked) is written to a temporary file and inserted with `FROM INFILE`, the request's
  settings (`insert_deduplication_token`) in a SETTINGS clause; other statements run as they are, settings
  applied with SET on the worker's chDB handle (kept while they do not change);
- answers carry the bytes chDB produced in the requested format (TabSeparated when none), X-ClickHouse-Format,
  -Timezone, -Summary and -Query-Id; a failure answers 4xx/5xx with `Code: N. DB::Exception: ...` and
  X-ClickHouse-Exception-Code, as the server does; a wrong user or password answers code 516.

Limits: one chDB engine in one process, at most `--workers` statements at a time (each worker thread its own
handle); no HTTP sessions (`session_id` is ignored: no temporary tables), no query cancellation, no progress
headers, answers never compressed, no TLS, no users beyond the one given. Its CPU competes with the collector's
on the same machine. It is a test fixture to measure a `clickhouse://` collector, never something to deploy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import os
import re
import signal
import tempfile
import threading
import uuid
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import chdb
from aiohttp import web

TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "buffer_size",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "quota_key",
        "compress",
        "decompress",
        "wait_end_of_query",
        "client_protocol_version",  # answered as protocol 0: plain Native blocks, as chDB writes them
        "role",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "enable_http_compression",
    }
)
"""URL parameters the HTTP layer consumes itself; every other one (but `param_*`) is a setting."""

_INSERT_DATA = re.compile(rb"\A\s*(INSERT\s+INTO\s+[^\n]*?)\s+FORMAT\s+(\w+)[ \t]*(?:\r?\n|\Z)", re.IGNORECASE)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*\Z", re.IGNORECASE)
_RESULT_STATEMENT = re.compile(r"\A\s*\(?\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN|CHECK)\b", re.IGNORECASE)
_SETTING_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_CODE = re.compile(r"Code: (\d+)")
HTTP_STATUS = {"516": 403, "60": 404, "81": 404, "62": 400, "47": 400, "16": 400, "27": 400, "117": 400}
"""The HTTP status a real server answers for some exception codes (500 for the rest)."""


@dataclass(slots=True)
class Statement:
    """One request, decoded: the SQL, insert data if any, and what surrounds it."""

    sql: str
    data: bytes | None = None
    data_format: str = ""
    database: str = "default"
    default_format: str = "TabSeparated"
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Reply:
    """What goes back: status, body and ClickHouse's headers."""

    status: int
    body: bytes
    headers: dict[str, str]


def decompress(body: bytes, encoding: str) -> bytes:
    """The request body without its Content-Encoding (clickhouse-connect compresses Native inserts, each block a
    frame of its own: every frame is read, not only the first)."""
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return body
    if encoding == "lz4":
        import lz4.frame

        out, rest = bytearray(), body
        while rest:
            frame = lz4.frame.LZ4FrameDecompressor()
            out += frame.decompress(rest)
            rest = frame.unused_data if frame.eof else b""
        return bytes(out)
    if encoding == "zstd":
        from clickhouse_connect.driver.compression import _zstd_decompress

        return bytes(_zstd_decompress(body))  # reads concatenated frames
    if encoding == "gzip":
        return gzip.decompress(body)  # reads concatenated members
    if encoding == "deflate":
        return zlib.decompress(body)
    raise ValueError(f"Code: 36. DB::Exception: Content-Encoding {encoding!r} not supported here. (BAD_ARGUMENTS)")


def parse_statement(params: Mapping[str, str], body: bytes) -> Statement:
    """Split a request into its statement, its insert data (after `INSERT … FORMAT F`) and its parameters."""
    query = params.get("query", "").encode()
    head = _INSERT_DATA.match(query) if query and body else None
    data: bytes | None
    if head is not None:  # the statement in the URL, the data in the body
        whole, data = query, body
    else:  # the body continues the statement in the URL (or is the whole of it), data included
        whole = query + b"\n" + body if query and body else query or body
        head = _INSERT_DATA.match(whole)
        data = whole[head.end() :] if head is not None else None
    return Statement(
        sql=head.group(1).decode() if head is not None else whole.decode(),
        data=data,
        data_format=head.group(2).decode() if head is not None else "",
        database=params.get("database") or "default",
        default_format=params.get("default_format") or "TabSeparated",
        settings={k: v for k, v in params.items() if k not in TRANSPORT and not k.startswith("param_")},
        params={k[6:]: v for k, v in params.items() if k.startswith("param_")},
    )


def quote(value: str) -> str:
    """A SQL string literal (setting values, file paths)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def setting_name(name: str) -> str:
    """A setting name, refused unless it is an identifier (it is spliced into SET and SETTINGS)."""
    if not _SETTING_NAME.match(name):
        raise ValueError(f"Code: 115. DB::Exception: Unknown setting {name[:60]!r}. (UNKNOWN_SETTING)")
    return name


def error_reply(message: str, version: str, query_id: str) -> Reply:
    """A failed statement as ClickHouse answers it over HTTP."""
    text = message.strip()
    at = text.find("Code: ")
    text = text[at:] if at > 0 else text
    match = _CODE.search(text)
    code = match.group(1) if match else "1000"
    headers = {"X-ClickHouse-Exception-Code": code, "X-ClickHouse-Query-Id": query_id}
    body = f"{text} (version {version})\n".encode()
    return Reply(HTTP_STATUS.get(code, 500), body, headers)


class Engine:
    """One worker thread's chDB handle, with the database and settings it is set to."""

    def __init__(self, path: str, spool: str) -> None:
        self.conn = chdb.connect(path)
        self.spool = spool
        self.database = ""
        self.applied: dict[str, str] = {}

    def _use(self, database: str) -> None:
        if database != self.database:
            self.conn.query(f"USE `{database.replace('`', '')}`", "TabSeparated")
            self.database = database

    def _set(self, settings: Mapping[str, str]) -> None:
        """Bring the handle's settings to exactly these (a SET for each change only)."""
        for name in [n for n in self.applied if n not in settings]:
            self.conn.query(f"SET {setting_name(name)} = DEFAULT", "TabSeparated")
            del self.applied[name]
        for name, value in settings.items():
            if self.applied.get(name) != value:
                self.conn.query(f"SET {setting_name(name)} = {quote(value)}", "TabSeparated")
                self.applied[name] = value

    def run(self, st: Statement) -> tuple[Any, str]:
        """Run one statement; (chDB's result, the format of its output or '' when it produces none)."""
        self._use(st.database)
        if st.data is not None:
            return self._insert(st), ""
        self._set(st.settings)
        trailing = _TRAILING_FORMAT.search(st.sql)
        fmt = trailing.group(1) if trailing else st.default_format
        result = self.conn.query(st.sql, fmt, params=st.params)
        return result, fmt if trailing or _RESULT_STATEMENT.match(st.sql) else ""

    def _insert(self, st: Statement) -> Any:
        """Insert data through a temporary file (chDB reads insert data from files, not from the query)."""
        clause = ", ".join(f"{setting_name(k)} = {quote(v)}" for k, v in st.settings.items())
        fd, path = tempfile.mkstemp(suffix=".data", dir=self.spool)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(st.data or b"")
            sql = f"{st.sql} FROM INFILE {quote(path)}{' SETTINGS ' + clause if clause else ''} FORMAT {st.data_format}"
            return self.conn.query(sql, "TabSeparated")
        finally:
            os.unlink(path)


def summary(result: Any, written: bool) -> str:
    """X-ClickHouse-Summary from chDB's counters (an INFILE insert reads exactly what it writes)."""
    rows, size = (result.rows_read(), result.bytes_read()) if result is not None else (0, 0)
    doc = {
        "read_rows": "0" if written else str(rows),
        "read_bytes": "0" if written else str(size),
        "written_rows": str(rows) if written else "0",
        "written_bytes": str(size) if written else "0",
        "total_rows_to_read": "0",
        "result_rows": "0",
        "result_bytes": "0",
        "elapsed_ns": str(int(result.elapsed() * 1e9)) if result is not None else "0",
    }
    return json.dumps(doc, separators=(",", ":"))


class StandIn:
    """The endpoint: authenticates, decodes, runs the statement on a worker's engine, answers."""

    def __init__(self, path: str, user: str, password: str, workers: int) -> None:
        self.path = path
        self.user, self.password = user, password
        shm = "/dev/shm"
        self.spool = tempfile.mkdtemp(prefix="ch-standin-", dir=shm if os.access(shm, os.W_OK) else None)
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="standin")
        probe = chdb.connect(path)
        self.version, self.timezone = (
            probe.query("SELECT version(), timezone()", "TabSeparated").bytes().decode().split()
        )
        probe.close()

    def engine(self) -> Engine:
        if not hasattr(self.local, "engine"):
            self.local.engine = Engine(self.path, self.spool)
        return self.local.engine  # type: ignore[no-any-return]

    def authorized(self, request: web.Request) -> bool:
        """The one user and password, from Basic auth, X-ClickHouse-User/-Key or user/password parameters."""
        user = request.headers.get("X-ClickHouse-User") or request.query.get("user")
        password = request.headers.get("X-ClickHouse-Key") or request.query.get("password") or ""
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return (user or "default") == self.user and password == self.password

    def execute(self, params: dict[str, str], body: bytes, encoding: str) -> Reply:
        """On a worker thread: one statement, start to answer."""
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            st = parse_statement(params, decompress(body, encoding))
            result, fmt = self.engine().run(st)
        except Exception as exc:  # chDB's errors carry ClickHouse's own "Code: N. DB::Exception: …" text
            return error_reply(str(exc), self.version, query_id)
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.timezone,
            "X-ClickHouse-Server-Display-Name": "ch-standin",
            "X-ClickHouse-Summary": summary(result, st.data is not None),
        }
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
        return Reply(200, bytes(result.bytes() or b"") if fmt else b"", headers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.rstrip("/") == "/ping":
            return web.Response(text="Ok.\n")
        if not self.authorized(request):
            message = (
                f"Code: 516. DB::Exception: {self.user}: Authentication failed: password is incorrect, "
                "or there is no user with such name. (AUTHENTICATION_FAILED)"
            )
            reply = error_reply(message, self.version, request.query.get("query_id", ""))
        else:
            params = dict(request.query)
            if request.content_type == "multipart/form-data":
                # clickhouse-connect posts the query and long bind values as a form (URL length limits)
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
                body = b""
            else:
                body = await request.read()
            if not params.get("query") and not body:
                return web.Response(text="Ok.\n")
            encoding = request.headers.get("Content-Encoding", "")
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self.pool, self.execute, params, body, encoding)
        return web.Response(
            status=reply.status, body=reply.body, headers=reply.headers, content_type="text/plain", charset="UTF-8"
        )


async def serve(args: argparse.Namespace) -> None:
    """Listen on 127.0.0.1, print the port, run until SIGTERM or SIGINT."""
    standin = StandIn(args.path, args.user, args.password, args.workers)
    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", standin.handle)
    # ClickHouse takes URLs up to 1 MiB (http_max_uri_size): bind values travel in the URL.
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, max_line_size=1 << 20, max_field_size=1 << 16, auto_decompress=False
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"port": runner.addresses[0][1], "version": standin.version}), flush=True)
    await stop.wait()
    await runner.cleanup()
    standin.pool.shutdown(wait=True)
    os.rmdir(standin.spool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--path", required=True, help="chDB data directory (created if missing)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    parser.add_argument("--workers", type=int, default=2, help="statements run at once (default 2)")
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
