"""Logins (cookie token → user) and the dashboard tabs they opened; plain state with an injectable clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Login:
    """A signed-in browser: who, which role, until when, and the token its forms must carry (CSRF)."""

    token: str
    user: str
    role: str
    expires: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass(slots=True, eq=False)
class Tab:
    """One open dashboard tab: its websocket and the app process behind it."""

    login: Login
    websocket: Any
    opened: float
    last_input: float


class Logins:
    """The live logins and tabs of one `sitelens web` process (kept in memory: a restart signs everyone out)."""

    def __init__(self, lifetime_s: float, clock: Callable[[], float]) -> None:
        self.lifetime_s = lifetime_s
        self.clock = clock
        self._logins: dict[str, Login] = {}
        self.tabs: list[Tab] = []
        self.failed = 0
        """Refused login attempts (wrong name or password) since start."""

    def start(self, user: str, role: str) -> Login:
        """A new login with a fresh random token."""
        login = Login(secrets.token_urlsafe(32), user, role, self.clock() + self.lifetime_s)
        self._logins[login.token] = login
        return login

    def get(self, token: str | None) -> Login | None:
        """The unexpired login of a cookie token; an expired one is dropped."""
        login = self._logins.get(token or "")
        if login is not None and login.expires <= self.clock():
            del self._logins[login.token]
            return None
        return login

    def purge(self) -> None:
        """Forget expired logins nobody came back with (a cookie thrown away keeps its entry until now)."""
        now = self.clock()
        for token in [t for t, login in self._logins.items() if login.expires <= now]:
            del self._logins[token]

    def end(self, login: Login) -> list[Tab]:
        """Sign out: the login is gone; returns its tabs for the caller to close."""
        self._logins.pop(login.token, None)
        return [t for t in self.tabs if t.login is login]

    def expired_tabs(self, idle_timeout_s: float) -> list[Tab]:
        """Tabs idle for longer than the timeout or whose login ended or expired."""
        now = self.clock()
        return [t for t in self.tabs
                if now - t.last_input > idle_timeout_s or self.get(t.login.token) is not t.login]

    def users(self) -> list[str]:
        """Users with an open tab, one entry per tab, sorted."""
        return sorted(t.login.user for t in self.tabs)
