"""The aiohttp and ASGI middlewares record real requests of real apps into a real collector."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from collector import keys
from collector.app import create_app
from collector.client import SiteLensClient
from collector.client.aiohttp_mw import sitelens_middleware
from collector.client.asgi import SiteLensASGIMiddleware
from collector.config import SiteConfig
from tests.conftest import CHROME_UA, query

TOKEN = "middleware-test-token"


@pytest.fixture
async def collector(aiohttp_server, cfg):
    cfg.sites = [SiteConfig(name="api.example", ingest_token=TOKEN)]
    return await aiohttp_server(create_app(cfg), host="127.0.0.1")


@pytest.fixture
async def sender(collector):
    client = SiteLensClient(f"http://127.0.0.1:{collector.port}", TOKEN, flush_interval_s=60)
    yield client
    await asyncio.to_thread(client.close)


async def recorded(collector, sender, cfg) -> list:
    assert await asyncio.to_thread(sender.flush, 5.0)
    await collector.app[keys.WRITER].flush()
    return query(cfg, "SELECT method, path, status, latency_ms, bytes, user_id, props, browser, success "
                      "FROM events ORDER BY id")  # fmt: skip


async def test_aiohttp_middleware_records_routes_statuses_and_errors(aiohttp_client, collector, sender, cfg):
    async def item(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        return web.json_response({"id": request.match_info["id"]})

    async def boom(request: web.Request) -> web.Response:
        raise KeyError("missing")

    async def gone(request: web.Request) -> web.Response:
        raise web.HTTPGone()

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[sitelens_middleware(sender, user_id=lambda r: r.headers.get("X-User", ""))])
    app.router.add_get("/items/{id}", item)
    app.router.add_post("/boom", boom)
    app.router.add_get("/gone", gone)
    app.router.add_get("/health", health)
    http = await aiohttp_client(app)

    resp = await http.get("/items/42", headers={"User-Agent": CHROME_UA, "X-User": "u7"})
    assert resp.status == 200 and (await resp.json()) == {"id": "42"}  # the app's answer is untouched
    assert (await http.post("/boom", data=b"x" * 10)).status == 500
    assert (await http.get("/gone")).status == 410
    assert (await http.get("/.env")).status == 404
    assert (await http.get("/health")).status == 200

    rows = await recorded(collector, sender, cfg)
    by_path = {r["path"]: r for r in rows}
    assert set(by_path) == {"/items/{id}", "/boom", "/gone", "/.env"}  # /health is skipped
    ok = by_path["/items/{id}"]
    assert (ok["method"], ok["status"], ok["user_id"], ok["browser"], ok["success"]) == (
        "GET",
        200,
        "u7",
        "Chrome",
        1,
    )
    assert ok["latency_ms"] >= 10 and ok["bytes"] > 0
    boom_row = by_path["/boom"]
    assert (boom_row["method"], boom_row["status"], boom_row["success"]) == ("POST", 500, 0)
    assert '"error":"KeyError"' in boom_row["props"] and '"request_bytes":"10"' in boom_row["props"]
    assert by_path["/gone"]["status"] == 410
    assert by_path["/.env"]["status"] == 404


async def test_aiohttp_middleware_survives_a_broken_user_id_getter(aiohttp_client, collector, sender, cfg):
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    def broken(request: web.Request) -> str:
        raise RuntimeError("session store down")

    app = web.Application(middlewares=[sitelens_middleware(sender, user_id=broken)])
    app.router.add_get("/", hello)
    http = await aiohttp_client(app)
    resp = await http.get("/")
    assert (resp.status, await resp.text()) == (200, "hi")
    rows = await recorded(collector, sender, cfg)
    assert [(r["path"], r["user_id"]) for r in rows] == [("/", "")]


class Route:
    """What Starlette puts in scope["route"]: an object with the path template."""

    path = "/users/{user_id}"


async def tiny_asgi_app(scope, receive, send) -> None:
    """A hand-written ASGI app: streams a body, raises on /crash, reads the request body on /upload."""
    path = scope["path"]
    if path == "/crash":
        raise ValueError("bug")
    if path.startswith("/users/"):
        scope["route"] = Route()
    body = b""
    if path == "/upload":
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 201 if body else 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
    await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"world"})


async def call_asgi(app, method: str, path: str, body: bytes = b"", ua: str = CHROME_UA) -> tuple[int, bytes]:
    """Drive an ASGI app with a real scope, receive and send, as a server would."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"app.test"), (b"user-agent", ua.encode())], "client": ("203.0.113.77", 50123),
        "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    chunks = [body[:3], body[3:]] if body else [b""]
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_asgi_middleware_records_requests_without_changing_them(collector, sender, cfg):
    app = SiteLensASGIMiddleware(tiny_asgi_app, sender, user_id=lambda scope: "u9")
    assert await call_asgi(app, "GET", "/users/5") == (200, b"hello world")
    assert await call_asgi(app, "POST", "/upload", body=b"payload!") == (201, b"hello world")
    with pytest.raises(ValueError, match="bug"):  # the app's exception reaches the server unchanged
        await call_asgi(app, "GET", "/crash")
    await call_asgi(app, "GET", "/static/app.js")

    rows = await recorded(collector, sender, cfg)
    by_path = {r["path"]: r for r in rows}
    assert set(by_path) == {"/users/{user_id}", "/upload", "/crash"}
    user = by_path["/users/{user_id}"]
    assert (user["status"], user["bytes"], user["user_id"], user["browser"]) == (200, 11, "u9", "Chrome")
    assert user["latency_ms"] >= 10
    assert by_path["/upload"]["status"] == 201 and '"request_bytes":"8"' in by_path["/upload"]["props"]
    crash = by_path["/crash"]
    assert (crash["status"], crash["success"]) == (500, 0) and '"error":"ValueError"' in crash["props"]


async def test_asgi_lifespan_scopes_pass_through(sender):
    seen = []

    async def app(scope, receive, send) -> None:
        seen.append(scope["type"])

    await SiteLensASGIMiddleware(app, sender)({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"] and sender.stats.queued == 0
