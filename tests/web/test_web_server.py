"""The sign-in in front of the dashboard, over real HTTP: nothing without a login, CSRF, origins, throttling, expiry."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from collector.config import Config, WebUserConfig
from sitelens_tui.web.passwords import hash_password
from sitelens_tui.web.server import DashboardServer

PASSWORD = "right-password-1"
TOKEN = "health-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client_for(aiohttp_client, tmp_path: Path, password_hash: str, clock: Clock):
    """A test client on a DashboardServer with a viewer `ann` and an admin `bob`; no app process is ever started."""

    async def make(**web: object):
        cfg = Config.for_tests(tmp_path / "sitelens.db")
        cfg.web.users = [WebUserConfig("ann", password_hash), WebUserConfig("bob", password_hash, "admin")]
        for key, value in web.items():
            setattr(cfg.web, key, value)

        def command(role: str) -> str:
            raise AssertionError("no tab may start in these tests")

        server = DashboardServer(cfg, command, clock=clock)
        server.admin_token = TOKEN
        client = await aiohttp_client(server.make_app(), cookie_jar=aiohttp.DummyCookieJar())  # cookies by hand
        client.server_obj = server
        return client

    return make


async def sign_in(client, user: str = "ann", password: str = PASSWORD, **headers: str) -> aiohttp.ClientResponse:
    form = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text()).group(1)
    assert form.cookies["sitelens_login_csrf"].value == csrf
    origin = {"Origin": f"http://{client.host}:{client.port}", **headers}
    return await client.post("/login", data={"user": user, "password": password, "csrf": csrf}, headers=origin,
                             cookies={"sitelens_login_csrf": csrf}, allow_redirects=False)


async def test_nothing_but_the_sign_in_form_without_a_session(client_for) -> None:
    client = await client_for()
    resp = await client.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "login")
    for path in ("/static/js/textual.js", "/static/css/xterm.css", "/static/", "/download/abc", "/ws", "/nope"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 401, path
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers={"Origin": f"http://{client.host}:{client.port}"})
    assert refused.value.status == 401
    assert (await client.post("/logout", data={"csrf": "x"}, allow_redirects=False)).status == 401
    assert (await client.get("/healthz")).status == 401
    login = await client.get("/login")
    assert login.status == 200 and 'type="password"' in await login.text()
    assert login.headers["X-Frame-Options"] == "DENY"


async def test_sign_in_sets_a_strict_http_only_cookie_that_opens_the_dashboard(client_for) -> None:
    client = await client_for(public_url="https://stats.example.com")
    resp = await sign_in(client, Origin="https://stats.example.com")
    assert resp.status == 302
    cookie = resp.cookies["sitelens_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["secure"]
    assert int(cookie["max-age"]) == 12 * 3600
    page = await client.get("/", cookies={"sitelens_session": cookie.value})
    text = await page.text()
    assert page.status == 200 and "ann (viewer)" in text
    assert 'data-session-websocket-url="wss://stats.example.com/ws"' in text
    assert (await client.get("/static/js/textual.js", cookies={"sitelens_session": cookie.value})).status == 200


async def test_forms_from_elsewhere_are_refused(client_for) -> None:
    client = await client_for()
    no_csrf = await client.post("/login", data={"user": "ann", "password": PASSWORD}, allow_redirects=False)
    assert no_csrf.status == 403 and "sitelens_session" not in no_csrf.cookies
    foreign = await sign_in(client, Origin="https://evil.example")
    assert foreign.status == 403 and "sitelens_session" not in foreign.cookies
    signed_in = await sign_in(client)
    session = {"sitelens_session": signed_in.cookies["sitelens_session"].value}
    logout = await client.post("/logout", data={"csrf": "guessed"}, cookies=session, allow_redirects=False)
    assert logout.status == 403
    assert (await client.get("/", cookies=session)).status == 200  # still signed in


async def test_websocket_needs_our_origin(client_for) -> None:
    client = await client_for()
    token = (await sign_in(client)).cookies["sitelens_session"].value
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={**headers, "Cookie": f"sitelens_session={token}"})
        assert refused.value.status == 403, headers


async def test_wrong_passwords_are_counted_and_then_throttled(client_for) -> None:
    client = await client_for(login_rate=3)
    for user, password in (("ann", "wrong"), ("nobody", PASSWORD), ("bob", "")):
        resp = await sign_in(client, user, password)
        assert resp.status == 401 and "Wrong name or password." in await resp.text()
        assert "sitelens_session" not in resp.cookies
    throttled = await sign_in(client, "ann", PASSWORD)  # even the right password waits now
    assert throttled.status == 429 and int(throttled.headers["Retry-After"]) >= 1
    health = await client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (await health.json())["failed_logins"] == 3


async def test_health_for_the_admin_token_or_an_admin_sign_in(client_for) -> None:
    client = await client_for(max_sessions=3)
    viewer = {"sitelens_session": (await sign_in(client, "ann")).cookies["sitelens_session"].value}
    admin = {"sitelens_session": (await sign_in(client, "bob")).cookies["sitelens_session"].value}
    assert (await client.get("/healthz", cookies=viewer)).status == 401
    assert (await client.get("/healthz", headers={"Authorization": "Bearer wrong"})).status == 401
    resp = await client.get("/healthz", cookies=admin)
    assert await resp.json() == {"status": "ok", "tabs": 0, "max_tabs": 3, "users": [], "failed_logins": 0}


async def test_a_login_expires(client_for, clock: Clock) -> None:
    client = await client_for(session_hours=1.0)
    session = {"sitelens_session": (await sign_in(client)).cookies["sitelens_session"].value}
    assert (await client.get("/static/css/xterm.css", cookies=session)).status == 200
    clock.now += 3601
    assert (await client.get("/static/css/xterm.css", cookies=session)).status == 401


async def test_an_idle_tab_is_closed_and_its_app_ends(aiohttp_client, tmp_path: Path, password_hash: str) -> None:
    """A real `sitelens tui` behind the websocket; no keys for idle_timeout_s → the tab closes, the process quits."""
    import asyncio
    import shlex
    import sys
    import time

    from tests.tui.dataset import make_dataset

    make_dataset(tmp_path / "sitelens.db", now=time.time())
    cfg = Config.for_tests(tmp_path / "sitelens.db")
    cfg.web.users = [WebUserConfig("ann", password_hash)]
    cfg.web.idle_timeout_s = 5.0
    roles: list[str] = []

    def command(role: str) -> str:
        roles.append(role)
        return shlex.join([sys.executable, "-m", "sitelens_tui", "--db", str(tmp_path / "sitelens.db"), "tui",
                           "--role", role])

    server = DashboardServer(cfg, command)
    client = await aiohttp_client(server.make_app(), cookie_jar=aiohttp.DummyCookieJar())
    token = (await sign_in(client)).cookies["sitelens_session"].value
    ws = await client.ws_connect("/ws?width=100&height=30", headers={
        "Cookie": f"sitelens_session={token}", "Origin": f"http://{client.host}:{client.port}"})
    drawn = b""
    started = time.monotonic()
    async with asyncio.timeout(30):
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                drawn += message.data
    assert roles == ["viewer"]
    assert b"Overview" in drawn  # the app ran and drew
    async with asyncio.timeout(15):
        while server.health()["tabs"]:  # counted until its process has quit
            await asyncio.sleep(0.05)
    assert time.monotonic() - started < 25
