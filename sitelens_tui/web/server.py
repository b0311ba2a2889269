"""The aiohttp app of `sitelens web`: sign-in, then textual-serve's terminal and websocket, one app process per tab.

Nothing but the sign-in form is served without a valid login: not the page, not textual-serve's static files, not
the websocket, not downloads. The websocket also needs this server's own Origin (a page elsewhere cannot drive a
dashboard with the user's cookie).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from collector.client_ip import client_ip, parse_networks
from collector.config import Config, WebUserConfig
from collector.throttle import Throttle
from sitelens_tui.roles import ADMIN
from sitelens_tui.web.pages import dashboard_page, login_page, message_page
from sitelens_tui.web.passwords import DUMMY_HASH, verify_password
from sitelens_tui.web.sessions import Login, Logins, Tab

log = logging.getLogger("sitelens.web")

LOGIN = web.RequestKey("login", Login)
LOGIN_CSRF_COOKIE = "sitelens_login_csrf"
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
"""Paths answered without a login (the health check wants the admin token instead)."""
QUIT_TIMEOUT_S = 10.0
"""How long a tab's app may take to quit (flushing nothing: it only reads) before it is killed."""
LOGIN_QUIET_S = 900.0
"""After this long without refused attempts an address's login throttle calms down one level."""
HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",  # not no-referrer: that makes form posts send `Origin: null`
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def login_throttle(per_minute: float) -> Throttle:
    """The collector's token-bucket throttle, keyed by client address: `per_minute` attempts, escalating on abuse."""
    return Throttle(per_minute / 60.0, per_minute, LOGIN_QUIET_S, violations_to_escalate=3)


def public_origin(public_url: str, request: web.Request) -> str:
    """scheme://host[:port] browsers use for this server: from `public_url`, else from the request."""
    if public_url:
        parts = urlsplit(public_url)
        return f"{parts.scheme}://{parts.netloc}".lower()
    return f"{request.scheme}://{request.host}".lower()


def websocket_url(origin: str) -> str:
    """The dashboard websocket at `origin` (ws:// for http, wss:// for https)."""
    return "ws" + origin.removeprefix("http") + "/ws"


def same_origin(request: web.Request, origin: str, *, required: bool) -> bool:
    """Whether the request's Origin header is ours (`required`: a missing header fails too)."""
    sent = request.headers.get("Origin")
    if sent is None:
        return not required
    return sent.lower().rstrip("/") == origin


class TabApp(AppService):
    """textual-serve's app process of one tab, which also makes sure the process is gone when the tab ends."""

    async def finish(self, timeout_s: float = QUIT_TIMEOUT_S) -> None:
        """Ask the app to quit; kill it if it has not within `timeout_s`; reap it either way."""
        try:
            await asyncio.wait_for(self.stop(), timeout_s)
        except TimeoutError:
            log.warning("a dashboard app did not quit within %.0f s: killed", timeout_s)
        except Exception as exc:  # the relay fails once the browser is gone (a write to a closed websocket)
            log.info("dashboard app relay ended: %r", exc)
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()


class DashboardServer(Server):
    """textual-serve's Server with a login in front; `command(role)` is the shell command of one tab's app."""

    def __init__(self, cfg: Config, command: Callable[[str], str], *, clock: Callable[[], float] = time.time) -> None:
        super().__init__("sitelens tui", host=cfg.web.host, port=cfg.web.port, title="SiteLens",
                         public_url=cfg.web.public_url or None)
        self.cfg = cfg
        self.web = cfg.web
        self.role_command = command
        self.users: dict[str, WebUserConfig] = {u.name: u for u in cfg.web.users}
        self.logins = Logins(cfg.web.session_hours * 3600, clock)
        self.throttle = login_throttle(cfg.web.login_rate)
        self.proxies = parse_networks(cfg.server.trusted_proxies)
        self.admin_token = ""
        """Bearer token accepted by /healthz (auth.admin_token, or the one the collector generated)."""
        self.secure_cookies = cfg.web.cookie_secure or cfg.web.public_url.startswith("https://")
        self._endings: set[asyncio.Future[None]] = set()
        """Tabs whose apps are quitting (kept referenced until done)."""

    # -- the app ---------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application: every route behind `require_login` except the sign-in form and /healthz."""
        app = web.Application(middlewares=[self.require_login])
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/login", self.handle_login_form),
            web.post("/login", self.handle_login),
            web.post("/logout", self.handle_logout),
            web.get("/healthz", self.handle_health),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.cleanup_ctx.append(self._reaper)
        app.on_shutdown.append(self._close_tabs)
        app.on_response_prepare.append(self._security_headers)
        return app

    async def _make_app(self) -> web.Application:
        return self.make_app()

    async def on_startup(self, app: web.Application) -> None:
        """No banner: `sitelens web` prints its own line."""

    @web.middleware
    async def require_login(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Attach the login of the session cookie; without one, the index redirects to the form, the rest is 401."""
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        login = self.logins.get(request.cookies.get(self.web.cookie_name))
        if login is None:
            if request.method == "GET" and request.path == "/":
                raise web.HTTPFound("login")
            raise web.HTTPUnauthorized(text="sign in first\n")
        request[LOGIN] = login
        return await handler(request)

    async def _security_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)

    def _html(self, body: str, status: int = 200) -> web.Response:
        return web.Response(text=body, status=status, content_type="text/html")

    def _origin(self, request: web.Request) -> str:
        return public_origin(self.web.public_url, request)

    # -- sign in and out -------------------------------------------------------------------------------

    async def handle_login_form(self, request: web.Request) -> web.Response:
        """The sign-in form, with a fresh CSRF token in a SameSite=Strict cookie and in the form."""
        if self.logins.get(request.cookies.get(self.web.cookie_name)) is not None:
            raise web.HTTPFound("./")
        return self._login_form()

    def _login_form(self, error: str = "", user: str = "", status: int = 200) -> web.Response:
        csrf = secrets.token_urlsafe(24)
        response = self._html(login_page(csrf, error, user), status)
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=3600, httponly=True, samesite="Strict",
                            secure=self.secure_cookies or None)
        return response

    async def handle_login(self, request: web.Request) -> web.Response:
        """Check the throttle, the form's origin and CSRF token, then the password; a session cookie on success."""
        ip = client_ip(request.remote, request.headers, self.proxies)
        decision = self.throttle.check(ip, ip, 0, time.monotonic())
        if not decision.allowed:
            log.warning("login throttled for %s (%s)", ip, decision.level.label)
            response = self._html(message_page("Too many attempts", "Too many sign-in attempts from your address: "
                                               f"wait {decision.retry_after:.0f} s and try again."), 429)
            response.headers["Retry-After"] = str(max(1, round(decision.retry_after)))
            return response
        if not same_origin(request, self._origin(request), required=False):
            raise web.HTTPForbidden(text="sign-in form posted from another site\n")
        form = await request.post()
        user, password, csrf = (str(form.get(k, "")) for k in ("user", "password", "csrf"))
        if not csrf or not secrets.compare_digest(csrf, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            return self._login_form("The form expired: sign in again.", user[:100], 403)
        known = self.users.get(user)
        ok = await asyncio.to_thread(verify_password, known.password_hash if known else DUMMY_HASH, password)
        if known is None or not ok:
            self.logins.failed += 1
            log.warning("failed login for %r from %s (%d refused since start)", user[:100], ip, self.logins.failed)
            return self._login_form("Wrong name or password.", user[:100], 401)
        login = self.logins.start(known.name, known.role)
        log.info("login: %s (%s) from %s", known.name, known.role, ip)
        response = web.HTTPFound("./")
        response.set_cookie(self.web.cookie_name, login.token, max_age=int(self.logins.lifetime_s), httponly=True,
                            samesite="Strict", secure=self.secure_cookies or None, path="/")
        response.del_cookie(LOGIN_CSRF_COOKIE)
        raise response

    async def handle_logout(self, request: web.Request) -> web.Response:
        """End the login and close its tabs (their app processes quit); back to the form."""
        login = request[LOGIN]
        form = await request.post()
        if not same_origin(request, self._origin(request), required=False) or not secrets.compare_digest(
            str(form.get("csrf", "")), login.csrf
        ):
            raise web.HTTPForbidden(text="sign-out form posted from another site\n")
        for tab in self.logins.end(login):
            await tab.websocket.close(message=b"signed out")
        log.info("logout: %s", login.user)
        response = web.HTTPFound("login")
        response.del_cookie(self.web.cookie_name, path="/")
        raise response

    # -- the dashboard ---------------------------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        """The terminal page (refused while every tab slot is taken)."""
        login = request[LOGIN]
        if len(self.logins.tabs) >= self.web.max_sessions:
            return self._html(message_page("Dashboard busy", f"{len(self.logins.tabs)} dashboard tabs are open, "
                                           "the most this server allows: close one and try again."), 503)
        origin = self._origin(request)
        return self._html(dashboard_page("static/", websocket_url(origin), login.user, login.role, login.csrf))

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One app process for this tab, as the login's role; refused for a foreign Origin or when full."""
        login = request[LOGIN]
        if not same_origin(request, self._origin(request), required=True):
            log.warning("websocket from foreign origin %r refused", request.headers.get("Origin"))
            raise web.HTTPForbidden(text="wrong origin\n")
        if len(self.logins.tabs) >= self.web.max_sessions:
            raise web.HTTPServiceUnavailable(text="too many dashboard tabs open\n")
        width = _size(request.query.get("width"), 80)
        height = _size(request.query.get("height"), 24)
        websocket = web.WebSocketResponse(heartbeat=15)
        now = self.logins.clock()
        tab = Tab(login, websocket, now, now)
        self.logins.tabs.append(tab)
        service: TabApp | None = None

        async def close() -> None:  # the app quit (q): the tab ends
            await websocket.close()

        try:
            await websocket.prepare(request)
            service = TabApp(self.role_command(login.role), write_bytes=websocket.send_bytes,
                             write_str=websocket.send_str, close=close,
                             download_manager=self.download_manager)
            await service.start(width, height)
            log.info("tab opened for %s (%d open)", login.user, len(self.logins.tabs))
            await self._relay(websocket, service, tab)
        finally:
            # aiohttp cancels the handler once the socket is gone: ending the app runs on in its own task.
            ending = asyncio.ensure_future(self._end_tab(tab, service))
            self._endings.add(ending)
            ending.add_done_callback(self._endings.discard)
            await asyncio.shield(ending)
        return websocket

    async def _end_tab(self, tab: Tab, service: TabApp | None) -> None:
        """Quit the tab's app (killed if it hangs), then stop counting the tab."""
        try:
            if service is not None:
                await service.finish()
        finally:
            self.logins.tabs.remove(tab)  # counted until its process is gone
            log.info("tab closed for %s (%d open)", tab.login.user, len(self.logins.tabs))

    async def _relay(self, websocket: web.WebSocketResponse, service: AppService, tab: Tab) -> None:
        """Keys, mouse and resizes from the browser to the app; anything malformed is ignored."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
                kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            if kind == "stdin" and isinstance(data, str):
                tab.last_input = self.logins.clock()
                await service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await service.set_terminal_size(_size(data.get("width"), 80), _size(data.get("height"), 24))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    # -- health and housekeeping -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Open tabs and their users, the limit, refused logins."""
        return {"status": "ok", "tabs": len(self.logins.tabs), "max_tabs": self.web.max_sessions,
                "users": self.logins.users(), "failed_logins": self.logins.failed}

    async def handle_health(self, request: web.Request) -> web.Response:
        """/healthz for the admin token (Bearer) or a signed-in admin."""
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        login = self.logins.get(request.cookies.get(self.web.cookie_name))
        by_token = bool(self.admin_token) and secrets.compare_digest(sent, self.admin_token)
        if not by_token and (login is None or login.role != ADMIN):
            raise web.HTTPUnauthorized(text="admin token or admin sign-in required\n")
        return web.json_response(self.health())

    async def _reaper(self, app: web.Application) -> AsyncIterator[None]:
        """Every few seconds: close tabs idle past the timeout or whose login expired; forget expired logins."""
        interval = min(5.0, self.web.idle_timeout_s / 4)

        async def sweep() -> None:
            while True:
                await asyncio.sleep(interval)
                self.logins.purge()
                for tab in self.logins.expired_tabs(self.web.idle_timeout_s):
                    log.info("closing idle tab of %s", tab.login.user)
                    await tab.websocket.close(message=b"idle")

        task = asyncio.create_task(sweep())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _close_tabs(self, app: web.Application) -> None:
        """On shutdown: close every tab and wait until their apps have quit."""
        for tab in list(self.logins.tabs):
            await tab.websocket.close(message=b"server shutting down")
        if self._endings:
            await asyncio.wait(list(self._endings), timeout=QUIT_TIMEOUT_S + 1)


def _size(value: object, default: int) -> int:
    """A terminal dimension from the browser, kept within 1..1000."""
    try:
        return min(1000, max(1, int(value)))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default
