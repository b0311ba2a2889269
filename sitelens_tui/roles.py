"""What each dashboard role may do, so the TUI refuses a viewer's changes with a message rather than silently."""

from __future__ import annotations

from collector.config import WEB_ROLES

VIEWER, ADMIN = WEB_ROLES

CHANGES = {
    "throttle": "throttle overrides",
    "funnel_edit": "funnel edits",
    "erase": "erasure",
}
"""Actions that change what the collector does or what is stored; only admins may run them (exports are reads)."""


def allowed(role: str, action: str) -> bool:
    """Whether `role` may run `action` (anything not in CHANGES is open to every role)."""
    return role == ADMIN or action not in CHANGES


def refusal(role: str, action: str) -> str:
    """The message a refused user sees."""
    return f"{CHANGES.get(action, action)} need the {ADMIN} role (you are signed in as {role})"
